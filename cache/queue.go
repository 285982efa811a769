package cache

import "sync"

// chunkSize is the unit of queue storage. A packet of n bytes occupies
// ceil(n/chunkSize) chunks linked in order; its length is kept with its first
// chunk. 128 bytes holds a TCP SYN or a small ICMPv6 packet in one chunk and
// wastes at most 127 bytes per packet.
const chunkSize = 128

// maxArenaBytes keeps chunk index + 1 within uint32.
const maxArenaBytes = int64(chunkSize) * (1<<32 - 2)

// arena is the preallocated store for all queued packets: the global cap.
// Per-peer queues are chains of chunks (FIFO). The arena lock is taken only
// by the slow path, always after a shard lock when both are held.
type arena struct {
	mu      sync.Mutex
	data    []byte   // chunks
	next    []uint32 // next chunk in a chain or on the free list, index + 1
	plen    []uint16 // packet length, on a packet's first chunk
	freeTop uint32   // free list, index + 1
	hwm     uint32   // chunks[hwm:] never used (so New touches no memory)
	used    int      // chunks in chains

	packets int64
	bytes   int64
}

func newArena(bytes int64) *arena {
	n := bytes / chunkSize
	return &arena{
		data: make([]byte, n*chunkSize),
		next: make([]uint32, n),
		plen: make([]uint16, n),
	}
}

func (a *arena) allocChunk() uint32 {
	if a.freeTop != 0 {
		c := a.freeTop
		a.freeTop = a.next[c-1]
		a.next[c-1] = 0
		return c
	}
	a.hwm++
	return a.hwm
}

func (a *arena) freeChunk(c uint32) {
	a.next[c-1] = a.freeTop
	a.freeTop = c
}

// store copies pkt into new chunks and appends them after chunk tail (0: a
// new chain). It returns the first and last chunk, or ok=false when the arena
// lacks room.
func (a *arena) store(pkt []byte, tail uint32) (first, last uint32, ok bool) {
	need := (len(pkt) + chunkSize - 1) / chunkSize
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.next)-a.used < need {
		return 0, 0, false
	}
	prev := tail
	for off := 0; off < len(pkt); off += chunkSize {
		c := a.allocChunk()
		copy(a.data[int(c-1)*chunkSize:int(c)*chunkSize], pkt[off:])
		if prev != 0 {
			a.next[prev-1] = c
		}
		if first == 0 {
			first = c
		}
		prev = c
	}
	a.plen[first-1] = uint16(len(pkt))
	a.used += need
	a.packets++
	a.bytes += int64(len(pkt))
	return first, prev, true
}

// pop copies the packet starting at chunk head into dst (which must hold
// it), frees its chunks and returns its length and the next packet's chunk.
func (a *arena) pop(head uint32, dst []byte) (n int, next uint32) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.release(head, dst)
}

// release frees the chunks of the packet starting at chunk head, copying
// its bytes into dst first unless dst is nil, and returns its length and
// the next packet's chunk. a.mu is held.
func (a *arena) release(head uint32, dst []byte) (n int, next uint32) {
	n = int(a.plen[head-1])
	c := head
	for off := 0; off < n; off += chunkSize {
		if dst != nil {
			copy(dst[off:n], a.data[int(c-1)*chunkSize:int(c)*chunkSize])
		}
		nc := a.next[c-1]
		a.freeChunk(c)
		a.used--
		c = nc
	}
	a.packets--
	a.bytes -= int64(n)
	return n, c
}

// freeChain frees the given number of packets starting at chunk head.
func (a *arena) freeChain(head uint32, packets int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	c := head
	for range packets {
		_, c = a.release(c, nil)
	}
}

// usage returns queued packets, payload bytes, storage bytes in use and the
// arena size.
func (a *arena) usage() (packets, bytes, storage, limit int64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.packets, a.bytes, int64(a.used) * chunkSize, int64(len(a.data))
}
