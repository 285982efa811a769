package cache

import (
	"encoding/binary"
	"hash/maphash"
	"net/netip"
	"sync"
	"sync/atomic"
)

// entry is one peer: 112 bytes, see doc.go for the budget. The first 80
// bytes are what lookups read (seq, key, meta, LastRx/LastTx) and what the
// fast path writes (LastRx/LastTx on a coarse step, the counters); lookups
// access them with atomics and never lock. The fields after the counters
// are the slow path's: they are read and written only under the shard's
// mutex.
type entry struct {
	// seq is the entry's sequence number (seqlock) and generation. It is
	// even while the entry holds a peer (or was never used) and odd while
	// the slow path rewrites it and while it is free: a lookup that reads
	// the same even seq before and after reading key and meta has read one
	// peer's values. Every reuse of the entry moves seq on by two.
	seq atomic.Uint32
	// prev/next link the shard's pending list (creation order) while the
	// entry is pending, and the free list (next only) while it is free.
	// Entry index + 1; 0 = none.
	prev, next uint16

	key  [2]atomic.Uint64 // the Teredo address, as two little-endian words
	meta atomic.Uint64    // mapped IPv4 <<32 | port <<16 | state <<8 | flags

	lastRx    atomic.Int64
	lastTx    atomic.Int64
	rxPackets atomic.Uint64
	rxBytes   atomic.Uint64
	txPackets atomic.Uint64
	txBytes   atomic.Uint64

	created      int64
	firstBubble  int64
	qHead, qTail uint32 // queue chunk chain, chunk index + 1; 0 = empty
	qBytes       uint16
	qPackets     uint16
	bubbles      uint8
}

// holds reports whether the entry holds key k0, k1 at an even seq, and that
// seq. A caller that goes on to read other fields reads seq again after
// them, as a seqlock reader does: the same value means the key and those
// fields belong to one peer.
func (e *entry) holds(k0, k1 uint64) (uint32, bool) {
	seq := e.seq.Load()
	return seq, seq&1 == 0 && e.key[0].Load() == k0 && e.key[1].Load() == k1
}

// meta packs what a lookup decides on into one word, so that the slow path
// changes the state, the mapping and the queued flag with a single atomic
// store and a lookup never sees half of a change.
const (
	metaStateShift       = 8
	flagQueued     uint8 = 1 // packets are queued for the peer
)

func packMeta(ip uint32, port uint16, st State, flags uint8) uint64 {
	return uint64(ip)<<32 | uint64(port)<<16 | uint64(st)<<metaStateShift | uint64(flags)
}

func metaState(m uint64) State    { return State(m >> metaStateShift) }
func metaMapping(m uint64) uint64 { return m >> 16 } // ip <<16 | port
func metaFlags(m uint64) uint8    { return uint8(m) }
func metaIP(m uint64) uint32      { return uint32(m >> 32) }
func metaPort(m uint64) uint16    { return uint16(m >> 16) }

// keyWords splits a key into the two words entries store.
func keyWords(k *[16]byte) (uint64, uint64) {
	return binary.LittleEndian.Uint64(k[0:8]), binary.LittleEndian.Uint64(k[8:16])
}

func (e *entry) keyBytes() (k [16]byte) {
	binary.LittleEndian.PutUint64(k[0:8], e.key[0].Load())
	binary.LittleEndian.PutUint64(k[8:16], e.key[1].Load())
	return k
}

// snapshot copies the entry; the caller holds the shard's mutex, so only
// the fast path's atomics can move meanwhile.
func (e *entry) snapshot() Peer {
	m := e.meta.Load()
	return Peer{
		Addr:          netip.AddrFrom16(e.keyBytes()),
		Mapping:       unpackMapping(metaIP(m), metaPort(m)),
		State:         metaState(m),
		Created:       e.created,
		LastRx:        e.lastRx.Load(),
		LastTx:        e.lastTx.Load(),
		Bubbles:       int(e.bubbles),
		FirstBubble:   e.firstBubble,
		QueuedPackets: int(e.qPackets),
		QueuedBytes:   int(e.qBytes),
		RxPackets:     e.rxPackets.Load(),
		RxBytes:       e.rxBytes.Load(),
		TxPackets:     e.txPackets.Load(),
		TxBytes:       e.txBytes.Load(),
	}
}

// state returns the entry's state (0 when free). Caller holds the mutex.
func (e *entry) state() State { return metaState(e.meta.Load()) }

// setMeta stores the state, mapping and flags. Caller holds the mutex.
func (e *entry) setMeta(ip uint32, port uint16, st State, flags uint8) {
	e.meta.Store(packMeta(ip, port, st, flags))
}

// setQueued sets or clears the queued flag. Caller holds the mutex.
func (e *entry) setQueued(q bool) {
	m := e.meta.Load()
	if q {
		m |= uint64(flagQueued)
	} else {
		m &^= uint64(flagQueued)
	}
	e.meta.Store(m)
}

// init makes a free (or never used) entry hold the pending peer k. The
// seqlock is odd while the fields change, so a lookup that meets the entry
// half-written retries. Caller holds the mutex and publishes the entry in
// the index afterwards.
func (e *entry) init(k0, k1 uint64, ip uint32, port uint16, now int64) {
	if e.seq.Load()&1 == 0 {
		e.seq.Add(1)
	}
	e.key[0].Store(k0)
	e.key[1].Store(k1)
	e.setMeta(ip, port, Pending, 0)
	e.lastRx.Store(0)
	e.lastTx.Store(0)
	e.rxPackets.Store(0)
	e.rxBytes.Store(0)
	e.txPackets.Store(0)
	e.txBytes.Store(0)
	e.created, e.firstBubble = now, 0
	e.qHead, e.qTail, e.qBytes, e.qPackets = 0, 0, 0, 0
	e.bubbles = 0
	e.seq.Add(1)
}

// cacheLine is the unit the shard header is padded to.
const cacheLine = 64

// shard is an open-addressing hash table (linear probing, backward-shift
// deletion, no tombstones) over a fixed entry array. Lookups read it without
// a lock (see lookup); the slow path changes it under mu.
type shard struct {
	// What every lookup reads, on a cache line of its own. seq is the
	// index's seqlock: odd while a deletion shifts slots back, so a lookup
	// that missed while slots moved looks again.
	seq atomic.Uint32
	// index slots: 0 = empty, else tag<<16 | (entry index + 1). The tag is
	// 16 further hash bits so most probes never touch a foreign entry.
	index   []atomic.Uint32
	entries []entry
	_       [cacheLine - 8 - 24 - 24]byte

	// The slow path's state, under mu. Lookups never take mu.
	mu   sync.Mutex
	seed maphash.Seed // the cache's seed, to recompute homes on delete
	hand int          // CLOCK hand for trusted eviction sampling
	// nPending and nTrusted change under mu; Stats reads them without it.
	nPending, nTrusted       atomic.Int64
	hwm                      uint32 // entries[hwm:] have never been used
	freeTop                  uint16 // free list head, entry index + 1
	pendingHead, pendingTail uint16 // entry index + 1
	_                        [cacheLine - 8 - 8 - 8 - 16 - 4 - 2 - 4]byte
}

func tagOf(h uint64) uint32 { return uint32(h>>32) & 0xffff }

// maxLookupTries bounds the lock-free attempts of one lookup before it takes
// the shard's mutex (a writer is then in the middle of changing exactly what
// the lookup reads, again and again).
const maxLookupTries = 4

// probe looks k up in the index without a lock and returns its entry and
// the entry's (even) seq, or nil. A nil result is certain only when the
// index's seq did not move meanwhile (ok); ok is false when the lookup must
// be retried. The caller validates a hit by reading the entry's seq again
// after the fields it uses.
func (s *shard) probe(k0, k1, h uint64) (e *entry, seq uint32, ok bool) {
	iseq := s.seq.Load()
	if iseq&1 != 0 {
		return nil, 0, false
	}
	index := s.index
	mask := uint64(len(index) - 1)
	tag := tagOf(h)
	p := h & mask
	for range len(index) {
		v := index[p].Load()
		if v == 0 {
			// A deletion may have shifted k's slot behind us: a miss
			// counts only if no deletion ran meanwhile.
			return nil, 0, s.seq.Load() == iseq
		}
		if v>>16 == tag {
			e := &s.entries[v&0xffff-1]
			if seq, ok := e.holds(k0, k1); ok {
				return e, seq, true
			}
		}
		p = (p + 1) & mask
	}
	return nil, 0, false // the slots changed under us all the way round
}

// findLocked returns the entry index of k or -1. Caller holds s.mu.
func (s *shard) findLocked(k0, k1, h uint64) int {
	mask := uint64(len(s.index) - 1)
	tag := tagOf(h)
	for p := h & mask; ; p = (p + 1) & mask {
		v := s.index[p].Load()
		if v == 0 {
			return -1
		}
		if v>>16 == tag {
			i := int(v&0xffff) - 1
			if e := &s.entries[i]; e.key[0].Load() == k0 && e.key[1].Load() == k1 {
				return i
			}
		}
	}
}

// insertIndex publishes entry i with hash h. The key must be absent; the
// index always has a free slot (len ≥ 1.5 × entries). Inserting never moves
// a slot, so lookups need no retry for it. Caller holds s.mu.
func (s *shard) insertIndex(h uint64, i int) {
	mask := uint64(len(s.index) - 1)
	p := h & mask
	for s.index[p].Load() != 0 {
		p = (p + 1) & mask
	}
	s.index[p].Store(tagOf(h)<<16 | uint32(i+1))
}

// deleteIndex removes entry i (hash h) and shifts the rest of its probe run
// back so lookups never need tombstones. The index's seq is odd meanwhile.
// Caller holds s.mu.
func (s *shard) deleteIndex(h uint64, i int) {
	s.seq.Add(1)
	defer s.seq.Add(1)
	mask := uint64(len(s.index) - 1)
	want := tagOf(h)<<16 | uint32(i+1)
	p := h & mask
	for s.index[p].Load() != want {
		p = (p + 1) & mask
	}
	for {
		s.index[p].Store(0)
		q := p
		for {
			q = (q + 1) & mask
			v := s.index[q].Load()
			if v == 0 {
				return
			}
			home := s.homeOf(v) & mask
			// v may move to p if its home is not in the cyclic range (p, q].
			if (q > p && (home <= p || home > q)) || (q < p && home <= p && home > q) {
				s.index[p].Store(v)
				p = q
				break
			}
		}
	}
}

// homeOf recomputes the hash of the entry a slot points to.
func (s *shard) homeOf(v uint32) uint64 {
	k := s.entries[v&0xffff-1].keyBytes()
	return maphash.Bytes(s.seed, k[:])
}

// alloc takes a free entry index, or -1 when the shard is full.
func (s *shard) alloc() int {
	if s.freeTop != 0 {
		i := int(s.freeTop - 1)
		s.freeTop = s.entries[i].next
		return i
	}
	if int(s.hwm) < len(s.entries) {
		s.hwm++
		return int(s.hwm - 1)
	}
	return -1
}

// free puts entry i on the free list; its seq is already odd.
func (s *shard) free(i int) {
	e := &s.entries[i]
	e.prev, e.next = 0, s.freeTop
	s.freeTop = uint16(i + 1)
}

func (s *shard) pendingPushBack(i int) {
	e := &s.entries[i]
	e.prev, e.next = s.pendingTail, 0
	if s.pendingTail != 0 {
		s.entries[s.pendingTail-1].next = uint16(i + 1)
	} else {
		s.pendingHead = uint16(i + 1)
	}
	s.pendingTail = uint16(i + 1)
}

func (s *shard) pendingUnlink(i int) {
	e := &s.entries[i]
	if e.prev != 0 {
		s.entries[e.prev-1].next = e.next
	} else {
		s.pendingHead = e.next
	}
	if e.next != 0 {
		s.entries[e.next-1].prev = e.prev
	} else {
		s.pendingTail = e.prev
	}
	e.prev, e.next = 0, 0
}

// sampleOldestTrusted returns the trusted entry with the oldest LastRx among
// the next trustedSample entries under the CLOCK hand. Called only when the
// shard is full and holds no pending entry, so every entry is trusted.
func (s *shard) sampleOldestTrusted() int {
	n := len(s.entries)
	best, bestRx := -1, int64(0)
	for range min(trustedSample, n) {
		i := s.hand
		s.hand++
		if s.hand == n {
			s.hand = 0
		}
		e := &s.entries[i]
		if e.state() != Trusted {
			continue
		}
		if rx := e.lastRx.Load(); best < 0 || rx < bestRx {
			best, bestRx = i, rx
		}
	}
	if best < 0 { // unreachable when the precondition holds; stay correct anyway
		for i := range s.entries {
			if s.entries[i].state() == Trusted {
				return i
			}
		}
	}
	return best
}
