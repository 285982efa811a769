package xsk

import (
	"syscall"
	"testing"
)

// Ring operations on plain memory, ns per batch of 64 descriptors.

func BenchmarkRingBatch64(b *testing.B) {
	mem := fakeRingMem(2048, 16, 0)
	var prod, cons ring[xdpDesc]
	if err := initRing(&prod, mem, fakeOffsets, 2048, true); err != nil {
		b.Fatal(err)
	}
	if err := initRing(&cons, mem, fakeOffsets, 2048, false); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		n := prod.free(64)
		if n > 64 {
			n = 64
		}
		for j := uint32(0); j < n; j++ {
			*prod.at(prod.cachedProd + j) = xdpDesc{Addr: uint64(j) << 11, Len: 64}
		}
		prod.submit(n)
		m := cons.available(64)
		if m > 64 {
			m = 64
		}
		var sum uint64
		for j := uint32(0); j < m; j++ {
			sum += cons.at(cons.cachedCons + j).Addr
		}
		cons.release(m)
		_ = sum
	}
}

// benchSocket returns a socket over plain memory with 2048-entry rings, the
// fake kernel's need_wakeup flags clear (no syscalls, as in zero-copy steady
// state).
func benchSocket(b *testing.B) (*Socket, *fakeKernel) {
	s, k := newFakeSocket(b, fakeSizes{frames: 8192, fill: 2048, comp: 2048, rx: 2048, tx: 2048})
	s.kick = func(int, bool) syscall.Errno { return 0 }
	return s, k
}

// BenchmarkFill64: Fill(64) plus the fake driver taking the 64 entries and
// handing the chunks back to the stack.
func BenchmarkFill64(b *testing.B) {
	s, k := benchSocket(b)
	b.ReportAllocs()
	for b.Loop() {
		s.Fill(64)
		n := k.fill.available(64)
		for j := uint32(0); j < n; j++ {
			s.umem.stack.push(*k.fill.at(k.fill.cachedCons + j))
		}
		k.fill.release(n)
	}
}

// BenchmarkReceive64: the fake kernel delivers 64 descriptors, Receive takes
// them, Free returns every chunk.
func BenchmarkReceive64(b *testing.B) {
	s, k := benchSocket(b)
	descs := make([]Desc, 64)
	b.ReportAllocs()
	for b.Loop() {
		free := k.rx.free(64)
		if free > 64 {
			free = 64
		}
		for j := uint32(0); j < free; j++ {
			*k.rx.at(k.rx.cachedProd + j) = xdpDesc{Addr: uint64(j)<<11 + 256, Len: 64}
		}
		k.rx.submit(free)
		n := s.Receive(descs)
		for _, d := range descs[:n] {
			s.umem.stack.pop()
			s.Free(d)
		}
	}
}

// BenchmarkTransmitComplete64: Transmit 64 (encap offset), the fake kernel
// completes them, Complete reclaims the chunks.
func BenchmarkTransmitComplete64(b *testing.B) {
	s, k := benchSocket(b)
	descs := make([]Desc, 64)
	b.ReportAllocs()
	for b.Loop() {
		for j := range descs {
			a, _ := s.umem.stack.pop()
			descs[j] = Desc{Addr: a + 256 - 28, Len: 92}
		}
		s.Transmit(descs)
		kernelCompleteAll(k, nil)
		s.Complete()
	}
}

// BenchmarkForwardCycle64 is one relay loop iteration: Fill, Receive,
// Frame, Transmit, Complete (fake kernel moves fill->RX and TX->completion).
func BenchmarkForwardCycle64(b *testing.B) {
	s, k := benchSocket(b)
	descs := make([]Desc, 64)
	b.ReportAllocs()
	for b.Loop() {
		s.Fill(64)
		kernelEcho(k, nil, nil, nil, 64)
		n := s.Receive(descs)
		for j := range descs[:n] {
			buf, off := s.Frame(descs[j])
			buf[off-28] = 0x45
			descs[j].Addr -= 28
			descs[j].Len += 28
		}
		s.Transmit(descs[:n])
		kernelCompleteAll(k, nil)
		s.Complete()
	}
}

// BenchmarkAllocCopyTransmit64: the separate-UMEM copy path for 64 packets of
// 1280 bytes: Alloc, copy into the frame, Transmit, fake completion, Complete.
func BenchmarkAllocCopyTransmit64(b *testing.B) {
	s, k := benchSocket(b)
	u := s.umem
	pkt := make([]byte, 1280)
	descs := make([]Desc, 64)
	b.ReportAllocs()
	for b.Loop() {
		for j := range descs {
			d, _ := u.Alloc()
			buf, off := u.Frame(d)
			d.Len = uint32(copy(buf[off:], pkt))
			descs[j] = d
		}
		s.Transmit(descs)
		kernelCompleteAll(k, nil)
		s.Complete()
	}
}
