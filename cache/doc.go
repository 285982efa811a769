// Package cache is the relay's peer cache: what the relay knows about each
// Teredo peer it talks to (RFC 4380 §5.4, "peer list"), keyed by the peer's
// Teredo IPv6 address as a [16]byte.
//
// An entry holds the mapped IPv4 address and port, the state (Pending or
// Trusted), the times of creation, last receive and last transmit, the bubble
// count of the current bubble window and the window's start, a FIFO queue of
// packets waiting for the peer to become trusted, and rx/tx packet and byte
// counters. Times are int64 nanoseconds from an injectable clock
// (Config.Now); every method that needs the time takes it as an argument, so
// the fast path reads the clock once per batch.
//
// # Sharding and concurrency
//
// The cache is split into a power-of-two number of shards (about one per 4096
// entries, at least 16 for caches of 4096 entries or more; 256 at the default
// 1,048,576 and 4096 at 10,000,000). A keyed hash of the address (hash/maphash
// with a random seed per cache, so remote parties cannot aim addresses at one
// shard or one probe run) picks the shard from its top bits and the home slot
// from its low bits. There is no global lock.
//
// Each shard has a sync.RWMutex. The fast path (ObserveRx, LookupTx, Get)
// takes only the read lock: workers on different cores looking up peers of
// the same shard do not exclude each other, and the fields they change
// (LastRx, LastTx, rx/tx counters) are atomics. Everything else in an entry,
// the index and the shard's lists change only under the write lock, taken by
// the slow path (InsertPending, Enqueue, Trust, RecordBubble, Delete, Sweep).
// A read lock costs one atomic add on lock and one on unlock on a cache line
// private to the shard; with hundreds of shards two workers rarely meet.
// A seqlock would save those two writes but makes every entry field an
// atomic (Go's memory model and the race detector do not allow the
// optimistic plain reads a C seqlock uses) and leaves a window in which a
// fast-path counter update lands on an entry the slow path has just reused;
// the RWMutex is simpler and measured fast enough (see Performance below).
//
// ObserveRx, LookupTx and Get never allocate (tested with
// testing.AllocsPerRun). Trust hands queued packets to its release callback
// after it has dropped the shard lock, so the callback may call back into the
// cache. Range and ScanPending copy snapshots under a shard's read lock and
// call back without it.
//
// # Index
//
// Each shard is an open-addressing hash table with linear probing and
// backward-shift deletion (no tombstones, so probe runs never degrade) over a
// fixed array of entries. Index slots are uint32: 16 bits of entry index and
// 16 further hash bits as a tag, so a probe rarely touches a foreign entry.
// The index has at least 1.5 slots per entry (load factor ≤ 2/3). Entries are
// handed out from a high-water mark and then from a free list, so New touches
// no entry memory and the OS maps pages only as they are used.
//
// # Memory per entry
//
// An entry is 104 bytes: 16 key, 48 atomic LastRx/LastTx and counters, 16
// created and bubble-window start, 6 mapping, 12 queue head/tail/size, 4
// list links, 2 state and bubble count. The index adds 6–12 bytes per entry (1.5–3 uint32 slots,
// depending on the power-of-two rounding): 112.0 bytes per entry at
// 1,048,576 (117 MB) and 114.1 at 10,000,000 (1.14 GB), measured by
// TestMemoryPerEntry and TestTenMillion with runtime.MemStats and asserted
// ≤ 128 bytes. Queued packets are not in this
// figure: they live in the queue arena (below).
//
// # Queues
//
// Packets for a peer that is not yet usable are copied into a preallocated
// arena of Config.QueueBytes (default 64 MiB) cut into 128-byte chunks; a
// peer's queue is a FIFO chain of chunks. Two caps apply: the peer's queued
// payload may not exceed Config.PeerQueueBytes (default 1280, like Miredo;
// Enqueue returns ErrPeerQueueFull) and the arena must have the chunks
// (ErrQueueLimit). Nothing is allocated per packet. Trust releases the queue
// in FIFO order (Miredo 1.2.6 releases LIFO); Delete, eviction and Sweep drop
// it and count the packets in Stats.QueueDroppedPackets.
//
// # Eviction and TTL
//
// Capacity is fixed at New and divided evenly among the shards; a shard
// evicts when its share is full (with 4096-entry shards this starts when the
// cache as a whole is roughly 95% full). InsertPending into a full shard
// evicts:
//
//  1. the oldest pending entry of the shard (each shard keeps its pending
//     entries on a list in creation order), counted as pending_full; so a
//     flood of new destinations churns pending entries and never displaces a
//     trusted one while the shard has any pending entry;
//  2. otherwise, the trusted entry with the oldest LastRx among the next 8
//     entries under a CLOCK hand (approximate LRU with O(1) work and no list
//     maintenance on the fast path), counted as trusted_full.
//
// Trusted entries expire by Sweep(now, idle, budget): it removes trusted
// entries whose LastRx is more than idle ago (counted as idle), inspecting at
// most budget entries per call and resuming where it stopped, so the relay
// calls it from a ticker with a small budget. Pending entries do not expire
// inside the cache: the relay finds them with ScanPending (oldest first per
// shard, round robin over shards, bounded by the caller's buffer), sends
// bubble retries (RecordBubble) or deletes them (Delete, counted as deleted).
// Pending entries are few in normal operation; under a flood they are bounded
// by the capacity and recycled oldest first. (The relay package keeps its own
// bounded retry timers and calls Get/RecordBubble/Delete; ScanPending is the
// cache-side alternative and is what relayctl-style tools can use.)
//
// # Bubbles
//
// RecordBubble counts a bubble and sets LastTx. The window (BubbleWindow,
// 300 s) restarts when it is older than that or when the peer has been heard
// from since it began; Trust resets it. The relay enforces its limits (at
// most 4 bubbles per window, 2 s spacing against LastTx) on the snapshot.
//
// # Performance
//
// go test -bench . ./cache on the 2-core AMD EPYC development VM (shared,
// load ≈ 3), caches 90% full of trusted peers, keys visited in a scattered
// order (the worst case: every lookup misses the CPU caches and the TLB):
//
//	LookupTx          1M  318 ns/op   10M  490 ns/op   0 allocs
//	ObserveRx         1M  331 ns/op   10M  470 ns/op   0 allocs
//	LookupTx (miss)   1M   47 ns/op   10M  181 ns/op   0 allocs
//	LookupTx parallel 1M  198 ns/op   10M  353 ns/op   0 allocs (2 goroutines, aggregate)
//	InsertPending     1M  279 ns/op   10M  669 ns/op   0 allocs (evicting when full)
//	queue cycle (insert, 2 × Enqueue, Trust release, Delete)  344 ns  0 allocs
//	Sweep             2.9 ns per entry inspected
//
// A hit costs about one DRAM access for the entry beyond the index probe
// (a miss stops at the index and its 16-bit tags); peers with traffic stay
// in cache, so real workloads with locality run far faster than this table.
package cache
