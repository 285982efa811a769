package relay

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"sync/atomic"

	"github.com/teredorelay/teredorelay/cache"
	"github.com/teredorelay/teredorelay/teredo"
)

// quotePoolSize is the number of invoking-packet copies kept for the
// Destination Unreachable sent when a pending peer expires (the peer cache
// drops queued packets without handing them back). A peer that starts
// verification while all are in use expires without an ICMPv6 error, counted
// as suppressed. 256 × 1232 bytes ≈ 308 KiB covers the default error rate
// (10/s) over a full retry cycle (8 s) many times over.
const quotePoolSize = 256

// pendingState is the slow path's record of a peer being verified with
// bubbles (RFC 4380 §5.4.1 case 3).
type pendingState struct {
	gen      uint32 // matches the live timer; older timers are ignored
	attempts int    // bubble rounds sent (or skipped by the bubble cap) so far
	quote    int32  // quote pool index of the first queued packet, -1 if none
}

// timer is a due bubble retry or expiry. Every timer is due one
// BubbleInterval after it is created, so the deque is in due order.
type timer struct {
	due int64
	key [16]byte
	gen uint32
}

// budgetRec counts bubble rounds sent to a peer in the window that started
// at start. It outlives the peer entry so an expired peer cannot be
// re-bubbled at once (RFC 4380 §5.2.6, vector N9); a peer that answers gets
// its record deleted.
type budgetRec struct {
	start int64
	count int
}

type budgetStart struct {
	key   [16]byte
	start int64
}

// slowPath is the state owned by the slow-path goroutine (Engine.Run).
type slowPath struct {
	e      *Engine
	c      slowCounters
	cookie *cookie
	// pol is the policy in force, loaded from Engine.pol at each event and
	// tick (refresh).
	pol *policy

	// bubbleCap is the global bubble-datagram limiter (Config.BubbleRate);
	// a round takes pol.bubblesPerRound tokens.
	bubbleCap atomic.Int64

	pending    map[[16]byte]pendingState
	maxPending int
	timers     deque[timer]
	gen        uint32

	budget      map[[16]byte]budgetRec
	budgetOrder deque[budgetStart]

	quotes     []byte
	quoteLen   []int
	quoteFree  []int32
	scratch    []byte
	releaseTo  netip.AddrPort
	releaseFn  func([]byte)
	nextSweep  int64
	sweepBatch int
}

func newSlowPath(e *Engine) *slowPath {
	cfg := &e.cfg
	maxPending := min(e.peers.Capacity(), 1<<20)
	pol := e.pol.Load()
	sp := &slowPath{
		e:           e,
		cookie:      newCookie(cfg.Key),
		pol:         pol,
		pending:     make(map[[16]byte]pendingState, min(maxPending, 4096)),
		maxPending:  maxPending,
		timers:      newDeque[timer](1024),
		budget:      make(map[[16]byte]budgetRec, min(cfg.BudgetTableSize, 4096)),
		budgetOrder: newDeque[budgetStart](1024),
		quotes:      make([]byte, quotePoolSize*quoteMax),
		quoteLen:    make([]int, quotePoolSize),
		quoteFree:   make([]int32, 0, quotePoolSize),
		scratch:     make([]byte, max(teredo.MinMTU, cfg.MTU)+teredo.EncapLen),
	}
	for i := quotePoolSize - 1; i >= 0; i-- {
		sp.quoteFree = append(sp.quoteFree, int32(i))
	}
	sp.releaseFn = sp.release
	sweeps := max(1, int(cfg.IdleTimeout/cfg.SweepInterval))
	sp.sweepBatch = e.peers.Capacity()/sweeps + 1
	return sp
}

// start initialises the timers when Run begins.
func (sp *slowPath) start(now int64) {
	if sp.nextSweep == 0 {
		sp.nextSweep = now + int64(sp.e.cfg.SweepInterval)
	}
}

// refresh picks up a policy published by Engine.Reconfigure.
func (sp *slowPath) refresh() { sp.pol = sp.e.pol.Load() }

// notice handles a client's trust or learn notice.
func (sp *slowPath) notice(n notice) {
	sp.refresh()
	now := sp.e.now()
	switch n.kind {
	case evTrust:
		sp.trust(&n.key, n.from, now)
	case evLearn:
		sp.learn(&n.key, n.from, now)
	}
}

// process handles the event in slot i and frees the slot.
func (sp *slowPath) process(i int32) {
	sp.refresh()
	q := sp.e.q
	s := &q.slots[i]
	now := sp.e.now()
	switch s.kind {
	case evEncap:
		sp.encap(&s.key, s.buf[:s.n], now, false)
	case evEncapNew:
		sp.encap(&s.key, s.buf[:s.n], now, true)
	case evTimeExceeded: // the worker took the ICMPv6 token
		sp.c.drop(DropHopLimit)
		sp.sendICMP(ICMPv6TimeExceeded, teredo.ICMPv6TimeExceeded, teredo.CodeHopLimitExceeded, 0, s.buf[:s.n], s.from, now, true)
	case evTooBig:
		sp.c.drop(DropPacketTooBig)
		sp.sendICMP(ICMPv6PacketTooBig, teredo.ICMPv6PacketTooBig, 0, uint32(sp.e.cfg.MTU), s.buf[:s.n], s.from, now, true)
	}
	q.release(i)
}

// drain processes what is queued, without blocking: the notices first (a
// client's trust notice may release what the packets behind it wait for),
// then the packets, as many as were queued when it started, so that a
// flood cannot keep Run from its timers.
// The slow path is the only consumer: what len counts is there to take.
func (sp *slowPath) drain() {
	q := sp.e.q
	for n := len(q.notices); n > 0; n-- {
		sp.notice(<-q.notices)
	}
	for n := len(q.work); n > 0; n-- {
		sp.process(<-q.work)
	}
}

// release sends a packet released from a peer's queue to sp.releaseTo.
func (sp *slowPath) release(pkt []byte) {
	if err := sp.e.out.SendUDP(sp.releaseTo, pkt); err != nil {
		sp.c.drop(DropOutputError)
		return
	}
	bump(&sp.c.queueReleases)
}

// trust marks a peer trusted at mapping (it sent a packet or bubble from
// there), releases its queue in FIFO order and ends its verification.
func (sp *slowPath) trust(k *[16]byte, mapping netip.AddrPort, now int64) {
	sp.releaseTo = mapping
	if !sp.e.peers.Trust(k, mapping, -1, now, sp.releaseFn) {
		return // evicted or expired meanwhile
	}
	bump(&sp.c.peersTrusted)
	sp.endPending(k)
	delete(sp.budget, *k)
}

// learn creates a trusted entry for an unknown peer whose packet was
// accepted (Config.AcceptUnknownPeers).
func (sp *slowPath) learn(k *[16]byte, mapping netip.AddrPort, now int64) {
	if _, err := sp.e.peers.InsertPending(k, mapping, now); err != nil {
		sp.c.drop(DropCacheFull)
		return
	}
	sp.releaseTo = mapping
	if sp.e.peers.Trust(k, mapping, -1, now, sp.releaseFn) {
		bump(&sp.c.peersLearned)
		sp.endPending(k)
	}
}

// endPending forgets the verification state of k (its timer becomes stale).
func (sp *slowPath) endPending(k *[16]byte) {
	st, ok := sp.pending[*k]
	if !ok {
		return
	}
	sp.freeQuote(st.quote)
	delete(sp.pending, *k)
}

// encap handles a native packet for a peer that was not trusted and valid
// when the fast path saw it (RFC 4380 §5.4.1). paid says the worker already
// took the new-verification token from the packet's source /64 (the peer
// had no entry); it is refunded when no verification starts after all.
func (sp *slowPath) encap(k *[16]byte, pkt []byte, now int64, paid bool) {
	e := sp.e
	src64 := binary.BigEndian.Uint64(pkt[8:16])
	if mapping, ok := e.peers.LookupTx(k, len(pkt), now, e.validFor); ok {
		// Became trusted while the packet waited in the slow-path queue.
		if paid {
			e.newPeers.refund(sp.pol.newPeer, src64, now)
		}
		if err := e.out.SendUDP(mapping, pkt); err != nil {
			sp.c.drop(DropOutputError)
			return
		}
		bump(&sp.c.slowSends)
		return
	}
	if st, ok := sp.pending[*k]; ok {
		// Verification under way: wait for it.
		if paid {
			e.newPeers.refund(sp.pol.newPeer, src64, now)
		}
		if sp.enqueue(k, pkt) && st.quote < 0 {
			st.quote = sp.storeQuote(pkt)
			sp.pending[*k] = st
		}
		return
	}
	// A new verification: its native source /64 pays for it first (in the
	// worker for a peer without an entry), so one host cannot fill the cache
	// with pending peers nor aim the bubbles (and the ICMPv6 errors below)
	// at many victims.
	if !paid && !e.newPeers.allow(sp.pol.newPeer, src64, now) {
		sp.c.drop(DropNewPeerRateLimited)
		return
	}
	if !sp.budgetAllows(k, now) {
		sp.c.drop(DropBubbleBudget)
		pkt[7]++ // quote the packet as it arrived, before the fast path's decrement
		sp.sendICMP(ICMPv6DestUnreachable, teredo.ICMPv6DestUnreachable, teredo.CodeAddrUnreachable, 0, pkt, netip.AddrPort{}, now, false)
		return
	}
	if len(sp.pending) >= sp.maxPending {
		sp.c.drop(DropCacheFull)
		return
	}
	// The first round's bubbles are taken before the entry exists: no
	// pending peer without bubbles.
	if r, ok := sp.takeBubbles(k, now); !ok {
		sp.c.drop(r)
		return
	}
	// A stale trusted entry keeps its state and queue until the peer answers
	// or the bubbles run out; a missing one is created pending at the mapping
	// embedded in the address (the cone bit is ignored, RFC 5991 §3.2).
	if _, err := e.peers.InsertPending(k, teredo.DecodeAddr(k).Mapped, now); err != nil {
		sp.c.drop(DropCacheFull)
		return
	}
	st := pendingState{quote: -1}
	if sp.enqueue(k, pkt) {
		st.quote = sp.storeQuote(pkt)
	}
	sp.gen++
	st.gen = sp.gen
	sp.bubble(k, now)
	st.attempts = 1
	sp.pending[*k] = st
	sp.timers.push(timer{due: now + int64(e.cfg.BubbleInterval), key: *k, gen: st.gen})
}

// enqueue queues pkt for k, counting the outcome.
func (sp *slowPath) enqueue(k *[16]byte, pkt []byte) bool {
	err := sp.e.peers.Enqueue(k, pkt)
	switch {
	case err == nil:
		bump(&sp.c.queuedPackets)
		return true
	case errors.Is(err, cache.ErrPeerQueueFull):
		sp.c.drop(DropPeerQueueFull)
	case errors.Is(err, cache.ErrQueueLimit):
		sp.c.drop(DropQueueLimit)
	default: // ErrNotFound: the cache evicted the entry
		sp.c.drop(DropCacheFull)
	}
	return false
}

// takeBubbles takes the tokens of one bubble round to k: from the share of
// k's embedded server IPv4 and from the share of its mapped IPv4 (unless
// BubbleShare is 1), and from the global cap. It returns the reason of the
// first refusal, having given back what it took.
func (sp *slowPath) takeBubbles(k *[16]byte, now int64) (DropReason, bool) {
	e, pol := sp.e, sp.pol
	server := uint64(binary.BigEndian.Uint32(k[4:8]))
	mapped := uint64(^binary.BigEndian.Uint32(k[12:16]))
	if pol.shares {
		if !e.bubbleServers.allow(pol.bubbleShare, server, now) {
			return DropBubbleServerLimited, false
		}
		if !e.bubbleDests.allow(pol.bubbleShare, mapped, now) {
			e.bubbleServers.refund(pol.bubbleShare, server, now)
			return DropBubbleDestLimited, false
		}
	}
	if !pol.bubble.take(&sp.bubbleCap, now, pol.bubblesPerRound) {
		if pol.shares {
			e.bubbleServers.refund(pol.bubbleShare, server, now)
			e.bubbleDests.refund(pol.bubbleShare, mapped, now)
		}
		return DropBubbleRateLimited, false
	}
	return 0, true
}

// bubble sends one bubble round to k (the caller took its tokens from the
// bubble cap): an indirect bubble to its server:3544 and, with
// Config.DirectBubbles, a direct bubble to the mapping embedded in k. The source is the cookie for
// k, so the client's direct bubble answers to it.
func (sp *slowPath) bubble(k *[16]byte, now int64) {
	e := sp.e
	sp.budgetUse(k, now)
	e.peers.RecordBubble(k, now)
	n := teredo.PutBubble(sp.scratch, sp.cookie.addr(k, e.epoch(now)), netip.AddrFrom16(*k))
	b := sp.scratch[:n]
	server := netip.AddrPortFrom(netip.AddrFrom4([4]byte(k[4:8])), teredo.Port)
	if err := e.out.SendUDP(server, b); err != nil {
		sp.c.drop(DropOutputError)
	} else {
		bump(&sp.c.bubblesIndirect)
	}
	if !sp.pol.cfg.DirectBubbles {
		return
	}
	if err := e.out.SendUDP(teredo.DecodeAddr(k).Mapped, b); err != nil {
		sp.c.drop(DropOutputError)
	} else {
		bump(&sp.c.bubblesDirect)
	}
}

// tick runs the retry/expiry timers, prunes bubble budgets and sweeps idle
// trusted peers.
func (sp *slowPath) tick(now int64) {
	sp.refresh()
	sp.runTimers(now)
	sp.pruneBudgets(now)
	if sp.nextSweep != 0 && now >= sp.nextSweep {
		sp.nextSweep = now + int64(sp.e.cfg.SweepInterval)
		n := sp.e.peers.Sweep(now, int64(sp.e.cfg.IdleTimeout), sp.sweepBatch)
		bumpN(&sp.c.peersSwept, n)
	}
}

// runTimers fires the due bubble retries and expiries.
func (sp *slowPath) runTimers(now int64) {
	e := sp.e
	for t := sp.timers.front(); t != nil && t.due <= now; t = sp.timers.front() {
		key, gen := t.key, t.gen
		sp.timers.pop()
		st, ok := sp.pending[key]
		if !ok || st.gen != gen {
			continue // answered, expired or restarted since
		}
		peer, ok := e.peers.Get(&key)
		if !ok {
			sp.endPending(&key) // evicted by the cache
			continue
		}
		if peer.State == cache.Trusted && now-peer.LastRx < e.validFor {
			// Refreshed by a packet the fast path saw (a stale trusted peer
			// answering from its mapping): release what waited.
			sp.trust(&key, peer.Mapping, peer.LastRx)
			continue
		}
		if st.attempts > e.cfg.BubbleRetries || !sp.budgetAllows(&key, now) {
			sp.expire(&key, st, now)
			continue
		}
		if _, ok := sp.takeBubbles(&key, now); ok {
			sp.bubble(&key, now)
			bump(&sp.c.bubbleRetries)
		} else {
			bump(&sp.c.roundsLimited) // skipped; the expiry stays on schedule
		}
		st.attempts++
		sp.pending[key] = st
		sp.timers.push(timer{due: now + int64(e.cfg.BubbleInterval), key: key, gen: gen})
	}
}

// expire deletes a peer whose last bubble went unanswered, with its queue,
// and tells the sender of the first queued packet (RFC 4380 §5.4.1; ICMPv6
// Destination Unreachable code 3 as Miredo sends).
func (sp *slowPath) expire(k *[16]byte, st pendingState, now int64) {
	dropped, _ := sp.e.peers.Delete(k)
	bumpN(&sp.c.drops[DropPeerExpired], dropped)
	bump(&sp.c.peerExpiries)
	if st.quote >= 0 {
		sp.sendICMP(ICMPv6DestUnreachable, teredo.ICMPv6DestUnreachable, teredo.CodeAddrUnreachable, 0, sp.quote(st.quote), netip.AddrPort{}, now, false)
	} else {
		bump(&sp.c.icmpSuppressed[ICMPv6DestUnreachable])
	}
	sp.endPending(k)
}

// sendICMP builds and sends an ICMPv6 error about invoking, within the rate
// limit (paid: a worker took the token before it handed invoking over). to
// is the client's mapping for an invoking packet that came from a Teredo
// client (the error is sent back over UDP), invalid for a native sender
// (the error goes out with SendIPv6). Errors that RFC 4443 forbids (about an
// ICMPv6 error, a bubble, a multicast or unspecified source) and errors over
// the rate limit are counted as suppressed.
func (sp *slowPath) sendICMP(kind ICMPv6Kind, typ, code uint8, param uint32, invoking []byte, to netip.AddrPort, now int64, paid bool) {
	if sp.pol.cfg.DisableICMPv6Errors || teredo.ICMPv6ErrorEligible(typ, code, invoking) != nil ||
		!paid && !sp.pol.icmp.take(&sp.e.icmpCap, now, 1) {
		bump(&sp.c.icmpSuppressed[kind])
		return
	}
	n, err := teredo.PutICMPv6Error(sp.scratch, typ, code, param, sp.e.ipv6Src, invoking)
	if err != nil {
		bump(&sp.c.icmpSuppressed[kind])
		return
	}
	pkt := sp.scratch[:n]
	if to.IsValid() {
		err = sp.e.out.SendUDP(to, pkt)
	} else {
		err = sp.e.out.SendIPv6(pkt)
	}
	if err != nil {
		sp.c.drop(DropOutputError)
		return
	}
	bump(&sp.c.icmpSent[kind])
}

// budgetAllows reports whether k may get another bubble round now.
func (sp *slowPath) budgetAllows(k *[16]byte, now int64) bool {
	r, ok := sp.budget[*k]
	return !ok || now-r.start >= int64(sp.e.cfg.BubbleWindow) || r.count < sp.e.cfg.BubbleBudget
}

// budgetUse records a bubble round to k.
func (sp *slowPath) budgetUse(k *[16]byte, now int64) {
	r, ok := sp.budget[*k]
	if ok && now-r.start < int64(sp.e.cfg.BubbleWindow) {
		r.count++
		sp.budget[*k] = r
		return
	}
	if !ok && len(sp.budget) >= sp.e.cfg.BudgetTableSize {
		sp.evictOldestBudget()
	}
	sp.budget[*k] = budgetRec{start: now, count: 1}
	sp.budgetOrder.push(budgetStart{key: *k, start: now})
}

// evictOldestBudget removes the record with the oldest window.
func (sp *slowPath) evictOldestBudget() {
	for b := sp.budgetOrder.front(); b != nil; b = sp.budgetOrder.front() {
		key, start := b.key, b.start
		sp.budgetOrder.pop()
		if r, ok := sp.budget[key]; ok && r.start == start {
			delete(sp.budget, key)
			bump(&sp.c.budgetEvictions)
			return
		}
	}
}

// pruneBudgets drops records whose window has passed.
func (sp *slowPath) pruneBudgets(now int64) {
	w := int64(sp.e.cfg.BubbleWindow)
	for b := sp.budgetOrder.front(); b != nil && now-b.start >= w; b = sp.budgetOrder.front() {
		if r, ok := sp.budget[b.key]; ok && r.start == b.start {
			delete(sp.budget, b.key)
		}
		sp.budgetOrder.pop()
	}
}

// storeQuote copies the start of pkt into a free quote slot.
func (sp *slowPath) storeQuote(pkt []byte) int32 {
	if len(sp.quoteFree) == 0 {
		return -1
	}
	i := sp.quoteFree[len(sp.quoteFree)-1]
	sp.quoteFree = sp.quoteFree[:len(sp.quoteFree)-1]
	q := sp.quotes[int(i)*quoteMax : (int(i)+1)*quoteMax]
	sp.quoteLen[i] = copy(q, pkt)
	// The fast path decremented the hop limit before queueing; quote the
	// packet as it arrived.
	q[7]++
	return i
}

func (sp *slowPath) quote(i int32) []byte {
	return sp.quotes[int(i)*quoteMax : int(i)*quoteMax+sp.quoteLen[i]]
}

func (sp *slowPath) freeQuote(i int32) {
	if i >= 0 {
		sp.quoteFree = append(sp.quoteFree, i)
	}
}
