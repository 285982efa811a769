package xsk

import "syscall"

// maxTxKicks bounds the sendto calls of one kick. In copy mode the kernel
// transmits at most 32 descriptors per sendto and answers EAGAIN while more
// wait, so a kick repeats while the kernel makes progress: 8 calls cover a
// 256-descriptor batch.
const maxTxKicks = 8

// kickFunc wakes the kernel: sendto(MSG_DONTWAIT) for TX, recvfrom
// (MSG_DONTWAIT) for the fill/RX path. It returns the raw errno (0 on
// success) so the data path never builds an error value.
type kickFunc func(fd int, tx bool) syscall.Errno

// Socket is one AF_XDP socket bound to a device queue. Its data-path methods
// (Fill, Receive, Transmit, Complete, Free, Frame, Poll) must be called from
// the goroutine that owns its Umem; they never allocate and never block except
// Poll.
type Socket struct {
	fd         int
	ifindex    int
	queue      int
	umem       *Umem
	q          *queueRings
	rx         ring[xdpDesc]
	tx         ring[xdpDesc]
	rxMem      []byte
	txMem      []byte
	zeroCopy   bool
	needWakeup bool // bound with XDP_USE_NEED_WAKEUP: kick only when a ring flag asks
	kick       kickFunc
	sys        sysState // platform-specific scratch (poll descriptor)
	c          counters
	// freed counts Free calls not yet added to c.freed: Free runs once per
	// dropped packet, so it bumps a plain field and the next batch call
	// publishes it with one atomic store.
	freed  uint64
	closed bool
}

// FD returns the socket's file descriptor, for the XDP program's XSKMAP.
func (s *Socket) FD() int { return s.fd }

// Ifindex returns the interface the socket is bound to.
func (s *Socket) Ifindex() int { return s.ifindex }

// Queue returns the queue the socket is bound to.
func (s *Socket) Queue() int { return s.queue }

// Umem returns the socket's UMEM.
func (s *Socket) Umem() *Umem { return s.umem }

// ZeroCopy reports whether the kernel bound the socket in zero-copy mode
// (XDP_OPTIONS_ZEROCOPY). veth and other copy-only drivers report false.
func (s *Socket) ZeroCopy() bool { return s.zeroCopy }

// RingStats returns the Go-side ring counters without a syscall. Freed lags
// by the Free calls since the owner's last Fill, Receive, Transmit or
// Complete (Allocated likewise, see RingStats).
func (s *Socket) RingStats() RingStats {
	r := s.c.snapshot()
	r.Allocated = s.umem.c.allocated.Load()
	r.AllocStackEmpty = s.umem.c.allocStackEmpty.Load()
	return r
}

// publishFreed publishes the Free count of this socket and the Alloc count of
// its UMEM (both bumped as plain fields once per packet).
func (s *Socket) publishFreed() {
	if s.freed != 0 {
		add(&s.c.freed, s.freed)
		s.freed = 0
	}
	s.umem.publishAllocs()
}

// Fill hands up to n free frames from the frame stack to the kernel on the
// fill ring of the socket's queue and returns how many it handed over (fewer
// when the fill ring or the frame stack runs short).
func (s *Socket) Fill(n int) int {
	s.publishFreed()
	if n <= 0 || s.closed {
		return 0
	}
	f := &s.q.fill
	free := f.refreshFree()
	if free == f.size {
		add(&s.c.fillRingEmpty, 1)
	}
	k := free
	if uint32(n) < k {
		k = uint32(n)
	}
	st := &s.umem.stack
	if have := uint32(st.len()); have < k {
		add(&s.c.frameStackEmpty, 1)
		k = have
	}
	if k == 0 {
		return 0
	}
	idx := f.cachedProd
	for i := uint32(0); i < k; i++ {
		addr, _ := st.pop()
		*f.at(idx + i) = addr
	}
	f.submit(k)
	add(&s.c.filled, uint64(k))
	return int(k)
}

// Receive moves up to len(descs) received packets from the RX ring into descs
// and returns how many. Each received frame now belongs to the caller until it
// is passed to Transmit (on this or any socket sharing the UMEM) or to Free.
// When the RX ring is empty and the kernel flagged the fill ring with
// need_wakeup, Receive wakes it with a non-blocking recvfrom.
func (s *Socket) Receive(descs []Desc) int {
	s.publishFreed()
	if s.closed || len(descs) == 0 {
		return 0
	}
	r := &s.rx
	want := r.size
	if uint32(len(descs)) < want {
		want = uint32(len(descs))
	}
	n := r.available(want)
	if n == 0 {
		if s.needWakeup && s.q.fill.needsWakeup() {
			s.kickRx()
		}
		return 0
	}
	if n > want {
		n = want
	}
	idx := r.cachedCons
	descs = descs[:n]
	for i := range descs {
		e := r.at(idx + uint32(i))
		descs[i] = Desc{Addr: e.Addr, Len: e.Len}
	}
	r.release(n)
	add(&s.c.received, uint64(n))
	return int(n)
}

// Transmit places descs on the TX ring, publishes them with one index store,
// and kicks the kernel with sendto only when need_wakeup asks for it (or on
// every call when the socket was opened with NoNeedWakeup). A descriptor may
// start anywhere inside its chunk (after an in-place encap or decap) as long as
// it does not cross the chunk's end.
//
// It returns how many descriptors it took from the front of descs; those
// frames now belong to the kernel and come back through Complete. Descriptors
// the kernel would reject (zero length, outside the UMEM, crossing the chunk
// end) are taken too but their frames go straight back to the stack
// (RingStats.TxRejected). descs[n:] did not fit (RingStats.TxRingFull) and
// still belong to the caller: retry them or Free them.
func (s *Socket) Transmit(descs []Desc) int {
	s.publishFreed()
	if s.closed || len(descs) == 0 {
		return 0
	}
	t := &s.tx
	u := s.umem
	want := uint32(len(descs))
	if want > t.size {
		want = t.size
	}
	free := t.free(want)
	n := want
	if free < n {
		n = free
	}
	if n < uint32(len(descs)) {
		add(&s.c.txRingFull, 1)
	}
	idx := t.cachedProd
	placed := uint32(0)
	for _, d := range descs[:n] {
		if !u.validTx(d) {
			add(&s.c.txRejected, 1)
			if !u.release(d.Addr) {
				add(&s.c.freeRejected, 1)
			}
			continue
		}
		*t.at(idx + placed) = xdpDesc{Addr: d.Addr, Len: d.Len}
		placed++
	}
	if placed > 0 {
		t.submit(placed)
		add(&s.c.transmitted, uint64(placed))
		if !s.needWakeup || t.needsWakeup() {
			s.kickTx()
		}
	}
	return int(n)
}

// Complete reclaims every frame the kernel finished transmitting on the
// socket's queue (from the completion ring) to the frame stack and returns how
// many. The completion ring holds the TX descriptor's address, which may lie
// anywhere inside the chunk; the whole chunk goes back. If this socket still
// has descriptors the kernel has not taken (copy mode sends 32 per sendto) and
// need_wakeup asks for it, Complete kicks TX again.
func (s *Socket) Complete() int {
	s.publishFreed()
	if s.closed {
		return 0
	}
	c := &s.q.comp
	n := c.available(c.size)
	if n > 0 {
		u := s.umem
		idx := c.cachedCons
		rejected := uint64(0)
		for i := uint32(0); i < n; i++ {
			if !u.release(*c.at(idx + i)) {
				rejected++
			}
		}
		c.release(n)
		add(&s.c.completed, uint64(n))
		if rejected > 0 {
			add(&s.c.freeRejected, rejected)
		}
	}
	if s.tx.pending() != 0 && (!s.needWakeup || s.tx.needsWakeup()) {
		s.kickTx()
	}
	return int(n)
}

// Free returns the chunk of a received frame that is dropped to the frame
// stack. d may point anywhere inside the chunk.
func (s *Socket) Free(d Desc) {
	if s.umem.release(d.Addr) {
		s.freed++
	} else {
		add(&s.c.freeRejected, 1)
	}
}

// Frame returns the whole chunk holding d and the packet's offset in it (see
// Umem.Frame).
func (s *Socket) Frame(d Desc) (buf []byte, off int) { return s.umem.Frame(d) }

func (s *Socket) kickTx() {
	for range maxTxKicks {
		before := s.tx.consumer.Load()
		errno := s.kick(s.fd, true)
		add(&s.c.txKicks, 1)
		switch errno {
		case 0:
			return
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			after := s.tx.consumer.Load()
			if after != before {
				if after != s.tx.cachedProd {
					continue // copy mode sent its 32 and more are waiting
				}
				return
			}
		}
		s.countKickError(errno)
		return
	}
}

func (s *Socket) kickRx() {
	errno := s.kick(s.fd, false)
	add(&s.c.rxKicks, 1)
	if errno != 0 && errno != syscall.EINTR {
		s.countKickError(errno)
	}
}

func (s *Socket) countKickError(errno syscall.Errno) {
	switch errno {
	case syscall.EAGAIN:
		add(&s.c.kickAgain, 1)
	case syscall.EBUSY:
		add(&s.c.kickBusy, 1)
	case syscall.ENOBUFS:
		add(&s.c.kickNoBufs, 1)
	case syscall.ENETDOWN:
		add(&s.c.kickNetDown, 1)
	case syscall.ENXIO:
		add(&s.c.kickNotBound, 1)
	default:
		add(&s.c.kickOther, 1)
	}
}

// reclaimOnClose returns to the stack the frames user space can prove the
// kernel is done with, before the rings are unmapped. Consumer rings (RX,
// completion) are read before producer rings (fill, TX) so that a frame moving
// from one to the other during the read is counted at most once. Producer-ring
// entries are reclaimed only in copy mode, where the kernel touches frames only
// inside syscalls on this socket and so is done once Close returns; in
// zero-copy mode the driver may still own them until the kernel's deferred
// teardown, so they come back when the Umem's last socket closes.
func (s *Socket) reclaimOnClose(lastOnQueue bool) {
	u := s.umem
	r := &s.rx
	if n := r.available(r.size); n > 0 {
		for i := uint32(0); i < n; i++ {
			u.release(r.at(r.cachedCons + i).Addr)
		}
		r.release(n)
	}
	if lastOnQueue {
		c := &s.q.comp
		if n := c.available(c.size); n > 0 {
			for i := uint32(0); i < n; i++ {
				u.release(*c.at(c.cachedCons + i))
			}
			c.release(n)
		}
	}
	if s.zeroCopy {
		return
	}
	if lastOnQueue {
		f := &s.q.fill
		for i := f.consumer.Load(); i != f.cachedProd; i++ {
			u.release(*f.at(i))
		}
	}
	t := &s.tx
	for i := t.consumer.Load(); i != t.cachedProd; i++ {
		u.release(t.at(i).Addr)
	}
}
