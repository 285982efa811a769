package relay

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
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
	// DefaultNewPeerRate and DefaultNewPeerBurst: verifications (new pending
	// peers) one native source /64 may start per second, and in a burst.
	// A pending peer lives about 8 s (4 bubble rounds 2 s apart), so one
	// host holds at most about 500 pending entries and causes at most 400
	// bubbles per second, while a server answering many Teredo clients
	// (each new client costs its /64 one token) is not held back.
	DefaultNewPeerRate  = 50
	DefaultNewPeerBurst = 100
	// DefaultBubbleRate is the global cap on bubble datagrams per second
	// (indirect and direct count one each; bursts up to the same number). At
	// 68 bytes per bubble that bounds bubble output to about 2.7 Mbit/s,
	// and still verifies 2500 new peers per second.
	DefaultBubbleRate = 5000
	// DefaultBubbleShare is the share of the bubble cap (rate and burst)
	// that the destinations under one Teredo server IPv4, or with one
	// mapped IPv4, may use: a spray of new destinations under a server (or
	// towards a victim) an attacker chose takes at most a quarter, and
	// peers elsewhere are still verified. A large Teredo server's clients
	// still get 1250 verifications per second by default.
	DefaultBubbleShare = 0.25
	// DefaultClientSlowPathRate and DefaultClientSlowPathBurst: slow-path
	// events (trust/learn notices, Time Exceeded hand-offs) one client IPv4
	// address may cause per second, and in a burst. A client needs about one
	// per verification; a NAT with many Teredo clients behind one address
	// still fits.
	DefaultClientSlowPathRate  = 100
	DefaultClientSlowPathBurst = 200
	// DefaultDestinationHandoffRate and DefaultDestinationHandoffBurst:
	// native packets for one Teredo destination the workers may hand to the
	// slow path (to queue for a peer being verified, or to answer with Time
	// Exceeded or Packet Too Big), per second and in a burst. A peer's queue
	// holds 1280 bytes, one full-size packet, so more would be dropped there
	// anyway; a traceroute's three probes per hop fit.
	DefaultDestinationHandoffRate  = 10
	DefaultDestinationHandoffBurst = 10
	// DefaultRateLimitTableSize is the number of cells of each per-source
	// table (8 bytes each, so 128 KiB per table). A source shares its cell
	// with a colliding one with probability 1/size per busy source.
	DefaultRateLimitTableSize = 1 << 14
	// MaxIPv4Addrs is the number of relay IPv4 addresses Decap accepts
	// (IPv4Addr plus IPv4Addrs), the XDP program's limit.
	MaxIPv4Addrs = 8
)

// minRate and maxRate bound the per-second rates of the limiters, which
// count in nanoseconds (one token per 1000 s at least, one per ns at most).
const (
	minRate = 1e-3
	maxRate = 1e9
)

// maxBurst bounds every burst.
const maxBurst = 1 << 20

// maxRateLimitTableSize bounds the per-source tables (128 MiB each).
const maxRateLimitTableSize = 1 << 24

// KeySize is the size of the bubble-cookie key.
const KeySize = 32

// Config configures an Engine. Zero-valued fields take the Default* values
// above; booleans are named so that false is the default behaviour. The
// policy settings can be changed at run time with Engine.Reconfigure (see
// there for the list); the rest is fixed when the engine is built.
type Config struct {
	// IPv4Addr is the relay's primary IPv4 address: the source of
	// everything it sends over UDP (bubbles, encapsulated packets) and a
	// destination Decap accepts. Required.
	IPv4Addr netip.Addr
	// IPv4Addrs are further relay IPv4 addresses Decap accepts datagrams to
	// (for example the second address of a Teredo server on the same box);
	// IPv4Addr may be repeated here. Together at most MaxIPv4Addrs distinct
	// addresses. Encap never encapsulates to any of them (loop guard).
	// Datagrams to other addresses are dropped as wrong_destination.
	IPv4Addrs []netip.Addr
	// LocalServer is the primary IPv4 address of a Teredo server running in
	// this process (RFC 4380 §5.4.3), whose output delivers the relay's
	// indirect bubbles to it in process. A destination whose server field is
	// a relay address is a loop (dst_self) unless it is LocalServer.
	LocalServer netip.Addr
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
	// DirectBubbles adds, to each indirect bubble (via the client's server),
	// a direct bubble to the mapping embedded in the client's address (RFC
	// 4380 §5.4.1: needed when the relay itself is behind a NAT). Off by
	// default: a direct bubble that reaches a client's Linux (iptables
	// MASQUERADE) NAT before the client's own first packet to the relay
	// makes conntrack claim the mapped port for the relay's flow, the
	// client's packets then leave from another port and every one fails the
	// mapping check (mapping_mismatch; deploy/README.md, "Direct bubbles are
	// off by default"). The indirect bubble alone reaches every client a
	// relay on a public address can serve.
	DirectBubbles bool
	// StrictMapping refuses every packet whose outer source differs from
	// the mapping embedded in its Teredo source (mapping_mismatch), as RFC
	// 4380 §5.4.2 reads. By default a client behind a symmetric NAT (RFC
	// 6081; Linux SNAT --random-fully, carrier-grade NATs) is served: while
	// its peer entry is under verification (pending, or trusted and being
	// verified again after idle), a bubble from any mapping to a fresh
	// cookie (one the relay sent in the last CookieValidity) proves it
	// received the relay's bubble, and the peer is trusted at the observed
	// mapping, where its data is then accepted. Miredo does the same.
	StrictMapping bool
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
	// DisableEncapUDPChecksum makes Encap send encapsulated packets with a
	// zero UDP checksum ("not computed", which IPv4 allows). By default the
	// checksum is computed, as Miredo and the kernel do: a zero leaves the
	// inner IPv6 header without protection and trips NATs that mishandle
	// it. The cost is a few nanoseconds per packet: the sum is derived from
	// the headers when the inner TCP, UDP or ICMPv6 checksum is complete
	// (teredo.InnerChecksum). Inner partial checksums are completed either
	// way.
	DisableEncapUDPChecksum bool

	// ICMPv6Rate is the number of ICMPv6 errors per second (token bucket,
	// default 10); ICMPv6Burst is the bucket size (default = rate). Zero
	// means the default, not "none": to send no ICMPv6 errors at all set
	// DisableICMPv6Errors (a negative rate, the older spelling, still
	// disables them too). Disabled errors are counted as suppressed.
	ICMPv6Rate  float64
	ICMPv6Burst int
	// DisableICMPv6Errors turns off every ICMPv6 error the relay would
	// generate (Destination Unreachable, Packet Too Big, Time Exceeded); the
	// packets are still dropped and counted, and each error is counted as
	// suppressed.
	DisableICMPv6Errors bool

	// NewPeerRate limits the verifications (new pending peers, or a stale
	// peer verified again) that native packets from one source /64 may
	// start: per second (default 50), with bursts of NewPeerBurst (default
	// 100). Packets over the limit are dropped as new_peer_rate_limited (by
	// the worker, before the slow-path queue, when the peer has no entry); a
	// packet for a peer already being verified is queued as usual. Sources
	// are hashed into NewPeerTableSize cells (default 16384); colliding
	// sources share a cell. Set a large rate to lift the limit (benchmarks).
	NewPeerRate      float64
	NewPeerBurst     int
	NewPeerTableSize int
	// BubbleRate caps the bubble datagrams the relay sends per second, over
	// all peers (default 5000; indirect and direct bubbles count one each),
	// with bursts of BubbleBurst (default = rate, at least 2: one round). A
	// new verification without tokens for its first round is not started
	// and its packet is dropped as bubble_rate_limited; a retry round
	// without tokens is skipped (Counters.BubbleRoundsRateLimited) and the
	// peer still expires on schedule.
	BubbleRate  float64
	BubbleBurst int
	// BubbleShare is the share (0 < share ≤ 1, default 0.25) of BubbleRate
	// and BubbleBurst that bubble rounds to the destinations under one
	// embedded Teredo server IPv4, and to the destinations with one mapped
	// IPv4, may use, each in a table of DefaultRateLimitTableSize cells
	// keyed by a seeded hash of the address. A first round refused by
	// either is dropped as bubble_server_limited or
	// bubble_destination_limited (no entry), a retry round is skipped
	// (BubbleRoundsRateLimited); so a spray at one server or one victim
	// cannot use up the global cap that other peers' verifications need.
	// 1 turns the shares off.
	BubbleShare float64
	// ClientSlowPathRate limits the slow-path work one client IPv4 address
	// can cause from the UDP side: trust and learn notices (a bubble or
	// packet from a pending, stale or unknown peer) and Time Exceeded
	// hand-offs (hop limit 1); per second (default 100) with bursts of
	// ClientSlowPathBurst (default 200), hashed into ClientSlowPathTableSize
	// cells (default 16384) shared by all workers. Over the limit a bubble
	// or hop-limit packet is dropped as client_rate_limited; a data packet
	// is still forwarded and only its notice is skipped
	// (Counters.SlowPathNoticesRateLimited).
	ClientSlowPathRate      float64
	ClientSlowPathBurst     int
	ClientSlowPathTableSize int
	// DestinationHandoffRate limits the native packets for one Teredo
	// destination the workers hand to the slow path: per second (default
	// 10) with bursts of DestinationHandoffBurst (default 10), in a table
	// of DefaultRateLimitTableSize cells keyed by a seeded hash of the
	// destination. Over the limit a packet for a peer being verified is
	// dropped in the worker as destination_handoff_limited, and one that
	// would get Time Exceeded or Packet Too Big is dropped as hop_limit or
	// packet_too_big with its error suppressed. A packet for a peer whose
	// queue is already full is dropped in the worker too (peer_queue_full),
	// and an ICMPv6 error's token is taken before its hand-off: a flood
	// from the native side is bounded before it reaches the slow path.
	DestinationHandoffRate  float64
	DestinationHandoffBurst int

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
	if c.ICMPv6Rate < 0 {
		c.DisableICMPv6Errors = true
	}
	if c.ICMPv6Burst == 0 && c.ICMPv6Rate > 0 {
		c.ICMPv6Burst = max(1, int(c.ICMPv6Rate))
	}
	if c.NewPeerRate == 0 {
		c.NewPeerRate = DefaultNewPeerRate
	}
	if c.NewPeerBurst == 0 {
		c.NewPeerBurst = DefaultNewPeerBurst
	}
	if c.NewPeerTableSize == 0 {
		c.NewPeerTableSize = DefaultRateLimitTableSize
	}
	if c.BubbleRate == 0 {
		c.BubbleRate = DefaultBubbleRate
	}
	if c.BubbleBurst == 0 && c.BubbleRate > 0 {
		c.BubbleBurst = max(2, int(min(c.BubbleRate, maxBurst)))
	}
	if c.BubbleShare == 0 {
		c.BubbleShare = DefaultBubbleShare
	}
	if c.ClientSlowPathRate == 0 {
		c.ClientSlowPathRate = DefaultClientSlowPathRate
	}
	if c.ClientSlowPathBurst == 0 {
		c.ClientSlowPathBurst = DefaultClientSlowPathBurst
	}
	if c.ClientSlowPathTableSize == 0 {
		c.ClientSlowPathTableSize = DefaultRateLimitTableSize
	}
	if c.DestinationHandoffRate == 0 {
		c.DestinationHandoffRate = DefaultDestinationHandoffRate
	}
	if c.DestinationHandoffBurst == 0 {
		c.DestinationHandoffBurst = DefaultDestinationHandoffBurst
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
	for _, a := range append([]netip.Addr{c.IPv4Addr}, c.IPv4Addrs...) {
		if !a.Is4() {
			errs = append(errs, fmt.Errorf("ipv4 address %v: must be an IPv4 address", a))
		} else if a.IsUnspecified() || a.IsMulticast() || a.IsLoopback() || a == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
			errs = append(errs, fmt.Errorf("ipv4 address %v: must be a unicast address", a))
		}
	}
	if c.LocalServer.IsValid() && !c.LocalServer.Is4() {
		errs = append(errs, fmt.Errorf("local server %v: must be an IPv4 address", c.LocalServer))
	}
	if n := len(c.relayIPv4Addrs()); n > MaxIPv4Addrs {
		errs = append(errs, fmt.Errorf("ipv4 addresses: %d distinct, at most %d", n, MaxIPv4Addrs))
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
	errs = append(errs, checkRate("new-peer", c.NewPeerRate, c.NewPeerBurst, 1)...)
	if c.NewPeerTableSize < 1 || c.NewPeerTableSize > maxRateLimitTableSize {
		errs = append(errs, fmt.Errorf("new-peer table size %d: must be 1..%d", c.NewPeerTableSize, maxRateLimitTableSize))
	}
	errs = append(errs, checkRate("bubble", c.BubbleRate, c.BubbleBurst, 2)...)
	if !(c.BubbleShare > 0 && c.BubbleShare <= 1) { // also NaN
		errs = append(errs, fmt.Errorf("bubble share %g: must be in (0, 1]", c.BubbleShare))
	}
	errs = append(errs, checkRate("client slow-path", c.ClientSlowPathRate, c.ClientSlowPathBurst, 1)...)
	errs = append(errs, checkRate("destination hand-off", c.DestinationHandoffRate, c.DestinationHandoffBurst, 1)...)
	if c.ClientSlowPathTableSize < 1 || c.ClientSlowPathTableSize > maxRateLimitTableSize {
		errs = append(errs, fmt.Errorf("client slow-path table size %d: must be 1..%d", c.ClientSlowPathTableSize, maxRateLimitTableSize))
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

// checkRate validates a rate limit (after defaults): 0.001 ≤ rate ≤ 1e9 per
// second and minBurst ≤ burst ≤ 2^20.
func checkRate(name string, rate float64, burst, minBurst int) []error {
	var errs []error
	if !(rate >= minRate && rate <= maxRate) { // also rejects NaN
		errs = append(errs, fmt.Errorf("%s rate %g: must be %g..%g per second", name, rate, minRate, float64(maxRate)))
	}
	if burst < minBurst || burst > maxBurst {
		errs = append(errs, fmt.Errorf("%s burst %d: must be %d..%d", name, burst, minBurst, maxBurst))
	}
	return errs
}

// relayIPv4Addrs returns the distinct relay IPv4 addresses, IPv4Addr first.
func (c *Config) relayIPv4Addrs() []netip.Addr {
	addrs := []netip.Addr{c.IPv4Addr}
	for _, a := range c.IPv4Addrs {
		if !slices.Contains(addrs, a) {
			addrs = append(addrs, a)
		}
	}
	return addrs
}
