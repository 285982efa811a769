package daemon

import (
	"bytes"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/teredorelay/teredorelay/cache"
	"github.com/teredorelay/teredorelay/config"
	"github.com/teredorelay/teredorelay/relay"
	"github.com/teredorelay/teredorelay/relay/relaytest"
)

const reloadBase = `
interfaces: {one_armed: eth0}
ipv4: {address: [192.0.2.1, 192.0.2.2]}
ipv6: {address: "2001:db8::1"}
`

// TestRelayConfigMapping: every relay setting of the file reaches the
// engine's configuration, and the file's defaults are the engine's.
func TestRelayConfigMapping(t *testing.T) {
	cfg, err := config.Parse([]byte(reloadBase + `
accept_unknown_peers: true
accept_symmetric_nat: false
encap_udp_checksum: false
bubbles: {direct: true}
icmpv6: {enabled: false, rate: 7, burst: 3}
extra_bogons: [198.51.100.0/24]
rate_limits: {new_peer_rate: 1.5, new_peer_burst: 4, bubble_rate: 300, bubble_burst: 30, client_slow_path_rate: 20, client_slow_path_burst: 40,
  destination_handoff_rate: 3, destination_handoff_burst: 5, bubble_share: 0.5}
`))
	if err != nil {
		t.Fatal(err)
	}
	rc := relayConfig(cfg, nil)
	want := relay.Config{
		IPv4Addr: netip.MustParseAddr("192.0.2.1"), IPv4Addrs: []netip.Addr{netip.MustParseAddr("192.0.2.2")},
		Port: 3544, IPv6Addr: netip.MustParseAddr("2001:db8::1"),
		AcceptUnknownPeers: true, StrictMapping: true, DirectBubbles: true, DisableEncapUDPChecksum: true,
		ExtraBogons: []netip.Prefix{netip.MustParsePrefix("198.51.100.0/24")},
		ICMPv6Rate:  7, ICMPv6Burst: 3, DisableICMPv6Errors: true,
		NewPeerRate: 1.5, NewPeerBurst: 4, BubbleRate: 300, BubbleBurst: 30, ClientSlowPathRate: 20, ClientSlowPathBurst: 40,
		DestinationHandoffRate: 3, DestinationHandoffBurst: 5, BubbleShare: 0.5,
	}
	rc.Now = nil
	if rc.IPv4Addr != want.IPv4Addr || !slices.Equal(rc.IPv4Addrs, want.IPv4Addrs) || !slices.Equal(rc.ExtraBogons, want.ExtraBogons) {
		t.Fatalf("addresses %v %v bogons %v", rc.IPv4Addr, rc.IPv4Addrs, rc.ExtraBogons)
	}
	rc.IPv4Addrs, rc.ExtraBogons, want.IPv4Addrs, want.ExtraBogons = nil, nil, nil, nil
	if !configEqual(rc, want) {
		t.Fatalf("relay config\n got %+v\nwant %+v", rc, want)
	}

	def, err := config.Parse([]byte(reloadBase))
	if err != nil {
		t.Fatal(err)
	}
	e := newTestEngine(t, def)
	got := e.Config()
	if got.DisableICMPv6Errors || got.DirectBubbles || got.DisableEncapUDPChecksum || got.StrictMapping || got.NewPeerRate != relay.DefaultNewPeerRate || got.NewPeerBurst != relay.DefaultNewPeerBurst ||
		got.BubbleRate != relay.DefaultBubbleRate || got.BubbleBurst != relay.DefaultBubbleRate ||
		got.ClientSlowPathRate != relay.DefaultClientSlowPathRate || got.ClientSlowPathBurst != relay.DefaultClientSlowPathBurst ||
		got.DestinationHandoffRate != relay.DefaultDestinationHandoffRate || got.DestinationHandoffBurst != relay.DefaultDestinationHandoffBurst ||
		got.BubbleShare != relay.DefaultBubbleShare {
		t.Fatalf("file defaults differ from the engine's: %+v", got)
	}
}

// configEqual compares relay configurations without their slices and clock.
func configEqual(a, b relay.Config) bool {
	a.Key, b.Key, a.Now, b.Now = nil, nil, nil, nil
	return a.IPv4Addr == b.IPv4Addr && a.Port == b.Port && a.IPv6Addr == b.IPv6Addr &&
		a.AcceptUnknownPeers == b.AcceptUnknownPeers && a.StrictMapping == b.StrictMapping &&
		a.DirectBubbles == b.DirectBubbles && a.DisableEncapUDPChecksum == b.DisableEncapUDPChecksum && a.ICMPv6Rate == b.ICMPv6Rate && a.ICMPv6Burst == b.ICMPv6Burst &&
		a.DisableICMPv6Errors == b.DisableICMPv6Errors && a.NewPeerRate == b.NewPeerRate && a.NewPeerBurst == b.NewPeerBurst &&
		a.BubbleRate == b.BubbleRate && a.BubbleBurst == b.BubbleBurst &&
		a.ClientSlowPathRate == b.ClientSlowPathRate && a.ClientSlowPathBurst == b.ClientSlowPathBurst &&
		a.DestinationHandoffRate == b.DestinationHandoffRate && a.DestinationHandoffBurst == b.DestinationHandoffBurst &&
		a.BubbleShare == b.BubbleShare
}

func newTestEngine(t *testing.T, cfg *config.Config) *relay.Engine {
	t.Helper()
	peers, err := cache.New(cache.Config{Capacity: 64, Now: relay.MonotonicNow})
	if err != nil {
		t.Fatal(err)
	}
	e, err := relay.NewEngine(relayConfig(cfg, bytes.Repeat([]byte{7}, relay.KeySize)), peers, &relaytest.Output{})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// TestPolicyKeysReloadable: the keys the daemon hands to the engine are
// reloadable ones, and every reloadable key has someone applying it.
func TestPolicyKeysReloadable(t *testing.T) {
	applied := map[string]bool{"log.level": true}
	for _, k := range policyKeys {
		applied[k.key] = true
		if k.key != "rate_limits" && !slices.Contains(config.ReloadableKeys, k.key) {
			t.Errorf("policy key %s is not in config.ReloadableKeys", k.key)
		}
	}
	for _, k := range config.ReloadableKeys {
		if !applied[k] && !(strings.HasPrefix(k, "rate_limits.") && applied["rate_limits"]) {
			t.Errorf("reloadable key %s is applied by nobody", k)
		}
	}
}

// TestApplyReload: a reload applies policy changes to the running engine
// (no workers are needed to see it in the engine's configuration), names
// what changed, and refuses a restart-only change without applying any of
// the file.
func TestApplyReload(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "relayd.yaml")
	write := func(s string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(reloadBase)
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	d := &Daemon{opts: Options{ConfigPath: path, Level: new(slog.LevelVar)}, log: slog.New(slog.DiscardHandler), cfg: cfg}
	d.engine = newTestEngine(t, cfg)

	write(reloadBase + "accept_unknown_peers: true\nicmpv6: {enabled: false}\nrate_limits: {new_peer_rate: 2}\n")
	changed, err := d.applyReload()
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"accept_unknown_peers", "icmpv6.enabled", "rate_limits"}; !slices.Equal(changed, want) {
		t.Fatalf("changed %v, want %v", changed, want)
	}
	if got := d.engine.Config(); !got.AcceptUnknownPeers || !got.DisableICMPv6Errors || got.NewPeerRate != 2 {
		t.Fatalf("engine after reload: %+v", got)
	}

	// A secondary address: the engine's and the steered set change.
	write(strings.Replace(reloadBase, "192.0.2.2]", "192.0.2.3, 192.0.2.4]", 1))
	if changed, err = d.applyReload(); err != nil {
		t.Fatal(err)
	}
	got := d.engine.Config()
	if !slices.Contains(changed, "ipv4.address") || got.AcceptUnknownPeers || !slices.Equal(got.IPv4Addrs, []netip.Addr{netip.MustParseAddr("192.0.2.3"), netip.MustParseAddr("192.0.2.4")}) {
		t.Fatalf("changed %v, engine %v %v", changed, got.IPv4Addrs, got.AcceptUnknownPeers)
	}
	if s := d.steerAddrs(d.config()); len(s) != 3 || s[2] != netip.MustParseAddr("192.0.2.4") {
		t.Fatalf("steered %v", s)
	}

	// Restart-only: refused with the key named, nothing applied.
	before := d.config()
	write(strings.Replace(reloadBase, "[192.0.2.1, ", "[192.0.2.9, ", 1) + "accept_unknown_peers: true\n")
	if _, err := d.applyReload(); err == nil || !strings.Contains(err.Error(), "ipv4.address cannot change on reload (192.0.2.1 → 192.0.2.9)") {
		t.Fatalf("primary address change: %v", err)
	}
	if d.config() != before || d.engine.Config().AcceptUnknownPeers {
		t.Fatal("a refused reload applied something")
	}
}
