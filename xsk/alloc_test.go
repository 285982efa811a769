package xsk

import (
	"syscall"
	"testing"
)

// TestAllocLifecycle: Alloc hands out every chunk once, at the receive offset
// and with Len 0, fails and counts on an empty stack, and the frames come back
// through Transmit+Complete and through Free (LIFO: the last freed first).
func TestAllocLifecycle(t *testing.T) {
	const headroom = 64
	s, k := newFakeSocket(t, fakeSizes{frames: 4, headroom: headroom, fill: 4, comp: 4, rx: 4, tx: 4})
	u := s.Umem()
	seen := map[uint64]bool{}
	var got [4]Desc
	for i := range got {
		d, ok := u.Alloc()
		if !ok {
			t.Fatalf("Alloc %d of 4 failed", i)
		}
		if d.Len != 0 || d.Addr&u.frameMask != headroom+KernelHeadroom {
			t.Fatalf("Alloc %d = %+v: want Len 0 at chunk+%d", i, d, headroom+KernelHeadroom)
		}
		chunk := d.Addr &^ u.frameMask
		if seen[chunk] {
			t.Fatalf("chunk %#x handed out twice", chunk)
		}
		seen[chunk] = true
		buf, off := u.Frame(d)
		if len(buf) != 2048 || off != u.RxOffset() {
			t.Fatalf("Frame of an allocated desc: len %d off %d", len(buf), off)
		}
		got[i] = d
	}
	if u.FreeFrames() != 0 {
		t.Fatalf("%d free frames after allocating all", u.FreeFrames())
	}
	for range 2 {
		if d, ok := u.Alloc(); ok || d != (Desc{}) {
			t.Fatalf("Alloc on an empty stack = %+v, %v", d, ok)
		}
	}
	if rs := s.RingStats(); rs.AllocStackEmpty != 2 || rs.Allocated != 0 {
		t.Fatalf("before a batch call: %+v; want AllocStackEmpty 2 and Allocated not yet published", rs)
	}
	if s.Fill(4) != 0 {
		t.Fatal("Fill found frames the application holds")
	}
	if rs := s.RingStats(); rs.Allocated != 4 || rs.FrameStackEmpty != 1 {
		t.Fatalf("after Fill: %+v", rs)
	}

	// A written, transmitted frame returns through the completion ring.
	buf, off := u.Frame(got[0])
	pkt := []byte("copied packet")
	copy(buf[off:], pkt)
	got[0].Len = uint32(len(pkt))
	if s.Transmit(got[:1]) != 1 {
		t.Fatal("Transmit of an allocated frame refused")
	}
	sent := k.takeTx(4)
	if len(sent) != 1 || sent[0].Addr != got[0].Addr || string(u.area[sent[0].Addr:sent[0].Addr+uint64(sent[0].Len)]) != string(pkt) {
		t.Fatalf("kernel saw %+v", sent)
	}
	k.complete(sent[0].Addr)
	if s.Complete() != 1 || u.FreeFrames() != 1 {
		t.Fatalf("after Complete: %d free frames", u.FreeFrames())
	}
	// An unused frame goes back with Free; LIFO gives it out next.
	s.Free(got[1])
	d, ok := u.Alloc()
	if !ok || d.Addr != got[1].Addr {
		t.Fatalf("Alloc after Free = %+v, %v; want the freed chunk %#x", d, ok, got[1].Addr)
	}
	// Transmit without setting Len: rejected, and the chunk is back.
	if s.Transmit([]Desc{d}) != 1 || u.FreeFrames() != 2 || s.RingStats().TxRejected != 1 {
		t.Fatalf("zero-length allocated frame: free %d, stats %+v", u.FreeFrames(), s.RingStats())
	}
	if rs := s.RingStats(); rs.Allocated != 5 || rs.AllocStackEmpty != 2 || rs.Freed != 1 {
		t.Fatalf("final ring stats %+v", rs)
	}
}

// TestAllocSharedAcrossSockets: the counters belong to the UMEM, so every
// socket reports the same values, and a frame allocated through one socket's
// UMEM may be transmitted on the other.
func TestAllocSharedAcrossSockets(t *testing.T) {
	s1, _ := newFakeSocket(t, fakeSizes{frames: 2, fill: 2, comp: 2, rx: 2, tx: 2})
	s2, k2 := newFakeSocket(t, fakeSizes{frames: 2, fill: 2, comp: 2, rx: 2, tx: 2})
	u := s1.umem
	s2.umem = u // s2 shares s1's UMEM (its own rings, as on another device)
	u.sockets = append(u.sockets, s2)
	d, _ := u.Alloc()
	u.Alloc()
	u.Alloc()
	d.Len = 60
	if s2.Transmit([]Desc{d}) != 1 || len(k2.takeTx(2)) != 1 {
		t.Fatal("frame allocated on the UMEM not transmitted by its second socket")
	}
	r1, r2 := s1.RingStats(), s2.RingStats()
	if r1.Allocated != 2 || r1.AllocStackEmpty != 1 || r1.Allocated != r2.Allocated || r1.AllocStackEmpty != r2.AllocStackEmpty {
		t.Fatalf("socket 1 %+v, socket 2 %+v", r1, r2)
	}
}

func TestAllocOnClosedUmem(t *testing.T) {
	s, _ := newFakeSocket(t, fakeSizes{frames: 2, fill: 2, comp: 2, rx: 2, tx: 2})
	s.umem.closed = true
	if _, ok := s.umem.Alloc(); ok {
		t.Fatal("Alloc on a closed UMEM succeeded")
	}
	if s.umem.FreeFrames() != 2 || s.RingStats().AllocStackEmpty != 0 {
		t.Fatal("Alloc on a closed UMEM touched the stack or counted an empty stack")
	}
}

// TestAllocCopyPathDoesNotAllocate is the separate-UMEM copy cycle: Alloc,
// Frame, copy, Transmit, the kernel completes, Complete; plus Alloc on an
// empty stack and Free.
func TestAllocCopyPathDoesNotAllocate(t *testing.T) {
	s, k := newFakeSocket(t, fakeSizes{frames: 128, fill: 64, comp: 128, rx: 64, tx: 128})
	s.kick = func(int, bool) syscall.Errno { return 0 }
	u := s.Umem()
	pkt := make([]byte, 1300)
	descs := make([]Desc, 64)
	allocs := testing.AllocsPerRun(100, func() {
		for i := range descs {
			d, ok := u.Alloc()
			if !ok {
				t.Fatal("Alloc failed")
			}
			buf, off := u.Frame(d)
			d.Len = uint32(copy(buf[off:], pkt))
			descs[i] = d
		}
		s.Transmit(descs)
		kernelCompleteAll(k, nil)
		s.Complete()
		if d, ok := u.Alloc(); ok {
			s.Free(d)
		}
	})
	if allocs != 0 {
		t.Fatalf("copy path allocates %.1f times per cycle", allocs)
	}
	for range u.FreeFrames() {
		u.Alloc()
	}
	allocs = testing.AllocsPerRun(100, func() {
		if _, ok := u.Alloc(); ok {
			t.Fatal("Alloc on an empty stack succeeded")
		}
	})
	if allocs != 0 {
		t.Fatalf("failing Alloc allocates %.1f times", allocs)
	}
	if rs := s.RingStats(); rs.Transmitted == 0 || rs.AllocStackEmpty < 100 {
		t.Fatalf("ring stats %+v", rs)
	}
}
