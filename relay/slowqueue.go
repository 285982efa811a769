package relay

import "net/netip"

// eventKind says what the slow path must do with a slot.
type eventKind uint8

const (
	// evTrust: a packet or bubble came from a known, not (validly) trusted
	// peer, from its mapping (or, for a symmetric-NAT bubble, from an
	// observed mapping proven by the cookie): trust it at from and release
	// its queue. No packet.
	evTrust eventKind = iota + 1
	// evLearn: a packet from an unknown peer was accepted
	// (Config.AcceptUnknownPeers): create a trusted entry at from. No packet.
	evLearn
	// evEncap: a native packet for a peer that is not trusted and valid:
	// queue it and verify the peer with bubbles. The packet's hop limit is
	// already decremented.
	evEncap
	// evEncapNew: evEncap for a destination that had no cache entry; the
	// worker already took the new-verification token from the packet's
	// source /64 (Config.NewPeerRate).
	evEncapNew
	// evTimeExceeded: hop limit exhausted; send Time Exceeded quoting the
	// packet. from is valid when the packet came from a Teredo client (the
	// error is encapsulated back to from), invalid for a native sender.
	evTimeExceeded
	// evTooBig: native packet larger than the MTU; send Packet Too Big.
	evTooBig
)

// notice is a packet-less event (evTrust, evLearn) from a client's packet.
type notice struct {
	kind eventKind
	from netip.AddrPort
	key  [16]byte
}

// slot is one preallocated slow-path buffer.
type slot struct {
	kind eventKind
	from netip.AddrPort
	key  [16]byte
	n    int
	buf  []byte // fixed capacity, allocated once
}

// slowQueue is a bounded, non-blocking multi-producer single-consumer queue of
// preallocated slots. Producers (workers, the HandleUDP path) take a free slot
// index, fill the slot and publish the index; the consumer (Run) processes it
// and returns the index to the free list. Both channels have room for every
// slot, so publishing never blocks; a producer that finds no free slot counts
// a drop instead of waiting.
//
// Notices (a client's packet or bubble that makes a peer trusted or
// learnt) have a channel of their own, with as many places as there are
// slots and no packet buffer: packets handed over from the native side,
// however many, cannot take the capacity a client's trust notice needs, and
// the consumer takes notices first.
type slowQueue struct {
	slots   []slot
	free    chan int32
	work    chan int32
	notices chan notice
}

func newSlowQueue(n, slotSize int) *slowQueue {
	q := &slowQueue{
		slots:   make([]slot, n),
		free:    make(chan int32, n),
		work:    make(chan int32, n),
		notices: make(chan notice, n),
	}
	arena := make([]byte, n*slotSize)
	for i := range q.slots {
		q.slots[i].buf = arena[i*slotSize : (i+1)*slotSize : (i+1)*slotSize]
		q.free <- int32(i)
	}
	return q
}

// post copies an event into a free slot and publishes it. It copies at most
// the slot size of pkt (callers truncate quotes themselves; packets to queue
// never exceed the MTU, which sizes the slots). It returns false, without
// blocking, when every slot is in use.
func (q *slowQueue) post(kind eventKind, key *[16]byte, from netip.AddrPort, pkt []byte) bool {
	var i int32
	select {
	case i = <-q.free:
	default:
		return false
	}
	s := &q.slots[i]
	s.kind, s.key, s.from = kind, *key, from
	s.n = copy(s.buf, pkt)
	q.work <- i
	return true
}

// notify publishes a notice; it returns false, without blocking, when the
// notice channel is full.
func (q *slowQueue) notify(kind eventKind, key *[16]byte, from netip.AddrPort) bool {
	select {
	case q.notices <- notice{kind: kind, key: *key, from: from}:
		return true
	default:
		return false
	}
}

// release returns a processed slot to the free list.
func (q *slowQueue) release(i int32) { q.free <- i }

// len returns the number of published, unprocessed events and notices.
func (q *slowQueue) len() int { return len(q.work) + len(q.notices) }
