package cache

import (
	"fmt"
	"hash/maphash"
	"math/bits"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults applied by New for zero Config fields.
const (
	DefaultCapacity       = 1 << 20
	DefaultPeerQueueBytes = 1280     // Miredo's per-peer queue (teredo_MaxQueueBytes)
	DefaultQueueBytes     = 64 << 20 // global queue arena
	// MaxPeerQueueBytes is the largest accepted Config.PeerQueueBytes.
	MaxPeerQueueBytes = 65535
	// maxShardEntries bounds a shard so entry indices fit in 16 bits.
	maxShardEntries = 65535
	// targetShardEntries is the per-shard size New aims for.
	targetShardEntries = 4096
	maxShards          = 1 << 16
	// trustedSample is how many entries the CLOCK hand inspects to pick the
	// least recently received trusted entry to evict.
	trustedSample = 8
	// DefaultTimeStep is Config.TimeStep's default: 1 ms.
	DefaultTimeStep = int64(time.Millisecond)
	// lockSlice bounds the entries Sweep and Range handle per hold of a
	// shard's mutex, so that the slow path's writers wait at most that long
	// behind them (lookups never wait on the mutex).
	lockSlice = 256
)

// Config configures a Cache. Zero fields take the defaults above.
type Config struct {
	// Capacity is the number of peers the cache holds. It is fixed at New.
	Capacity int
	// PeerQueueBytes caps the bytes queued for one peer (default 1280).
	PeerQueueBytes int
	// QueueBytes is the size of the preallocated arena that holds all queued
	// packets, the global cap on queued bytes (default 64 MiB). Storage is
	// used in 128-byte chunks, so what fits is between ~1/3 (40-byte packets)
	// and all of it in payload bytes.
	QueueBytes int64
	// Now returns the time in nanoseconds. Default: a monotonic clock
	// anchored at the Unix time of New.
	Now func() int64
	// Shards overrides the shard count (rounded up to a power of two). Zero
	// picks about one shard per 4096 entries, at least 16 for caches of
	// 4096 entries or more.
	Shards int
	// TimeStep is how far the clock must have moved past a peer's LastRx
	// (LastTx) before the fast path (ObserveRx, LookupTx, Batch) writes it
	// again, in nanoseconds (default DefaultTimeStep). A peer that sends a
	// million packets a second then costs a thousand shared writes a
	// second instead of a million. LastRx and LastTx are accurate to one
	// step; the slow path's writes (InsertPending, Trust, RecordBubble) are
	// exact.
	TimeStep int64
	// NoHugePages keeps the entries and the index on ordinary pages
	// (MADV_NOHUGEPAGE) instead of asking for transparent huge pages; for
	// measurements, and for hosts where THP compaction stalls hurt.
	NoHugePages bool
}

// Cache is the relay's peer cache. All methods are safe for concurrent use.
type Cache struct {
	shards    []shard
	shardBits uint
	perShard  int
	seed      maphash.Seed
	now       func() int64
	step      int64
	peerQueue int
	q         *arena
	mem       Memory
	scratch   sync.Pool // *[]byte of peerQueue bytes, for Trust

	evictions [NumEvictReasons]atomic.Uint64
	qDropped  atomic.Uint64

	sweepMu    sync.Mutex
	sweepShard int
	sweepPos   int

	scanMu    sync.Mutex
	scanShard int
	scanNext  uint16 // entry index + 1 in scanShard to resume at; 0 = its oldest
}

// New allocates a cache with all of its memory: entries, index and queue
// arena. Nothing grows afterwards.
func New(cfg Config) (*Cache, error) {
	if cfg.Capacity == 0 {
		cfg.Capacity = DefaultCapacity
	}
	if cfg.PeerQueueBytes == 0 {
		cfg.PeerQueueBytes = DefaultPeerQueueBytes
	}
	if cfg.QueueBytes == 0 {
		cfg.QueueBytes = DefaultQueueBytes
	}
	if cfg.TimeStep == 0 {
		cfg.TimeStep = DefaultTimeStep
	}
	switch {
	case cfg.Capacity < 0:
		return nil, fmt.Errorf("cache config: capacity %d < 0", cfg.Capacity)
	case cfg.PeerQueueBytes < 0 || cfg.PeerQueueBytes > MaxPeerQueueBytes:
		return nil, fmt.Errorf("cache config: peer queue bytes %d outside 0..%d", cfg.PeerQueueBytes, MaxPeerQueueBytes)
	case cfg.QueueBytes < 0 || cfg.QueueBytes > maxArenaBytes:
		return nil, fmt.Errorf("cache config: queue bytes %d outside 0..%d", cfg.QueueBytes, int64(maxArenaBytes))
	case cfg.Shards < 0 || cfg.Shards > maxShards:
		return nil, fmt.Errorf("cache config: shards %d outside 0..%d", cfg.Shards, maxShards)
	case cfg.TimeStep < 0:
		return nil, fmt.Errorf("cache config: time step %d < 0", cfg.TimeStep)
	}
	nShards := cfg.Shards
	if nShards == 0 {
		nShards = autoShards(cfg.Capacity)
	}
	nShards = nextPow2(nShards)
	if nShards > cfg.Capacity {
		nShards = prevPow2(cfg.Capacity)
	}
	perShard := (cfg.Capacity + nShards - 1) / nShards
	if perShard > maxShardEntries {
		return nil, fmt.Errorf("cache config: %d entries per shard exceeds %d, use more shards", perShard, maxShardEntries)
	}
	c := &Cache{
		shards:    make([]shard, nShards),
		shardBits: uint(bits.TrailingZeros(uint(nShards))),
		perShard:  perShard,
		seed:      maphash.MakeSeed(),
		now:       cfg.Now,
		step:      cfg.TimeStep,
		peerQueue: cfg.PeerQueueBytes,
		q:         newArena(cfg.QueueBytes),
	}
	if c.now == nil {
		base := time.Now()
		baseNs := base.UnixNano()
		c.now = func() int64 { return baseNs + int64(time.Since(base)) }
	}
	peerQueue := cfg.PeerQueueBytes
	c.scratch.New = func() any { b := make([]byte, peerQueue); return &b }
	// At least 1.5 slots per entry and always one empty slot: a miss stops
	// at the first empty slot, so a full index (perShard = 1 gave one slot)
	// would make it probe forever.
	indexLen := nextPow2(perShard + perShard/2 + 1)
	r, release := newRegion(nShards*perShard, nShards*indexLen, cfg.NoHugePages)
	c.mem = r.mem
	for i := range c.shards {
		s := &c.shards[i]
		s.seed = c.seed
		s.entries = r.entries[i*perShard : (i+1)*perShard : (i+1)*perShard]
		s.index = r.index[i*indexLen : (i+1)*indexLen : (i+1)*indexLen]
	}
	if release != nil {
		// The mapping goes when the cache does. Every method that reaches
		// into it keeps c alive until it is done (runtime.KeepAlive).
		runtime.AddCleanup(c, func(release func()) { release() }, release)
	}
	return c, nil
}

func autoShards(capacity int) int {
	n := nextPow2((capacity + targetShardEntries - 1) / targetShardEntries)
	if capacity >= targetShardEntries && n < 16 {
		n = 16
	}
	if n > maxShards {
		n = maxShards
	}
	return n
}

func nextPow2(n int) int {
	if n <= 1 {
		return 1
	}
	return 1 << bits.Len(uint(n-1))
}

func prevPow2(n int) int {
	if n <= 1 {
		return 1
	}
	return 1 << (bits.Len(uint(n)) - 1)
}

// Now returns the cache's clock (Config.Now).
func (c *Cache) Now() int64 { return c.now() }

// PeerQueueBytes returns the bytes one peer's queue holds at most
// (Config.PeerQueueBytes).
func (c *Cache) PeerQueueBytes() int { return c.peerQueue }

// Capacity returns the number of entries the cache holds.
func (c *Cache) Capacity() int { return len(c.shards) * c.perShard }

// Memory says where the entries and the index live and whether the kernel
// accepted the huge-page advice.
func (c *Cache) Memory() Memory { return c.mem }

func (c *Cache) hash(k *[16]byte) uint64 { return maphash.Bytes(c.seed, k[:]) }

// shardOf picks the shard from the top bits of the hash (the home slot
// comes from the low bits).
func (c *Cache) shardOf(h uint64) *shard {
	return &c.shards[h>>(64-c.shardBits)&uint64(len(c.shards)-1)]
}

func (c *Cache) locate(k *[16]byte) (*shard, uint64) {
	h := c.hash(k)
	return c.shardOf(h), h
}

func packMapping(ap netip.AddrPort) (ip uint32, port uint16, ok bool) {
	a := ap.Addr().Unmap()
	if !a.Is4() {
		return 0, 0, false
	}
	b := a.As4()
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3]), ap.Port(), true
}

func unpackMapping(ip uint32, port uint16) netip.AddrPort {
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{byte(ip >> 24), byte(ip >> 16), byte(ip >> 8), byte(ip)}), port)
}

// lookup finds the key (k0, k1) with hash h without taking a lock. It
// returns the entry, the entry's seq and its meta word, read consistently
// (the entry's seq was the same even value before and after), or nil when
// the key is absent. After maxLookupTries attempts that raced with a writer
// it reads under the shard's mutex instead.
func (c *Cache) lookup(k0, k1, h uint64) (e *entry, seq uint32, meta uint64) {
	s := c.shardOf(h)
	for range maxLookupTries {
		e, seq, ok := s.probe(k0, k1, h)
		if !ok {
			continue
		}
		if e == nil {
			return nil, 0, 0
		}
		meta = e.meta.Load()
		if e.seq.Load() == seq {
			return e, seq, meta
		}
	}
	return s.lookupLocked(k0, k1, h)
}

// lookupLocked is lookup's fallback: one read under the mutex, which
// excludes every writer, so it is consistent by construction.
//
//go:noinline
func (s *shard) lookupLocked(k0, k1, h uint64) (e *entry, seq uint32, meta uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := s.findLocked(k0, k1, h)
	if i < 0 {
		return nil, 0, 0
	}
	e = &s.entries[i]
	return e, e.seq.Load(), e.meta.Load()
}

// rxResult classifies a packet from `from` for the peer of entry e, whose
// meta word is m (e nil: unknown peer).
func rxResult(e *entry, m uint64, from netip.AddrPort) RxResult {
	if e == nil {
		return RxUnknown
	}
	if metaState(m) != Trusted {
		return RxPending
	}
	ip, port, ok := packMapping(from)
	if !ok || metaMapping(m) != uint64(ip)<<16|uint64(port) {
		return RxMappingChanged
	}
	if metaFlags(m)&flagQueued != 0 {
		return RxTrustedQueued
	}
	return RxTrusted
}

// txUsable reports whether the peer of entry e (meta m) may be sent to
// directly: trusted, and heard from less than validFor ago.
func txUsable(e *entry, m uint64, now, validFor int64) bool {
	return e != nil && metaState(m) == Trusted && now-e.lastRx.Load() < validFor
}

// touch moves a LastRx or LastTx to now once now is a time step past it:
// the shared cache line is written once per step, not once per packet.
func (c *Cache) touch(last *atomic.Int64, now int64) {
	if now-last.Load() >= c.step {
		last.Store(now)
	}
}

// countRx records packets received from the peer held by e at seq: LastRx
// is touched and the counters grow. An entry whose seq moved on no longer
// holds that peer and is left alone.
func (c *Cache) countRx(e *entry, seq uint32, packets, bytes uint64, now int64) {
	if e.seq.Load() == seq {
		c.touch(&e.lastRx, now)
		e.rxPackets.Add(packets)
		e.rxBytes.Add(bytes)
	}
}

// countTx is countRx for transmitted packets and LastTx.
func (c *Cache) countTx(e *entry, seq uint32, packets, bytes uint64, now int64) {
	if e.seq.Load() == seq {
		c.touch(&e.lastTx, now)
		e.txPackets.Add(packets)
		e.txBytes.Add(bytes)
	}
}

// ObserveRx classifies a packet of n bytes received from the UDP source
// address from, claiming the Teredo source address k. Only RxTrusted mutates
// the entry (LastRx = now to within Config.TimeStep, rx counters). Fast path:
// no allocation, no lock (see doc.go); a Batch does the same for a whole RX
// batch with fewer stalls.
func (c *Cache) ObserveRx(k *[16]byte, from netip.AddrPort, n int, now int64) RxResult {
	k0, k1 := keyWords(k)
	r := c.observeRx(k0, k1, c.hash(k), from, n, now)
	runtime.KeepAlive(c)
	return r
}

func (c *Cache) observeRx(k0, k1, h uint64, from netip.AddrPort, n int, now int64) RxResult {
	e, seq, m := c.lookup(k0, k1, h)
	r := rxResult(e, m, from)
	if r == RxTrusted {
		c.countRx(e, seq, 1, uint64(n), now)
	}
	return r
}

// LookupTx returns the mapping of k when k is trusted and something was
// received from it less than validFor ago; it then records a transmitted
// packet of n bytes (LastTx = now to within Config.TimeStep, tx counters).
// Fast path: no allocation, no lock.
func (c *Cache) LookupTx(k *[16]byte, n int, now, validFor int64) (netip.AddrPort, bool) {
	k0, k1 := keyWords(k)
	m, ok := c.lookupTx(k0, k1, c.hash(k), n, now, validFor)
	runtime.KeepAlive(c)
	return m, ok
}

func (c *Cache) lookupTx(k0, k1, h uint64, n int, now, validFor int64) (netip.AddrPort, bool) {
	e, seq, m := c.lookup(k0, k1, h)
	if !txUsable(e, m, now, validFor) {
		return netip.AddrPort{}, false
	}
	c.countTx(e, seq, 1, uint64(n), now)
	return unpackMapping(metaIP(m), metaPort(m)), true
}

// Get returns a snapshot of k's entry. It does not allocate. It takes the
// shard's mutex (so the snapshot is consistent), which lookups never wait
// on.
func (c *Cache) Get(k *[16]byte) (Peer, bool) {
	defer runtime.KeepAlive(c)
	k0, k1 := keyWords(k)
	s, h := c.locate(k)
	s.mu.Lock()
	defer s.mu.Unlock()
	i := s.findLocked(k0, k1, h)
	if i < 0 {
		return Peer{}, false
	}
	return s.entries[i].snapshot(), true
}

// InsertPending creates a pending entry for k with the given mapping (taken
// from the Teredo address or from the first packet's source). It returns
// false, nil when k already has an entry, which is left unchanged. When k's
// shard is full, the oldest pending entry of the shard is evicted, or, when
// the shard holds only trusted entries, the least recently received of a
// sample of trusted entries.
func (c *Cache) InsertPending(k *[16]byte, mapping netip.AddrPort, now int64) (inserted bool, err error) {
	ip, port, ok := packMapping(mapping)
	if !ok {
		return false, fmt.Errorf("insert pending %v: %w", mapping, ErrBadMapping)
	}
	defer runtime.KeepAlive(c)
	k0, k1 := keyWords(k)
	s, h := c.locate(k)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.findLocked(k0, k1, h) >= 0 {
		return false, nil
	}
	i := s.alloc()
	if i < 0 {
		i = c.evictForInsert(s)
	}
	s.entries[i].init(k0, k1, ip, port, now)
	s.insertIndex(h, i)
	s.pendingPushBack(i)
	s.nPending.Add(1)
	return true, nil
}

// evictForInsert frees one entry of a full shard and returns its index.
// Caller holds s.mu.
func (c *Cache) evictForInsert(s *shard) int {
	var i int
	var reason EvictReason
	if s.pendingHead != 0 {
		i, reason = int(s.pendingHead-1), EvictPendingFull
	} else {
		i, reason = s.sampleOldestTrusted(), EvictTrustedFull
	}
	c.remove(s, i, reason)
	return s.alloc()
}

// remove unlinks entry i from shard s, frees its queue and counts the
// eviction. Caller holds s.mu. It returns the number of queued packets
// dropped.
func (c *Cache) remove(s *shard, i int, reason EvictReason) int {
	e := &s.entries[i]
	// Odd from here until the entry is reused: a lookup that reached it
	// through a slot read earlier sees the change and misses.
	e.seq.Add(1)
	k := e.keyBytes()
	s.deleteIndex(maphash.Bytes(c.seed, k[:]), i)
	if e.state() == Pending {
		s.pendingUnlink(i)
		s.nPending.Add(-1)
	} else {
		s.nTrusted.Add(-1)
	}
	dropped := int(e.qPackets)
	if e.qHead != 0 {
		c.q.freeChain(e.qHead, int(e.qPackets))
		c.qDropped.Add(uint64(dropped))
	}
	e.meta.Store(0)
	e.qHead, e.qTail, e.qPackets, e.qBytes = 0, 0, 0, 0
	s.free(i)
	c.evictions[reason].Add(1)
	return dropped
}

// Enqueue appends a copy of pkt to k's queue (FIFO). The packet must fit in
// what is left of the peer's PeerQueueBytes and in the global arena.
func (c *Cache) Enqueue(k *[16]byte, pkt []byte) error {
	if len(pkt) == 0 {
		return ErrEmptyPacket
	}
	defer runtime.KeepAlive(c)
	k0, k1 := keyWords(k)
	s, h := c.locate(k)
	s.mu.Lock()
	defer s.mu.Unlock()
	i := s.findLocked(k0, k1, h)
	if i < 0 {
		return ErrNotFound
	}
	e := &s.entries[i]
	if int(e.qBytes)+len(pkt) > c.peerQueue || e.qPackets == 0xffff {
		return ErrPeerQueueFull
	}
	first, last, ok := c.q.store(pkt, e.qTail)
	if !ok {
		return ErrQueueLimit
	}
	if e.qHead == 0 {
		e.qHead = first
		e.setQueued(true)
	}
	e.qTail = last
	e.qPackets++
	e.qBytes += uint16(len(pkt))
	return nil
}

// Trust marks k trusted with the given mapping, as proven by a packet of n
// bytes received now (n < 0: no packet is counted): LastRx = now, the bubble
// count is reset. Packets queued for k are then passed to release one by one
// in FIFO order, after the shard lock is dropped; pkt is valid only during
// the call. With a nil release the queue is dropped (Stats.QueueDroppedPackets).
// Trust returns false (and releases nothing) when k has no entry or the
// mapping is not IPv4.
func (c *Cache) Trust(k *[16]byte, mapping netip.AddrPort, n int, now int64, release func(pkt []byte)) bool {
	ip, port, ok := packMapping(mapping)
	if !ok {
		return false
	}
	defer runtime.KeepAlive(c)
	k0, k1 := keyWords(k)
	s, h := c.locate(k)
	s.mu.Lock()
	i := s.findLocked(k0, k1, h)
	if i < 0 {
		s.mu.Unlock()
		return false
	}
	e := &s.entries[i]
	if e.state() == Pending {
		s.pendingUnlink(i)
		s.nPending.Add(-1)
		s.nTrusted.Add(1)
	}
	e.bubbles, e.firstBubble = 0, 0
	// LastRx before the state: a lookup that sees the peer trusted sees
	// the new LastRx too.
	e.lastRx.Store(now)
	e.setMeta(ip, port, Trusted, 0)
	if n >= 0 {
		e.rxPackets.Add(1)
		e.rxBytes.Add(uint64(n))
	}
	head, packets := e.qHead, e.qPackets
	e.qHead, e.qTail, e.qPackets, e.qBytes = 0, 0, 0, 0
	s.mu.Unlock()
	if head != 0 {
		if release == nil {
			c.q.freeChain(head, int(packets))
			c.qDropped.Add(uint64(packets))
		} else {
			c.releaseChain(head, int(packets), release)
		}
	}
	return true
}

// releaseChain hands each packet of a detached chain to release and frees
// its chunks. Chunks left by a panicking release are freed too.
func (c *Cache) releaseChain(head uint32, packets int, release func([]byte)) {
	bp := c.scratch.Get().(*[]byte)
	defer func() {
		if packets > 0 {
			c.q.freeChain(head, packets)
		}
		c.scratch.Put(bp)
	}()
	for packets > 0 {
		var n int
		n, head = c.q.pop(head, *bp)
		packets--
		release((*bp)[:n])
	}
}

// RecordBubble records a bubble sent to k now: LastTx = now and the bubble
// count of the current window is incremented. A new window starts (count 1,
// FirstBubble = now) when there is none, when the current one is
// BubbleWindow old, or when a packet was received from the peer after it
// began. It returns the updated snapshot. The relay applies its limits
// (e.g. at most 4 bubbles per window, 2 s spacing against LastTx) to the
// snapshot from Get before sending.
func (c *Cache) RecordBubble(k *[16]byte, now int64) (Peer, bool) {
	defer runtime.KeepAlive(c)
	k0, k1 := keyWords(k)
	s, h := c.locate(k)
	s.mu.Lock()
	defer s.mu.Unlock()
	i := s.findLocked(k0, k1, h)
	if i < 0 {
		return Peer{}, false
	}
	e := &s.entries[i]
	if e.bubbles == 0 || now-e.firstBubble >= BubbleWindow || e.lastRx.Load() > e.firstBubble {
		e.bubbles, e.firstBubble = 1, now
	} else if e.bubbles < 0xff {
		e.bubbles++
	}
	e.lastTx.Store(now)
	return e.snapshot(), true
}

// Delete removes k (reason EvictDeleted) and returns the number of queued
// packets dropped with it.
func (c *Cache) Delete(k *[16]byte) (droppedPackets int, ok bool) {
	defer runtime.KeepAlive(c)
	k0, k1 := keyWords(k)
	s, h := c.locate(k)
	s.mu.Lock()
	defer s.mu.Unlock()
	i := s.findLocked(k0, k1, h)
	if i < 0 {
		return 0, false
	}
	return c.remove(s, i, EvictDeleted), true
}

// Sweep removes trusted entries that have received nothing for more than
// idle nanoseconds (reason EvictIdle). It inspects at most budget entry slots
// (and at least one per shard visited), resuming where the previous call
// stopped, so a periodic call with a small budget walks the whole cache over
// time with bounded work. It holds a shard's mutex for at most lockSlice
// entries at a time, so the slow path's writers never wait long behind it
// (lookups do not wait at all). It returns the number of entries removed.
// Pending entries are left to the relay (ScanPending).
func (c *Cache) Sweep(now, idle int64, budget int) int {
	defer runtime.KeepAlive(c)
	c.sweepMu.Lock()
	defer c.sweepMu.Unlock()
	removed := 0
	for budget > 0 {
		s := &c.shards[c.sweepShard]
		s.mu.Lock()
		end := min(int(s.hwm), c.sweepPos+min(budget, lockSlice))
		for i := c.sweepPos; i < end; i++ {
			e := &s.entries[i]
			if e.state() == Trusted && now-e.lastRx.Load() > idle {
				c.remove(s, i, EvictIdle)
				removed++
			}
		}
		hwm := int(s.hwm)
		s.mu.Unlock()
		budget -= max(end-c.sweepPos, 1)
		if end >= hwm {
			c.sweepShard = (c.sweepShard + 1) & (len(c.shards) - 1)
			c.sweepPos = 0
		} else {
			c.sweepPos = end
		}
	}
	return removed
}

// ScanPending fills dst with snapshots of pending entries and returns how
// many it wrote. Successive calls walk all pending entries: shard after
// shard, each shard's entries oldest first, resuming after the last entry
// returned (when that entry has meanwhile left the pending state, its shard
// is restarted from its oldest entry). The relay's slow path uses it to find
// pending peers due for a bubble retry or expiry (Delete); it may call any
// method while handling the snapshots. Work is bounded by len(dst) plus one
// mutex hold per shard visited (at most one pass over the shards per call).
func (c *Cache) ScanPending(dst []Peer) int {
	if len(dst) == 0 {
		return 0
	}
	defer runtime.KeepAlive(c)
	c.scanMu.Lock()
	defer c.scanMu.Unlock()
	n := 0
	for v := 0; v < len(c.shards) && n < len(dst); v++ {
		s := &c.shards[c.scanShard]
		s.mu.Lock()
		j := s.pendingHead
		if r := c.scanNext; r != 0 && int(r) <= len(s.entries) && s.entries[r-1].state() == Pending {
			j = r
		}
		for ; j != 0 && n < len(dst); j = s.entries[j-1].next {
			dst[n] = s.entries[j-1].snapshot()
			n++
		}
		s.mu.Unlock()
		if j != 0 { // dst is full; resume at j
			c.scanNext = j
			break
		}
		c.scanShard = (c.scanShard + 1) & (len(c.shards) - 1)
		c.scanNext = 0
	}
	return n
}

// Range calls fn with a snapshot of every entry, shard by shard, until fn
// returns false. Entries are copied lockSlice at a time under their shard's
// mutex and fn runs without locks, so fn may call other methods; lookups
// never wait on Range, and writers wait at most one slice. Order is
// unspecified; an entry inserted or removed during the walk may be missed.
func (c *Cache) Range(fn func(*Peer) bool) {
	defer runtime.KeepAlive(c)
	buf := make([]Peer, 0, min(c.perShard, lockSlice))
	for si := range c.shards {
		s := &c.shards[si]
		for pos := 0; ; {
			buf = buf[:0]
			s.mu.Lock()
			end := min(int(s.hwm), pos+lockSlice)
			for i := pos; i < end; i++ {
				if e := &s.entries[i]; e.state() != 0 {
					buf = append(buf, e.snapshot())
				}
			}
			s.mu.Unlock()
			for i := range buf {
				if !fn(&buf[i]) {
					return
				}
			}
			if end == pos || end-pos < lockSlice {
				break
			}
			pos = end
		}
	}
}

// Stats returns counts by state, queue usage and evictions by reason. It
// takes no shard lock.
func (c *Cache) Stats() Stats {
	st := Stats{Capacity: c.Capacity(), Shards: len(c.shards)}
	for si := range c.shards {
		s := &c.shards[si]
		st.Pending += int(s.nPending.Load())
		st.Trusted += int(s.nTrusted.Load())
	}
	st.Entries = st.Pending + st.Trusted
	st.QueuedPackets, st.QueuedBytes, st.QueueStorageBytes, st.QueueLimitBytes = c.q.usage()
	for r := range st.Evictions {
		st.Evictions[r] = c.evictions[r].Load()
	}
	st.QueueDroppedPackets = c.qDropped.Load()
	return st
}
