package xsk

import (
	"syscall"
	"testing"
)

func TestFillPartialAndStackExhaustion(t *testing.T) {
	s, k := newFakeSocket(t, fakeSizes{frames: 12, fill: 8, comp: 8, rx: 8, tx: 8})
	u := s.Umem()
	if got := s.Fill(64); got != 8 {
		t.Fatalf("Fill(64) into an 8-entry fill ring = %d", got)
	}
	if u.FreeFrames() != 4 {
		t.Fatalf("free frames = %d, want 4", u.FreeFrames())
	}
	if got := s.Fill(1); got != 0 {
		t.Fatalf("Fill on a full ring = %d", got)
	}
	got := k.takeFill(3)
	for i, a := range got {
		if a%2048 != 0 {
			t.Fatalf("fill entry %d = %#x is not a chunk address", i, a)
		}
	}
	if n := s.Fill(64); n != 3 {
		t.Fatalf("Fill after the kernel took 3 = %d", n)
	}
	k.takeFill(8) // kernel drains the ring completely
	if n := s.Fill(64); n != 1 {
		t.Fatalf("Fill with one free frame left = %d", n)
	}
	rs := s.RingStats()
	if rs.Filled != 12 || rs.FrameStackEmpty != 1 || rs.FillRingEmpty != 2 {
		t.Fatalf("ring stats %+v: want Filled 12, FrameStackEmpty 1, FillRingEmpty 2 (first Fill and after the drain)", rs)
	}
	if n := s.Fill(4); n != 0 || s.RingStats().FrameStackEmpty != 2 {
		t.Fatalf("Fill with no frames = %d, stack-empty count %d", n, s.RingStats().FrameStackEmpty)
	}
}

// TestForwardCycle is the relay's life of a frame: fill, receive at the
// kernel's offset, encap 28 bytes into the headroom, transmit from inside the
// chunk, complete with the TX address, and the chunk is back on the stack.
func TestForwardCycle(t *testing.T) {
	const headroom = 64
	s, k := newFakeSocket(t, fakeSizes{frames: 8, headroom: headroom, fill: 8, comp: 8, rx: 8, tx: 8})
	u := s.Umem()
	if u.RxOffset() != headroom+KernelHeadroom {
		t.Fatalf("RxOffset = %d", u.RxOffset())
	}
	s.Fill(8)
	chunks := k.takeFill(2)
	rxAddr := chunks[1] + uint64(u.RxOffset())
	k.deliver(xdpDesc{Addr: chunks[0] + uint64(u.RxOffset()), Len: 60}, xdpDesc{Addr: rxAddr, Len: 100})

	var descs [4]Desc
	if n := s.Receive(descs[:]); n != 2 {
		t.Fatalf("Receive = %d", n)
	}
	if descs[1] != (Desc{Addr: rxAddr, Len: 100}) {
		t.Fatalf("desc %+v", descs[1])
	}
	buf, off := s.Frame(descs[1])
	if len(buf) != 2048 || cap(buf) != 2048 || off != headroom+KernelHeadroom {
		t.Fatalf("Frame: len %d cap %d off %d", len(buf), cap(buf), off)
	}
	buf[off] = 0xAB
	if u.area[rxAddr] != 0xAB {
		t.Fatal("Frame does not alias the UMEM")
	}
	s.Free(descs[0]) // dropped
	if u.FreeFrames() != 1 {
		t.Fatalf("free frames after Free = %d, want 1", u.FreeFrames())
	}
	enc := Desc{Addr: descs[1].Addr - 28, Len: descs[1].Len + 28}
	if n := s.Transmit([]Desc{enc}); n != 1 {
		t.Fatalf("Transmit = %d", n)
	}
	sent := k.takeTx(8)
	if len(sent) != 1 || sent[0].Addr != enc.Addr || sent[0].Len != enc.Len {
		t.Fatalf("kernel saw %+v, want %+v", sent, enc)
	}
	k.complete(sent[0].Addr)
	before := u.FreeFrames()
	if n := s.Complete(); n != 1 {
		t.Fatalf("Complete = %d", n)
	}
	if u.FreeFrames() != before+1 {
		t.Fatalf("free frames %d after Complete, want %d", u.FreeFrames(), before+1)
	}
	if top := u.stack.addrs[u.stack.n-1]; top != chunks[1] {
		t.Fatalf("Complete pushed %#x, want the chunk %#x", top, chunks[1])
	}
	rs := s.RingStats()
	if rs.Received != 2 || rs.Transmitted != 1 || rs.Completed != 1 || rs.Freed != 1 || rs.TxKicks != 0 {
		t.Fatalf("ring stats %+v", rs)
	}
}

func TestTransmitRejectsInvalidAndRingFull(t *testing.T) {
	s, k := newFakeSocket(t, fakeSizes{frames: 8, fill: 8, comp: 8, rx: 8, tx: 4})
	u := s.Umem()
	for range 8 {
		u.stack.pop() // the caller holds every frame
	}
	descs := []Desc{
		{Addr: 0*2048 + 256, Len: 100},      // ok
		{Addr: 1*2048 + 2000, Len: 100},     // crosses the chunk end
		{Addr: 2*2048 + 10, Len: 0},         // empty
		{Addr: 8 * 2048, Len: 10},           // outside the UMEM
		{Addr: 3*2048 + 2048 - 60, Len: 60}, // ends exactly at the chunk end: ok
		{Addr: 4 * 2048, Len: 2048},         // whole chunk: ok
	}
	n := s.Transmit(descs)
	if n != 4 {
		t.Fatalf("Transmit into a 4-entry ring took %d", n)
	}
	sent := k.takeTx(8)
	if len(sent) != 1 || sent[0].Addr != descs[0].Addr {
		t.Fatalf("kernel saw %+v", sent)
	}
	rs := s.RingStats()
	if rs.TxRejected != 3 || rs.TxRingFull != 1 || rs.FreeRejected != 1 || rs.Transmitted != 1 {
		t.Fatalf("ring stats %+v", rs)
	}
	if u.FreeFrames() != 2 { // chunks 1 and 2 came back; the out-of-range one could not
		t.Fatalf("free frames %d, want 2", u.FreeFrames())
	}
	if n := s.Transmit(descs[4:]); n != 2 {
		t.Fatalf("retry of the rest = %d", n)
	}
	sent = k.takeTx(8)
	if len(sent) != 2 || sent[0] != (xdpDesc{Addr: descs[4].Addr, Len: 60}) || sent[1] != (xdpDesc{Addr: descs[5].Addr, Len: 2048}) {
		t.Fatalf("kernel saw %+v", sent)
	}
}

func TestNeedWakeupKicks(t *testing.T) {
	s, k := newFakeSocket(t, fakeSizes{frames: 64, fill: 64, comp: 64, rx: 64, tx: 64})
	for range 64 {
		s.umem.stack.pop()
	}
	d := []Desc{{Addr: 0, Len: 64}}

	s.Transmit(d) // flag clear: no syscall
	if len(k.kicks) != 0 {
		t.Fatalf("kicked %d times with need_wakeup clear", len(k.kicks))
	}
	setFlags(k.txMem, ringNeedWakeup)
	s.Transmit(d)
	if len(k.kicks) != 1 || !k.kicks[0] {
		t.Fatalf("kicks %v, want one TX kick", k.kicks)
	}
	setFlags(k.txMem, 0)
	s.needWakeup = false // bound without XDP_USE_NEED_WAKEUP: kick every time
	s.Transmit(d)
	if len(k.kicks) != 2 {
		t.Fatalf("kicks %v without need_wakeup, want 2", k.kicks)
	}
	s.needWakeup = true

	// RX: empty ring + fill flag -> recvfrom kick; without the flag nothing.
	var descs [8]Desc
	s.Receive(descs[:])
	if len(k.kicks) != 2 {
		t.Fatalf("RX kick without the fill flag: %v", k.kicks)
	}
	setFlags(k.fillMem, ringNeedWakeup)
	s.Receive(descs[:])
	if len(k.kicks) != 3 || k.kicks[2] {
		t.Fatalf("kicks %v, want an RX kick", k.kicks)
	}
	if rs := s.RingStats(); rs.TxKicks != 2 || rs.RxKicks != 1 {
		t.Fatalf("ring stats %+v", rs)
	}
}

func TestKickErrorsCounted(t *testing.T) {
	cases := []struct {
		errno syscall.Errno
		get   func(KickErrors) uint64
	}{
		{syscall.EAGAIN, func(e KickErrors) uint64 { return e.Again }},
		{syscall.EBUSY, func(e KickErrors) uint64 { return e.Busy }},
		{syscall.ENOBUFS, func(e KickErrors) uint64 { return e.NoBufs }},
		{syscall.ENETDOWN, func(e KickErrors) uint64 { return e.NetDown }},
		{syscall.ENXIO, func(e KickErrors) uint64 { return e.NotBound }},
		{syscall.EINVAL, func(e KickErrors) uint64 { return e.Other }},
	}
	for _, c := range cases {
		s, k := newFakeSocket(t, fakeSizes{frames: 8, fill: 8, comp: 8, rx: 8, tx: 8})
		setFlags(k.txMem, ringNeedWakeup)
		k.kickErr = c.errno
		if n := s.Transmit([]Desc{{Addr: 0, Len: 60}}); n != 1 {
			t.Fatalf("%v: Transmit = %d", c.errno, n)
		}
		rs := s.RingStats()
		if got := c.get(rs.KickErrors); got != 1 || rs.TxKicks != 1 {
			t.Fatalf("%v: kick errors %+v, kicks %d", c.errno, rs.KickErrors, rs.TxKicks)
		}
	}
}

// TestCopyModeKickLoop: the kernel sends 32 descriptors per sendto and says
// EAGAIN while more wait; Transmit keeps kicking while it makes progress and
// counts no error.
func TestCopyModeKickLoop(t *testing.T) {
	s, k := newFakeSocket(t, fakeSizes{frames: 128, fill: 128, comp: 128, rx: 128, tx: 128})
	setFlags(k.txMem, ringNeedWakeup)
	k.txPerKick = 32
	k.moreAgainWhenLeft = true
	descs := make([]Desc, 100)
	for i := range descs {
		a, _ := s.umem.stack.pop()
		descs[i] = Desc{Addr: a + 256, Len: 60}
	}
	if n := s.Transmit(descs); n != 100 {
		t.Fatalf("Transmit = %d", n)
	}
	rs := s.RingStats()
	if rs.TxKicks != 4 || rs.KickErrors != (KickErrors{}) {
		t.Fatalf("kicks %d errors %+v, want 4 kicks and no errors", rs.TxKicks, rs.KickErrors)
	}
	if s.tx.pending() != 0 {
		t.Fatalf("%d descriptors left on the TX ring", s.tx.pending())
	}
	// A stalled kernel (no progress) ends the loop with one EAGAIN counted.
	k.txPerKick = 0
	k.kickErr = syscall.EAGAIN
	s.Transmit([]Desc{{Addr: 0, Len: 60}})
	if rs := s.RingStats(); rs.TxKicks != 5 || rs.KickErrors.Again != 1 {
		t.Fatalf("stalled kick: %+v", rs)
	}
	// Complete kicks again while this socket's TX entries wait.
	k.kickErr = 0
	s.Complete()
	if rs := s.RingStats(); rs.TxKicks != 6 {
		t.Fatalf("Complete did not kick pending TX: %+v", rs)
	}
}

func TestFreeRejectsDoubleFreeAndForeignAddress(t *testing.T) {
	s, _ := newFakeSocket(t, fakeSizes{frames: 4, fill: 4, comp: 4, rx: 4, tx: 4})
	a, _ := s.umem.stack.pop()
	s.Free(Desc{Addr: a + 300})
	s.Free(Desc{Addr: a + 300}) // stack full again: double free
	s.Free(Desc{Addr: 1 << 40})
	if s.RingStats().Freed != 0 {
		t.Fatal("Freed published before the next batch call")
	}
	s.Complete() // publishes the Free count
	rs := s.RingStats()
	if rs.Freed != 1 || rs.FreeRejected != 2 || s.umem.FreeFrames() != 4 {
		t.Fatalf("stats %+v, free frames %d", rs, s.umem.FreeFrames())
	}
	if top := s.umem.stack.addrs[3]; top != a {
		t.Fatalf("Free pushed %#x, want chunk %#x", top, a)
	}
	if buf, off := s.Frame(Desc{Addr: 1 << 40}); buf != nil || off != 0 {
		t.Fatal("Frame of a foreign address returned memory")
	}
}

func TestReceiveBatchLimits(t *testing.T) {
	s, k := newFakeSocket(t, fakeSizes{frames: 16, fill: 16, comp: 16, rx: 8, tx: 8, start: 0xFFFFFFFA})
	s.Fill(16)
	addrs := k.takeFill(16)
	var in []xdpDesc
	for i, a := range addrs[:8] {
		in = append(in, xdpDesc{Addr: a + 256, Len: uint32(60 + i)})
	}
	if n := k.deliver(in...); n != 8 {
		t.Fatalf("deliver = %d", n)
	}
	var small [3]Desc
	for i := 0; i < 8; {
		n := s.Receive(small[:])
		if n == 0 {
			t.Fatalf("Receive returned 0 after %d of 8", i)
		}
		for j := 0; j < n; j++ {
			if small[j].Len != uint32(60+i+j) {
				t.Fatalf("packet %d has len %d", i+j, small[j].Len)
			}
		}
		i += n
	}
	if n := s.Receive(small[:]); n != 0 {
		t.Fatalf("Receive on an empty ring = %d", n)
	}
}

func TestClosedSocketIsInert(t *testing.T) {
	s, _ := newFakeSocket(t, fakeSizes{frames: 4, fill: 4, comp: 4, rx: 4, tx: 4})
	s.closed = true
	var d [1]Desc
	if s.Fill(1) != 0 || s.Receive(d[:]) != 0 || s.Transmit([]Desc{{Len: 1}}) != 0 || s.Complete() != 0 {
		t.Fatal("closed socket touched its rings")
	}
}

func TestDataPathDoesNotAllocate(t *testing.T) {
	s, k := newFakeSocket(t, fakeSizes{frames: 256, fill: 128, comp: 128, rx: 128, tx: 128})
	setFlags(k.txMem, ringNeedWakeup)
	s.kick = func(int, bool) syscall.Errno { return syscall.ENETDOWN }
	descs := make([]Desc, 64)
	in := make([]xdpDesc, 64)
	fillTmp := make([]uint64, 64)
	txTmp := make([]xdpDesc, 64)
	allocs := testing.AllocsPerRun(100, func() {
		s.Fill(64)
		n := kernelEcho(k, fillTmp, in, txTmp, 64)
		_ = n
		got := s.Receive(descs)
		for i := range descs[:got] {
			descs[i].Addr -= 28
			descs[i].Len += 28
		}
		s.Transmit(descs[:got])
		kernelCompleteAll(k, txTmp)
		s.Complete()
		_, _ = s.Frame(descs[0])
	})
	if allocs != 0 {
		t.Fatalf("data path allocates %.1f times per cycle", allocs)
	}
	if s.RingStats().Transmitted == 0 {
		t.Fatal("nothing went through")
	}
}

// kernelEcho moves up to n frames from fill to RX without allocating.
func kernelEcho(k *fakeKernel, _ []uint64, _ []xdpDesc, _ []xdpDesc, n uint32) int {
	avail := k.fill.available(n)
	if avail > n {
		avail = n
	}
	free := k.rx.free(avail)
	if free < avail {
		avail = free
	}
	for i := uint32(0); i < avail; i++ {
		*k.rx.at(k.rx.cachedProd + i) = xdpDesc{Addr: *k.fill.at(k.fill.cachedCons + i) + 256, Len: 64}
	}
	k.fill.release(avail)
	k.rx.submit(avail)
	return int(avail)
}

// kernelCompleteAll moves every TX descriptor to the completion ring.
func kernelCompleteAll(k *fakeKernel, _ []xdpDesc) {
	n := k.tx.available(k.tx.size)
	if free := k.comp.free(n); free < n {
		n = free
	}
	for i := uint32(0); i < n; i++ {
		*k.comp.at(k.comp.cachedProd + i) = k.tx.at(k.tx.cachedCons + i).Addr
	}
	k.tx.release(n)
	k.comp.submit(n)
}
