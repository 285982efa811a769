package relay

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/teredorelay/teredorelay/teredo"
)

// Defaults applied by NewEngine to zero-valued Config fields. The reasoning
// behind each value is next to it.
const (
	// DefaultPort is the relay's Teredo service port. RFC 4380 §5.4 only asks
	// for "a Teredo service port"; 3544 is what Miredo's relay binds.
	DefaultPort = teredo.Port
	// DefaultICMPv6Rate is the ICMPv6 error rate (per second), Miredo's one
	// error per 100 ms.
	DefaultICMPv6Rate = 10
	// DefaultSlowPathQueueLen is the number of slow-path slots. Each slot
	// holds one packet of up to MTU bytes, so the default costs about 2 MiB.
	DefaultSlowPathQueueLen = 1024
	// DefaultPeerValidity: a trusted entry is used for direct encapsulation
	// while its last reception is less than 30 s old (RFC 4380 §5.2.4).
	DefaultPeerValidity = 30 * time.Second
	// DefaultBubbleInterval: bubble retry timeout (RFC 4380 §5.4.1: 2 s).
	DefaultBubbleInterval = 2 * time.Second
	// DefaultBubbleRetries: repeats after the first bubble (RFC 4380 §5.4.1:
	// up to three times), so four bubble rounds in all.
	DefaultBubbleRetries = 3
	// DefaultBubbleBudget and DefaultBubbleWindow: at most 4 bubbles per peer
	// in 300 s without an answer (RFC 4380 §5.2.6, applied to relays as
	// Miredo does).
	DefaultBubbleBudget = 4
	DefaultBubbleWindow = 300 * time.Second
	// DefaultMTU is the Teredo link MTU (RFC 4380 §5.1.2: 1280). Larger native
	// packets get Packet Too Big instead of IPv4 fragmentation by the relay.
	DefaultMTU = teredo.MinMTU
	// DefaultIdleTimeout: trusted entries that received nothing for this long
	// are removed by the sweep. Four times the validity period keeps an
	// entry across a client's refresh interval (30 s) and a few lost
	// packets, so a briefly idle client is not treated as unknown.
	DefaultIdleTimeout = 120 * time.Second
	// DefaultSweepInterval: how often the idle sweep runs (Miredo's GC
	// period is 30 s).
	DefaultSweepInterval = 30 * time.Second
	// DefaultTimerTick: how often Run checks retry and expiry timers; the
	// bubble timers are accurate to one tick.
	DefaultTimerTick = 100 * time.Millisecond
	// DefaultTTL is the IPv4 TTL of encapsulated datagrams.
	DefaultTTL = teredo.DefaultTTL
	// DefaultBudgetTableSize bounds the bubble-budget records (one per peer
	// bubbled in the last window, kept after the peer entry is deleted so an
	// expired peer cannot be re-bubbled at once, RFC 4380 §5.2.6 / vector N9).
	DefaultBudgetTableSize = 1 << 16
)

// KeySize is the size of the bubble-cookie key.
const KeySize = 32

// Config configures an Engine. Zero-valued fields take the Default* values
// above; booleans are named so that false is the default behaviour.
type Config struct {
	// IPv4Addr is the relay's IPv4 address: the source of everything it
	// sends over UDP and the destination Decap accepts. Required.
	IPv4Addr netip.Addr
	// Port is the relay's UDP port (default 3544).
	Port uint16
	// IPv6Addr is the source of the ICMPv6 errors the relay generates. It
	// must be a global unicast address outside 2001::/32 so the native sender
	// can route a reply and the errors are not mistaken for Teredo traffic.
	// Required.
	IPv6Addr netip.Addr
	// Key is the 32-byte secret for the bubble cookies (see LoadOrCreateKey).
	// It must survive restarts, or clients answering bubbles sent before the
	// restart are not recognised. Required.
	Key []byte

	// AcceptUnknownPeers forwards packets from Teredo clients the relay has
	// no entry for (RFC 4380 §5.4.2 says they may be dropped; dropping is
	// the default, see reliability threat T1) and creates a trusted entry
	// for them. Bubbles from unknown peers never create state.
	AcceptUnknownPeers bool
	// NoDirectBubbles turns off the direct bubble to a client's mapping that
	// accompanies each indirect bubble (RFC 4380 §5.4.1: needed when the
	// relay is behind a NAT, harmless otherwise; default on).
	NoDirectBubbles bool
	// AcceptSymmetricNAT accepts a bubble whose outer source differs from
	// the mapping embedded in its Teredo source when its destination is the
	// cookie the relay sent to that address; the peer is then trusted at the
	// observed mapping (RFC 6081 symmetric-NAT clients; Miredo does this).
	AcceptSymmetricNAT bool
	// ExtraBogons are IPv4 prefixes treated as not global unicast on top of
	// the RFC 4380 §5.2.4 list (for example teredo.SpecialPurposeBogons, the
	// relay's own prefixes, directed broadcasts of attached subnets).
	ExtraBogons []netip.Prefix
	// VerifyUDPChecksum makes Decap verify non-zero UDP checksums. Off by
	// default: the inner packet carries its own end-to-end checksum, the
	// link layer has its FCS, and on virtual interfaces (veth) frames seen
	// by XDP may carry a partial checksum (pseudo-header only, the
	// CHECKSUM_PARTIAL offload convention), which would be dropped as bad;
	// the testbed capture shows exactly such frames. HandleUDP datagrams
	// were verified by the kernel.
	VerifyUDPChecksum bool

	// ICMPv6Rate is the number of ICMPv6 errors per second (token bucket,
	// default 10); ICMPv6Burst is the bucket size (default = rate). A
	// negative rate disables ICMPv6 errors (all are counted as suppressed).
	ICMPv6Rate  float64
	ICMPv6Burst int

	// SlowPathQueueLen is the number of slow-path slots (default 1024).
	SlowPathQueueLen int
	// PeerValidity: a trusted peer is encapsulated to directly while its last
	// reception is younger than this (default 30 s).
	PeerValidity time.Duration
	// BubbleInterval is the bubble retry timeout (default 2 s).
	BubbleInterval time.Duration
	// BubbleRetries is the number of bubble repeats after the first (0 means
	// the default, 3); the pending entry is deleted one interval after the
	// last.
	BubbleRetries int
	// BubbleBudget bubbles at most per peer in BubbleWindow (default 4 in
	// 300 s); a peer that answers gets a fresh budget.
	BubbleBudget int
	BubbleWindow time.Duration
	// BudgetTableSize bounds the bubble-budget records (default 65536).
	BudgetTableSize int
	// MTU is the Teredo link MTU: native packets larger than this get Packet
	// Too Big (default 1280, range 1280..65507-8).
	MTU int
	// IdleTimeout: trusted peers that received nothing for this long are
	// removed by the periodic sweep (default 120 s).
	IdleTimeout time.Duration
	// SweepInterval is the period of the idle sweep (default 30 s).
	SweepInterval time.Duration
	// TimerTick is the resolution of the retry/expiry timers (default 100 ms).
	TimerTick time.Duration
	// TTL is the IPv4 TTL of encapsulated datagrams (default 64).
	TTL uint8

	// Now returns the current time in nanoseconds on a monotonic clock
	// (default MonotonicNow). Pass the same function to cache.Config.Now.
	Now func() int64
}

var processStart = time.Now()

// MonotonicNow returns nanoseconds since the process started, from the
// monotonic clock: immune to wall-clock steps.
func MonotonicNow() int64 { return int64(time.Since(processStart)) }

// withDefaults returns c with zero fields replaced by their defaults.
func (c Config) withDefaults() Config {
	if c.Port == 0 {
		c.Port = DefaultPort
	}
	if c.ICMPv6Rate == 0 {
		c.ICMPv6Rate = DefaultICMPv6Rate
	}
	if c.ICMPv6Burst == 0 && c.ICMPv6Rate > 0 {
		c.ICMPv6Burst = max(1, int(c.ICMPv6Rate))
	}
	if c.SlowPathQueueLen == 0 {
		c.SlowPathQueueLen = DefaultSlowPathQueueLen
	}
	if c.PeerValidity == 0 {
		c.PeerValidity = DefaultPeerValidity
	}
	if c.BubbleInterval == 0 {
		c.BubbleInterval = DefaultBubbleInterval
	}
	if c.BubbleRetries == 0 {
		c.BubbleRetries = DefaultBubbleRetries
	}
	if c.BubbleBudget == 0 {
		c.BubbleBudget = DefaultBubbleBudget
	}
	if c.BubbleWindow == 0 {
		c.BubbleWindow = DefaultBubbleWindow
	}
	if c.BudgetTableSize == 0 {
		c.BudgetTableSize = DefaultBudgetTableSize
	}
	if c.MTU == 0 {
		c.MTU = DefaultMTU
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = DefaultIdleTimeout
	}
	if c.SweepInterval == 0 {
		c.SweepInterval = DefaultSweepInterval
	}
	if c.TimerTick == 0 {
		c.TimerTick = DefaultTimerTick
	}
	if c.TTL == 0 {
		c.TTL = DefaultTTL
	}
	if c.Now == nil {
		c.Now = MonotonicNow
	}
	return c
}

// maxMTU: the largest IPv6 packet that fits a UDP/IPv4 datagram (65535 - 20 - 8).
const maxMTU = 65507

// validate checks a Config after withDefaults.
func (c *Config) validate() error {
	var errs []error
	if !c.IPv4Addr.Is4() {
		errs = append(errs, fmt.Errorf("ipv4 address %v: must be an IPv4 address", c.IPv4Addr))
	} else if c.IPv4Addr.IsUnspecified() || c.IPv4Addr.IsMulticast() || c.IPv4Addr.IsLoopback() {
		errs = append(errs, fmt.Errorf("ipv4 address %v: must be a unicast address", c.IPv4Addr))
	}
	if !c.IPv6Addr.Is6() || c.IPv6Addr.Is4In6() || !c.IPv6Addr.IsGlobalUnicast() {
		errs = append(errs, fmt.Errorf("ipv6 address %v: must be a global unicast IPv6 address", c.IPv6Addr))
	} else if teredo.Prefix.Contains(c.IPv6Addr) {
		errs = append(errs, fmt.Errorf("ipv6 address %v: must be outside the Teredo prefix %v", c.IPv6Addr, teredo.Prefix))
	}
	if len(c.Key) != KeySize {
		errs = append(errs, fmt.Errorf("key: %d bytes, want %d", len(c.Key), KeySize))
	}
	for _, p := range c.ExtraBogons {
		if !p.IsValid() || !(p.Addr().Is4() || p.Addr().Is4In6() && p.Bits() >= 96) {
			errs = append(errs, fmt.Errorf("extra bogon %v: not an IPv4 prefix", p))
		}
	}
	if c.ICMPv6Rate > 0 && c.ICMPv6Burst < 1 {
		errs = append(errs, fmt.Errorf("icmpv6 burst %d: must be at least 1", c.ICMPv6Burst))
	}
	if c.SlowPathQueueLen < 1 || c.SlowPathQueueLen > 1<<20 {
		errs = append(errs, fmt.Errorf("slow-path queue length %d: must be 1..%d", c.SlowPathQueueLen, 1<<20))
	}
	if c.PeerValidity < time.Second {
		errs = append(errs, fmt.Errorf("peer validity %v: must be at least 1s", c.PeerValidity))
	}
	if c.BubbleInterval < 100*time.Millisecond {
		errs = append(errs, fmt.Errorf("bubble interval %v: must be at least 100ms", c.BubbleInterval))
	}
	if c.BubbleRetries < 1 || c.BubbleRetries > 10 {
		errs = append(errs, fmt.Errorf("bubble retries %d: must be 1..10", c.BubbleRetries))
	}
	if c.BubbleBudget < 1 {
		errs = append(errs, fmt.Errorf("bubble budget %d: must be at least 1", c.BubbleBudget))
	}
	if c.BubbleWindow < c.BubbleInterval {
		errs = append(errs, fmt.Errorf("bubble window %v: must be at least the bubble interval %v", c.BubbleWindow, c.BubbleInterval))
	}
	if c.BudgetTableSize < 1 {
		errs = append(errs, fmt.Errorf("budget table size %d: must be at least 1", c.BudgetTableSize))
	}
	if c.MTU < teredo.MinMTU || c.MTU > maxMTU {
		errs = append(errs, fmt.Errorf("mtu %d: must be %d..%d", c.MTU, teredo.MinMTU, maxMTU))
	}
	if c.IdleTimeout < c.PeerValidity {
		errs = append(errs, fmt.Errorf("idle timeout %v: must be at least the peer validity %v", c.IdleTimeout, c.PeerValidity))
	}
	if c.SweepInterval < time.Second {
		errs = append(errs, fmt.Errorf("sweep interval %v: must be at least 1s", c.SweepInterval))
	}
	if c.TimerTick < time.Millisecond || c.TimerTick > c.BubbleInterval {
		errs = append(errs, fmt.Errorf("timer tick %v: must be 1ms..bubble interval", c.TimerTick))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("relay config: %w", err)
	}
	return nil
}
