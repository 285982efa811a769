package relay

import (
	"bytes"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/teredorelay/teredorelay/cache"
	"github.com/teredorelay/teredorelay/relay/relaytest"
)

func TestConfigDefaults(t *testing.T) {
	c := Config{IPv4Addr: relayIPv4, IPv6Addr: relayIPv6, Key: testKey}.withDefaults()
	if err := c.validate(); err != nil {
		t.Fatal(err)
	}
	want := map[string][2]any{
		"port":            {c.Port, uint16(3544)},
		"icmpv6 rate":     {c.ICMPv6Rate, 10.0},
		"icmpv6 burst":    {c.ICMPv6Burst, 10},
		"queue":           {c.SlowPathQueueLen, 1024},
		"validity":        {c.PeerValidity, 30 * time.Second},
		"bubble interval": {c.BubbleInterval, 2 * time.Second},
		"retries":         {c.BubbleRetries, 3},
		"budget":          {c.BubbleBudget, 4},
		"window":          {c.BubbleWindow, 300 * time.Second},
		"mtu":             {c.MTU, 1280},
		"idle":            {c.IdleTimeout, 120 * time.Second},
		"ttl":             {c.TTL, uint8(64)},
		"new-peer rate":   {c.NewPeerRate, 50.0},
		"new-peer burst":  {c.NewPeerBurst, 100},
		"new-peer table":  {c.NewPeerTableSize, 1 << 14},
		"bubble rate":     {c.BubbleRate, 5000.0},
		"bubble burst":    {c.BubbleBurst, 5000},
		"client rate":     {c.ClientSlowPathRate, 100.0},
		"client burst":    {c.ClientSlowPathBurst, 200},
		"client table":    {c.ClientSlowPathTableSize, 1 << 14},
	}
	for name, v := range want {
		if v[0] != v[1] {
			t.Errorf("default %s = %v, want %v", name, v[0], v[1])
		}
	}
	if c.AcceptUnknownPeers || c.DirectBubbles || c.StrictMapping || c.VerifyUDPChecksum || c.DisableICMPv6Errors {
		t.Error("a boolean defaults to on")
	}
}

func TestConfigValidate(t *testing.T) {
	base := func() Config { return Config{IPv4Addr: relayIPv4, IPv6Addr: relayIPv6, Key: testKey} }
	cases := []struct {
		name   string
		modify func(*Config)
		want   string // substring of the error
	}{
		{"no ipv4", func(c *Config) { c.IPv4Addr = netip.Addr{} }, "ipv4 address"},
		{"ipv6 as ipv4", func(c *Config) { c.IPv4Addr = relayIPv6 }, "ipv4 address"},
		{"multicast ipv4", func(c *Config) { c.IPv4Addr = netip.MustParseAddr("224.0.0.1") }, "unicast"},
		{"no ipv6", func(c *Config) { c.IPv6Addr = netip.Addr{} }, "ipv6 address"},
		{"link-local ipv6", func(c *Config) { c.IPv6Addr = netip.MustParseAddr("fe80::1") }, "global unicast"},
		{"teredo ipv6", func(c *Config) { c.IPv6Addr = clientAddr }, "outside the Teredo prefix"},
		{"short key", func(c *Config) { c.Key = testKey[:16] }, "key"},
		{"ipv6 bogon", func(c *Config) { c.ExtraBogons = []netip.Prefix{netip.MustParsePrefix("2001:db8::/32")} }, "extra bogon"},
		{"queue too long", func(c *Config) { c.SlowPathQueueLen = 1<<20 + 1 }, "slow-path queue"},
		{"negative queue", func(c *Config) { c.SlowPathQueueLen = -1 }, "slow-path queue"},
		{"short validity", func(c *Config) { c.PeerValidity = time.Millisecond }, "peer validity"},
		{"fast bubbles", func(c *Config) { c.BubbleInterval = time.Millisecond }, "bubble interval"},
		{"many retries", func(c *Config) { c.BubbleRetries = 11 }, "bubble retries"},
		{"negative budget", func(c *Config) { c.BubbleBudget = -1 }, "bubble budget"},
		{"short window", func(c *Config) { c.BubbleWindow = time.Second }, "bubble window"},
		{"small mtu", func(c *Config) { c.MTU = 1000 }, "mtu"},
		{"huge mtu", func(c *Config) { c.MTU = 70000 }, "mtu"},
		{"short idle", func(c *Config) { c.IdleTimeout = time.Second }, "idle timeout"},
		{"slow tick", func(c *Config) { c.TimerTick = time.Minute }, "timer tick"},
		{"ipv6 in ipv4 list", func(c *Config) { c.IPv4Addrs = []netip.Addr{relayIPv6} }, "ipv4 address"},
		{"broadcast in ipv4 list", func(c *Config) { c.IPv4Addrs = []netip.Addr{netip.MustParseAddr("255.255.255.255")} }, "unicast"},
		{"invalid in ipv4 list", func(c *Config) { c.IPv4Addrs = []netip.Addr{{}} }, "ipv4 address"},
		{"nine ipv4 addresses", func(c *Config) {
			for i := range 8 {
				c.IPv4Addrs = append(c.IPv4Addrs, netip.AddrFrom4([4]byte{198, 51, 100, byte(10 + i)}))
			}
		}, "at most 8"},
		{"negative new-peer rate", func(c *Config) { c.NewPeerRate = -1 }, "new-peer rate"},
		{"tiny new-peer rate", func(c *Config) { c.NewPeerRate = 1e-6 }, "new-peer rate"},
		{"negative new-peer burst", func(c *Config) { c.NewPeerBurst = -1 }, "new-peer burst"},
		{"huge new-peer table", func(c *Config) { c.NewPeerTableSize = 1<<24 + 1 }, "new-peer table size"},
		{"huge bubble rate", func(c *Config) { c.BubbleRate = 2e9 }, "bubble rate"},
		{"bubble burst below a round", func(c *Config) { c.BubbleBurst = 1 }, "bubble burst"},
		{"client rate NaN", func(c *Config) { c.ClientSlowPathRate = math.NaN() }, "client slow-path rate"},
		{"huge client burst", func(c *Config) { c.ClientSlowPathBurst = 1<<20 + 1 }, "client slow-path burst"},
		{"negative client table", func(c *Config) { c.ClientSlowPathTableSize = -1 }, "client slow-path table size"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := base()
			tc.modify(&c)
			peers, _ := cache.New(cache.Config{Capacity: 16})
			_, err := NewEngine(c, peers, &relaytest.Output{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one mentioning %q", err, tc.want)
			}
		})
	}
	// Eight distinct addresses with the primary repeated are fine.
	c := base()
	c.IPv4Addrs = []netip.Addr{relayIPv4}
	for i := range 7 {
		c.IPv4Addrs = append(c.IPv4Addrs, netip.AddrFrom4([4]byte{198, 51, 100, byte(10 + i)}))
	}
	if c = c.withDefaults(); c.validate() != nil {
		t.Errorf("eight addresses: %v", c.validate())
	}
	// A tiny bubble rate gets a burst of one round.
	c = base()
	c.BubbleRate = 0.5
	if c = c.withDefaults(); c.BubbleBurst != 2 || c.validate() != nil {
		t.Errorf("bubble rate 0.5: burst %d, %v", c.BubbleBurst, c.validate())
	}
	peers, _ := cache.New(cache.Config{Capacity: 16})
	if _, err := NewEngine(base(), nil, &relaytest.Output{}); err == nil {
		t.Error("nil cache accepted")
	}
	if _, err := NewEngine(base(), peers, nil); err == nil {
		t.Error("nil output accepted")
	}
}

func TestLoadOrCreateKey(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "cookie.key")
	k1, err := LoadOrCreateKey(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(k1) != KeySize || bytes.Equal(k1, make([]byte, KeySize)) {
		t.Fatalf("key % x", k1)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v, %v", st.Mode(), err)
	}
	k2, err := LoadOrCreateKey(path)
	if err != nil || !bytes.Equal(k1, k2) {
		t.Fatalf("reload gave % x, %v; want the same key", k2, err)
	}
	// The cookie depends on the key only: same key, same cookie after a
	// restart; another key, another cookie.
	mk := func(key []byte) *Engine {
		peers, _ := cache.New(cache.Config{Capacity: 16})
		e, err := NewEngine(Config{IPv4Addr: relayIPv4, IPv6Addr: relayIPv6, Key: key}, peers, &relaytest.Output{})
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	if mk(k1).Cookie(clientAddr) != mk(k2).Cookie(clientAddr) || mk(k1).Cookie(clientAddr) == mk(testKey).Cookie(clientAddr) {
		t.Fatal("cookie does not follow the key")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Fatalf("temporary files left: %v", entries)
	}

	bad := filepath.Join(dir, "short.key")
	os.WriteFile(bad, []byte("short"), 0o600)
	if _, err := LoadOrCreateKey(bad); err == nil || !strings.Contains(err.Error(), "bytes") {
		t.Fatalf("short key: %v", err)
	}
	open := filepath.Join(dir, "open.key")
	os.WriteFile(open, k1, 0o644)
	os.Chmod(open, 0o644)
	if _, err := LoadOrCreateKey(open); err == nil || !strings.Contains(err.Error(), "0600") {
		t.Fatalf("world-readable key: %v", err)
	}
	if _, err := LoadOrCreateKey(filepath.Join(dir, "missing", "k")); err == nil {
		t.Fatal("key in a missing directory created")
	}
}

func TestNames(t *testing.T) {
	seen := map[string]bool{}
	for r := range NumDropReasons {
		s := r.String()
		if s == "" || s == "unknown" || seen[s] || strings.ToLower(s) != s || strings.ContainsAny(s, " -") {
			t.Errorf("drop reason %d has name %q", r, s)
		}
		seen[s] = true
	}
	for k := range NumICMPv6Kinds {
		if k.String() == "unknown" {
			t.Errorf("icmpv6 kind %d has no name", k)
		}
	}
	if NumDropReasons.String() != "unknown" || Verdict(9).String() != "unknown" || SlowPath.String() != "slow_path" {
		t.Error("out-of-range names")
	}
}
