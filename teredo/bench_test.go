package teredo

import (
	"net/netip"
	"testing"
)

var (
	benchSink  bool
	benchErr   error
	benchN     int
	benchAddr  Addr
	benchCheck uint16
)

func BenchmarkDecode(b *testing.B) {
	for _, bc := range []struct {
		name string
		in   []byte
	}{
		{"data", vecEcho},
		{"bubble", vecT13},
		{"origin", vecT12},
		{"auth+origin", vecT10},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var p Packet
			b.ReportAllocs()
			b.SetBytes(int64(len(bc.in)))
			for b.Loop() {
				benchErr = p.Decode(bc.in)
			}
		})
	}
}

func BenchmarkIPv6Offset(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		benchN, benchErr = IPv6Offset(vecT12)
	}
}

func BenchmarkDecodeAddr(b *testing.B) {
	a := ip(client).As16()
	b.ReportAllocs()
	for b.Loop() {
		benchAddr = DecodeAddr(&a)
	}
}

func BenchmarkMatchesSource(b *testing.B) {
	a := ip(client).As16()
	from := ap("203.0.113.1:46240")
	b.ReportAllocs()
	for b.Loop() {
		benchSink = MatchesSource(&a, from)
	}
}

func BenchmarkGlobalUnicast(b *testing.B) {
	bg := NewBogons(SpecialPurposeBogons)
	a := ip("203.0.113.1")
	b.ReportAllocs()
	for b.Loop() {
		benchSink = bg.GlobalUnicast(a)
	}
}

// BenchmarkDecap is the client->native fast path: IPv4+UDP header checks,
// Teredo decode, source check.
func BenchmarkDecap(b *testing.B) {
	pkt := make([]byte, EncapLen+len(vecEcho))
	PutIPv4UDP(pkt, ap("203.0.113.1:46240"), ap("198.51.100.1:3544"), len(vecEcho), 1, 64)
	copy(pkt[EncapLen:], vecEcho)
	var (
		h IPv4Header
		u UDPHeader
		p Packet
	)
	b.ReportAllocs()
	b.SetBytes(int64(len(pkt)))
	for b.Loop() {
		if h.Decode(pkt) != nil || u.Decode(pkt[h.HeaderLen:h.TotalLen]) != nil ||
			p.Decode(pkt[h.HeaderLen+UDPHeaderLen:h.HeaderLen+u.Length]) != nil {
			b.Fatal("decode failed")
		}
		benchSink = MatchesSource(SrcPtr(p.IPv6), netip.AddrPortFrom(h.SrcAddr(), u.SrcPort))
	}
}

// BenchmarkEncap is the native->client header write.
func BenchmarkEncap(b *testing.B) {
	pkt := make([]byte, EncapLen+len(vecEcho))
	copy(pkt[EncapLen:], vecEcho)
	src, dst := ap("198.51.100.1:3544"), ap("203.0.113.1:46240")
	b.ReportAllocs()
	for b.Loop() {
		PutIPv4UDP(pkt, src, dst, len(vecEcho), 1, 64)
	}
}

func BenchmarkSetUDPChecksum1280(b *testing.B) {
	pkt := make([]byte, EncapLen+MinMTU)
	PutIPv4UDP(pkt, ap("198.51.100.1:3544"), ap("203.0.113.1:46240"), MinMTU, 1, 64)
	b.ReportAllocs()
	b.SetBytes(int64(len(pkt)))
	for b.Loop() {
		SetUDPChecksum(pkt)
	}
}

func BenchmarkPutBubble(b *testing.B) {
	buf := make([]byte, IPv6HeaderLen)
	src, dst := ip(relayLL), ip(client)
	b.ReportAllocs()
	for b.Loop() {
		benchN = PutBubble(buf, src, dst)
	}
}

func BenchmarkPutICMPv6Error1280(b *testing.B) {
	invoking := make([]byte, 1400)
	copy(invoking, vecEcho)
	buf := make([]byte, MinMTU)
	src := ip("2001:db8:ffff::1")
	b.ReportAllocs()
	for b.Loop() {
		benchN, benchErr = PutPacketTooBig(buf, MinMTU, src, invoking)
	}
}

func BenchmarkIPv4HeaderDecode(b *testing.B) {
	pkt := make([]byte, EncapLen+len(vecEcho))
	PutIPv4UDP(pkt, ap("203.0.113.1:46240"), ap("198.51.100.1:3544"), len(vecEcho), 1, 64)
	var h IPv4Header
	b.ReportAllocs()
	for b.Loop() {
		benchErr = h.Decode(pkt)
	}
}

func BenchmarkICMPv6Checksum(b *testing.B) {
	s, d := ip(client).As16(), ip("2001:db8:3::7").As16()
	msg := vecEcho[IPv6HeaderLen:]
	b.ReportAllocs()
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		benchCheck = ICMPv6Checksum(&s, &d, msg)
	}
}
