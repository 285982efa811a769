package relay

import (
	"sync/atomic"
	"unsafe"
)

// bump adds one to a counter of the slow path, which the slow-path goroutine
// alone writes and Counters reads at any time.
func bump(c *atomic.Uint64) { c.Store(c.Load() + 1) }

// bumpN adds n to a counter of the slow path.
func bumpN(c *atomic.Uint64, n int) { c.Store(c.Load() + uint64(n)) }

// pathCounters are the counters of one fast-path owner: a Worker, or the
// kernel-socket path behind HandleUDP. Only the owner touches them, with
// plain adds: an atomic store is a locked exchange on amd64 (about 20
// cycles, and four or more per packet). The owner publishes them once per
// batch (publish) for Counters to read.
type pathCounters struct {
	decapPackets        uint64
	decapBytes          uint64
	decapForwarded      uint64
	decapForwardedBytes uint64
	encapPackets        uint64
	encapBytes          uint64
	encapForwarded      uint64
	encapForwardedBytes uint64
	bubblesReceived     uint64
	slowPathHandoffs    uint64
	slowPathNotices     uint64
	slowPathNoticesLost uint64
	// slowPathNoticesLimited: notices skipped by the client rate limit.
	slowPathNoticesLimited uint64
	checksumsCompleted     uint64
	// rare counts the additions to the arrays below (drops and suppressed
	// errors, a minority of packets): publish looks at the arrays only when
	// it moved.
	rare uint64
	// icmpSuppressed: ICMPv6 errors refused in the worker, before the
	// hand-off (rate limit, hand-off budget, RFC 4443, disabled).
	icmpSuppressed [NumICMPv6Kinds]uint64
	drops          [NumDropReasons]uint64
}

func (c *pathCounters) drop(r DropReason) {
	c.drops[r]++
	c.rare++
}

// suppressed counts an ICMPv6 error refused in the worker.
func (c *pathCounters) suppressed(k ICMPv6Kind) {
	c.icmpSuppressed[k]++
	c.rare++
}

// pathCounterWords is the number of uint64 words in pathCounters, which
// holds nothing else (publishedCounters copies it word by word).
const pathCounterWords = unsafe.Sizeof(pathCounters{}) / 8

var _ [unsafe.Sizeof(pathCounters{}) % 8]struct{} // only whole words

// publishedCounters is the readers' copy of a pathCounters.
type publishedCounters [pathCounterWords]atomic.Uint64

// words views c as its words.
func (c *pathCounters) words() *[pathCounterWords]uint64 {
	return (*[pathCounterWords]uint64)(unsafe.Pointer(c))
}

// headWords is the number of words before the arrays, rare included.
const headWords = unsafe.Offsetof(pathCounters{}.icmpSuppressed) / 8

// rare is the last word before the arrays.
var (
	_ [unsafe.Offsetof(pathCounters{}.rare)/8 - (headWords - 1)]struct{}
	_ [(headWords - 1) - unsafe.Offsetof(pathCounters{}.rare)/8]struct{}
)

// publish stores the words of c that changed since the last publish (the
// arrays only when rare moved); the owner is the only writer, so loading
// its own last value is a plain load.
func (p *publishedCounters) publish(c *pathCounters) {
	w := c.words()
	n := headWords
	if p[headWords-1].Load() != c.rare {
		n = pathCounterWords
	}
	for i := range n {
		if v := w[i]; p[i].Load() != v {
			p[i].Store(v)
		}
	}
}

// addTo adds the published counters to s (any goroutine).
func (p *publishedCounters) addTo(s *Counters) {
	var c pathCounters
	w := c.words()
	for i := range p {
		w[i] = p[i].Load()
	}
	s.DecapPackets += c.decapPackets
	s.DecapBytes += c.decapBytes
	s.DecapForwarded += c.decapForwarded
	s.DecapForwardedBytes += c.decapForwardedBytes
	s.EncapPackets += c.encapPackets
	s.EncapBytes += c.encapBytes
	s.EncapForwarded += c.encapForwarded
	s.EncapForwardedBytes += c.encapForwardedBytes
	s.BubblesReceived += c.bubblesReceived
	s.SlowPathHandoffs += c.slowPathHandoffs
	s.SlowPathNotices += c.slowPathNotices
	s.SlowPathNoticesLost += c.slowPathNoticesLost
	s.SlowPathNoticesRateLimited += c.slowPathNoticesLimited
	s.EncapChecksumsCompleted += c.checksumsCompleted
	for i := range c.icmpSuppressed {
		s.ICMPv6Suppressed[i] += c.icmpSuppressed[i]
	}
	for i := range c.drops {
		s.Drops[i] += c.drops[i]
	}
}

// slowCounters are written only by the slow-path goroutine (Run).
type slowCounters struct {
	bubblesDirect   atomic.Uint64
	bubblesIndirect atomic.Uint64
	bubbleRetries   atomic.Uint64
	peerExpiries    atomic.Uint64
	peersTrusted    atomic.Uint64
	peersLearned    atomic.Uint64
	peersSwept      atomic.Uint64
	queuedPackets   atomic.Uint64
	queueReleases   atomic.Uint64
	slowSends       atomic.Uint64
	budgetEvictions atomic.Uint64
	roundsLimited   atomic.Uint64
	icmpSent        [NumICMPv6Kinds]atomic.Uint64
	icmpSuppressed  [NumICMPv6Kinds]atomic.Uint64
	drops           [NumDropReasons]atomic.Uint64
}

func (c *slowCounters) drop(r DropReason) { bump(&c.drops[r]) }

func (c *slowCounters) addTo(s *Counters) {
	s.BubblesSentDirect += c.bubblesDirect.Load()
	s.BubblesSentIndirect += c.bubblesIndirect.Load()
	s.BubbleRetries += c.bubbleRetries.Load()
	s.PeerExpiries += c.peerExpiries.Load()
	s.PeersTrusted += c.peersTrusted.Load()
	s.PeersLearned += c.peersLearned.Load()
	s.PeersSwept += c.peersSwept.Load()
	s.QueuedPackets += c.queuedPackets.Load()
	s.QueueReleases += c.queueReleases.Load()
	s.SlowPathSends += c.slowSends.Load()
	s.BubbleBudgetEvictions += c.budgetEvictions.Load()
	s.BubbleRoundsRateLimited += c.roundsLimited.Load()
	for i := range c.icmpSent {
		s.ICMPv6Sent[i] += c.icmpSent[i].Load()
		s.ICMPv6Suppressed[i] += c.icmpSuppressed[i].Load()
	}
	for i := range c.drops {
		s.Drops[i] += c.drops[i].Load()
	}
}

// Counters is a snapshot of the relay's counters, summed over all workers,
// the HandleUDP path and the slow path. Every field only grows.
//
// Accounting: every frame given to Decap or Encap (and every HandleUDP
// datagram) ends as exactly one of: forwarded (DecapForwarded or
// EncapForwarded), a consumed bubble (BubblesReceived), a packet hand-off to
// the slow path (SlowPathHandoffs), or a fast-path drop (Drops[reason]). A
// hand-off ends in the slow path as a queued packet (QueuedPackets), a send
// (SlowPathSends), or a slow-path drop reason (hop_limit, packet_too_big,
// bubble_budget, peer_queue_full, queue_limit, cache_full, output_error,
// new_peer_rate_limited, bubble_rate_limited).
// Queued packets end as QueueReleases or peer_expired drops (or with the
// cache's own eviction counters when the cache evicts their peer).
type Counters struct {
	DecapPackets        uint64 // IPv4 datagrams offered to Decap/HandleUDP
	DecapBytes          uint64 // their IPv4 (Decap) or UDP payload (HandleUDP) bytes
	DecapForwarded      uint64 // IPv6 packets forwarded to the native side
	DecapForwardedBytes uint64
	EncapPackets        uint64 // IPv6 packets offered to Encap
	EncapBytes          uint64
	EncapForwarded      uint64 // IPv4/UDP datagrams forwarded to clients by the fast path
	EncapForwardedBytes uint64

	BubblesReceived     uint64 // bubbles from clients consumed by the fast path
	SlowPathHandoffs    uint64 // packets copied to the slow path (to queue, or to answer with an ICMPv6 error)
	SlowPathNotices     uint64 // trust/learn notices posted to the slow path (side effects, no packet)
	SlowPathNoticesLost uint64 // notices lost to a full slow-path queue (the packet itself was handled normally)
	// SlowPathNoticesRateLimited: notices not posted because the client's
	// IPv4 address exceeded Config.ClientSlowPathRate (the data packet
	// itself was forwarded).
	SlowPathNoticesRateLimited uint64
	// EncapChecksumsCompleted: native packets whose TCP or UDP checksum
	// held only the pseudo-header sum (checksum offload on the sender's
	// virtual interface) and that Encap completed.
	EncapChecksumsCompleted uint64

	BubblesSentDirect     uint64 // direct bubbles sent to a client's mapping
	BubblesSentIndirect   uint64 // indirect bubbles sent to a client's server:3544
	BubbleRetries         uint64 // bubble rounds after the first one
	PeerExpiries          uint64 // pending peers deleted after the last bubble went unanswered
	PeersTrusted          uint64 // pending (or re-verified) peers that became trusted
	PeersLearned          uint64 // unknown peers accepted with Config.AcceptUnknownPeers
	PeersSwept            uint64 // idle trusted peers removed by the periodic sweep
	QueuedPackets         uint64 // native packets queued for a pending peer
	QueueReleases         uint64 // queued packets sent after their peer became trusted
	SlowPathSends         uint64 // native packets the slow path sent straight to an already-valid peer
	BubbleBudgetEvictions uint64 // bubble-budget records evicted because the table was full
	// BubbleRoundsRateLimited: retry rounds skipped because the global
	// bubble cap (Config.BubbleRate) had no tokens; the peer still expires
	// on schedule. (A first round without tokens is a bubble_rate_limited
	// drop of the packet that would have started it.)
	BubbleRoundsRateLimited uint64

	ICMPv6Sent       [NumICMPv6Kinds]uint64 // ICMPv6 errors sent, by kind
	ICMPv6Suppressed [NumICMPv6Kinds]uint64 // ICMPv6 errors the rate limiter suppressed, by kind

	Drops [NumDropReasons]uint64 // packets dropped, by reason
}

// TotalDrops returns the sum of all drop reasons.
func (c Counters) TotalDrops() uint64 {
	var t uint64
	for _, v := range c.Drops {
		t += v
	}
	return t
}
