package relay

import "sync/atomic"

// bump adds one to a counter owned by the calling goroutine. The single owner
// writes with Store(Load()+1), which is a plain load and store on amd64 and
// arm64 (no locked instruction, no cache-line bouncing); readers (Counters)
// load at any time and see a recent value.
func bump(c *atomic.Uint64) { c.Store(c.Load() + 1) }

// bumpN adds n to a counter owned by the calling goroutine.
func bumpN(c *atomic.Uint64, n int) { c.Store(c.Load() + uint64(n)) }

// pathCounters are the counters of one fast-path owner: a Worker, or the
// kernel-socket path behind HandleUDP. Only the owner writes them.
type pathCounters struct {
	decapPackets        atomic.Uint64
	decapBytes          atomic.Uint64
	decapForwarded      atomic.Uint64
	decapForwardedBytes atomic.Uint64
	encapPackets        atomic.Uint64
	encapBytes          atomic.Uint64
	encapForwarded      atomic.Uint64
	encapForwardedBytes atomic.Uint64
	bubblesReceived     atomic.Uint64
	slowPathHandoffs    atomic.Uint64
	slowPathNotices     atomic.Uint64
	slowPathNoticesLost atomic.Uint64
	// slowPathNoticesLimited: notices skipped by the client rate limit.
	slowPathNoticesLimited atomic.Uint64
	checksumsCompleted     atomic.Uint64
	// icmpSuppressed: ICMPv6 errors refused in the worker, before the
	// hand-off (rate limit, hand-off budget, RFC 4443, disabled).
	icmpSuppressed [NumICMPv6Kinds]atomic.Uint64
	drops          [NumDropReasons]atomic.Uint64
}

func (c *pathCounters) drop(r DropReason) { bump(&c.drops[r]) }

func (c *pathCounters) addTo(s *Counters) {
	s.DecapPackets += c.decapPackets.Load()
	s.DecapBytes += c.decapBytes.Load()
	s.DecapForwarded += c.decapForwarded.Load()
	s.DecapForwardedBytes += c.decapForwardedBytes.Load()
	s.EncapPackets += c.encapPackets.Load()
	s.EncapBytes += c.encapBytes.Load()
	s.EncapForwarded += c.encapForwarded.Load()
	s.EncapForwardedBytes += c.encapForwardedBytes.Load()
	s.BubblesReceived += c.bubblesReceived.Load()
	s.SlowPathHandoffs += c.slowPathHandoffs.Load()
	s.SlowPathNotices += c.slowPathNotices.Load()
	s.SlowPathNoticesLost += c.slowPathNoticesLost.Load()
	s.SlowPathNoticesRateLimited += c.slowPathNoticesLimited.Load()
	s.EncapChecksumsCompleted += c.checksumsCompleted.Load()
	for i := range c.icmpSuppressed {
		s.ICMPv6Suppressed[i] += c.icmpSuppressed[i].Load()
	}
	for i := range c.drops {
		s.Drops[i] += c.drops[i].Load()
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
