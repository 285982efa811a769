package cache

import (
	"hash/maphash"
	"net/netip"
	"sync"
	"sync/atomic"
)

// entry is one peer. 104 bytes; see doc.go for the budget. Fields written by
// the fast path under the shard's read lock are atomics; all other fields
// change only under the write lock.
type entry struct {
	key [16]byte

	lastRx    atomic.Int64
	lastTx    atomic.Int64
	rxPackets atomic.Uint64
	rxBytes   atomic.Uint64
	txPackets atomic.Uint64
	txBytes   atomic.Uint64

	created     int64
	firstBubble int64

	ip           uint32 // mapped IPv4, big-endian value
	qHead, qTail uint32 // queue chunk chain, chunk index + 1; 0 = empty
	qBytes       uint16
	qPackets     uint16
	port         uint16
	// prev/next link the shard's pending list (creation order) while the
	// entry is pending, and the free list (next only) while it is free.
	// Entry index + 1; 0 = none.
	prev, next uint16
	state      State // 0 = free
	bubbles    uint8
}

func (e *entry) snapshot() Peer {
	return Peer{
		Addr:          netip.AddrFrom16(e.key),
		Mapping:       unpackMapping(e.ip, e.port),
		State:         e.state,
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

// shard is an open-addressing hash table (linear probing, backward-shift
// deletion, no tombstones) over a fixed entry array.
type shard struct {
	mu   sync.RWMutex
	seed maphash.Seed // the cache's seed, to recompute homes on delete
	// index slots: 0 = empty, else tag<<16 | (entry index + 1). The tag is
	// 16 further hash bits so most probes never touch a foreign entry.
	index   []uint32
	entries []entry
	hwm     uint32 // entries[hwm:] have never been used
	freeTop uint16 // free list head, entry index + 1

	pendingHead, pendingTail uint16 // entry index + 1
	nPending, nTrusted       int
	hand                     int // CLOCK hand for trusted eviction sampling

	_ [64]byte // keep hot shard headers on separate cache lines
}

func (s *shard) init(seed maphash.Seed, perShard, indexLen int) {
	s.seed = seed
	s.index = make([]uint32, indexLen)
	s.entries = make([]entry, perShard)
}

func tagOf(h uint64) uint32 { return uint32(h>>32) & 0xffff }

// find returns the entry index of k or -1. Caller holds s.mu.
func (s *shard) find(k *[16]byte, h uint64) int {
	mask := uint64(len(s.index) - 1)
	tag := tagOf(h)
	for p := h & mask; ; p = (p + 1) & mask {
		v := s.index[p]
		if v == 0 {
			return -1
		}
		if v>>16 == tag {
			i := int(v&0xffff) - 1
			if s.entries[i].key == *k {
				return i
			}
		}
	}
}

// insertIndex adds entry i with hash h. The key must be absent; the index
// always has a free slot (len ≥ 1.5 × entries).
func (s *shard) insertIndex(h uint64, i int) {
	mask := uint64(len(s.index) - 1)
	p := h & mask
	for s.index[p] != 0 {
		p = (p + 1) & mask
	}
	s.index[p] = tagOf(h)<<16 | uint32(i+1)
}

// deleteIndex removes entry i (hash h) and shifts the rest of its probe run
// back so lookups never need tombstones.
func (s *shard) deleteIndex(h uint64, i int) {
	mask := uint64(len(s.index) - 1)
	want := tagOf(h)<<16 | uint32(i+1)
	p := h & mask
	for s.index[p] != want {
		p = (p + 1) & mask
	}
	for {
		s.index[p] = 0
		q := p
		for {
			q = (q + 1) & mask
			v := s.index[q]
			if v == 0 {
				return
			}
			home := s.homeOf(v) & mask
			// v may move to p if its home is not in the cyclic range (p, q].
			if (q > p && (home <= p || home > q)) || (q < p && home <= p && home > q) {
				s.index[p] = v
				p = q
				break
			}
		}
	}
}

// homeOf recomputes the hash of the entry a slot points to.
func (s *shard) homeOf(v uint32) uint64 {
	return maphash.Bytes(s.seed, s.entries[v&0xffff-1].key[:])
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

// free puts entry i on the free list; its state must already be 0.
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
		if e.state != Trusted {
			continue
		}
		if rx := e.lastRx.Load(); best < 0 || rx < bestRx {
			best, bestRx = i, rx
		}
	}
	if best < 0 { // unreachable when the precondition holds; stay correct anyway
		for i := range s.entries {
			if s.entries[i].state == Trusted {
				return i
			}
		}
	}
	return best
}
