package config

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
)

// TestRateLimits: the rate_limits keys and icmpv6.enabled decode with their
// defaults, take explicit values and refuse out-of-range ones naming the key.
func TestRateLimits(t *testing.T) {
	c, err := Parse([]byte(minimal))
	if err != nil {
		t.Fatal(err)
	}
	if !c.ICMPv6.Enabled || c.RateLimits != (RateLimits{NewPeerRate: 50, NewPeerBurst: 100, BubbleRate: 5000, BubbleBurst: 5000,
		ClientSlowPathRate: 100, ClientSlowPathBurst: 200, DestinationHandoffRate: 10, DestinationHandoffBurst: 10, BubbleShare: 0.25}) {
		t.Fatalf("defaults: icmpv6 %+v limits %+v", c.ICMPv6, c.RateLimits)
	}
	c, err = Parse([]byte(minimal + `
icmpv6: {enabled: false}
rate_limits:
  new_peer_rate: 0.5
  new_peer_burst: 3
  bubble_rate: 200
  bubble_burst: 2
  client_slow_path_rate: 7
  client_slow_path_burst: 9
  destination_handoff_rate: 4
  destination_handoff_burst: 6
  bubble_share: 0.5
`))
	if err != nil {
		t.Fatal(err)
	}
	if c.ICMPv6 != (ICMPv6{Rate: DefaultICMPv6Rate, Burst: DefaultICMPv6Burst, Enabled: false}) ||
		c.RateLimits != (RateLimits{NewPeerRate: 0.5, NewPeerBurst: 3, BubbleRate: 200, BubbleBurst: 2,
			ClientSlowPathRate: 7, ClientSlowPathBurst: 9, DestinationHandoffRate: 4, DestinationHandoffBurst: 6, BubbleShare: 0.5}) {
		t.Fatalf("values: icmpv6 %+v limits %+v", c.ICMPv6, c.RateLimits)
	}
	for _, tc := range []struct{ extra, want string }{
		{"rate_limits: {new_peer_rate: 0}\n", "rate_limits.new_peer_rate: 0 is out of range"},
		{"rate_limits: {bubble_share: 0}\n", "rate_limits.bubble_share: 0 is out of range (0 < share <= 1)"},
		{"rate_limits: {bubble_share: 1.5}\n", "rate_limits.bubble_share: 1.5 is out of range (0 < share <= 1)"},
		{"rate_limits: {new_peer_rate: -1}\n", "rate_limits.new_peer_rate: -1 is out of range"},
		{"rate_limits: {new_peer_rate: .nan}\n", `rate_limits.new_peer_rate: line 5: ".nan" is not a finite number`},
		{"rate_limits: {new_peer_burst: 0}\n", "rate_limits.new_peer_burst: 0 is out of range (1-1048576)"},
		{"rate_limits: {bubble_rate: 2e9}\n", "rate_limits.bubble_rate: 2e+09 is out of range"},
		{"rate_limits: {bubble_burst: 1}\n", "rate_limits.bubble_burst: 1 is out of range (2-1048576); at least one round of 2 bubbles"},
		{"rate_limits: {client_slow_path_burst: 2000000}\n", "rate_limits.client_slow_path_burst: 2000000 is out of range"},
		{"rate_limits: {client_slow_path_rate: fast}\n", "rate_limits.client_slow_path_rate"},
		{"rate_limits: {new_peer_table_size: 10}\n", "unknown key rate_limits.new_peer_table_size"},
		{"icmpv6: {enabled: maybe}\n", "icmpv6.enabled"},
	} {
		_, err := Parse([]byte(minimal + tc.extra))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want %q", tc.extra, err, tc.want)
		}
	}
}

// TestCheckReloadPolicy: the relay policy keys, the new limits and the
// addresses after the first reload; the primary address does not.
func TestCheckReloadPolicy(t *testing.T) {
	const two = `
interfaces: {one_armed: eth0}
ipv4: {address: [192.0.2.1, 192.0.2.2]}
ipv6: {address: "2001:db8::1"}
`
	old, err := Parse([]byte(two))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, file, want string // want "" = accepted
	}{
		{"icmpv6 off", two + "icmpv6: {enabled: false}\n", ""},
		{"limits", two + "rate_limits: {new_peer_rate: 1, new_peer_burst: 2, bubble_rate: 10, bubble_burst: 4, client_slow_path_rate: 3, client_slow_path_burst: 5}\n", ""},
		{"secondary changed", strings.Replace(two, "192.0.2.2", "192.0.2.3", 1), ""},
		{"secondary added", strings.Replace(two, "192.0.2.2]", "192.0.2.2, 192.0.2.4]", 1), ""},
		{"secondary removed", strings.Replace(two, ", 192.0.2.2", "", 1), ""},
		{"primary changed", strings.Replace(two, "[192.0.2.1, 192.0.2.2]", "[192.0.2.2, 192.0.2.1]", 1),
			"config: ipv4.address cannot change on reload (192.0.2.1 → 192.0.2.2); restart the daemon"},
		{"port", strings.Replace(two, "192.0.2.2]}", "192.0.2.2], port: 3545}", 1),
			"config: ipv4.port cannot change on reload (3544 → 3545); restart the daemon"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			next, err := Parse([]byte(tc.file))
			if err != nil {
				t.Fatal(err)
			}
			err = old.CheckReload(next)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil || err.Error() != tc.want {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
	if got := old.SecondaryIPv4(); !slices.Equal(got, []netip.Addr{netip.MustParseAddr("192.0.2.2")}) || old.PrimaryIPv4() != netip.MustParseAddr("192.0.2.1") {
		t.Fatalf("primary %v secondary %v", old.PrimaryIPv4(), got)
	}
	for _, k := range []string{"icmpv6.enabled", "rate_limits.new_peer_rate", "rate_limits.client_slow_path_burst", "ipv4.address"} {
		if !slices.Contains(ReloadableKeys, k) {
			t.Errorf("%s missing from ReloadableKeys", k)
		}
	}
}
