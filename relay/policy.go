package relay

import (
	"bytes"
	"errors"
	"fmt"
	"slices"

	"github.com/teredorelay/teredorelay/teredo"
)

// policy is the part of the configuration Engine.Reconfigure can change
// while workers run, with what is derived from it. A policy is immutable
// once published through Engine.pol: a reconfiguration builds a new one and
// swaps the pointer, workers load the pointer once per packet (an ordinary
// load on amd64 and arm64) and the slow path once per event or tick, so the
// data path takes no lock and allocates nothing to see a change, and every
// packet is judged by one consistent policy.
type policy struct {
	// cfg is the effective configuration this policy belongs to (defaults
	// applied, Key nil, slices owned by the policy): Engine.Config returns
	// it, and the reloadable fields are read from it.
	cfg    Config
	bogons *teredo.Bogons
	// relay4s holds the relay's IPv4 addresses, the primary first; nRelay4
	// is how many are in use (1 unless Config.IPv4Addrs adds some).
	relay4s [MaxIPv4Addrs][4]byte
	nRelay4 int
	// newPeer, bubble and client drive the limiters of Config.NewPeerRate,
	// BubbleRate and ClientSlowPathRate.
	newPeer gcraParams
	bubble  gcraParams
	client  gcraParams
	// icmp drives the ICMPv6 error limiter (ICMPv6Rate, ICMPv6Burst; zero
	// when DisableICMPv6Errors), destHandoff the per-destination hand-off
	// limiter (DestinationHandoffRate).
	icmp        gcraParams
	destHandoff gcraParams
	// bubbleShare drives the per-server and per-mapped-IPv4 shares of the
	// bubble cap (BubbleShare of BubbleRate and BubbleBurst); shares says
	// they apply (BubbleShare < 1).
	bubbleShare gcraParams
	shares      bool
	// bubblesPerRound is the bubble-cap tokens one round takes: 2 with
	// direct bubbles, else 1.
	bubblesPerRound int64
}

// newPolicy derives a policy from a validated, defaulted configuration. It
// copies what it keeps.
func newPolicy(cfg Config) *policy {
	cfg.Key = nil
	cfg.IPv4Addrs = slices.Clone(cfg.IPv4Addrs)
	cfg.ExtraBogons = slices.Clone(cfg.ExtraBogons)
	p := &policy{
		cfg:             cfg,
		bogons:          teredo.NewBogons(cfg.ExtraBogons),
		newPeer:         newGCRAParams(cfg.NewPeerRate, cfg.NewPeerBurst),
		bubble:          newGCRAParams(cfg.BubbleRate, cfg.BubbleBurst),
		client:          newGCRAParams(cfg.ClientSlowPathRate, cfg.ClientSlowPathBurst),
		destHandoff:     newGCRAParams(cfg.DestinationHandoffRate, cfg.DestinationHandoffBurst),
		bubbleShare:     newGCRAParams(max(minRate, cfg.BubbleRate*cfg.BubbleShare), max(1, int(float64(cfg.BubbleBurst)*cfg.BubbleShare))),
		shares:          cfg.BubbleShare < 1,
		bubblesPerRound: 1,
	}
	if !cfg.DisableICMPv6Errors {
		p.icmp = newGCRAParams(cfg.ICMPv6Rate, cfg.ICMPv6Burst)
	}
	if cfg.DirectBubbles {
		p.bubblesPerRound = 2
	}
	for _, a := range cfg.relayIPv4Addrs() {
		p.relay4s[p.nRelay4] = a.As4()
		p.nRelay4++
	}
	return p
}

// fixedFields are the Config fields Reconfigure cannot change: they size
// preallocated tables and queues, identify the relay on the wire (address,
// port, cookie key) or set timers already scheduled. Now is not compared
// (functions are not comparable); the engine keeps the clock it started with.
var fixedFields = []struct {
	name string
	get  func(*Config) any
}{
	{"IPv4Addr", func(c *Config) any { return c.IPv4Addr }},
	{"LocalServer", func(c *Config) any { return c.LocalServer }},
	{"Port", func(c *Config) any { return c.Port }},
	{"IPv6Addr", func(c *Config) any { return c.IPv6Addr }},
	{"NewPeerTableSize", func(c *Config) any { return c.NewPeerTableSize }},
	{"ClientSlowPathTableSize", func(c *Config) any { return c.ClientSlowPathTableSize }},
	{"SlowPathQueueLen", func(c *Config) any { return c.SlowPathQueueLen }},
	{"PeerValidity", func(c *Config) any { return c.PeerValidity }},
	{"BubbleInterval", func(c *Config) any { return c.BubbleInterval }},
	{"BubbleRetries", func(c *Config) any { return c.BubbleRetries }},
	{"BubbleBudget", func(c *Config) any { return c.BubbleBudget }},
	{"BubbleWindow", func(c *Config) any { return c.BubbleWindow }},
	{"BudgetTableSize", func(c *Config) any { return c.BudgetTableSize }},
	{"MTU", func(c *Config) any { return c.MTU }},
	{"IdleTimeout", func(c *Config) any { return c.IdleTimeout }},
	{"SweepInterval", func(c *Config) any { return c.SweepInterval }},
	{"TimerTick", func(c *Config) any { return c.TimerTick }},
	{"TTL", func(c *Config) any { return c.TTL }},
}

// Reconfigure applies a new configuration while the workers and the slow
// path run. Only the policy settings can change:
//
//	AcceptUnknownPeers, StrictMapping, DirectBubbles, VerifyUDPChecksum,
//	DisableEncapUDPChecksum
//	ICMPv6Rate, ICMPv6Burst, DisableICMPv6Errors
//	ExtraBogons
//	IPv4Addrs (the further addresses; IPv4Addr stays)
//	NewPeerRate, NewPeerBurst, BubbleRate, BubbleBurst, BubbleShare,
//	ClientSlowPathRate, ClientSlowPathBurst,
//	DestinationHandoffRate, DestinationHandoffBurst (not the table sizes)
//
// cfg is a complete configuration, defaults applied as by NewEngine; every
// other field must equal the running value (Key byte for byte; a nil Key,
// as Config returns it, means the running key), otherwise nothing changes
// and the error names each field that differs. Now is ignored. Every packet a worker starts after Reconfigure returns sees the
// new policy; a packet already in a worker finishes under the old one, and
// the slow path switches at its next event or tick. The rate limiters keep
// their state: a source that used its burst does not get a fresh one. Peer
// entries are kept: a peer learned while AcceptUnknownPeers was on stays
// trusted until it expires. Safe for concurrent use.
func (e *Engine) Reconfigure(cfg Config) error {
	if cfg.Key == nil {
		cfg.Key = e.cfg.Key // as Config returns it: keep the running key
	}
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return fmt.Errorf("relay: reconfigure: %w", err)
	}
	var errs []error
	for _, f := range fixedFields {
		if a, b := f.get(&e.cfg), f.get(&cfg); a != b {
			errs = append(errs, fmt.Errorf("%s cannot change at run time (%v → %v)", f.name, a, b))
		}
	}
	if !bytes.Equal(cfg.Key, e.cfg.Key) {
		errs = append(errs, errors.New("Key cannot change at run time"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("relay: reconfigure: %w; restart the relay", err)
	}
	e.pol.Store(newPolicy(cfg))
	return nil
}

// isRelayAddr reports whether a is one of the relay's IPv4 addresses. The
// primary address is compared first, so with one address this is a single
// comparison.
func (e *Engine) isRelayAddr(p *policy, a [4]byte) bool {
	if a == e.relay4 {
		return true
	}
	for i := 1; i < p.nRelay4; i++ {
		if a == p.relay4s[i] {
			return true
		}
	}
	return false
}
