package cache

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// madvise is unix.Madvise; tests replace it to see the fallback without
// huge pages.
var madvise = unix.Madvise

// mapRegion maps size bytes (rounded up to huge pages) of anonymous memory
// aligned to a huge page, and advises the kernel to back it with huge pages
// (or, with huge false, never to: so that "without huge pages" holds under
// THP "always" too). A refused advice leaves ordinary pages. It returns
// ok=false when the mapping itself fails (the caller then uses the heap).
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
	advised := madvise(unsafe.Slice((*byte)(mem), n), advice) == nil
	release = func() { unix.MunmapPtr(mem, uintptr(n)) }
	return mem, Memory{Bytes: int64(n), Mapped: true, HugePages: huge && advised}, release, true
}
