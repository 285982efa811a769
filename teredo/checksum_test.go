package teredo

import (
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
	"testing"
)

// vethPcap holds frames a Linux 6.18 stack sent on a veth with its default
// offloads, captured on the peer: TCP and UDP over IPv6 whose checksum field
// holds only the pseudo-header sum (CHECKSUM_PARTIAL). The complete values
// are the ones tcpdump -vv prints ("incorrect -> 0x...").
const vethPcap = "../testdata/veth-partial-checksums.pcap"

// refSum is the RFC 1071 reference: 16-bit big-endian words, one at a time.
func refSum(b []byte) uint16 {
	var s uint32
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	for s > 0xffff {
		s = s>>16 + s&0xffff
	}
	return uint16(s)
}

// refL4Checksum is the upper-layer checksum over the IPv6 pseudo-header
// (RFC 8200 §8.1) of the segment l4 of ip, computed over l4 as it is: 0
// when the checksum in it is right.
func refL4Checksum(ip, l4 []byte, proto uint8) uint16 {
	ph := make([]byte, 40, 40+len(l4))
	copy(ph[0:32], ip[8:40])
	binary.BigEndian.PutUint32(ph[32:36], uint32(len(l4)))
	ph[39] = proto
	return ^refSum(append(ph, l4...))
}

func TestChecksumRFC1071(t *testing.T) {
	// RFC 1071 §3: the one's complement sum of 00 01 f2 03 f4 f5 f6 f7 is ddf2.
	b := []byte{0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7}
	if got := fold(sum(b, 0)); got != 0xddf2 {
		t.Fatalf("sum = %#x, want 0xddf2", got)
	}
	if got := Checksum(b, 0); got != ^uint16(0xddf2) {
		t.Fatalf("Checksum = %#x, want %#x", got, ^uint16(0xddf2))
	}
}

// TestSumMatchesReference compares the 64-bit sum with the 16-bit reference
// for every length up to 300 and every start offset (alignment), on random
// data and on all-ones data (which exercises every carry).
func TestSumMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	buf := make([]byte, 320)
	for _, fill := range []string{"random", "ones"} {
		for i := range buf {
			if fill == "random" {
				buf[i] = byte(r.Uint32())
			} else {
				buf[i] = 0xff
			}
		}
		for start := range 8 {
			for n := 0; start+n <= 300; n++ {
				b := buf[start : start+n]
				want := refSum(b)
				if got := fold(sum(b, 0)); got != want && !(got == 0xffff && want == 0) && !(got == 0 && want == 0xffff) {
					t.Fatalf("%s start %d len %d: sum %#x, want %#x", fill, start, n, got, want)
				}
			}
		}
	}
}

// TestSumLong: the largest inputs (a jumbo UDP datagram) with every carry.
func TestSumLong(t *testing.T) {
	ones := make([]byte, 65535)
	for i := range ones {
		ones[i] = 0xff
	}
	for _, n := range []int{65535, 65534, 65503, 4096} {
		for _, initial := range []uint32{0, 0xffffffff} {
			want := uint64(refSum(ones[:n])) + uint64(initial)
			for want > 0xffff {
				want = want>>16 + want&0xffff
			}
			if got := fold(sum(ones[:n], initial)); got%0xffff != uint16(want)%0xffff {
				t.Errorf("%d bytes of ones, initial %#x: %#x, want %#x", n, initial, got, want)
			}
		}
	}
}

// TestInnerChecksumCapture completes the partial checksums of the veth
// capture to the values tcpdump computed, and derives sums equal to the
// packets' full sums once complete.
func TestInnerChecksumCapture(t *testing.T) {
	want := []uint16{0xcc17, 0xa752, 0xd0d1, 0xe348, 0xcdda, 0xcdd8, 0x432a, 0xcdcc}
	frames := readPcap(t, vethPcap)
	if len(frames) != len(want) {
		t.Fatalf("%d frames in %s, want %d", len(frames), vethPcap, len(want))
	}
	for i, f := range frames {
		ip := append([]byte(nil), f.IP()...)
		ip = ip[:IPv6HeaderLen+PayloadLen(ip)]
		at := IPv6HeaderLen + 16
		if ip[6] == ProtoUDP {
			at = IPv6HeaderLen + 6
		}
		l4 := ip[IPv6HeaderLen:]
		if refL4Checksum(ip, l4, ip[6]) == 0 {
			t.Fatalf("frame %d: checksum already complete; the capture should hold partial ones", f.Index)
		}
		s, completed := InnerChecksum(ip, true)
		if !completed {
			t.Fatalf("frame %d: partial checksum %#x not completed", f.Index, binary.BigEndian.Uint16(ip[at:]))
		}
		if got := binary.BigEndian.Uint16(ip[at:]); got != want[i] {
			t.Errorf("frame %d: checksum %#x, want %#x", f.Index, got, want[i])
		}
		if refL4Checksum(ip, l4, ip[6]) != 0 {
			t.Errorf("frame %d: completed checksum does not verify", f.Index)
		}
		if fold(s)%0xffff != refSum(ip)%0xffff {
			t.Errorf("frame %d: derived sum %#x, full sum %#x", f.Index, fold(s), refSum(ip))
		}
		// Once complete, nothing changes and the sum stays the same.
		again := append([]byte(nil), ip...)
		s2, completed := InnerChecksum(again, true)
		if completed || string(again) != string(ip) || fold(s2)%0xffff != fold(s)%0xffff {
			t.Errorf("frame %d: second pass completed=%v changed=%v", f.Index, completed, string(again) != string(ip))
		}
	}
}

// extHeader is an IPv6 extension header for l4Packet: its type and its
// bytes (the next-header byte is filled in).
type extHeader struct {
	typ   uint8
	bytes []byte
}

var (
	extHopByHop = extHeader{ProtoHopByHop, []byte{0, 0, 1, 4, 0, 0, 0, 0}} // PadN
	extDestOpts = extHeader{ProtoDestOpts, []byte{0, 0, 1, 4, 0, 0, 0, 0}}
	extRouting  = extHeader{ProtoRouting, []byte{0, 0, 4, 0, 0, 0, 0, 0}} // type 4, segments left 0, no segments
	extFragment = extHeader{ProtoFragment, []byte{0, 0, 0, 0, 0, 0, 0, 1}}
)

// l4Packet builds an IPv6 packet with the extension headers ext and an
// upper-layer segment of proto with a correct checksum at csumAt (none
// when csumAt < 0), and returns it with the segment's offset.
func l4Packet(proto uint8, ext []extHeader, segment []byte, csumAt int) ([]byte, int) {
	src, dst := netip.MustParseAddr("2001:db8:1::10").As16(), netip.MustParseAddr("2001:0:c000:201:0:f227:34ff:8efe").As16()
	var payload []byte
	nh := proto
	for i := len(ext) - 1; i >= 0; i-- {
		h := append([]byte(nil), ext[i].bytes...)
		h[0] = nh
		payload = append(h, payload...)
		nh = ext[i].typ
	}
	off := IPv6HeaderLen + len(payload)
	payload = append(payload, segment...)
	ip := make([]byte, IPv6HeaderLen+len(payload))
	putIPv6Header(ip, len(payload), nh, 64, &src, &dst)
	copy(ip[IPv6HeaderLen:], payload)
	if csumAt >= 0 {
		l4 := ip[off:]
		l4[csumAt], l4[csumAt+1] = 0, 0
		binary.BigEndian.PutUint16(l4[csumAt:], refL4Checksum(ip, l4, proto))
	}
	return ip, off
}

func tcpSegment(n int) []byte {
	s := make([]byte, 20+n)
	binary.BigEndian.PutUint16(s[0:2], 443)
	binary.BigEndian.PutUint16(s[2:4], 51000)
	s[12] = 5 << 4
	for i := 20; i < len(s); i++ {
		s[i] = byte(i * 7)
	}
	return s
}

func udpSegment(n int) []byte {
	s := make([]byte, 8+n)
	binary.BigEndian.PutUint16(s[0:2], 53)
	binary.BigEndian.PutUint16(s[2:4], 40000)
	binary.BigEndian.PutUint16(s[4:6], uint16(len(s)))
	for i := 8; i < len(s); i++ {
		s[i] = byte(i * 3)
	}
	return s
}

// partial turns the correct checksum at l4[at:] into the folded
// pseudo-header sum, as a Linux stack leaves it under checksum offload.
func partial(ip []byte, off, at int, proto uint8) {
	l4 := ip[off:]
	ph := make([]byte, 40)
	copy(ph[0:32], ip[8:40])
	binary.BigEndian.PutUint32(ph[32:36], uint32(len(l4)))
	ph[39] = proto
	binary.BigEndian.PutUint16(l4[at:], refSum(ph))
}

func TestInnerChecksum(t *testing.T) {
	type tc struct {
		name      string
		proto     uint8
		ext       []extHeader
		segment   []byte
		csumAt    int  // -1: the segment carries no checksum of ours
		partial   bool // turn the checksum into a partial one
		completed bool // InnerChecksum must complete it
		zeroSum   bool // make the completed UDP checksum 0 (sent as 0xffff)
	}
	cases := []tc{
		{name: "tcp complete", proto: ProtoTCP, segment: tcpSegment(1000), csumAt: 16},
		{name: "tcp partial", proto: ProtoTCP, segment: tcpSegment(1000), csumAt: 16, partial: true, completed: true},
		{name: "tcp partial odd length", proto: ProtoTCP, segment: tcpSegment(999), csumAt: 16, partial: true, completed: true},
		{name: "tcp partial, no payload", proto: ProtoTCP, segment: tcpSegment(0), csumAt: 16, partial: true, completed: true},
		{name: "udp complete", proto: ProtoUDP, segment: udpSegment(500), csumAt: 6},
		{name: "udp partial", proto: ProtoUDP, segment: udpSegment(500), csumAt: 6, partial: true, completed: true},
		{name: "udp partial summing to 0", proto: ProtoUDP, segment: udpSegment(500), csumAt: 6, partial: true, completed: true, zeroSum: true},
		{name: "udp without checksum", proto: ProtoUDP, segment: udpSegment(500), csumAt: -1},
		{name: "icmpv6", proto: ProtoICMPv6, segment: append([]byte{128, 0, 0, 0, 0, 1, 0, 1}, make([]byte, 56)...), csumAt: 2},
		{name: "tcp partial after hop-by-hop and destination options", proto: ProtoTCP, ext: []extHeader{extHopByHop, extDestOpts},
			segment: tcpSegment(700), csumAt: 16, partial: true, completed: true},
		{name: "tcp complete after hop-by-hop", proto: ProtoTCP, ext: []extHeader{extHopByHop}, segment: tcpSegment(700), csumAt: 16},
		{name: "tcp partial after a routing header: left alone", proto: ProtoTCP, ext: []extHeader{extRouting}, segment: tcpSegment(700), csumAt: 16, partial: true},
		{name: "tcp partial after a fragment header: left alone", proto: ProtoTCP, ext: []extHeader{extFragment}, segment: tcpSegment(700), csumAt: 16, partial: true},
		{name: "tcp truncated before its checksum", proto: ProtoTCP, segment: []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, csumAt: -1},
		{name: "other protocol (ESP)", proto: 50, segment: tcpSegment(100), csumAt: -1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ip, off := l4Packet(c.proto, c.ext, c.segment, c.csumAt)
			if c.zeroSum {
				// A payload word set to the checksum computed with that
				// word at 0 makes the segment sum to -0: its checksum is
				// 0, which UDP sends as 0xffff (RFC 768).
				l4 := ip[off:]
				l4[c.csumAt], l4[c.csumAt+1], l4[20], l4[21] = 0, 0, 0, 0
				binary.BigEndian.PutUint16(l4[20:], refL4Checksum(ip, l4, c.proto))
				if got := refL4Checksum(ip, l4, c.proto); got != 0 {
					t.Fatalf("zero-sum construction failed: %#x", got)
				}
				l4[c.csumAt], l4[c.csumAt+1] = 0xff, 0xff
			}
			if c.partial {
				partial(ip, off, c.csumAt, c.proto)
			}
			before := append([]byte(nil), ip...)
			s, completed := InnerChecksum(ip, true)
			if completed != c.completed {
				t.Fatalf("completed = %v, want %v", completed, c.completed)
			}
			if !completed && string(ip) != string(before) {
				t.Fatal("packet changed without a completion")
			}
			if completed {
				l4 := ip[off:]
				if got := refL4Checksum(ip, l4, c.proto); got != 0 {
					t.Fatalf("completed checksum does not verify (%#x)", got)
				}
				if string(ip[:off+c.csumAt]) != string(before[:off+c.csumAt]) || string(ip[off+c.csumAt+2:]) != string(before[off+c.csumAt+2:]) {
					t.Fatal("completion changed bytes other than the checksum field")
				}
				if c.zeroSum && binary.BigEndian.Uint16(l4[c.csumAt:]) != 0xffff {
					t.Fatalf("UDP checksum 0 sent as %#x, want 0xffff", binary.BigEndian.Uint16(l4[c.csumAt:]))
				}
			}
			// The derived (or full) sum gives the same outer checksum as a
			// full computation over the datagram.
			if fold(s)%0xffff != refSum(ip)%0xffff {
				t.Fatalf("sum %#x, full sum %#x", fold(s), refSum(ip))
			}
			checkOuter(t, ip, s)
			if s0, completed0 := InnerChecksum(append([]byte(nil), before...), false); s0 != 0 || completed0 != c.completed {
				t.Fatalf("without sum: %#x %v", s0, completed0)
			}
		})
	}
}

// checkOuter encapsulates ip, fills the UDP checksum from s and checks it
// against SetUDPChecksum's full computation.
func checkOuter(t *testing.T, ip []byte, s uint32) {
	t.Helper()
	d := make([]byte, EncapLen+len(ip))
	PutIPv4UDPSum(d, netip.MustParseAddrPort("198.51.100.1:3544"), netip.MustParseAddrPort("203.0.113.1:46240"), len(ip), 7, 64, s)
	copy(d[EncapLen:], ip)
	got := binary.BigEndian.Uint16(d[26:28])
	SetUDPChecksum(d)
	if want := binary.BigEndian.Uint16(d[26:28]); got != want {
		t.Fatalf("outer checksum %#x, full computation %#x", got, want)
	}
	if got == 0 {
		t.Fatal("outer checksum 0")
	}
}

// TestInnerChecksumCoincidence: a complete checksum equal to the folded
// pseudo-header sum is recomputed, and comes out unchanged.
func TestInnerChecksumCoincidence(t *testing.T) {
	ip, off := l4Packet(ProtoTCP, nil, tcpSegment(600), 16)
	l4 := ip[off:]
	// Make the correct checksum equal the partial value p: with the field
	// at p, a payload word set to the checksum computed with that word at
	// 0 makes the segment verify.
	partial(ip, off, 16, ProtoTCP)
	l4[20], l4[21] = 0, 0
	binary.BigEndian.PutUint16(l4[20:], refL4Checksum(ip, l4, ProtoTCP))
	if got := refL4Checksum(ip, l4, ProtoTCP); got != 0 {
		t.Fatalf("construction failed: %#x", got)
	}
	before := append([]byte(nil), ip...)
	if _, completed := InnerChecksum(ip, true); !completed {
		t.Fatal("a checksum equal to the pseudo-header sum was not recomputed")
	}
	if string(ip) != string(before) {
		t.Fatalf("recomputing a correct checksum changed it: %#x -> %#x", binary.BigEndian.Uint16(before[off+16:]), binary.BigEndian.Uint16(l4[16:]))
	}
}

func FuzzInnerChecksum(f *testing.F) {
	for _, fr := range readPcap(f, vethPcap) {
		f.Add(fr.IP())
	}
	ip, _ := l4Packet(ProtoTCP, []extHeader{extHopByHop}, tcpSegment(100), 16)
	f.Add(ip)
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < IPv6HeaderLen {
			return
		}
		ip := append([]byte(nil), data...)
		binary.BigEndian.PutUint16(ip[4:6], uint16(len(ip)-IPv6HeaderLen))
		before := append([]byte(nil), ip...)
		s, completed := InnerChecksum(ip, true)
		off, proto, whole := upperLayer(before)
		if completed {
			if !whole || (proto != ProtoTCP && proto != ProtoUDP) || refL4Checksum(ip, ip[off:], proto) != 0 {
				t.Fatal("completed a checksum that does not verify")
			}
		} else if string(ip) != string(before) {
			t.Fatal("changed the packet without completing")
		}
		// The sum is the full sum whenever the upper layer's checksum is
		// right (or there is nothing to derive from).
		full := refSum(ip) % 0xffff
		if fold(s)%0xffff != full {
			n := len(ip) - off
			derivable := whole && (proto == ProtoTCP && n >= 20 || proto == ProtoICMPv6 && n >= 4 ||
				proto == ProtoUDP && n >= 8 && ip[off+6]|ip[off+7] != 0)
			if !derivable || refL4Checksum(ip, ip[off:], proto) == 0 {
				t.Fatalf("sum %#x, full sum %#x (proto %d, derivable %v)", fold(s), full, proto, derivable)
			}
		}
		// And sum matches the reference on any input.
		if fold(sum(data, 0))%0xffff != refSum(data)%0xffff {
			t.Fatal("sum differs from the reference")
		}
	})
}

var benchSum uint32

// BenchmarkSum1280 is the fast Internet checksum over a full-size packet
// (compare BenchmarkSetUDPChecksum1280, which adds the pseudo-header).
func BenchmarkSum1280(b *testing.B) {
	buf := make([]byte, MinMTU)
	for i := range buf {
		buf[i] = byte(i)
	}
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		benchSum = sum(buf, 0)
	}
}

// BenchmarkInnerChecksum: what encapsulation pays per packet for the inner
// checksum work, a 1280-byte TCP packet whose checksum is complete (the
// pseudo-header compare and the derived sum) or partial (completed over the
// segment).
func BenchmarkInnerChecksum(b *testing.B) {
	ip, off := l4Packet(ProtoTCP, nil, tcpSegment(MinMTU-IPv6HeaderLen-20), 16)
	complete := append([]byte(nil), ip...)
	partial(ip, off, 16, ProtoTCP)
	part := append([]byte(nil), ip...)
	b.Run("complete", func(b *testing.B) {
		for b.Loop() {
			benchSum, _ = InnerChecksum(complete, true)
		}
	})
	b.Run("partial", func(b *testing.B) {
		buf := append([]byte(nil), part...)
		for b.Loop() {
			buf[off+16], buf[off+17] = part[off+16], part[off+17]
			benchSum, _ = InnerChecksum(buf, true)
		}
	})
}
