package config

import (
	"errors"
	"fmt"
	"log/slog"
	"math/bits"
	"net/netip"
	"path/filepath"
	"strings"
	"time"
)

// rawConfig mirrors the YAML file. Optional values are pointers (nil = default).
type rawConfig struct {
	Interfaces struct {
		OneArmed string `yaml:"one_armed"`
		IPv4Side string `yaml:"ipv4_side"`
		IPv6Side string `yaml:"ipv6_side"`
	} `yaml:"interfaces"`
	Queues ints  `yaml:"queues"`
	CPUs   []int `yaml:"cpus"`
	XDP    struct {
		Mode string `yaml:"mode"`
	} `yaml:"xdp"`
	Socket struct {
		Mode           string    `yaml:"mode"`
		RXRing         *int      `yaml:"rx_ring"`
		TXRing         *int      `yaml:"tx_ring"`
		FillRing       *int      `yaml:"fill_ring"`
		CompletionRing *int      `yaml:"completion_ring"`
		IdlePoll       *duration `yaml:"idle_poll"`
	} `yaml:"socket"`
	UMEM struct {
		Frames    *int   `yaml:"frames"`
		FrameSize *int   `yaml:"frame_size"`
		Headroom  *int   `yaml:"headroom"`
		Sharing   string `yaml:"sharing"`
	} `yaml:"umem"`
	IPv4 struct {
		Address strs `yaml:"address"`
		Port    *int `yaml:"port"`
	} `yaml:"ipv4"`
	IPv6 struct {
		Address string `yaml:"address"`
	} `yaml:"ipv6"`
	Peers struct {
		Capacity          *int   `yaml:"capacity"`
		QueueBytesPerPeer *int   `yaml:"queue_bytes_per_peer"`
		QueueBytesTotal   *int64 `yaml:"queue_bytes_total"`
	} `yaml:"peers"`
	Bubbles struct {
		KeyFile string `yaml:"key_file"`
		Direct  *bool  `yaml:"direct"`
	} `yaml:"bubbles"`
	AcceptUnknownPeers *bool    `yaml:"accept_unknown_peers"`
	AcceptSymmetricNAT *bool    `yaml:"accept_symmetric_nat"`
	EncapUDPChecksum   *bool    `yaml:"encap_udp_checksum"`
	ExtraBogons        []string `yaml:"extra_bogons"`
	ICMPv6             struct {
		Enabled *bool    `yaml:"enabled"` // config/ratelimits.go
		Rate    *float64 `yaml:"rate"`
		Burst   *int     `yaml:"burst"`
	} `yaml:"icmpv6"`

	RateLimits rawRateLimits `yaml:"rate_limits"` // config/ratelimits.go

	API     rawAPI     `yaml:"api"`     // config/endpoints.go
	Metrics rawMetrics `yaml:"metrics"` // config/endpoints.go
	Log     struct {
		Level  string `yaml:"level"`
		Format string `yaml:"format"`
	} `yaml:"log"`
	Roles  strs      `yaml:"roles"`  // config/server.go
	Server rawServer `yaml:"server"` // config/server.go

	// config/announce.go
	Announce  rawAnnounce  `yaml:"announce"`
	Drain     rawDrain     `yaml:"drain"`
	Readiness rawReadiness `yaml:"readiness"` // config/readiness.go

	PeerState rawPeerState `yaml:"peer_state"` // config/peerstate.go
}

func (r *rawConfig) validate() (*Config, error) {
	c := &Config{}
	var err error
	if c.Interfaces, err = r.interfaces(); err != nil {
		return nil, err
	}
	if c.Queues, err = r.queues(); err != nil {
		return nil, err
	}
	if len(r.CPUs) > 0 {
		if len(r.CPUs) != len(c.Queues) {
			return nil, fmt.Errorf("cpus: %d entries for %d queues: give one CPU per queue or none", len(r.CPUs), len(c.Queues))
		}
		for i, cpu := range r.CPUs {
			if cpu < 0 || cpu >= 4096 {
				return nil, fmt.Errorf("cpus[%d]: %d is not a CPU number", i, cpu)
			}
		}
		c.CPUs = r.CPUs
	}
	if c.XDP.Mode, err = oneOf("xdp.mode", r.XDP.Mode, XDPAuto, XDPNative, XDPGeneric); err != nil {
		return nil, err
	}
	if err := r.socket(c); err != nil {
		return nil, err
	}
	if err := r.umem(c); err != nil {
		return nil, err
	}
	if err := r.roles(c); err != nil { // config/server.go; before addresses
		return nil, err
	}
	if err := r.addresses(c); err != nil {
		return nil, err
	}
	if err := r.peers(c); err != nil {
		return nil, err
	}
	c.Bubbles.KeyFile = orDefault(r.Bubbles.KeyFile, DefaultBubbleKeyFile)
	if !filepath.IsAbs(c.Bubbles.KeyFile) {
		return nil, fmt.Errorf("bubbles.key_file: %q is not an absolute path", c.Bubbles.KeyFile)
	}
	c.Bubbles.Direct = boolOr(r.Bubbles.Direct, false)
	c.AcceptUnknownPeers = boolOr(r.AcceptUnknownPeers, false)
	c.AcceptSymmetricNAT = boolOr(r.AcceptSymmetricNAT, true)
	c.EncapUDPChecksum = boolOr(r.EncapUDPChecksum, true)
	for i, s := range r.ExtraBogons {
		p, err := netip.ParsePrefix(s)
		if err != nil || !p.Addr().Is4() {
			return nil, fmt.Errorf("extra_bogons[%d]: %q is not an IPv4 prefix (like 203.0.113.0/24)", i, s)
		}
		if p != p.Masked() {
			return nil, fmt.Errorf("extra_bogons[%d]: %s has host bits set (did you mean %s?)", i, p, p.Masked())
		}
		c.ExtraBogons = append(c.ExtraBogons, p)
	}
	c.ICMPv6.Rate = floatOr(r.ICMPv6.Rate, DefaultICMPv6Rate)
	if c.ICMPv6.Rate <= 0 || c.ICMPv6.Rate > 1e6 {
		return nil, fmt.Errorf("icmpv6.rate: %g is out of range (0 < rate <= 1000000 per second)", c.ICMPv6.Rate)
	}
	if c.ICMPv6.Burst, err = intIn("icmpv6.burst", r.ICMPv6.Burst, DefaultICMPv6Burst, 1, 1e6); err != nil {
		return nil, err
	}
	if err := r.rateLimits(c); err != nil { // config/ratelimits.go
		return nil, err
	}
	if err := r.endpoints(c); err != nil { // config/endpoints.go
		return nil, err
	}
	if err := r.log(c); err != nil {
		return nil, err
	}
	if err := r.readiness(c); err != nil { // config/readiness.go
		return nil, err
	}
	if err := r.announceAndDrain(c); err != nil { // config/announce.go
		return nil, err
	}
	if err := r.peerState(c); err != nil { // config/peerstate.go
		return nil, err
	}
	return c, nil
}

func (r *rawConfig) interfaces() (Interfaces, error) {
	in := Interfaces{OneArmed: r.Interfaces.OneArmed, IPv4Side: r.Interfaces.IPv4Side, IPv6Side: r.Interfaces.IPv6Side}
	for _, f := range [...]struct{ key, name string }{
		{"interfaces.one_armed", in.OneArmed}, {"interfaces.ipv4_side", in.IPv4Side}, {"interfaces.ipv6_side", in.IPv6Side},
	} {
		if f.name != "" && !validIfName(f.name) {
			return in, fmt.Errorf("%s: %q is not an interface name (1-15 characters, no '/', ':' or spaces)", f.key, f.name)
		}
	}
	switch {
	case in.OneArmed != "" && (in.IPv4Side != "" || in.IPv6Side != ""):
		return in, errors.New("interfaces: set either one_armed, or ipv4_side and ipv6_side, not both")
	case in.OneArmed != "":
		return in, nil
	case in.IPv4Side == "" && in.IPv6Side == "":
		return in, errors.New("interfaces: missing: set one_armed (IPv4 and IPv6 on one port) or ipv4_side and ipv6_side")
	case in.IPv4Side == "":
		return in, errors.New("interfaces.ipv4_side: missing (two-armed mode needs both sides)")
	case in.IPv6Side == "":
		return in, errors.New("interfaces.ipv6_side: missing (two-armed mode needs both sides)")
	case in.IPv4Side == in.IPv6Side:
		return in, fmt.Errorf("interfaces.ipv6_side: %q is also ipv4_side: use one_armed for a single interface", in.IPv6Side)
	}
	return in, nil
}

func validIfName(s string) bool {
	return len(s) >= 1 && len(s) <= 15 && !strings.ContainsAny(s, "/: \t\n") && s != "." && s != ".."
}

func (r *rawConfig) queues() ([]int, error) {
	if !r.Queues.set {
		return []int{0}, nil
	}
	if r.Queues.scalar {
		n := r.Queues.vals[0]
		if n < 1 || n > MaxQueues {
			return nil, fmt.Errorf("queues: %d is not a queue count from 1 to %d", n, MaxQueues)
		}
		q := make([]int, n)
		for i := range q {
			q[i] = i
		}
		return q, nil
	}
	if len(r.Queues.vals) == 0 || len(r.Queues.vals) > MaxQueues {
		return nil, fmt.Errorf("queues: the list must have 1 to %d queue ids", MaxQueues)
	}
	seen := map[int]bool{}
	for i, q := range r.Queues.vals {
		if q < 0 || q > 4095 {
			return nil, fmt.Errorf("queues[%d]: %d is not a queue id (0-4095)", i, q)
		}
		if seen[q] {
			return nil, fmt.Errorf("queues[%d]: queue %d is listed twice", i, q)
		}
		seen[q] = true
	}
	return append([]int(nil), r.Queues.vals...), nil
}

func (r *rawConfig) socket(c *Config) error {
	var err error
	if c.Socket.Mode, err = oneOf("socket.mode", r.Socket.Mode, SocketAuto, SocketZeroCopy, SocketCopy); err != nil {
		return err
	}
	for _, f := range []struct {
		key string
		in  *int
		out *int
	}{
		{"socket.rx_ring", r.Socket.RXRing, &c.Socket.RXRing},
		{"socket.tx_ring", r.Socket.TXRing, &c.Socket.TXRing},
		{"socket.fill_ring", r.Socket.FillRing, &c.Socket.FillRing},
		{"socket.completion_ring", r.Socket.CompletionRing, &c.Socket.CompletionRing},
	} {
		if *f.out, err = intIn(f.key, f.in, DefaultRingSize, minRingSize, maxRingSize); err != nil {
			return err
		}
		if bits.OnesCount(uint(*f.out)) != 1 {
			return fmt.Errorf("%s: %d is not a power of two", f.key, *f.out)
		}
	}
	c.Socket.IdlePoll, err = durationIn("socket.idle_poll", r.Socket.IdlePoll, DefaultIdlePoll, 0, 100*time.Millisecond)
	return err
}

func (r *rawConfig) umem(c *Config) error {
	var err error
	if c.UMEM.FrameSize, err = intIn("umem.frame_size", r.UMEM.FrameSize, DefaultUMEMFrameSize, 2048, 4096); err != nil {
		return err
	}
	if c.UMEM.FrameSize != 2048 && c.UMEM.FrameSize != 4096 {
		return fmt.Errorf("umem.frame_size: %d is not 2048 or 4096", c.UMEM.FrameSize)
	}
	maxHeadroom := c.UMEM.FrameSize - XDPHeadroom - MaxFrameLen
	if c.UMEM.Headroom, err = intIn("umem.headroom", r.UMEM.Headroom, DefaultUMEMHeadroom, 0, maxHeadroom); err != nil {
		return err
	}
	if c.UMEM.Sharing, err = oneOf("umem.sharing", r.UMEM.Sharing, SharingAuto, SharingShared, SharingSeparate); err != nil {
		return err
	}
	// Every socket on a UMEM has its own fill and TX rings: a two-armed relay
	// sharing one UMEM per queue needs frames for both sides' rings, or the
	// first side's initial fill can take them all and starve the other.
	s := c.Socket
	sockets := 1
	if c.Interfaces.TwoArmed() && c.UMEM.Sharing != SharingSeparate {
		sockets = 2
	}
	need := sockets * (s.FillRing + s.TXRing)
	if c.UMEM.Frames, err = intIn("umem.frames", r.UMEM.Frames, max(DefaultUMEMFrames, need), need, 1<<22); err != nil {
		return fmt.Errorf("%w (the frames must cover socket.fill_ring + socket.tx_ring of each of the %d socket(s) on a UMEM: %d)", err, sockets, need)
	}
	return nil
}

func (r *rawConfig) addresses(c *Config) error {
	if !r.IPv4.Address.set || len(r.IPv4.Address.vals) == 0 {
		return errors.New("ipv4.address: missing: the relay's IPv4 service address (or a list of them)")
	}
	if len(r.IPv4.Address.vals) > MaxIPv4Addresses {
		return fmt.Errorf("ipv4.address: %d addresses; at most %d", len(r.IPv4.Address.vals), MaxIPv4Addresses)
	}
	for i, s := range r.IPv4.Address.vals {
		key := "ipv4.address"
		if len(r.IPv4.Address.vals) > 1 {
			key = fmt.Sprintf("ipv4.address[%d]", i)
		}
		a, err := netip.ParseAddr(s)
		if err != nil || !a.Is4() {
			return fmt.Errorf("%s: %s is not an IPv4 address", key, s)
		}
		if !a.IsGlobalUnicast() || a == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
			return fmt.Errorf("%s: %s is not a unicast address", key, a)
		}
		for _, prev := range c.IPv4.Addresses {
			if prev == a {
				return fmt.Errorf("%s: %s is listed twice", key, a)
			}
		}
		c.IPv4.Addresses = append(c.IPv4.Addresses, a)
	}
	port, err := intIn("ipv4.port", r.IPv4.Port, DefaultPort, 1, 65535)
	if err != nil {
		return err
	}
	c.IPv4.Port = uint16(port)
	if r.IPv6.Address == "" {
		return errors.New("ipv6.address: missing: the relay's own IPv6 address (source of ICMPv6 errors and bubbles)")
	}
	a, err := netip.ParseAddr(r.IPv6.Address)
	if err != nil || !a.Is6() || a.Is4In6() || a.Zone() != "" {
		return fmt.Errorf("ipv6.address: %s is not an IPv6 address", r.IPv6.Address)
	}
	if !a.IsGlobalUnicast() {
		return fmt.Errorf("ipv6.address: %s is not a global unicast address", a)
	}
	if teredoPrefix.Contains(a) {
		return fmt.Errorf("ipv6.address: %s is in the Teredo prefix %s: use the relay's native IPv6 address", a, teredoPrefix)
	}
	c.IPv6.Address = a
	return nil
}

// teredoPrefix is 2001::/32 (RFC 4380 §2.6). The relay steers it into its
// data plane, so its own address cannot be inside it.
var teredoPrefix = netip.MustParsePrefix("2001::/32")

func (r *rawConfig) peers(c *Config) error {
	var err error
	if c.Peers.Capacity, err = intIn("peers.capacity", r.Peers.Capacity, DefaultPeerCapacity, 16, 1<<24); err != nil {
		return err
	}
	// The peer cache queues at most 65535 bytes per peer (cache.MaxPeerQueueBytes).
	if c.Peers.QueueBytesPerPeer, err = intIn("peers.queue_bytes_per_peer", r.Peers.QueueBytesPerPeer, DefaultPeerQueueBytes, 1, 65535); err != nil {
		return err
	}
	c.Peers.QueueBytesTotal = DefaultTotalQueueBytes
	if r.Peers.QueueBytesTotal != nil {
		c.Peers.QueueBytesTotal = *r.Peers.QueueBytesTotal
	}
	if c.Peers.QueueBytesTotal < int64(c.Peers.QueueBytesPerPeer) || c.Peers.QueueBytesTotal > 1<<34 {
		return fmt.Errorf("peers.queue_bytes_total: %d is out of range (from peers.queue_bytes_per_peer = %d to %d)",
			c.Peers.QueueBytesTotal, c.Peers.QueueBytesPerPeer, int64(1)<<34)
	}
	return nil
}

func (r *rawConfig) log(c *Config) error {
	switch strings.ToLower(orDefault(r.Log.Level, "info")) {
	case "debug":
		c.Log.Level = slog.LevelDebug
	case "info":
		c.Log.Level = slog.LevelInfo
	case "warn", "warning":
		c.Log.Level = slog.LevelWarn
	case "error":
		c.Log.Level = slog.LevelError
	default:
		return fmt.Errorf("log.level: %q is not one of debug, info, warn, error", r.Log.Level)
	}
	var err error
	c.Log.Format, err = oneOf("log.format", r.Log.Format, LogText, LogJSON)
	return err
}

// oneOf returns the value named by s among choices; the first choice is the default.
func oneOf[T ~string](key, s string, choices ...T) (T, error) {
	if s == "" {
		return choices[0], nil
	}
	names := make([]string, len(choices))
	for i, c := range choices {
		if string(c) == s {
			return c, nil
		}
		names[i] = string(c)
	}
	return "", fmt.Errorf("%s: %q is not one of %s", key, s, strings.Join(names, ", "))
}

func intIn(key string, v *int, def, lo, hi int) (int, error) {
	n := def
	if v != nil {
		n = *v
	}
	if n < lo || n > hi {
		return 0, fmt.Errorf("%s: %d is out of range (%d-%d)", key, n, lo, hi)
	}
	return n, nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func boolOr(b *bool, def bool) bool {
	if b == nil {
		return def
	}
	return *b
}

func floatOr(f *float64, def float64) float64 {
	if f == nil {
		return def
	}
	return *f
}
