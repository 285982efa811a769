package cache

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// madvise is unix.Madvise; tests replace it to see the fallback without
// huge pages.
var madvise = unix.Madvise

// mapRegion maps size bytes (rounded up to huge pages) of anonymous memory
// aligned to a huge page, advises the kernel to back it with huge pages (or,
// with huge false, never to: so that "without huge pages" holds under THP
// "always" too), and populates it. A refused advice leaves ordinary pages.
// It returns ok=false when the mapping itself fails (the caller then uses
// the heap).
//
// Populating at once makes the cache's memory resident from the start, as
// the capacity promises: no page fault (with huge pages, a 2 MiB
// allocation, perhaps a compaction) ever lands in a lookup or an insert,
// and a flood of new peers does not grow the process.
func mapRegion(size int, huge bool) (mem unsafe.Pointer, m Memory, release func(), ok bool) {
	n := (size + hugePageSize - 1) &^ (hugePageSize - 1)
	// Map one huge page more than needed and unmap the unaligned head and
	// the tail, so the region starts on a huge page boundary.
	raw, err := unix.MmapPtr(-1, 0, nil, uintptr(n+hugePageSize), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return nil, Memory{}, nil, false
	}
	head := (hugePageSize - uintptr(raw)%hugePageSize) % hugePageSize
	if head != 0 {
		unix.MunmapPtr(raw, head)
	}
	mem = unsafe.Add(raw, head)
	if tail := hugePageSize - head; tail != 0 {
		unix.MunmapPtr(unsafe.Add(mem, n), tail)
	}
	advice := unix.MADV_NOHUGEPAGE
	if huge {
		advice = unix.MADV_HUGEPAGE
	}
	b := unsafe.Slice((*byte)(mem), n)
	advised := madvise(b, advice) == nil
	populate(b)
	release = func() { unix.MunmapPtr(mem, uintptr(n)) }
	return mem, Memory{Bytes: int64(n), Mapped: true, HugePages: huge && advised}, release, true
}

// populate faults every page of b in for writing: MADV_POPULATE_WRITE
// (Linux 5.14), else a write to each base page.
func populate(b []byte) {
	if madvise(b, unix.MADV_POPULATE_WRITE) == nil {
		return
	}
	for i := 0; i < len(b); i += basePageSize {
		b[i] = 0
	}
}

// basePageSize is the smallest page size of the platforms the cache maps on.
const basePageSize = 4096
