package xsk

import (
	"fmt"
	"sync/atomic"
	"unsafe"
)

// ringNeedWakeup is XDP_RING_NEED_WAKEUP, the bit the kernel sets in a ring's
// flags word when it needs a syscall to make progress on that ring.
const ringNeedWakeup = 1

// xdpDesc is the kernel's struct xdp_desc, the element of the RX and TX rings.
type xdpDesc struct {
	Addr    uint64
	Len     uint32
	Options uint32
}

// ringOffsets locates a ring's words inside its mapping (one entry of
// XDP_MMAP_OFFSETS).
type ringOffsets struct {
	Producer, Consumer, Desc, Flags uint64
}

// ring is one single-producer/single-consumer ring shared with the kernel:
// the fill and completion rings carry UMEM addresses (uint64), the RX and TX
// rings carry xdpDesc. User space is the producer of fill and TX and the
// consumer of completion and RX; the kernel is the other side.
//
// Ordering (libxdp's contract): a producer writes entries, then store-releases
// its producer index; a consumer load-acquires the producer index, reads the
// entries, then store-releases its consumer index. Go's sync/atomic operations
// are sequentially consistent, which is at least that, and they also stop the
// compiler from caching the peer's index in a register.
//
// Each side keeps a cached copy of the peer's index and reloads the shared
// word only when the cached view cannot satisfy a request, so the cache line
// the kernel writes is touched once per batch, not once per packet. Indices are
// free-running uint32 values; entries live at index & mask.
type ring[T any] struct {
	producer *atomic.Uint32
	consumer *atomic.Uint32
	flags    *atomic.Uint32
	entries  []T
	mask     uint32
	size     uint32
	// cachedProd: our producer index (producer rings) or the last producer
	// index seen (consumer rings). cachedCons: the last consumer index seen
	// plus size (producer rings, so cachedCons-cachedProd is the free space) or
	// our consumer index (consumer rings).
	cachedProd uint32
	cachedCons uint32
}

// initRing lays a ring over mem (an mmapped ring or, in tests, plain memory)
// using the kernel's offsets. size must be a power of two.
func initRing[T any](r *ring[T], mem []byte, off ringOffsets, size uint32, producerSide bool) error {
	var zero T
	esz := uint64(unsafe.Sizeof(zero))
	if size == 0 || size&(size-1) != 0 {
		return fmt.Errorf("ring size %d is not a power of two: %w", size, ErrConfig)
	}
	need := off.Desc + uint64(size)*esz
	for _, o := range []uint64{off.Producer, off.Consumer, off.Flags} {
		if o%4 != 0 || o+4 > uint64(len(mem)) {
			return fmt.Errorf("ring index offset %d outside a %d-byte mapping: %w", o, len(mem), ErrConfig)
		}
	}
	if off.Desc%8 != 0 || need > uint64(len(mem)) {
		return fmt.Errorf("ring of %d entries at offset %d does not fit a %d-byte mapping: %w", size, off.Desc, len(mem), ErrConfig)
	}
	base := unsafe.Pointer(unsafe.SliceData(mem))
	if uintptr(base)%8 != 0 {
		return fmt.Errorf("ring mapping is not 8-byte aligned: %w", ErrConfig)
	}
	*r = ring[T]{
		producer: (*atomic.Uint32)(unsafe.Add(base, off.Producer)),
		consumer: (*atomic.Uint32)(unsafe.Add(base, off.Consumer)),
		flags:    (*atomic.Uint32)(unsafe.Add(base, off.Flags)),
		entries:  unsafe.Slice((*T)(unsafe.Add(base, off.Desc)), size),
		mask:     size - 1,
		size:     size,
	}
	if producerSide {
		r.cachedProd = r.producer.Load()
		r.cachedCons = r.consumer.Load() + size
	} else {
		r.cachedCons = r.consumer.Load()
		r.cachedProd = r.producer.Load()
	}
	return nil
}

// free returns how many entries a producer may write, reloading the
// consumer index only when the cached view shows fewer than want.
func (r *ring[T]) free(want uint32) uint32 {
	n := r.cachedCons - r.cachedProd
	if n >= want {
		return n
	}
	r.cachedCons = r.consumer.Load() + r.size
	return r.cachedCons - r.cachedProd
}

// refreshFree reloads the consumer index and returns the free entries.
func (r *ring[T]) refreshFree() uint32 {
	r.cachedCons = r.consumer.Load() + r.size
	return r.cachedCons - r.cachedProd
}

// submit publishes n entries written at cachedProd..cachedProd+n-1.
func (r *ring[T]) submit(n uint32) {
	r.cachedProd += n
	r.producer.Store(r.cachedProd)
}

// available returns how many entries a consumer may read, reloading the
// producer index only when the cached view shows fewer than want.
func (r *ring[T]) available(want uint32) uint32 {
	n := r.cachedProd - r.cachedCons
	if n >= want {
		return n
	}
	r.cachedProd = r.producer.Load()
	return r.cachedProd - r.cachedCons
}

// release gives n read entries back to the producer.
func (r *ring[T]) release(n uint32) {
	r.cachedCons += n
	r.consumer.Store(r.cachedCons)
}

// at returns the entry for free-running index i.
func (r *ring[T]) at(i uint32) *T { return &r.entries[i&r.mask] }

// needsWakeup reports whether the kernel asked for a syscall on this ring.
func (r *ring[T]) needsWakeup() bool { return r.flags.Load()&ringNeedWakeup != 0 }

// pending returns the entries a producer has published that the kernel has
// not consumed yet (reloads the consumer index).
func (r *ring[T]) pending() uint32 { return r.cachedProd - r.consumer.Load() }
