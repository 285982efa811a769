package config

import (
	"fmt"
	"net/netip"
)

// Defaults of the rate_limits keys: the relay engine's own defaults
// (relay.DefaultNewPeerRate and the rest), spelled out here so that the
// example file, -check-config and the daemon agree on one set of numbers.
const (
	DefaultNewPeerRate         = 50
	DefaultNewPeerBurst        = 100
	DefaultBubbleRate          = 5000
	DefaultBubbleBurst         = 5000
	DefaultClientSlowPathRate  = 100
	DefaultClientSlowPathBurst = 200
	// DefaultDestinationHandoffRate and DefaultDestinationHandoffBurst are
	// relay.DefaultDestinationHandoffRate and ...Burst.
	DefaultDestinationHandoffRate  = 10
	DefaultDestinationHandoffBurst = 10
	// DefaultBubbleShare is relay.DefaultBubbleShare.
	DefaultBubbleShare = 0.25
)

// Bounds of the rate_limits keys (the relay engine's: a rate counts in
// nanoseconds per token, a burst is a bounded token count).
const (
	minLimitRate, maxLimitRate = 1e-3, 1e9
	maxLimitBurst              = 1 << 20
)

// RateLimits bounds the work the outside world can make the relay's slow
// path do (the relay package's "Limits"): rates per second, bursts in
// tokens. All are reloadable; the tables behind the per-source limits are
// sized at start.
type RateLimits struct {
	// NewPeerRate and NewPeerBurst: verifications (new pending peers) one
	// native source /64 may start.
	NewPeerRate  float64
	NewPeerBurst int
	// BubbleRate and BubbleBurst: bubble datagrams per second, all peers
	// together (a round is one datagram, two with bubbles.direct; the burst
	// is at least 2).
	BubbleRate  float64
	BubbleBurst int
	// BubbleShare: the share of BubbleRate and BubbleBurst the destinations
	// under one Teredo server IPv4, or with one mapped IPv4, may use.
	BubbleShare float64
	// ClientSlowPathRate and ClientSlowPathBurst: slow-path events (trust
	// and learn notices, Time Exceeded hand-offs) one client IPv4 address
	// may cause.
	ClientSlowPathRate  float64
	ClientSlowPathBurst int
	// DestinationHandoffRate and DestinationHandoffBurst: native packets
	// for one Teredo destination handed to the slow path (queued for a
	// peer being verified, or answered with an ICMPv6 error).
	DestinationHandoffRate  float64
	DestinationHandoffBurst int
}

// rawRateLimits mirrors the rate_limits section.
type rawRateLimits struct {
	NewPeerRate         *float64 `yaml:"new_peer_rate"`
	NewPeerBurst        *int     `yaml:"new_peer_burst"`
	BubbleRate          *float64 `yaml:"bubble_rate"`
	BubbleBurst         *int     `yaml:"bubble_burst"`
	ClientSlowPathRate  *float64 `yaml:"client_slow_path_rate"`
	ClientSlowPathBurst *int     `yaml:"client_slow_path_burst"`

	DestinationHandoffRate  *float64 `yaml:"destination_handoff_rate"`
	DestinationHandoffBurst *int     `yaml:"destination_handoff_burst"`
	BubbleShare             *float64 `yaml:"bubble_share"`
}

// rateLimits validates rate_limits and icmpv6.enabled.
func (r *rawConfig) rateLimits(c *Config) error {
	c.ICMPv6.Enabled = boolOr(r.ICMPv6.Enabled, true)
	rl, out := &r.RateLimits, &c.RateLimits
	var err error
	for _, f := range []struct {
		key       string
		rate      *float64
		burst     *int
		defRate   float64
		defBurst  int
		minBurst  int
		rateOut   *float64
		burstOut  *int
		burstNote string
	}{
		{"rate_limits.new_peer", rl.NewPeerRate, rl.NewPeerBurst, DefaultNewPeerRate, DefaultNewPeerBurst, 1, &out.NewPeerRate, &out.NewPeerBurst, ""},
		{"rate_limits.bubble", rl.BubbleRate, rl.BubbleBurst, DefaultBubbleRate, DefaultBubbleBurst, 2, &out.BubbleRate, &out.BubbleBurst, "; at least one round of 2 bubbles"},
		{"rate_limits.client_slow_path", rl.ClientSlowPathRate, rl.ClientSlowPathBurst, DefaultClientSlowPathRate, DefaultClientSlowPathBurst, 1, &out.ClientSlowPathRate, &out.ClientSlowPathBurst, ""},
		{"rate_limits.destination_handoff", rl.DestinationHandoffRate, rl.DestinationHandoffBurst, DefaultDestinationHandoffRate, DefaultDestinationHandoffBurst, 1, &out.DestinationHandoffRate, &out.DestinationHandoffBurst, ""},
	} {
		*f.rateOut = floatOr(f.rate, f.defRate)
		if !(*f.rateOut >= minLimitRate && *f.rateOut <= maxLimitRate) { // also NaN
			return fmt.Errorf("%s_rate: %g is out of range (%g-%g per second)", f.key, *f.rateOut, minLimitRate, float64(maxLimitRate))
		}
		if *f.burstOut, err = intIn(f.key+"_burst", f.burst, f.defBurst, f.minBurst, maxLimitBurst); err != nil {
			return fmt.Errorf("%w%s", err, f.burstNote)
		}
	}
	out.BubbleShare = floatOr(rl.BubbleShare, DefaultBubbleShare)
	if !(out.BubbleShare > 0 && out.BubbleShare <= 1) { // also NaN
		return fmt.Errorf("rate_limits.bubble_share: %g is out of range (0 < share <= 1)", out.BubbleShare)
	}
	return nil
}

// PrimaryIPv4 returns the first ipv4.address, the relay's primary address
// (the source of what it sends; fixed until restart).
func (c *Config) PrimaryIPv4() netip.Addr {
	if len(c.IPv4.Addresses) == 0 {
		return netip.Addr{}
	}
	return c.IPv4.Addresses[0]
}

// SecondaryIPv4 returns the ipv4.address entries after the first: further
// addresses the relay accepts datagrams to, reloadable.
func (c *Config) SecondaryIPv4() []netip.Addr {
	if len(c.IPv4.Addresses) < 2 {
		return nil
	}
	return c.IPv4.Addresses[1:]
}
