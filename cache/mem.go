package cache

import (
	"sync/atomic"
	"unsafe"
)

// Memory says where a cache's entries and index slots live.
type Memory struct {
	// Bytes is the size of the entries and index slots (the queue arena is
	// not included): with Mapped, the length of the mapping.
	Bytes int64
	// Mapped: the entries and the index live in an anonymous mapping of
	// their own, aligned to huge pages (Linux, caches of at least
	// minMappedBytes). Otherwise they are ordinary Go heap memory.
	Mapped bool
	// HugePages: the kernel accepted MADV_HUGEPAGE for the mapping, so
	// transparent huge pages back it as far as the kernel can find them
	// (false with Config.NoHugePages, or when THP is unavailable).
	HugePages bool
}

// hugePageSize is the transparent huge page size of x86-64 and arm64 with 4
// KiB base pages (a PMD).
const hugePageSize = 2 << 20

// minMappedBytes: smaller caches stay on the Go heap, where a huge page
// would be mostly empty and a mapping of their own buys nothing.
const minMappedBytes = 4 << 20

// region holds the entries and index slots of every shard: entries first,
// then the index.
type region struct {
	entries []entry
	index   []atomic.Uint32
	mem     Memory
}

// newRegion allocates the entries and index slots, in a mapping advised for
// huge pages (unless noHuge) when the platform and the size allow, else on
// the Go heap. release unmaps the mapping (nil for heap memory); the caller
// runs it once nothing refers to the region any more.
func newRegion(nEntries, nIndex int, noHuge bool) (r region, release func()) {
	eb := nEntries * int(unsafe.Sizeof(entry{}))
	total := eb + nIndex*int(unsafe.Sizeof(atomic.Uint32{}))
	if total >= minMappedBytes {
		if mem, m, release, ok := mapRegion(total, !noHuge); ok {
			r.entries = unsafe.Slice((*entry)(mem), nEntries)
			r.index = unsafe.Slice((*atomic.Uint32)(unsafe.Add(mem, eb)), nIndex)
			r.mem = m
			return r, release
		}
	}
	r.entries = make([]entry, nEntries)
	r.index = make([]atomic.Uint32, nIndex)
	r.mem = Memory{Bytes: int64(total)}
	return r, nil
}
