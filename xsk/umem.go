package xsk

// Umem is the packet memory shared by one or more sockets: NumFrames chunks of
// FrameSize bytes, the LIFO stack of free chunks, and the fill/completion ring
// pair of every (ifindex, queue) its sockets are bound to.
//
// A Umem and every Socket that shares it belong to one goroutine (the relay
// worker that drives them): the frame stack and the rings are not locked.
// Only Socket.Stats and Socket.RingStats may be called from other goroutines.
type Umem struct {
	area      []byte // the mmapped chunks
	frameSize uint64
	frameMask uint64 // frameSize - 1
	headroom  int
	fillSize  uint32
	compSize  uint32
	stack     frameStack
	// allocs counts Alloc calls not yet added to c.allocated (published by
	// the next batch call of any socket, like Socket.freed).
	allocs  uint64
	c       umemCounters
	sockets []*Socket     // open sockets; the first Open registers the UMEM
	queues  []*queueRings // fill/completion rings per bound (ifindex, queue)
	closed  bool
}

// queueRings is the fill/completion ring pair of one (ifindex, queue). The
// kernel keeps one pair per device queue: sockets sharing the UMEM on the same
// queue share the pair, sockets on another queue or device get their own.
type queueRings struct {
	ifindex, queue int
	fill           ring[uint64]
	comp           ring[uint64]
	fillMem        []byte
	compMem        []byte
	refs           int // open sockets using this pair
}

// FrameSize returns the chunk size in bytes.
func (u *Umem) FrameSize() int { return int(u.frameSize) }

// NumFrames returns the number of chunks.
func (u *Umem) NumFrames() int { return len(u.area) / int(u.frameSize) }

// Headroom returns the configured UMEM headroom.
func (u *Umem) Headroom() int { return u.headroom }

// RxOffset is where the kernel places a received packet inside its chunk:
// Headroom() + KernelHeadroom. All RxOffset bytes in front of the packet
// belong to the application (Transmit accepts a descriptor starting anywhere
// in the chunk), and the packet may be at most FrameSize()-RxOffset() bytes.
func (u *Umem) RxOffset() int { return u.headroom + KernelHeadroom }

// Alloc takes a free chunk from the frame stack for a packet the caller
// builds itself (a copy from another UMEM, a locally generated frame). The
// descriptor points where the kernel would have put a received packet,
// chunk + RxOffset(), so the same headroom lies in front of it; Len is 0 and
// the caller sets it after writing the packet (Frame gives the memory).
//
// The frame now belongs to the caller, as if it had been received: it goes to
// Transmit on any socket of this UMEM (and back to the stack through
// Complete) or back with Free. Alloc returns false, and counts the event in
// every socket's RingStats.AllocStackEmpty, when every chunk is in use; it
// returns false on a closed UMEM. Like the rest of the data path it belongs
// to the UMEM's goroutine and does not allocate.
func (u *Umem) Alloc() (Desc, bool) {
	if u.closed {
		return Desc{}, false
	}
	chunk, ok := u.stack.pop()
	if !ok {
		add(&u.c.allocStackEmpty, 1)
		return Desc{}, false
	}
	u.allocs++
	return Desc{Addr: chunk + uint64(u.headroom) + KernelHeadroom}, true
}

// publishAllocs adds the unpublished Alloc count to the shared counter.
func (u *Umem) publishAllocs() {
	if u.allocs != 0 {
		add(&u.c.allocated, u.allocs)
		u.allocs = 0
	}
}

// FreeFrames returns the number of chunks on the frame stack.
func (u *Umem) FreeFrames() int { return u.stack.len() }

// Frame returns the whole chunk holding d and the offset of d's first byte in
// it, so the caller can write headers into the room in front of the packet:
// the packet is buf[off:off+int(d.Len)]. The slice's capacity ends at the
// chunk, so an append can never spill into a neighbouring frame. It returns
// nil, 0 for an address outside the UMEM.
func (u *Umem) Frame(d Desc) (buf []byte, off int) {
	chunk := d.Addr &^ u.frameMask
	if chunk >= uint64(len(u.area)) {
		return nil, 0
	}
	end := chunk + u.frameSize
	return u.area[chunk:end:end], int(d.Addr - chunk)
}

// validTx reports whether the kernel will accept d on a TX ring in aligned
// mode: non-empty, inside the UMEM, and not crossing the end of its chunk.
func (u *Umem) validTx(d Desc) bool {
	off := d.Addr & u.frameMask
	return d.Len != 0 && d.Addr < uint64(len(u.area)) && off+uint64(d.Len) <= u.frameSize
}

// release pushes the chunk holding addr onto the frame stack.
func (u *Umem) release(addr uint64) bool {
	chunk := addr &^ u.frameMask
	if chunk >= uint64(len(u.area)) {
		return false
	}
	return u.stack.push(chunk)
}

// socketOn returns an open socket bound to (ifindex, queue), or nil.
func (u *Umem) socketOn(ifindex, queue int) *Socket {
	for _, s := range u.sockets {
		if s.ifindex == ifindex && s.queue == queue {
			return s
		}
	}
	return nil
}

func (u *Umem) removeSocket(s *Socket) {
	for i, o := range u.sockets {
		if o == s {
			u.sockets = append(u.sockets[:i], u.sockets[i+1:]...)
			return
		}
	}
}

func (u *Umem) removeQueue(q *queueRings) {
	for i, o := range u.queues {
		if o == q {
			u.queues = append(u.queues[:i], u.queues[i+1:]...)
			return
		}
	}
}

// newUmemOver builds a Umem over already allocated memory (mmap, or plain
// memory in tests). cfg must be validated and complete.
func newUmemOver(area []byte, cfg UmemConfig) *Umem {
	u := &Umem{
		area:      area,
		frameSize: uint64(cfg.FrameSize),
		frameMask: uint64(cfg.FrameSize - 1),
		headroom:  cfg.Headroom,
		fillSize:  uint32(cfg.FillSize),
		compSize:  uint32(cfg.CompSize),
		stack:     newFrameStack(cfg.NumFrames),
	}
	u.stack.reset(u.frameSize)
	return u
}
