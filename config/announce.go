package config

import (
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Defaults of the announce and drain sections.
const (
	// DefaultAnnounceInclude is outside the daemon's RuntimeDirectory, which
	// systemd removes when the daemon stops: BIRD must still find the file
	// (withdrawn) then, or its reconfiguration fails and the route stays.
	DefaultAnnounceInclude = "/run/teredo-relayd-bird/announce.conf"
	DefaultAnnounceSetName = "TEREDO_ANNOUNCE"
	DefaultBirdc           = "/usr/sbin/birdc"
	DefaultBirdSocket      = "/run/bird/bird.ctl"
	DefaultAnnounceRise    = 10 * time.Second
	DefaultAnnounceTimeout = 5 * time.Second
	// DefaultDrainFileName is the drain state file's name in the directory of
	// bubbles.key_file (the daemon's state directory) unless drain.state_file
	// names another.
	DefaultDrainFileName = "drained"
)

// DefaultAnnouncePrefix is announced unless announce.prefixes says otherwise.
var DefaultAnnouncePrefix = netip.MustParsePrefix("2001::/32")

// Announce configures the BIRD announcement of the Teredo prefix (package
// announce): an include file defining the prefix set SetName, and birdc to
// make BIRD re-read it.
type Announce struct {
	Enabled bool
	// IncludeFile is the BIRD include file the daemon rewrites.
	IncludeFile string
	// SetName is the prefix-set constant the include file defines.
	SetName string
	// Birdc is the birdc program; Socket is BIRD's control socket ("":
	// birdc's default).
	Birdc, Socket string
	// Prefixes are announced while the relay is ready and not drained.
	Prefixes []netip.Prefix
	// Rise is how long readiness must hold before the prefixes are announced.
	Rise time.Duration
	// Timeout bounds one birdc run.
	Timeout time.Duration
}

// Drain configures the persistence of the operator drain (relayctl drain).
type Drain struct {
	// StateFile exists while the relay is drained; the daemon starts drained
	// when it is there. Empty: the drain is not persisted.
	StateFile string
}

// rawAnnounce mirrors the announce section.
type rawAnnounce struct {
	Enabled     *bool     `yaml:"enabled"`
	IncludeFile string    `yaml:"include_file"`
	SetName     string    `yaml:"set_name"`
	Birdc       string    `yaml:"birdc"`
	Socket      *string   `yaml:"socket"`
	Prefixes    []string  `yaml:"prefixes"`
	Rise        *duration `yaml:"rise"`
	Timeout     *duration `yaml:"timeout"`
}

// rawDrain mirrors the drain section.
type rawDrain struct {
	StateFile *string `yaml:"state_file"`
}

// birdSymbol is what BIRD accepts as a constant's name.
var birdSymbol = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// announceAndDrain fills c.Announce and c.Drain; it runs after bubbles.key_file
// is known (the drain file's default directory).
func (r *rawConfig) announceAndDrain(c *Config) error {
	if err := r.Announce.validate(&c.Announce); err != nil {
		return err
	}
	c.Drain.StateFile = filepath.Join(filepath.Dir(c.Bubbles.KeyFile), DefaultDrainFileName)
	if r.Drain.StateFile != nil {
		c.Drain.StateFile = *r.Drain.StateFile
	}
	if c.Drain.StateFile != "" && !filepath.IsAbs(c.Drain.StateFile) {
		return fmt.Errorf("drain.state_file: %q is not an absolute path (use \"\" to disable)", c.Drain.StateFile)
	}
	return nil
}

func (ra *rawAnnounce) validate(a *Announce) error {
	a.Enabled = boolOr(ra.Enabled, false)
	a.IncludeFile = orDefault(ra.IncludeFile, DefaultAnnounceInclude)
	if !filepath.IsAbs(a.IncludeFile) {
		return fmt.Errorf("announce.include_file: %q is not an absolute path", a.IncludeFile)
	}
	a.SetName = orDefault(ra.SetName, DefaultAnnounceSetName)
	if !birdSymbol.MatchString(a.SetName) {
		return fmt.Errorf("announce.set_name: %q is not a BIRD symbol (a letter or _, then letters, digits, _)", a.SetName)
	}
	a.Birdc = orDefault(ra.Birdc, DefaultBirdc)
	if strings.ContainsAny(a.Birdc, " \t\n") {
		return fmt.Errorf("announce.birdc: %q is not a program path (no arguments)", a.Birdc)
	}
	a.Socket = DefaultBirdSocket
	if ra.Socket != nil {
		a.Socket = *ra.Socket
	}
	if a.Socket != "" && !filepath.IsAbs(a.Socket) {
		return fmt.Errorf("announce.socket: %q is not an absolute path (use \"\" for birdc's default)", a.Socket)
	}
	switch {
	case ra.Prefixes == nil:
		a.Prefixes = []netip.Prefix{DefaultAnnouncePrefix}
	case len(ra.Prefixes) == 0:
		return errors.New("announce.prefixes: empty: list at least one IPv6 prefix (default [2001::/32])")
	}
	for i, s := range ra.Prefixes {
		p, err := netip.ParsePrefix(s)
		if err != nil || !p.Addr().Is6() || p.Addr().Is4In6() {
			return fmt.Errorf("announce.prefixes[%d]: %q is not an IPv6 prefix (like 2001::/32)", i, s)
		}
		if p != p.Masked() {
			return fmt.Errorf("announce.prefixes[%d]: %s has host bits set (did you mean %s?)", i, p, p.Masked())
		}
		if p.Bits() == 128 && p.Addr().IsUnspecified() {
			return fmt.Errorf("announce.prefixes[%d]: ::/128 is the include file's withdrawn placeholder", i)
		}
		for _, prev := range a.Prefixes {
			if prev == p {
				return fmt.Errorf("announce.prefixes[%d]: %s is listed twice", i, p)
			}
		}
		a.Prefixes = append(a.Prefixes, p)
	}
	var err error
	if a.Rise, err = durationIn("announce.rise", ra.Rise, DefaultAnnounceRise, 0, time.Hour); err != nil {
		return err
	}
	if a.Timeout, err = durationIn("announce.timeout", ra.Timeout, DefaultAnnounceTimeout, 100*time.Millisecond, time.Minute); err != nil {
		return err
	}
	return nil
}

// announceFixedKeys are the announce and drain settings; none is reloadable
// (the driver and the drain file are set up at start).
var announceFixedKeys = []struct {
	key string
	get func(*Config) any
}{
	{"announce.enabled", func(c *Config) any { return c.Announce.Enabled }},
	{"announce.include_file", func(c *Config) any { return c.Announce.IncludeFile }},
	{"announce.set_name", func(c *Config) any { return c.Announce.SetName }},
	{"announce.birdc", func(c *Config) any { return c.Announce.Birdc }},
	{"announce.socket", func(c *Config) any { return c.Announce.Socket }},
	{"announce.prefixes", func(c *Config) any { return c.Announce.Prefixes }},
	{"announce.rise", func(c *Config) any { return c.Announce.Rise }},
	{"announce.timeout", func(c *Config) any { return c.Announce.Timeout }},
	{"drain.state_file", func(c *Config) any { return c.Drain.StateFile }},
}

// The announce and drain keys join the restart-only keys CheckReload checks.
func init() { fixedKeys = append(fixedKeys, announceFixedKeys...) }

// duration is a YAML duration string with a unit ("10s", "500ms", "1m").
type duration time.Duration

func (d *duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if n.Kind != yaml.ScalarNode || n.Tag != "!!str" || err != nil {
		return &keyError{fmt.Sprintf("%q is not a duration with a unit (like 10s or 500ms)", nodeText(n))}
	}
	*d = duration(v)
	return nil
}

func durationIn(key string, v *duration, def, lo, hi time.Duration) (time.Duration, error) {
	d := def
	if v != nil {
		d = time.Duration(*v)
	}
	if d < lo || d > hi {
		return 0, fmt.Errorf("%s: %v is out of range (%v-%v)", key, d, lo, hi)
	}
	return d, nil
}
