package cache

import (
	"net/netip"
	"runtime"
	"sync/atomic"
	"unsafe"
)

// MaxBatch is the number of keys a Batch holds: one RX batch of a worker.
const MaxBatch = 64

// Batch looks up the peers of one RX batch together, the way DPDK's
// rte_hash_lookup_bulk and VPP's quad loops do: Add hashes every key first,
// Lookup then touches all their index slots, then all their entries, and
// only then resolves each key, so the CPU has one cache (and TLB) miss in
// flight per key instead of one after the other. ObserveRx, LookupTx and
// Known then act on a slot without another probe, and the counters of a
// peer that appears several times in the batch are added to its entry once,
// by Flush. A peer shared by several workers therefore costs one shared
// write per batch instead of several per packet.
//
// A Batch belongs to one goroutine (one per worker) and is reused: Reset,
// Add the keys, Lookup, act on the slots, Flush (Reset flushes too). Nothing
// allocates. A slot reflects the cache as Lookup saw it, and every action
// checks that its entry still holds the same peer (the entry's seq); when it
// does not, the action looks the key up again, as the per-packet methods do.
type Batch struct {
	c      *Cache
	n      int
	looked bool // Lookup ran since the last Reset
	dirty  bool // counters wait for Flush
	sink   uint32
	// nothing is what Lookup touches for a key with no entry.
	nothing atomic.Uint64

	key   [MaxBatch][2]uint64
	hash  [MaxBatch]uint64
	ent   [MaxBatch]*entry // nil: not in the cache when Lookup ran
	seq   [MaxBatch]uint32
	owner [MaxBatch]uint8 // the first slot with the same entry: it carries the counters

	rxPackets, rxBytes, txPackets, txBytes [MaxBatch]uint64
}

// NewBatch returns an empty batch on c. Allocate one per worker, once.
func (c *Cache) NewBatch() *Batch { return &Batch{c: c} }

// Len returns the number of keys added since the last Reset.
func (b *Batch) Len() int { return b.n }

// Reset publishes the batch's counters (Flush) and empties it.
func (b *Batch) Reset() {
	b.Flush()
	b.n = 0
	b.looked = false
}

// Add appends k and returns its slot, or -1 when the batch already holds
// MaxBatch keys. It hashes k (the first stage of Lookup).
func (b *Batch) Add(k *[16]byte) int {
	if b.n == MaxBatch {
		return -1
	}
	i := b.n
	b.key[i][0], b.key[i][1] = keyWords(k)
	b.hash[i] = b.c.hash(k)
	b.ent[i] = nil
	b.n++
	b.looked = false
	return i
}

// Find returns the first slot at or after from that holds k, or -1.
func (b *Batch) Find(k *[16]byte, from int) int {
	k0, k1 := keyWords(k)
	for i := max(from, 0); i < b.n; i++ {
		if b.key[i][0] == k0 && b.key[i][1] == k1 {
			return i
		}
	}
	return -1
}

// Lookup resolves every slot in passes over the whole batch: it loads the
// home index slot of every key, finds on those lines the entry each key's
// tag points to and loads both of its cache lines, and then validates each
// key (entry.holds, or the lock-free probe of ObserveRx for a miss) on
// lines that are now cached. The passes that wait for memory are tight
// loops of independent loads with nothing else in them, so the CPU's
// reorder window holds many of them and their misses overlap; a loop that
// also compared tags held only a few (1M peers: 139 ns per key, this one
// 96).
func (b *Batch) Lookup() {
	c := b.c
	// Pass 1: the home index slot of every key.
	var slots [MaxBatch]*atomic.Uint32
	for i := range b.n {
		h := b.hash[i]
		s := c.shardOf(h)
		slots[i] = &s.index[h&uint64(len(s.index)-1)]
	}
	sink := b.sink
	for _, p := range slots[:b.n] {
		sink += p.Load()
	}
	// Pass 2: the entry each key's tag points to, found on the index lines
	// pass 1 brought in; a key without one touches the batch itself.
	var lines [2 * MaxBatch]*atomic.Uint64
	var cand [MaxBatch]*entry
	for i := range b.n {
		h := b.hash[i]
		s := c.shardOf(h)
		mask := uint64(len(s.index) - 1)
		tag := tagOf(h)
		p := h & mask
		lines[2*i], lines[2*i+1] = &b.nothing, &b.nothing
		// The home slot's neighbours share its cache line: look at a few.
		for range 4 {
			v := s.index[p].Load()
			if v == 0 {
				break
			}
			if v>>16 == tag {
				e := &s.entries[v&0xffff-1]
				cand[i] = e
				lines[2*i], lines[2*i+1] = &e.key[0], &e.txBytes
				break
			}
			p = (p + 1) & mask
		}
	}
	var sink64 uint64
	for _, l := range lines[:2*b.n] {
		sink64 += l.Load()
	}
	b.sink = sink + uint32(sink64)
	// Pass 3: the lookups proper. An entry pass 2 found that holds the key
	// at an even seq is the key's (a hit is right however it was found):
	// current and Flush read seq again after the fields they use, as
	// lookup does after the meta word. Anything else takes the probe.
	for i := range b.n {
		if i > 0 && b.key[i] == b.key[i-1] { // a peer with several packets in a row
			b.ent[i], b.seq[i] = b.ent[i-1], b.seq[i-1]
			continue
		}
		if e := cand[i]; e != nil {
			if seq, ok := e.holds(b.key[i][0], b.key[i][1]); ok {
				b.ent[i], b.seq[i] = e, seq
				continue
			}
		}
		e, seq, _ := c.lookup(b.key[i][0], b.key[i][1], b.hash[i])
		b.ent[i], b.seq[i] = e, seq
	}
	b.setOwners()
	b.looked = true
	runtime.KeepAlive(c)
}

// setOwners points every slot at the first slot with the same entry, with a
// small open-addressing table over the entries' addresses.
func (b *Batch) setOwners() {
	const bits = 7 // 128 ≥ 2 × MaxBatch slots
	var tab [1 << bits]uint8
	for i := range b.n {
		e := b.ent[i]
		if e == nil {
			continue
		}
		h := uint(uint64(uintptr(unsafe.Pointer(e))) * 0x9E3779B97F4A7C15 >> (64 - bits))
		for {
			t := tab[h]
			if t == 0 {
				tab[h] = uint8(i + 1)
				b.owner[i] = uint8(i)
				break
			}
			if o := t - 1; b.ent[o] == e && b.seq[o] == b.seq[i] {
				b.owner[i] = o
				break
			}
			h = (h + 1) & (1<<bits - 1)
		}
	}
}

// current returns slot i's entry and meta word when Lookup resolved the
// slot and its entry still holds the same peer. fresh is false when the
// caller must look the key up again (no Lookup yet, or the entry changed).
func (b *Batch) current(i int) (e *entry, m uint64, fresh bool) {
	if !b.looked {
		return nil, 0, false
	}
	e = b.ent[i]
	if e == nil {
		return nil, 0, true
	}
	m = e.meta.Load()
	return e, m, e.seq.Load() == b.seq[i]
}

// ObserveRx is Cache.ObserveRx for the key in slot i: the same result and
// effects, except that the rx counters are published by Flush.
func (b *Batch) ObserveRx(i int, from netip.AddrPort, n int, now int64) RxResult {
	e, m, fresh := b.current(i)
	if !fresh {
		r := b.c.observeRx(b.key[i][0], b.key[i][1], b.hash[i], from, n, now)
		runtime.KeepAlive(b.c)
		return r
	}
	r := rxResult(e, m, from)
	if r == RxTrusted {
		b.c.touch(&e.lastRx, now)
		o := b.owner[i]
		b.rxPackets[o]++
		b.rxBytes[o] += uint64(n)
		b.dirty = true
	}
	return r
}

// LookupTx is Cache.LookupTx for the key in slot i: the same result and
// effects, except that the tx counters are published by Flush.
func (b *Batch) LookupTx(i int, n int, now, validFor int64) (netip.AddrPort, bool) {
	e, m, fresh := b.current(i)
	if !fresh {
		m, ok := b.c.lookupTx(b.key[i][0], b.key[i][1], b.hash[i], n, now, validFor)
		runtime.KeepAlive(b.c)
		return m, ok
	}
	if !txUsable(e, m, now, validFor) {
		return netip.AddrPort{}, false
	}
	b.c.touch(&e.lastTx, now)
	o := b.owner[i]
	b.txPackets[o]++
	b.txBytes[o] += uint64(n)
	b.dirty = true
	return unpackMapping(metaIP(m), metaPort(m)), true
}

// Known reports whether the key in slot i has an entry, in any state (what
// Get's second result says, without a snapshot or the shard's mutex).
func (b *Batch) Known(i int) bool {
	e, _, fresh := b.current(i)
	if !fresh {
		e, _, _ = b.c.lookup(b.key[i][0], b.key[i][1], b.hash[i])
		runtime.KeepAlive(b.c)
	}
	return e != nil
}

// Flush adds the counters gathered since the last Flush to their entries:
// one atomic add per counter and peer, however many of the batch's packets
// the peer had. Counters of an entry that no longer holds the peer are
// dropped with the peer.
func (b *Batch) Flush() {
	if !b.dirty {
		return
	}
	for i := range b.n {
		if int(b.owner[i]) != i || b.ent[i] == nil {
			continue
		}
		rp, rb, tp, tb := b.rxPackets[i], b.rxBytes[i], b.txPackets[i], b.txBytes[i]
		if rp|tp == 0 {
			continue
		}
		b.rxPackets[i], b.rxBytes[i], b.txPackets[i], b.txBytes[i] = 0, 0, 0, 0
		e := b.ent[i]
		if e.seq.Load() != b.seq[i] {
			continue
		}
		if rp != 0 {
			e.rxPackets.Add(rp)
			e.rxBytes.Add(rb)
		}
		if tp != 0 {
			e.txPackets.Add(tp)
			e.txBytes.Add(tb)
		}
	}
	b.dirty = false
	runtime.KeepAlive(b.c)
}
