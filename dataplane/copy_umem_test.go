package dataplane

import (
	"bytes"
	"errors"
	"net/netip"
	"testing"

	"github.com/teredorelay/teredorelay/relay"
	"github.com/teredorelay/teredorelay/xsk"
)

// umemSocket is a transmit-only fake socket over a real *xsk.Umem (plain
// anonymous memory, no AF_XDP socket): Frame and the allocator are the real
// ones, Transmit and Free record the descriptors.
type umemSocket struct {
	u     *xsk.Umem
	tx    []xsk.Desc
	freed []xsk.Desc
}

func newUmemSocket(t testing.TB, frames int) *umemSocket {
	t.Helper()
	u, err := xsk.NewUmem(xsk.UmemConfig{NumFrames: frames, FrameSize: frameSize, Headroom: 64})
	if errors.Is(err, xsk.ErrUnsupported) {
		t.Skip("xsk.NewUmem needs Linux")
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { u.Close() })
	return &umemSocket{u: u, tx: make([]xsk.Desc, 0, 4*BatchSize), freed: make([]xsk.Desc, 0, 4*BatchSize)}
}

func (s *umemSocket) Fill(int) int                   { return 0 }
func (s *umemSocket) Receive([]xsk.Desc) int         { return 0 }
func (s *umemSocket) Transmit(d []xsk.Desc) int      { s.tx = append(s.tx, d...); return len(d) }
func (s *umemSocket) Complete() int                  { return 0 }
func (s *umemSocket) Free(d xsk.Desc)                { s.freed = append(s.freed, d) }
func (s *umemSocket) FD() int                        { return -1 }
func (s *umemSocket) Frame(d xsk.Desc) ([]byte, int) { return s.u.Frame(d) }

// port is a two-armed port over the UMEM with its real allocator.
func (s *umemSocket) port(name string) Port {
	return Port{Name: name, Socket: s, UMEM: s.u, Receive: true, Alloc: s.u.Alloc}
}

func (s *umemSocket) bytes(d xsk.Desc) []byte {
	buf, off := s.u.Frame(d)
	return buf[off : off+int(d.Len)]
}

// separateUMEMs is a two-armed worker whose IPv4 side (port 0) is a fake
// receiving socket and whose IPv6 side (port 1) is a real UMEM of frames
// frames, so that decapsulated packets are copied with xsk.Umem.Alloc.
func separateUMEMs(t testing.TB, frames int, r Relay) (*Worker, *fakeSocket, *umemSocket) {
	t.Helper()
	v4, v6 := newFakeSocket(BatchSize+4), newUmemSocket(t, frames)
	w, err := NewWorker(WorkerConfig{
		Ports: []Port{{Name: "a", Socket: v4, UMEM: v4, Receive: true}, v6.port("b")},
		Relay: r, Hops: hops(ifA, ifB), CPU: -1,
	})
	if err != nil {
		t.Fatal(err)
	}
	return w, v4, v6
}

// TestSeparateUMEMCopyWithUmemAlloc: a decapsulated packet crosses to the
// other UMEM through xsk.Umem.Alloc: exact bytes, placed at the UMEM's
// receive offset (headroom kept), the received frame released, and the
// counters say "copied", not "same UMEM".
func TestSeparateUMEMCopyWithUmemAlloc(t *testing.T) {
	w, v4, v6 := separateUMEMs(t, 4, &fakeRelay{decap: relay.ToIPv6})
	dst := netip.MustParseAddr("2a00::1")
	in := v4.put(0, ipv4Frame(0, dst))
	w.Step()
	c := w.Counters()
	if len(v6.tx) != 1 || c.Events[ForwardedCopied] != 1 || c.Events[ForwardedZeroCopy] != 0 || c.TxFrames[1] != 1 {
		t.Fatalf("tx %v counters %+v", v6.tx, c)
	}
	if len(v4.freed) != 1 || v4.freed[0] != in || len(v6.freed) != 0 {
		t.Fatalf("freed: ingress %v, egress %v", v4.freed, v6.freed)
	}
	out := v6.tx[0]
	if got := int(out.Addr % frameSize); got != v6.u.RxOffset() {
		t.Fatalf("copy starts at chunk+%d, want the receive offset %d", got, v6.u.RxOffset())
	}
	want := append([]byte{}, macGW[:]...)
	want = append(want, macPortB[:]...)
	want = append(want, 0x86, 0xdd)
	want = append(want, ipv6Packet(dst)...)
	if got := v6.bytes(out); !bytes.Equal(got, want) {
		t.Fatalf("egress frame\n got % x\nwant % x", got, want)
	}
	if v6.u.FreeFrames() != 3 {
		t.Fatalf("egress UMEM has %d free frames, want 3", v6.u.FreeFrames())
	}
}

// TestSeparateUMEMStackEmptyCountsDrop: with two free frames on the egress
// UMEM, the third copy of a batch is dropped as copy_no_frame, its received
// frame is released, and the UMEM counts the failed Alloc.
func TestSeparateUMEMStackEmptyCountsDrop(t *testing.T) {
	w, v4, v6 := separateUMEMs(t, 2, &fakeRelay{decap: relay.ToIPv6})
	for i := range 3 {
		v4.put(i, ipv4Frame(0, netip.MustParseAddr("2a00::1")))
	}
	w.Step()
	c := w.Counters()
	if len(v6.tx) != 2 || c.Events[ForwardedCopied] != 2 || c.Events[DropCopyNoFrame] != 1 || c.TxFrames[1] != 2 {
		t.Fatalf("tx %v counters %+v", v6.tx, c.Events)
	}
	if len(v4.freed) != 3 {
		t.Fatalf("%d of 3 received frames released", len(v4.freed))
	}
	if v6.tx[0].Addr/frameSize == v6.tx[1].Addr/frameSize {
		t.Fatalf("two packets copied into one chunk: %v", v6.tx)
	}
	if _, ok := v6.u.Alloc(); ok {
		t.Fatal("egress UMEM still had a frame")
	}
}

// TestSeparateUMEMFullSizeEncapCopied: a full-size IPv6 frame (it filled the
// ingress chunk behind the receive offset) grows by 28 bytes of IPv4/UDP and
// 4 bytes of VLAN tag; it no longer fits behind the egress UMEM's receive
// offset, so the copy starts earlier in the chunk and still ends inside it.
func TestSeparateUMEMFullSizeEncapCopied(t *testing.T) {
	v6in, v4out := newFakeSocket(4), newUmemSocket(t, 4)
	w, err := NewWorker(WorkerConfig{
		Ports: []Port{v4out.port("a"), {Name: "b", Socket: v6in, UMEM: v6in, Receive: true}},
		Relay: &fakeRelay{encap: relay.ToIPv4}, Hops: hops(ifA, ifB), CPU: -1,
	})
	if err != nil {
		t.Fatal(err)
	}
	frame := ipv6Frame(netip.MustParseAddr("2001:0:c000:201::9"))
	copy(frame, macPortB[:]) // received on port b
	for len(frame) < frameSize-rxOffset {
		frame = append(frame, byte(len(frame)))
	}
	in := v6in.put(0, frame)
	w.Step()
	c := w.Counters()
	if len(v4out.tx) != 1 || c.Events[ForwardedCopied] != 1 || c.Events[DropCopyTooBig] != 0 {
		t.Fatalf("tx %v counters %+v", v4out.tx, c.Events)
	}
	out := v4out.tx[0]
	if wantLen := ethVLANLen + 28 + len(frame) - ethLen; int(out.Len) != wantLen || out.Addr%frameSize+uint64(out.Len) != frameSize {
		t.Fatalf("copy %+v: want %d bytes ending at the chunk end", out, wantLen)
	}
	got := v4out.bytes(out)
	wantEth(t, got, macPeer, macVLAN, 100, etherTypeIPv4)
	l3 := v6in.umem[in.Addr+ethLen-28 : in.Addr+uint64(in.Len)] // IPv4+UDP written by Encap, then the IPv6 packet
	if !bytes.Equal(got[ethVLANLen:], l3) {
		t.Fatal("copied IPv4 packet differs from the encapsulated one")
	}
}

// TestSeparateUMEMCopyAllocatesNothing runs full batches through the copy
// path with the real allocator.
func TestSeparateUMEMCopyAllocatesNothing(t *testing.T) {
	const runs = 100
	w, v4, v6 := separateUMEMs(t, (runs+1)*BatchSize, &fakeRelay{decap: relay.ToIPv6})
	for i := range BatchSize {
		v4.put(i, ipv4Frame(0, netip.MustParseAddr("2a00::1")))
	}
	allocs := testing.AllocsPerRun(runs, func() {
		v4.reset()
		v6.tx = v6.tx[:0]
		if n := w.Step(); n != BatchSize {
			t.Fatalf("Step received %d", n)
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per batch of %d copies", allocs, BatchSize)
	}
	if c := w.Counters(); len(v6.tx) != BatchSize || c.Events[ForwardedCopied] != (runs+1)*BatchSize || c.Events[DropCopyNoFrame] != 0 {
		t.Fatalf("tx %d, counters %+v", len(v6.tx), c.Events)
	}
}
