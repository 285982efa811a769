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
// # Sharding
//
// The cache is split into a power-of-two number of shards (about one per 4096
// entries, at least 16 for caches of 4096 entries or more; 256 at the default
// 1,048,576 and 4096 at 10,000,000). A keyed hash of the address (hash/maphash
// with a random seed per cache, so remote parties cannot aim addresses at one
// shard or one probe run) picks the shard from its top bits and the home slot
// from its low bits. There is no global lock.
//
// # Lookups write nothing shared
//
// The fast path (ObserveRx, LookupTx, Batch) takes no lock and writes no
// cache line that another worker writes for the same lookup:
//
//   - Each entry has a sequence number (a seqlock that is also the entry's
//     generation). The slow path makes it odd before it rewrites the entry
//     (a new peer in a reused entry, a removal) and even again after; a free
//     entry stays odd. A lookup reads seq, the key and the meta word (state,
//     mapping and a "packets queued" flag, packed so that the slow path
//     changes them with one atomic store), then seq again: the same even
//     value means it read one peer's values. Every field a lookup reads is
//     an atomic, so this is also correct under Go's memory model and the
//     race detector (a C seqlock reads plain fields; Go may not).
//   - Each shard's index has a sequence number too, odd while a deletion
//     shifts probe-run slots back. Only a miss can be wrong because of a
//     shift (the key moved behind the probe), so a miss counts only when
//     that number did not move; a hit is always right. Inserting a slot
//     moves nothing and needs no retry.
//   - A lookup that keeps racing with a writer (maxLookupTries attempts)
//     reads under the shard's mutex once instead. Writers hold the mutex for
//     one entry, or for at most lockSlice entries (Sweep, Range), so nothing
//     waits long; in normal operation a lookup never meets the mutex.
//   - LastRx and LastTx are written only when the batch clock has moved a
//     time step (Config.TimeStep, 1 ms by default) past them. A peer that
//     sends a million packets a second to two workers costs a few thousand
//     shared writes a second, not two million. The slow path's own writes
//     (Trust, RecordBubble, InsertPending) are exact; the relay's decisions
//     (30 s validity, idle timeout, bubble windows) are insensitive to 1 ms.
//   - The per-peer packet and byte counters are atomics. The per-packet
//     methods add to them at once; a Batch adds up a peer's packets in the
//     batch and adds them once per peer in Flush, so a hot peer shared by
//     workers costs one shared write per counter and batch. Before adding,
//     the counter update checks that the entry still holds the peer it
//     looked up (its seq), so counts of a removed peer are dropped rather
//     than credited to the entry's next occupant. (A worker preempted
//     between that check and its add could still credit one update to an
//     occupant created meanwhile: the removal and re-insert would have to
//     fit between two instructions of the worker.)
//
// The slow path (InsertPending, Enqueue, Trust, RecordBubble, Delete, Sweep,
// ScanPending, Range, Get) takes the shard's sync.Mutex, which excludes
// writers from each other only. Trust hands queued packets to its release
// callback after it has dropped the mutex, so the callback may call back
// into the cache. Range and ScanPending copy snapshots under the mutex, a
// bounded slice at a time, and call back without it. Stats reads atomic
// counts and takes no lock.
//
// ObserveRx, LookupTx, Get and every Batch method never allocate (tested
// with testing.AllocsPerRun).
//
// # Batch lookups
//
// A worker looks up the peers of a whole RX batch with a Batch, the way
// DPDK's rte_hash_lookup_bulk and VPP's quad loops do. Add hashes each key
// as the batch is parsed; Lookup then loads every key's index slot, finds
// on those lines the entry each key's tag points to, loads both cache lines
// of every such entry, and only then validates each key on lines that are
// already cached. The loads of one pass do not depend on each other and the
// passes that wait for memory are tight loops with nothing else in them, so
// the CPU keeps as many misses in flight as its reorder window and miss
// buffers allow instead of one after the other; scattered lookups into a
// cache of millions of entries cost a fraction of a DRAM access each
// instead of two or three (see Performance). The validation takes the entry
// the index pass found when it holds the key at an even seq (read again
// whenever the slot is used; a hit is right however the entry was found)
// and probes the index only for a miss.
// ObserveRx, LookupTx and Known then act on a slot without probing again,
// checking the entry's seq so that a peer changed since Lookup is looked up
// afresh.
//
// # Why it holds under a flood of new peers
//
// A flood of packets to or from new peers reaches the cache as slow-path
// InsertPending calls (after the relay's per-/64 and per-client limits),
// each of which evicts the shard's oldest pending entry once the shard is
// full. For the lookups of established peers in that shard this means:
//
//   - The victim is a pending entry, never a trusted one while the shard
//     holds any pending entry (TestFloodKeepsTrusted): established peers'
//     entries are not rewritten, so their hits never retry.
//   - Each insert changes one entry (seq odd for the few stores of its
//     initialisation) and at most one deletion's worth of index slots (the
//     index seq odd for one backward shift). Only a lookup that misses
//     during such a shift retries, and after maxLookupTries it waits for one
//     insert's critical section.
//   - The capacity, the per-shard share and the index's load factor (at
//     most 2/3) are fixed, so probe runs do not grow however many peers
//     arrive; nothing is allocated.
//   - The keyed hash spreads the flood over all shards, whose mutexes are
//     independent; no lookup takes one.
//   - A packet for an unknown peer costs a miss, which usually stops at the
//     home slot's empty neighbour or a tag mismatch without touching an
//     entry; a Batch also answers "is there an entry" (Known) without the
//     mutex that Get takes.
//
// # Index
//
// Each shard is an open-addressing hash table with linear probing and
// backward-shift deletion (no tombstones, so probe runs never degrade) over a
// fixed array of entries. Index slots are uint32: 16 bits of entry index and
// 16 further hash bits as a tag, so a probe rarely touches a foreign entry.
// The index has at least 1.5 slots per entry (load factor ≤ 2/3). Entries are
// handed out from a high-water mark and then from a free list.
//
// # Memory per entry and huge pages
//
// An entry is 112 bytes: 4 seq, 4 list links, 16 key, 8 meta (mapping,
// state, flags), 16 LastRx/LastTx and 32 counters (the 80 bytes lookups
// touch, two cache lines whatever the alignment), then 16 created and
// bubble-window start, 12 queue head/tail/size and 1 bubble count. The index
// adds 6–12 bytes per entry (1.5–3 uint32 slots, depending on the
// power-of-two rounding): 120.0 bytes per entry at 1,048,576 (126 MB) and
// 118.9 at 10,000,000 (1.19 GB), measured by TestMemoryPerEntry and
// TestTenMillion (Go heap plus the mapping) and asserted ≤ 128 bytes.
// Queued packets are not in this figure: they live in the queue arena
// (below).
//
// Caches of 4 MiB or more keep their entries and index in an anonymous
// mapping of their own, aligned to 2 MiB and advised MADV_HUGEPAGE, so that
// transparent huge pages back it under THP "always" and "madvise" alike and
// a scattered lookup needs no page walk for most of its TLB misses. New
// populates the mapping (MADV_POPULATE_WRITE, or a write per page), so the
// cache's memory is resident from the start (about 0.3 s for 1M entries on
// the development VM): no page fault, let alone a huge page allocation, ever
// lands in a lookup or an insert, and a flood of new peers does not grow
// the process. Smaller caches stay on the Go heap, whose pages are mapped
// as entries are first used.
// Config.NoHugePages advises MADV_NOHUGEPAGE instead; where the advice is
// refused (a kernel without THP) the mapping stays on ordinary pages, and
// where the mapping itself fails the cache uses the Go heap (Memory reports
// which). The mapping is released when the cache is garbage collected.
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
// go test -bench . ./cache on the 2-core AMD EPYC development VM (shared; the
// figures are medians of 3–5 runs under the team's benchmark lock,
// 2026-12-07), caches 90% full of trusted peers, keys visited in a scattered
// order (the worst case: every lookup misses the CPU caches and the TLB);
// ns per key, 1 hot peer / 64k / 1M / 10M peers:
//
//	LookupTx                 40 / 224 / 488 / 836   0 allocs
//	ObserveRx                41 / 225 / 474 / 835   0 allocs
//	LookupTx, 64-key Batch   31 /  69 /  88 / 133   0 allocs
//	ObserveRx, 64-key Batch  32 /  66 /  89 / 138   0 allocs
//	2 goroutines, Batch      1.7× / 1.2× / 1.6× / 1.9× one goroutine's throughput (2026-12-08)
//	LookupTx (miss)          1M 171, 10M 369
//	InsertPending            1M 793, 10M 836 (evicting when full)
//	queue cycle (insert, 2 × Enqueue, Trust release, Delete)  463 ns  0 allocs
//	Sweep                    5 ns per entry inspected
//
// BenchmarkMemory gives the machine's side: a dependent access costs 104 ns
// over 8 MiB, 236 over 128 MiB and 400 over 1 GiB on this VM, one of 64
// independent loads in a tight loop 1.2, 7.2 and 12.8 ns. A batch lookup
// loads three lines per key (an index slot, the entry's two lines) and adds
// the peer's counters with two locked adds (about 6 ns each here), so at 1M
// the batch is within some 35 ns of its floor. Two goroutines that both visit
// every peer of a small set gain least: both write the same peers'
// counters, and at 64k a line is often still in the other core's cache when
// one comes back to it. (Each goroutine of the parallel benchmarks walks a
// permutation of its own, internal/scatter: with one permutation at two
// offsets the goroutines fell into step, and 64k took 0.7×.) The same sets
// on 4 KiB pages (Config.NoHugePages) measure the same on this VM: the
// hypervisor's own page size seems to cap the TLB reach there. The slow path's writes cost more than with the former
// RWMutex (InsertPending +30 % at 1M): every field lookups read is now
// written with an atomic store.
package cache
