package xsk

import (
	"syscall"
	"testing"
	"unsafe"
)

// Rings in plain memory. The kernel's side of every ring is played by a
// second ring view over the same memory with the opposite role, so both
// halves of the index protocol run through the same code.

const (
	fakeProducerOff = 0
	fakeConsumerOff = 64
	fakeFlagsOff    = 128
	fakeDescOff     = 192
)

var fakeOffsets = ringOffsets{Producer: fakeProducerOff, Consumer: fakeConsumerOff, Desc: fakeDescOff, Flags: fakeFlagsOff}

// fakeRingMem returns 8-byte aligned memory for a ring of size entries of esz
// bytes, with the producer and consumer words preset to start.
func fakeRingMem(size uint32, esz uintptr, start uint32) []byte {
	words := make([]uint64, (fakeDescOff+uintptr(size)*esz+7)/8)
	mem := unsafe.Slice((*byte)(unsafe.Pointer(&words[0])), len(words)*8)
	*(*uint32)(unsafe.Pointer(&mem[fakeProducerOff])) = start
	*(*uint32)(unsafe.Pointer(&mem[fakeConsumerOff])) = start
	return mem
}

func setFlags(mem []byte, v uint32) { *(*uint32)(unsafe.Pointer(&mem[fakeFlagsOff])) = v }

// fakeKernel is the kernel's view of a socket's four rings.
type fakeKernel struct {
	fill, comp        ring[uint64] // kernel consumes fill, produces completions
	rx, tx            ring[xdpDesc]
	fillMem, compMem  []byte
	rxMem, txMem      []byte
	kicks             []bool // true = TX kick
	kickErr           syscall.Errno
	txPerKick         uint32 // TX descriptors the fake kernel consumes on each TX kick (0: none)
	moreAgainWhenLeft bool   // answer EAGAIN when TX entries remain after a kick (copy mode)
}

type fakeSizes struct {
	frames, frameSize, headroom int
	fill, comp, rx, tx          uint32
	start                       uint32 // initial ring index, to test uint32 wraparound
}

func newFakeSocket(t testing.TB, sz fakeSizes) (*Socket, *fakeKernel) {
	t.Helper()
	if sz.frameSize == 0 {
		sz.frameSize = 2048
	}
	area := make([]byte, sz.frames*sz.frameSize)
	u := newUmemOver(area, UmemConfig{NumFrames: sz.frames, FrameSize: sz.frameSize, Headroom: sz.headroom, FillSize: int(sz.fill), CompSize: int(sz.comp)})
	k := &fakeKernel{
		fillMem: fakeRingMem(sz.fill, 8, sz.start),
		compMem: fakeRingMem(sz.comp, 8, sz.start),
		rxMem:   fakeRingMem(sz.rx, 16, sz.start),
		txMem:   fakeRingMem(sz.tx, 16, sz.start),
	}
	q := &queueRings{ifindex: 1, refs: 1}
	s := &Socket{fd: -1, ifindex: 1, umem: u, q: q, needWakeup: true}
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(initRing(&q.fill, k.fillMem, fakeOffsets, sz.fill, true))
	must(initRing(&q.comp, k.compMem, fakeOffsets, sz.comp, false))
	must(initRing(&s.rx, k.rxMem, fakeOffsets, sz.rx, false))
	must(initRing(&s.tx, k.txMem, fakeOffsets, sz.tx, true))
	must(initRing(&k.fill, k.fillMem, fakeOffsets, sz.fill, false))
	must(initRing(&k.comp, k.compMem, fakeOffsets, sz.comp, true))
	must(initRing(&k.rx, k.rxMem, fakeOffsets, sz.rx, true))
	must(initRing(&k.tx, k.txMem, fakeOffsets, sz.tx, false))
	s.kick = k.kick
	u.sockets = []*Socket{s}
	u.queues = []*queueRings{q}
	return s, k
}

func (k *fakeKernel) kick(fd int, tx bool) syscall.Errno {
	k.kicks = append(k.kicks[:len(k.kicks):len(k.kicks)], tx)
	if tx && k.txPerKick > 0 {
		k.takeTx(int(k.txPerKick))
		if k.moreAgainWhenLeft && k.tx.available(1) > 0 {
			return syscall.EAGAIN
		}
	}
	return k.kickErr
}

// takeFill consumes up to n fill entries as a driver would.
func (k *fakeKernel) takeFill(n int) []uint64 {
	avail := k.fill.available(uint32(n))
	if avail > uint32(n) {
		avail = uint32(n)
	}
	out := make([]uint64, avail)
	for i := range out {
		out[i] = *k.fill.at(k.fill.cachedCons + uint32(i))
	}
	k.fill.release(avail)
	return out
}

// deliver produces RX descriptors.
func (k *fakeKernel) deliver(descs ...xdpDesc) int {
	n := k.rx.free(uint32(len(descs)))
	if n > uint32(len(descs)) {
		n = uint32(len(descs))
	}
	for i := uint32(0); i < n; i++ {
		*k.rx.at(k.rx.cachedProd + i) = descs[i]
	}
	k.rx.submit(n)
	return int(n)
}

// takeTx consumes up to n TX descriptors.
func (k *fakeKernel) takeTx(n int) []xdpDesc {
	avail := k.tx.available(uint32(n))
	if avail > uint32(n) {
		avail = uint32(n)
	}
	out := make([]xdpDesc, avail)
	for i := range out {
		out[i] = *k.tx.at(k.tx.cachedCons + uint32(i))
	}
	k.tx.release(avail)
	return out
}

// complete produces completion entries.
func (k *fakeKernel) complete(addrs ...uint64) {
	n := k.comp.free(uint32(len(addrs)))
	if n < uint32(len(addrs)) {
		panic("fake completion ring full")
	}
	for i, a := range addrs {
		*k.comp.at(k.comp.cachedProd + uint32(i)) = a
	}
	k.comp.submit(uint32(len(addrs)))
}

func TestRingWraparound(t *testing.T) {
	for _, start := range []uint32{0, 5, 0xFFFFFFF0} {
		mem := fakeRingMem(8, 8, start)
		var prod, cons ring[uint64]
		if err := initRing(&prod, mem, fakeOffsets, 8, true); err != nil {
			t.Fatal(err)
		}
		if err := initRing(&cons, mem, fakeOffsets, 8, false); err != nil {
			t.Fatal(err)
		}
		next, want := uint64(0), uint64(0)
		for round := 0; round < 200; round++ {
			batch := uint32(round%11 + 1)
			n := prod.free(batch)
			if n > batch {
				n = batch
			}
			for i := uint32(0); i < n; i++ {
				*prod.at(prod.cachedProd + i) = next
				next++
			}
			prod.submit(n)
			take := uint32(round%5 + 1)
			m := cons.available(take)
			if m > take {
				m = take
			}
			for i := uint32(0); i < m; i++ {
				if got := *cons.at(cons.cachedCons + i); got != want {
					t.Fatalf("start %#x round %d: entry %d, want %d", start, round, got, want)
				}
				want++
			}
			cons.release(m)
			if inFlight := next - want; inFlight > 8 {
				t.Fatalf("start %#x: %d entries in flight in an 8-entry ring", start, inFlight)
			}
		}
		if want < 150 {
			t.Fatalf("start %#x: only %d entries passed through", start, want)
		}
	}
}

func TestRingCachedIndexRefresh(t *testing.T) {
	mem := fakeRingMem(16, 8, 0)
	var prod, peer ring[uint64]
	if err := initRing(&prod, mem, fakeOffsets, 16, true); err != nil {
		t.Fatal(err)
	}
	if err := initRing(&peer, mem, fakeOffsets, 16, false); err != nil {
		t.Fatal(err)
	}
	prod.submit(prod.free(16)) // ring full
	if got := prod.free(1); got != 0 {
		t.Fatalf("free on a full ring = %d", got)
	}
	peer.available(16)
	peer.release(4) // consumer frees 4
	// The cached view shows 0 free; asking for 1 must reload and see 4.
	if got := prod.free(1); got != 4 {
		t.Fatalf("free after consumer released 4 = %d, want 4", got)
	}
	peer.release(4) // 8 free now, but the cache says 4 and satisfies want=2
	if got := prod.free(2); got != 4 {
		t.Fatalf("free(2) reloaded the consumer index although the cache sufficed: %d", got)
	}
	if got := prod.free(5); got != 8 {
		t.Fatalf("free(5) = %d, want reload to 8", got)
	}
	if got := prod.refreshFree(); got != 8 {
		t.Fatalf("refreshFree = %d", got)
	}
	// Consumer side: available reloads only when the cache shows too few.
	var cons ring[uint64]
	if err := initRing(&cons, mem, fakeOffsets, 16, false); err != nil {
		t.Fatal(err)
	}
	if got := cons.available(1); got != 8 {
		t.Fatalf("available = %d, want 8", got)
	}
	prod.submit(2)
	if got := cons.available(8); got != 8 {
		t.Fatalf("available(8) reloaded although the cache sufficed: %d", got)
	}
	if got := cons.available(9); got != 10 {
		t.Fatalf("available(9) = %d, want 10", got)
	}
}

func TestInitRingRejectsBadLayout(t *testing.T) {
	mem := fakeRingMem(8, 8, 0)
	var r ring[uint64]
	if err := initRing(&r, mem, fakeOffsets, 6, true); err == nil {
		t.Fatal("size 6 accepted")
	}
	if err := initRing(&r, mem, fakeOffsets, 16, true); err == nil {
		t.Fatal("16 entries accepted in memory for 8")
	}
	bad := fakeOffsets
	bad.Consumer = 2
	if err := initRing(&r, mem, bad, 8, true); err == nil {
		t.Fatal("misaligned consumer offset accepted")
	}
}
