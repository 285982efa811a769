package dataplane

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"slices"
	"testing"

	"github.com/teredorelay/teredorelay/nexthop"
	"github.com/teredorelay/teredorelay/relay"
	"github.com/teredorelay/teredorelay/xsk"
)

const (
	frameSize = 2048
	rxOffset  = 64 + xsk.KernelHeadroom // where "the kernel" puts received frames
)

// fakeSocket is an in-memory AF_XDP socket over its own UMEM.
type fakeSocket struct {
	umem    []byte
	rx      []xsk.Desc
	dstMACs [][6]byte // the frames' destination MACs as put, for reset
	rxPos   int
	tx      []xsk.Desc
	txLimit int // descriptors one Transmit takes; -1: all
	freed   []xsk.Desc
	next    uint64 // next chunk handed out by alloc
}

func newFakeSocket(frames int) *fakeSocket {
	return &fakeSocket{
		umem: make([]byte, frames*frameSize), txLimit: -1,
		tx: make([]xsk.Desc, 0, 4*BatchSize), freed: make([]xsk.Desc, 0, 4*BatchSize),
	}
}

func (f *fakeSocket) Fill(n int) int { return n }
func (f *fakeSocket) Receive(d []xsk.Desc) int {
	n := copy(d, f.rx[f.rxPos:])
	f.rxPos += n
	return n
}
func (f *fakeSocket) Transmit(d []xsk.Desc) int {
	n := len(d)
	if f.txLimit >= 0 && n > f.txLimit {
		n = f.txLimit
	}
	f.tx = append(f.tx, d[:n]...)
	return n
}
func (f *fakeSocket) Complete() int           { return 0 }
func (f *fakeSocket) Free(d xsk.Desc)         { f.freed = append(f.freed, d) }
func (f *fakeSocket) FD() int                 { return -1 }
func (f *fakeSocket) bytes(d xsk.Desc) []byte { return f.umem[d.Addr : d.Addr+uint64(d.Len)] }

// reset makes the socket receive the same frames again. The worker rewrites
// headers in place (an encapsulation overwrites the old Ethernet header); the
// destination MAC, which the worker checks, is put back.
func (f *fakeSocket) reset() {
	f.rxPos, f.tx, f.freed = 0, f.tx[:0], f.freed[:0]
	for i, d := range f.rx {
		copy(f.umem[d.Addr:], f.dstMACs[i][:])
	}
}
func (f *fakeSocket) Frame(d xsk.Desc) ([]byte, int) {
	chunk := d.Addr &^ (frameSize - 1)
	if chunk+frameSize > uint64(len(f.umem)) {
		return nil, 0
	}
	return f.umem[chunk : chunk+frameSize : chunk+frameSize], int(d.Addr - chunk)
}
func (f *fakeSocket) alloc() (xsk.Desc, bool) {
	if f.next+frameSize > uint64(len(f.umem)) {
		return xsk.Desc{}, false
	}
	d := xsk.Desc{Addr: f.next + rxOffset}
	f.next += frameSize
	return d, true
}

// put writes frame into chunk i at the receive offset and queues it for RX.
func (f *fakeSocket) put(i int, frame []byte) xsk.Desc {
	d := xsk.Desc{Addr: uint64(i*frameSize + rxOffset), Len: uint32(len(frame))}
	copy(f.umem[d.Addr:], frame)
	f.rx = append(f.rx, d)
	var mac [6]byte
	copy(mac[:], frame)
	f.dstMACs = append(f.dstMACs, mac)
	return d
}

// fakeRelay imitates the engine's offsets: Decap strips IPv4 (20) + UDP (8),
// Encap prepends 28 bytes of headroom; the verdicts are configurable.
type fakeRelay struct {
	decap, encap relay.Verdict
	calls        int
}

func (r *fakeRelay) Decap(buf []byte, off, n int) (relay.Verdict, int, int) {
	r.calls++
	return r.decap, off + 28, n - 28
}

func (r *fakeRelay) Encap(buf []byte, off, n int) (relay.Verdict, int, int) {
	r.calls++
	if r.encap != relay.ToIPv4 {
		return r.encap, 0, 0
	}
	// A 20-byte IPv4 header to the mapped client 203.0.113.9.
	h := buf[off-28 : off-8]
	clear(h)
	h[0] = 0x45
	copy(h[16:20], []byte{203, 0, 113, 9})
	return relay.ToIPv4, off - 28, n + 28
}

type fakeKernel struct{ v4, v6 [][]byte }

func (k *fakeKernel) SendIPv4(p []byte) error { k.v4 = append(k.v4, bytes.Clone(p)); return nil }
func (k *fakeKernel) SendIPv6(p []byte) error { k.v6 = append(k.v6, bytes.Clone(p)); return nil }

var (
	macPortA = [6]byte{0x02, 0, 0, 0, 0, 0x0a}
	macPortB = [6]byte{0x02, 0, 0, 0, 0, 0x0b}
	macVLAN  = [6]byte{0x02, 0, 0, 0, 0, 0x0c}
	macGW    = [6]byte{0x02, 0, 0, 0, 0, 0xee}
	macPeer  = [6]byte{0x02, 0, 0, 0, 0, 0xff}
	ifA, ifB = int32(2), int32(3)
)

// hops: IPv6 default via fe80::1 on ifB (port 1 in two-armed, unresolvable in
// one-armed since the one-armed port list is [ifA]); 2001:db8:9::/48 on-link
// on ifA without a neighbour; IPv4 default via 192.0.2.254 on ifA;
// 198.51.100.0/24 via the VLAN 100 sub-interface of ifA.
func hops(ports ...int32) *nexthop.Table {
	s := nexthop.NewState()
	s.SetLink(nexthop.Link{Index: ifA, Name: "a", MAC: macPortA, Up: true})
	s.SetLink(nexthop.Link{Index: ifB, Name: "b", MAC: macPortB, Up: true})
	s.SetLink(nexthop.Link{Index: 4, Name: "a.100", MAC: macVLAN, Up: true, VLANParent: ifA, VLANID: 100})
	s.SetRoute(nexthop.Route{Dst: netip.MustParsePrefix("::/0"), Hops: []nexthop.Gateway{{Via: netip.MustParseAddr("fe80::1"), LinkIndex: ifB}}})
	s.SetRoute(nexthop.Route{Dst: netip.MustParsePrefix("2001:db8:1::/48"), Hops: []nexthop.Gateway{{Via: netip.MustParseAddr("fe80::1"), LinkIndex: ifA}}})
	s.SetRoute(nexthop.Route{Dst: netip.MustParsePrefix("2001:db8:9::/48"), Hops: []nexthop.Gateway{{LinkIndex: ifA}}})
	s.SetRoute(nexthop.Route{Dst: netip.MustParsePrefix("2001:db8:dead::/48"), Reject: true})
	s.SetRoute(nexthop.Route{Dst: netip.MustParsePrefix("0.0.0.0/0"), Hops: []nexthop.Gateway{{Via: netip.MustParseAddr("192.0.2.254"), LinkIndex: ifA}}})
	s.SetRoute(nexthop.Route{Dst: netip.MustParsePrefix("203.0.113.0/24"), Hops: []nexthop.Gateway{{Via: netip.MustParseAddr("192.0.2.253"), LinkIndex: 4}}})
	s.SetNeighbour(nexthop.Neighbour{LinkIndex: ifB, IP: netip.MustParseAddr("fe80::1"), MAC: macGW, Usable: true})
	s.SetNeighbour(nexthop.Neighbour{LinkIndex: ifA, IP: netip.MustParseAddr("fe80::1"), MAC: macGW, Usable: true})
	s.SetNeighbour(nexthop.Neighbour{LinkIndex: ifA, IP: netip.MustParseAddr("192.0.2.254"), MAC: macGW, Usable: true})
	s.SetNeighbour(nexthop.Neighbour{LinkIndex: 4, IP: netip.MustParseAddr("192.0.2.253"), MAC: macPeer, Usable: true})
	return nexthop.NewStatic(s.Build(ports, 1))
}

// ipv4Frame is Eth (optionally 802.1Q) + a 28-byte IPv4/UDP stand-in + an IPv6
// header to dst and 8 payload bytes.
func ipv4Frame(vlan uint16, dst netip.Addr) []byte {
	var f []byte
	f = append(f, macPortA[:]...)
	f = append(f, macPeer[:]...)
	if vlan != 0 {
		f = binary.BigEndian.AppendUint16(f, etherTypeVLAN)
		f = binary.BigEndian.AppendUint16(f, vlan)
	}
	f = binary.BigEndian.AppendUint16(f, etherTypeIPv4)
	f = append(f, make([]byte, 28)...)
	return append(f, ipv6Packet(dst)...)
}

func ipv6Packet(dst netip.Addr) []byte {
	p := make([]byte, 48)
	p[0] = 0x60
	p[5] = 8
	p[6] = 59
	p[7] = 64
	copy(p[8:24], netip.MustParseAddr("2001:0:c000:201::1").AsSlice())
	copy(p[24:40], dst.AsSlice())
	return p
}

func ipv6Frame(dst netip.Addr) []byte {
	f := append([]byte{}, macPortA[:]...)
	f = append(f, macPeer[:]...)
	f = binary.BigEndian.AppendUint16(f, etherTypeIPv6)
	return append(f, ipv6Packet(dst)...)
}

func oneArmed(t testing.TB, r Relay, k KernelPath) (*Worker, *fakeSocket) {
	t.Helper()
	s := newFakeSocket(BatchSize + 4)
	w, err := NewWorker(WorkerConfig{Ports: []Port{{Name: "a", Socket: s, UMEM: s, Receive: true}}, Relay: r, Hops: hops(ifA), Kernel: k, CPU: -1})
	if err != nil {
		t.Fatal(err)
	}
	return w, s
}

func wantEth(t *testing.T, got []byte, dst, src [6]byte, vlan, et uint16) {
	t.Helper()
	want := append(append([]byte{}, dst[:]...), src[:]...)
	if vlan != 0 {
		want = binary.BigEndian.AppendUint16(want, etherTypeVLAN)
		want = binary.BigEndian.AppendUint16(want, vlan)
	}
	want = binary.BigEndian.AppendUint16(want, et)
	if !bytes.Equal(got[:len(want)], want) {
		t.Fatalf("ethernet header % x\n           want % x", got[:len(want)], want)
	}
}

func TestParseL2(t *testing.T) {
	tests := []struct {
		name  string
		frame []byte
		ok    bool
		want  l2Frame
	}{
		{"untagged IPv4", ipv4Frame(0, netip.MustParseAddr("2001:db8:1::1")), true, l2Frame{etherTypeIPv4, 0, 14}},
		{"802.1Q VLAN 100 IPv4", ipv4Frame(100, netip.MustParseAddr("2001:db8:1::1")), true, l2Frame{etherTypeIPv4, 100, 18}},
		{"untagged IPv6", ipv6Frame(netip.MustParseAddr("2001::1")), true, l2Frame{etherTypeIPv6, 0, 14}},
		{"PCP bits ignored", []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x81, 0, 0xe0, 0x07, 0x86, 0xdd}, true, l2Frame{etherTypeIPv6, 7, 18}},
		{"802.1ad + 802.1Q IPv6 (steer.c steers two tags)", []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x88, 0xa8, 0, 1, 0x81, 0, 0, 2, 0x86, 0xdd}, true, l2Frame{etherTypeIPv6, 1, 22}},
		{"802.1Q + 802.1Q IPv4", []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x81, 0, 0, 5, 0x81, 0, 0, 6, 0x08, 0x00}, true, l2Frame{etherTypeIPv4, 5, 22}},
		{"single 802.1ad tag", []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x88, 0xa8, 0, 9, 0x86, 0xdd}, true, l2Frame{etherTypeIPv6, 9, 18}},
		{"three tags reported as the third tag's EtherType", []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x88, 0xa8, 0, 1, 0x81, 0, 0, 2, 0x81, 0, 0, 3, 0x86, 0xdd}, true, l2Frame{etherTypeVLAN, 1, 22}},
		{"inner tag cut short", []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x88, 0xa8, 0, 1, 0x81, 0, 0, 2, 0x86}, false, l2Frame{}},
		{"13 bytes", make([]byte, 13), false, l2Frame{}},
		{"tag cut short", []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x81, 0, 0, 1, 0x86}, false, l2Frame{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := parseL2(tt.frame)
			if ok != tt.ok || got != tt.want {
				t.Fatalf("parseL2 = %+v, %v; want %+v, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

func FuzzParseL2(f *testing.F) {
	f.Add(ipv4Frame(100, netip.MustParseAddr("2001:db8::1")))
	f.Add(ipv6Frame(netip.MustParseAddr("2001::1")))
	f.Fuzz(func(t *testing.T, b []byte) {
		l2, ok := parseL2(b)
		if !ok {
			return
		}
		if l2.hdrLen > len(b) || (l2.hdrLen != 14 && l2.hdrLen != 18 && l2.hdrLen != 22) {
			t.Fatalf("header length %d for a %d-byte frame", l2.hdrLen, len(b))
		}
		if l2.hdrLen == 22 || (l2.hdrLen == 18 && (l2.vlan == 0 || b[12] != 0x81)) {
			return // two tags, an 802.1ad tag or priority-tagged (VID 0): putL2 writes one 802.1Q tag at most
		}
		// Round trip: writing the parsed header back reproduces the bytes
		// (PCP/DEI bits aside).
		out := make([]byte, l2.hdrLen)
		putL2(out, (*[6]byte)(b[0:6]), (*[6]byte)(b[6:12]), l2.vlan, l2.etherType)
		if l2.hdrLen == 18 {
			out[14] |= b[14] & 0xf0
		}
		if !bytes.Equal(out, b[:l2.hdrLen]) {
			t.Fatalf("round trip % x -> % x", b[:l2.hdrLen], out)
		}
	})
}

func TestDecapForwardsInPlace(t *testing.T) {
	r := &fakeRelay{decap: relay.ToIPv6}
	w, s := oneArmed(t, r, nil)
	in := s.put(0, ipv4Frame(100, netip.MustParseAddr("2001:db8:1::5")))
	if n := w.Step(); n != 1 {
		t.Fatalf("Step received %d", n)
	}
	if len(s.tx) != 1 || len(s.freed) != 0 {
		t.Fatalf("tx %v freed %v", s.tx, s.freed)
	}
	// IPv6 starts at in.Addr + 18 (tagged) + 28; the untagged header sits 14 before.
	want := xsk.Desc{Addr: in.Addr + 18 + 28 - 14, Len: 14 + 48}
	if s.tx[0] != want {
		t.Fatalf("tx desc %+v, want %+v", s.tx[0], want)
	}
	out := s.bytes(s.tx[0])
	wantEth(t, out, macGW, macPortA, 0, etherTypeIPv6)
	if !bytes.Equal(out[14:], ipv6Packet(netip.MustParseAddr("2001:db8:1::5"))) {
		t.Fatalf("IPv6 packet changed")
	}
	c := w.Counters()
	if c.RxFrames[0] != 1 || c.TxFrames[0] != 1 || c.Events[ForwardedZeroCopy] != 1 || c.Batches != 1 {
		t.Fatalf("counters %+v", c)
	}
}

// TestDecapDoubleTagged: steer.c steers frames with two VLAN tags (802.1ad +
// 802.1Q) into the socket, so the worker must find their IPv4 packet too;
// the egress header comes from the next hop (untagged here).
func TestDecapDoubleTagged(t *testing.T) {
	r := &fakeRelay{decap: relay.ToIPv6}
	w, s := oneArmed(t, r, nil)
	f := ipv4Frame(0, netip.MustParseAddr("2001:db8:1::5"))
	tagged := append(append([]byte{}, f[:12]...), 0x88, 0xa8, 0, 7, 0x81, 0, 0, 100)
	in := s.put(0, append(tagged, f[12:]...))
	w.Step()
	if r.calls != 1 || len(s.tx) != 1 || len(s.freed) != 0 {
		t.Fatalf("calls %d tx %v freed %v counters %+v", r.calls, s.tx, s.freed, w.Counters().Events)
	}
	want := xsk.Desc{Addr: in.Addr + 22 + 28 - 14, Len: 14 + 48}
	if s.tx[0] != want {
		t.Fatalf("tx desc %+v, want %+v", s.tx[0], want)
	}
	out := s.bytes(s.tx[0])
	wantEth(t, out, macGW, macPortA, 0, etherTypeIPv6)
	if !bytes.Equal(out[14:], ipv6Packet(netip.MustParseAddr("2001:db8:1::5"))) {
		t.Fatalf("IPv6 packet changed")
	}
}

func TestEncapToVLANNextHop(t *testing.T) {
	r := &fakeRelay{encap: relay.ToIPv4}
	w, s := oneArmed(t, r, nil)
	in := s.put(0, ipv6Frame(netip.MustParseAddr("2001:0:c000:201::9")))
	w.Step()
	if len(s.tx) != 1 {
		t.Fatalf("tx %v freed %v counters %+v", s.tx, s.freed, w.Counters())
	}
	// IPv4 starts 28 bytes before the IPv6 packet (in.Addr+14); the tagged header 18 before that.
	want := xsk.Desc{Addr: in.Addr + 14 - 28 - 18, Len: 18 + 28 + 48}
	if s.tx[0] != want {
		t.Fatalf("tx desc %+v, want %+v", s.tx[0], want)
	}
	wantEth(t, s.bytes(s.tx[0]), macPeer, macVLAN, 100, etherTypeIPv4)
}

func TestVerdictsThatDoNotForward(t *testing.T) {
	for _, v := range []relay.Verdict{relay.Drop, relay.SlowPath} {
		t.Run(v.String(), func(t *testing.T) {
			r := &fakeRelay{decap: v, encap: v}
			w, s := oneArmed(t, r, nil)
			a := s.put(0, ipv4Frame(0, netip.MustParseAddr("2001:db8:1::5")))
			b := s.put(1, ipv6Frame(netip.MustParseAddr("2001::1")))
			w.Step()
			if r.calls != 2 || len(s.tx) != 0 || len(s.freed) != 2 || s.freed[0] != a || s.freed[1] != b {
				t.Fatalf("calls %d tx %v freed %v", r.calls, s.tx, s.freed)
			}
			c := w.Counters()
			for reason, n := range c.Events {
				if n != 0 {
					t.Errorf("counted %v = %d: the relay counts its own verdicts", Reason(reason), n)
				}
			}
		})
	}
}

func TestL2Drops(t *testing.T) {
	arp := append(append(append([]byte{}, macPortA[:]...), macPeer[:]...), 0x08, 0x06, 0, 1)
	tests := []struct {
		name   string
		frame  []byte
		reason Reason
	}{
		{"ARP", arp, DropL2Unsupported},
		{"three VLAN tags", append(bytes.Clone(macPortA[:]), 0, 0, 0, 0, 0, 0, 0x88, 0xa8, 0, 1, 0x81, 0, 0, 2, 0x81, 0, 0, 3, 0x86, 0xdd), DropL2Unsupported},
		{"runt", make([]byte, 10), DropL2Malformed},
		// Issue 10: frames for another host are dropped, not relayed.
		{"another host's MAC", append(bytes.Clone(macPeer[:]), ipv6Frame(netip.MustParseAddr("2001::1"))[6:]...), DropL2NotOurMAC},
		{"broadcast MAC", append([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, ipv4Frame(0, netip.MustParseAddr("2001:db8:1::1"))[6:]...), DropL2NotOurMAC},
		{"another port's MAC", append(bytes.Clone(macPortB[:]), ipv6Frame(netip.MustParseAddr("2001::1"))[6:]...), DropL2NotOurMAC},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &fakeRelay{decap: relay.ToIPv6, encap: relay.ToIPv4}
			w, s := oneArmed(t, r, nil)
			d := s.put(0, tt.frame)
			w.Step()
			if r.calls != 0 || len(s.tx) != 0 || len(s.freed) != 1 || s.freed[0] != d {
				t.Fatalf("calls %d tx %v freed %v", r.calls, s.tx, s.freed)
			}
			if c := w.Counters(); c.Events[tt.reason] != 1 {
				t.Fatalf("%v = %d, want 1 (%+v)", tt.reason, c.Events[tt.reason], c.Events)
			}
		})
	}
}

// TestDescriptorPastChunkEndFreed: a descriptor whose length runs past the
// end of its chunk is dropped, and its chunk still goes back (no leak).
func TestDescriptorPastChunkEndFreed(t *testing.T) {
	w, s := oneArmed(t, &fakeRelay{decap: relay.ToIPv6}, nil)
	d := s.put(0, ipv4Frame(0, netip.MustParseAddr("2001:db8:1::5")))
	s.rx[0].Len = frameSize - rxOffset + 1
	w.Step()
	if len(s.tx) != 0 || len(s.freed) != 1 || s.freed[0].Addr != d.Addr {
		t.Fatalf("tx %v freed %v", s.tx, s.freed)
	}
	if c := w.Counters(); c.Events[DropL2Malformed] != 1 {
		t.Fatalf("counters %+v", c.Events)
	}
}

func TestNextHopOutcomes(t *testing.T) {
	tests := []struct {
		name   string
		dst    string
		reason Reason
		kernel bool
	}{
		{"unresolved on-link neighbour goes to the kernel", "2001:db8:9::7", KernelUnresolved, true},
		{"route via a link without a socket goes to the kernel", "2001:db8:5::1", KernelOtherLink, true},
		{"reject route", "2001:db8:dead::1", DropNoRoute, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := &fakeKernel{}
			w, s := oneArmed(t, &fakeRelay{decap: relay.ToIPv6}, k)
			d := s.put(0, ipv4Frame(0, netip.MustParseAddr(tt.dst)))
			w.Step()
			if len(s.tx) != 0 || len(s.freed) != 1 || s.freed[0] != d {
				t.Fatalf("tx %v freed %v", s.tx, s.freed)
			}
			if c := w.Counters(); c.Events[tt.reason] != 1 {
				t.Fatalf("%v = %d (%+v)", tt.reason, c.Events[tt.reason], c.Events)
			}
			if tt.kernel != (len(k.v6) == 1) {
				t.Fatalf("kernel got %d packets", len(k.v6))
			}
			if tt.kernel && !bytes.Equal(k.v6[0], ipv6Packet(netip.MustParseAddr(tt.dst))) {
				t.Fatalf("kernel packet % x", k.v6[0])
			}
		})
	}
}

func TestTwoArmedSharedUMEM(t *testing.T) {
	v4 := newFakeSocket(8)
	v6 := &fakeSocket{umem: v4.umem, txLimit: -1} // same UMEM, other socket
	w, err := NewWorker(WorkerConfig{
		Ports: []Port{{Name: "a", Socket: v4, UMEM: "u", Receive: true}, {Name: "b", Socket: v6, UMEM: "u", Receive: true}},
		Relay: &fakeRelay{decap: relay.ToIPv6}, Hops: hops(ifA, ifB), CPU: -1,
	})
	if err != nil {
		t.Fatal(err)
	}
	in := v4.put(0, ipv4Frame(0, netip.MustParseAddr("2a00::1")))
	w.Step()
	if len(v4.tx) != 0 || len(v6.tx) != 1 || v6.tx[0].Addr != in.Addr+14+28-14 {
		t.Fatalf("v4 tx %v, v6 tx %v", v4.tx, v6.tx)
	}
	wantEth(t, v6.bytes(v6.tx[0]), macGW, macPortB, 0, etherTypeIPv6)
	if c := w.Counters(); c.TxFrames[1] != 1 || c.RxFrames[0] != 1 || c.Events[ForwardedZeroCopy] != 1 {
		t.Fatalf("counters %+v", c)
	}
}

func TestTwoArmedSeparateUMEMCopies(t *testing.T) {
	v4, v6 := newFakeSocket(8), newFakeSocket(8)
	for _, alloc := range []bool{true, false} {
		v4.reset()
		v4.rx = v4.rx[:0]
		v6.reset()
		p6 := Port{Name: "b", Socket: v6, UMEM: v6, Receive: true}
		if alloc {
			p6.Alloc = v6.alloc
		}
		w, err := NewWorker(WorkerConfig{
			Ports: []Port{{Name: "a", Socket: v4, UMEM: v4, Receive: true}, p6},
			Relay: &fakeRelay{decap: relay.ToIPv6}, Hops: hops(ifA, ifB), CPU: -1,
		})
		if err != nil {
			t.Fatal(err)
		}
		in := v4.put(0, ipv4Frame(0, netip.MustParseAddr("2a00::1")))
		w.Step()
		c := w.Counters()
		if len(v4.freed) != 1 || v4.freed[0] != in {
			t.Fatalf("alloc=%v: the received frame was not released: %v", alloc, v4.freed)
		}
		if !alloc {
			if len(v6.tx) != 0 || c.Events[DropCopyNoFrame] != 1 {
				t.Fatalf("without an allocator: tx %v counters %+v", v6.tx, c.Events)
			}
			continue
		}
		if len(v6.tx) != 1 || c.Events[ForwardedCopied] != 1 {
			t.Fatalf("tx %v counters %+v", v6.tx, c.Events)
		}
		out := v6.bytes(v6.tx[0])
		wantEth(t, out, macGW, macPortB, 0, etherTypeIPv6)
		if !bytes.Equal(out[14:], ipv6Packet(netip.MustParseAddr("2a00::1"))) {
			t.Fatalf("copied packet % x", out)
		}
	}
}

func TestTxRingFullFreesAndCounts(t *testing.T) {
	w, s := oneArmed(t, &fakeRelay{decap: relay.ToIPv6}, nil)
	s.txLimit = 1
	for i := range 3 {
		s.put(i, ipv4Frame(0, netip.MustParseAddr("2001:db8:1::5")))
	}
	w.Step()
	c := w.Counters()
	if len(s.tx) != 1 || len(s.freed) != 2 || c.Events[DropTxRingFull] != 2 || c.TxFrames[0] != 1 {
		t.Fatalf("tx %d freed %d counters %+v", len(s.tx), len(s.freed), c)
	}
}

func TestNewWorkerChecks(t *testing.T) {
	s := newFakeSocket(1)
	for name, cfg := range map[string]WorkerConfig{
		"no ports":     {Relay: &fakeRelay{}, Hops: hops()},
		"no relay":     {Ports: []Port{{Socket: s, Receive: true}}, Hops: hops()},
		"no receiver":  {Ports: []Port{{Socket: s}}, Relay: &fakeRelay{}, Hops: hops()},
		"three ports":  {Ports: make([]Port, 3), Relay: &fakeRelay{}, Hops: hops()},
		"nil receiver": {Ports: []Port{{Receive: true}}, Relay: &fakeRelay{}, Hops: hops()},
	} {
		if _, err := NewWorker(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// batchWorker returns a worker whose socket holds a full batch alternating
// decapsulated and encapsulated frames.
func batchWorker(t testing.TB) (*Worker, *fakeSocket) {
	w, s := oneArmed(t, &fakeRelay{decap: relay.ToIPv6, encap: relay.ToIPv4}, &fakeKernel{})
	for i := range BatchSize {
		if i%2 == 0 {
			s.put(i, ipv4Frame(0, netip.MustParseAddr("2001:db8:1::5")))
		} else {
			s.put(i, ipv6Frame(netip.MustParseAddr("2001:0:c000:201::9")))
		}
	}
	return w, s
}

func TestStepAllocatesNothing(t *testing.T) {
	w, s := batchWorker(t)
	allocs := testing.AllocsPerRun(100, func() {
		s.reset()
		if n := w.Step(); n != BatchSize {
			t.Fatalf("Step received %d", n)
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per batch of %d", allocs, BatchSize)
	}
	if len(s.tx) != BatchSize {
		t.Fatalf("forwarded %d of %d", len(s.tx), BatchSize)
	}
}

func BenchmarkStep(b *testing.B) {
	w, s := batchWorker(b)
	b.ReportAllocs()
	for b.Loop() {
		s.reset()
		w.Step()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*BatchSize), "ns/frame")
}

// batchRecorder is a fakeRelay that batches its lookups and records the
// calls the worker makes, in order.
type batchRecorder struct {
	fakeRelay
	log []string
}

func (r *batchRecorder) BeginBatch() { r.log = append(r.log, "begin") }
func (r *batchRecorder) Resolve()    { r.log = append(r.log, "resolve") }
func (r *batchRecorder) EndBatch()   { r.log = append(r.log, "end") }
func (r *batchRecorder) PrepareDecap(buf []byte, off, n int) bool {
	r.log = append(r.log, "prepare decap "+netip.AddrFrom16([16]byte(buf[off+28+24:off+28+40])).String())
	return true
}
func (r *batchRecorder) PrepareEncap(buf []byte, off, n int) bool {
	r.log = append(r.log, "prepare encap "+netip.AddrFrom16([16]byte(buf[off+24:off+40])).String())
	return true
}
func (r *batchRecorder) Decap(buf []byte, off, n int) (relay.Verdict, int, int) {
	r.log = append(r.log, "decap")
	return r.fakeRelay.Decap(buf, off, n)
}
func (r *batchRecorder) Encap(buf []byte, off, n int) (relay.Verdict, int, int) {
	r.log = append(r.log, "encap")
	return r.fakeRelay.Encap(buf, off, n)
}

// A relay that batches its lookups sees the whole RX batch prepared first
// (only the frames it will be given: not the link-layer drops), then one
// Resolve, then the frames in the same order, then EndBatch; the frames
// are forwarded and dropped as without a batch.
func TestStepPreparesBatchInOrder(t *testing.T) {
	r := &batchRecorder{fakeRelay: fakeRelay{decap: relay.ToIPv6, encap: relay.ToIPv4}}
	w, s := oneArmed(t, r, nil)
	s.put(0, ipv4Frame(0, netip.MustParseAddr("2001:db8:1::1")))
	s.put(1, append(bytes.Clone(macPeer[:]), ipv6Frame(netip.MustParseAddr("2001::2"))[6:]...)) // not our MAC
	s.put(2, ipv6Frame(netip.MustParseAddr("2001::3")))
	s.put(3, make([]byte, 10)) // runt
	s.put(4, ipv4Frame(100, netip.MustParseAddr("2001:db8:1::5")))
	if n := w.Step(); n != 5 {
		t.Fatalf("received %d", n)
	}
	want := []string{"begin",
		"prepare decap 2001:db8:1::1", "prepare encap 2001::3", "prepare decap 2001:db8:1::5",
		"resolve", "decap", "encap", "decap", "end"}
	if !slices.Equal(r.log, want) {
		t.Fatalf("calls\n%q\nwant\n%q", r.log, want)
	}
	c := w.Counters()
	if len(s.tx) != 3 || len(s.freed) != 2 || c.Events[DropL2NotOurMAC] != 1 || c.Events[DropL2Malformed] != 1 || c.Events[ForwardedZeroCopy] != 3 {
		t.Fatalf("tx %v freed %v events %v", s.tx, s.freed, c.Events)
	}
}

// The next-hop lookup a batch remembers serves only the same destination:
// frames to alternating destinations in one batch leave by their own
// routes, and a new snapshot in the next step is looked up again.
func TestNextHopPerDestinationInBatch(t *testing.T) {
	v4 := newFakeSocket(8)
	v6 := &fakeSocket{umem: v4.umem, txLimit: -1}
	table := hops(ifA, ifB)
	w, err := NewWorker(WorkerConfig{
		Ports: []Port{{Name: "a", Socket: v4, UMEM: "u", Receive: true}, {Name: "b", Socket: v6, UMEM: "u", Receive: true}},
		Relay: &fakeRelay{decap: relay.ToIPv6}, Hops: table, CPU: -1,
	})
	if err != nil {
		t.Fatal(err)
	}
	viaA, viaB := netip.MustParseAddr("2001:db8:1::1"), netip.MustParseAddr("2a00::1") // port 0, port 1 (default)
	for i, dst := range []netip.Addr{viaA, viaB, viaB, viaA, viaB, viaA} {             // ends with viaA
		v4.put(i, ipv4Frame(0, dst))
	}
	w.Step()
	if len(v4.tx) != 3 || len(v6.tx) != 3 {
		t.Fatalf("port a sent %d, port b %d; want 3 and 3", len(v4.tx), len(v6.tx))
	}
	for _, d := range v4.tx {
		wantEth(t, v4.bytes(d), macGW, macPortA, 0, etherTypeIPv6)
	}
	for _, d := range v6.tx {
		wantEth(t, v6.bytes(d), macGW, macPortB, 0, etherTypeIPv6)
	}

	// A new snapshot in which viaA's /48 is gone: the next step's frame
	// to it follows the default route (port b).
	s := nexthop.NewState()
	s.SetLink(nexthop.Link{Index: ifA, Name: "a", MAC: macPortA, Up: true})
	s.SetLink(nexthop.Link{Index: ifB, Name: "b", MAC: macPortB, Up: true})
	s.SetRoute(nexthop.Route{Dst: netip.MustParsePrefix("::/0"), Hops: []nexthop.Gateway{{Via: netip.MustParseAddr("fe80::1"), LinkIndex: ifB}}})
	s.SetNeighbour(nexthop.Neighbour{LinkIndex: ifB, IP: netip.MustParseAddr("fe80::1"), MAC: macGW, Usable: true})
	w.hops = nexthop.NewStatic(s.Build([]int32{ifA, ifB}, 2))
	v4.rx, v4.rxPos, v4.tx, v6.tx = v4.rx[:0], 0, v4.tx[:0], v6.tx[:0]
	v4.dstMACs = v4.dstMACs[:0]
	v4.put(0, ipv4Frame(0, viaA))
	w.Step()
	if len(v4.tx) != 0 || len(v6.tx) != 1 {
		t.Fatalf("after the route change: port a sent %d, port b %d; want 0 and 1", len(v4.tx), len(v6.tx))
	}
}

// A descriptor outside the socket's UMEM is counted and not freed: the
// chunk is not the worker's to give back.
func TestDescriptorOutsideUMEMCounted(t *testing.T) {
	w, s := oneArmed(t, &fakeRelay{decap: relay.ToIPv6}, nil)
	s.rx = append(s.rx, xsk.Desc{Addr: uint64(len(s.umem)) + rxOffset, Len: 100})
	s.dstMACs = append(s.dstMACs, [6]byte{})
	w.Step()
	if len(s.tx) != 0 || len(s.freed) != 0 {
		t.Fatalf("tx %v freed %v", s.tx, s.freed)
	}
	if c := w.Counters(); c.Events[DropL2Malformed] != 1 || c.RxFrames[0] != 1 {
		t.Fatalf("counters %+v", c)
	}
}
