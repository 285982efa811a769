package config

import (
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"strconv"
)

// Defaults of the api and metrics sections.
const (
	// DefaultAdminGroup may drain, undrain and reload through the control
	// socket (the Debian package creates it with systemd-sysusers).
	DefaultAdminGroup = "teredo-relayd-admin"
)

// API is the control socket (relayctl). Anyone who can connect may read
// (status, stats, peers): the socket is mode 0660, owned by Group. Changing
// the relay (drain, undrain, reload) needs root, the daemon's own user or a
// member of AdminGroup, checked per connection with SO_PEERCRED.
type API struct {
	Socket string
	// Group owns the socket; empty: the daemon's own group.
	Group string
	// AdminGroup may change the relay; empty: only root and the daemon's
	// user.
	AdminGroup string
}

// Metrics is the Prometheus listener; an empty Listen disables it.
type Metrics struct {
	Listen string
	// WebConfigFile is an exporter-toolkit web configuration (TLS, basic
	// auth), the Prometheus exporters' --web.config.file; empty: plain
	// HTTP without authentication.
	WebConfigFile string
}

type rawAPI struct {
	Socket     string  `yaml:"socket"`
	Group      string  `yaml:"group"`
	AdminGroup *string `yaml:"admin_group"`
}

type rawMetrics struct {
	Listen        *string `yaml:"listen"`
	WebConfigFile string  `yaml:"web_config_file"`
}

// endpoints fills c.API and c.Metrics.
func (r *rawConfig) endpoints(c *Config) error {
	c.API.Socket = orDefault(r.API.Socket, DefaultAPISocket)
	if !filepath.IsAbs(c.API.Socket) {
		return fmt.Errorf("api.socket: %q is not an absolute path", c.API.Socket)
	}
	c.API.Group = r.API.Group
	c.API.AdminGroup = DefaultAdminGroup
	if r.API.AdminGroup != nil {
		c.API.AdminGroup = *r.API.AdminGroup
	}
	for _, g := range []struct{ key, name string }{{"api.group", c.API.Group}, {"api.admin_group", c.API.AdminGroup}} {
		if g.name != "" && !validGroupName(g.name) {
			return fmt.Errorf("%s: %q is not a group name or id", g.key, g.name)
		}
	}
	c.Metrics.Listen = DefaultMetricsListen
	if r.Metrics.Listen != nil {
		c.Metrics.Listen = *r.Metrics.Listen
	}
	if c.Metrics.Listen != "" {
		if err := checkListen(c.Metrics.Listen); err != nil {
			return fmt.Errorf("metrics.listen: %w (use \"\" to disable)", err)
		}
	}
	c.Metrics.WebConfigFile = r.Metrics.WebConfigFile
	if c.Metrics.WebConfigFile != "" && !filepath.IsAbs(c.Metrics.WebConfigFile) {
		return fmt.Errorf("metrics.web_config_file: %q is not an absolute path", c.Metrics.WebConfigFile)
	}
	return nil
}

// checkListen accepts host:port with an IP literal or empty host (every
// address) and a port from 1 to 65535. Host names are refused: which
// address they mean is decided by DNS at start.
func checkListen(s string) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Errorf("%q is not host:port (like 127.0.0.1:9542 or [::]:9542)", s)
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || n == 0 {
		return fmt.Errorf("%q: port %q is not a number from 1 to 65535", s, port)
	}
	if host == "" {
		return nil
	}
	a, err := netip.ParseAddr(host)
	if err != nil || a.Zone() != "" && !a.IsLinkLocalUnicast() {
		return fmt.Errorf("%q: %q is not an IP address (host names are not accepted; use \"\" for every address)", s, host)
	}
	return nil
}

// validGroupName accepts what useradd/groupadd accept, or a numeric id.
func validGroupName(s string) bool {
	if len(s) == 0 || len(s) > 32 || s[0] == '-' {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// endpointFixedKeys join the restart-only keys CheckReload checks; the web
// configuration file's content is read again on every request, only its
// path is fixed.
var endpointFixedKeys = []struct {
	key string
	get func(*Config) any
}{
	{"api.group", func(c *Config) any { return c.API.Group }},
	{"api.admin_group", func(c *Config) any { return c.API.AdminGroup }},
	{"metrics.web_config_file", func(c *Config) any { return c.Metrics.WebConfigFile }},
}

func init() { fixedKeys = append(fixedKeys, endpointFixedKeys...) }
