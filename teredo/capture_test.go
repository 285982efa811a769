package teredo

import (
	"bytes"
	"errors"
	"net/netip"
	"testing"
)

// Frames of the testbed captures (the repository's testdata/):
// a Miredo client behind NAT 203.0.113.1 qualifying against a Miredo server
// 192.0.2.1 and reaching native hosts through a Miredo relay 198.51.100.1.
// Frame numbers are those tcpdump -# and Wireshark show.
const (
	serverPcap = "../testdata/miredo-server.pcap"
	relayPcap  = "../testdata/miredo-relay.pcap"

	client  = "2001:0:c000:201:3cc4:4b5f:34ff:8efe" // T8
	relayLL = "fe80::4439:a801:d529:32ad"           // Miredo relay bubble source (hash cookie)
)

type captureWant struct {
	file, name string
	frame      int
	from, to   string
	offset     int
	auth       bool
	origin     string // "" when absent
	bubble     bool
	src, dst   string
	nextHeader uint8
	icmpType   uint8 // first ICMPv6 byte when nextHeader is 58
	vector     []byte
}

var captureWants = []captureWant{
	{file: serverPcap, frame: 1, name: "client echo request to server", from: "203.0.113.1:46240", to: "192.0.2.1:3544",
		src: client, dst: "2001:db8:3::5", nextHeader: ProtoICMPv6, icmpType: ICMPv6EchoRequest},
	{file: serverPcap, frame: 3, name: "T11 indirect bubble arriving at server", from: "198.51.100.1:3544", to: "192.0.2.1:3544",
		bubble: true, src: relayLL, dst: client, nextHeader: ProtoNoNext, vector: vecT11},
	{file: serverPcap, frame: 4, name: "T12 bubble forwarded with origin", from: "192.0.2.1:3544", to: "203.0.113.1:46240",
		offset: 8, origin: "198.51.100.1:3544", bubble: true, src: relayLL, dst: client, nextHeader: ProtoNoNext, vector: vecT12},
	{file: serverPcap, frame: 5, name: "client echo request 2", from: "203.0.113.1:46240", to: "192.0.2.1:3544",
		src: client, dst: "2001:db8:1::fe", nextHeader: ProtoICMPv6, icmpType: ICMPv6EchoRequest},
	{file: serverPcap, frame: 7, name: "client echo request 3", from: "203.0.113.1:46240", to: "192.0.2.1:3544",
		src: client, dst: "2001:db8:2::1", nextHeader: ProtoICMPv6, icmpType: ICMPv6EchoRequest},
	{file: serverPcap, frame: 9, name: "T9 router solicitation", from: "203.0.113.1:46240", to: "192.0.2.1:3544",
		offset: 13, auth: true, src: "fe80::ffff:ffff:ffff", dst: "ff02::2", nextHeader: ProtoICMPv6, icmpType: ICMPv6RouterSolicit, vector: vecT9},
	{file: serverPcap, frame: 10, name: "T10 router advertisement", from: "192.0.2.1:3544", to: "203.0.113.1:46240",
		offset: 21, auth: true, origin: "203.0.113.1:46240", src: "fe80::8000:f227:3fff:fdfe", dst: "fe80::ffff:ffff:ffff",
		nextHeader: ProtoICMPv6, icmpType: ICMPv6RouterAdvert, vector: vecT10},
	{file: serverPcap, frame: 11, name: "client echo request 4", from: "203.0.113.1:46240", to: "192.0.2.1:3544",
		src: client, dst: "2001:db8:3::7", nextHeader: ProtoICMPv6, icmpType: ICMPv6EchoRequest},

	{file: relayPcap, frame: 2, name: "T11 indirect bubble sent by relay", from: "198.51.100.1:3544", to: "192.0.2.1:3544",
		bubble: true, src: relayLL, dst: client, nextHeader: ProtoNoNext, vector: vecT11},
	{file: relayPcap, frame: 3, name: "T13 client direct bubble", from: "203.0.113.1:46240", to: "198.51.100.1:3544",
		bubble: true, src: client, dst: relayLL, nextHeader: ProtoNoNext, vector: vecT13},
	{file: relayPcap, frame: 4, name: "relay encap of destination unreachable", from: "198.51.100.1:3544", to: "203.0.113.1:46240",
		src: "2001:db8:1::fe", dst: client, nextHeader: ProtoICMPv6, icmpType: ICMPv6DestUnreachable},
	{file: relayPcap, frame: 6, name: "relay encap of time exceeded about T13 (must not happen)", from: "198.51.100.1:3544", to: "203.0.113.1:46240",
		src: "2001:db8:2::1", dst: client, nextHeader: ProtoICMPv6, icmpType: ICMPv6TimeExceeded},
	{file: relayPcap, frame: 7, name: "relay encap echo reply", from: "198.51.100.1:3544", to: "203.0.113.1:46240",
		src: "2001:db8:1::fe", dst: client, nextHeader: ProtoICMPv6, icmpType: ICMPv6EchoReply},
	{file: relayPcap, frame: 9, name: "relay encap echo reply 2", from: "198.51.100.1:3544", to: "203.0.113.1:46240",
		src: "2001:db8:2::1", dst: client, nextHeader: ProtoICMPv6, icmpType: ICMPv6EchoReply},
	{file: relayPcap, frame: 11, name: "relay encap echo reply 3", from: "198.51.100.1:3544", to: "203.0.113.1:46240",
		src: "2001:db8:3::7", dst: client, nextHeader: ProtoICMPv6, icmpType: ICMPv6EchoReply},
	{file: relayPcap, frame: 12, name: "client data to relay", from: "203.0.113.1:46240", to: "198.51.100.1:3544",
		src: client, dst: "2001:db8:3::7", nextHeader: ProtoICMPv6, icmpType: ICMPv6EchoRequest, vector: vecEcho},
	{file: relayPcap, frame: 15, name: "relay encap data", from: "198.51.100.1:3544", to: "203.0.113.1:46240",
		src: "2001:db8:3::7", dst: client, nextHeader: ProtoICMPv6, icmpType: ICMPv6EchoReply},
	{file: relayPcap, frame: 16, name: "client data to relay 2", from: "203.0.113.1:46240", to: "198.51.100.1:3544",
		src: client, dst: "2001:db8:3::7", nextHeader: ProtoICMPv6, icmpType: ICMPv6EchoRequest},
	{file: relayPcap, frame: 19, name: "relay encap data 2", from: "198.51.100.1:3544", to: "203.0.113.1:46240",
		src: "2001:db8:3::7", dst: client, nextHeader: ProtoICMPv6, icmpType: ICMPv6EchoReply},
	{file: relayPcap, frame: 20, name: "client data to relay 3", from: "203.0.113.1:46240", to: "198.51.100.1:3544",
		src: client, dst: "2001:db8:3::7", nextHeader: ProtoICMPv6, icmpType: ICMPv6EchoRequest},
	{file: relayPcap, frame: 23, name: "relay encap data 3", from: "198.51.100.1:3544", to: "203.0.113.1:46240",
		src: "2001:db8:3::7", dst: client, nextHeader: ProtoICMPv6, icmpType: ICMPv6EchoReply},
}

func captureFrames(t *testing.T) map[string]map[int]udpFrame {
	t.Helper()
	out := map[string]map[int]udpFrame{}
	for _, file := range []string{serverPcap, relayPcap} {
		out[file] = map[int]udpFrame{}
		for _, f := range pcapUDP(t, file) {
			out[file][f.Index] = f
		}
	}
	return out
}

// TestCaptureFrames decodes every Teredo datagram of both captures and checks
// the decoded fields, the IPv4/UDP headers (rebuilt byte for byte with
// PutIPv4UDP + SetUDPChecksum) and the ICMPv6 checksums.
func TestCaptureFrames(t *testing.T) {
	frames := captureFrames(t)
	seen := 0
	for _, w := range captureWants {
		t.Run(w.name, func(t *testing.T) {
			f, ok := frames[w.file][w.frame]
			if !ok {
				t.Fatalf("%s has no UDP frame %d", w.file, w.frame)
			}
			seen++
			from := netip.AddrPortFrom(f.IP.SrcAddr(), f.UDP.SrcPort)
			to := netip.AddrPortFrom(f.IP.DstAddr(), f.UDP.DstPort)
			if from != ap(w.from) || to != ap(w.to) {
				t.Fatalf("datagram %s -> %s, want %s -> %s", from, to, w.from, w.to)
			}
			if w.vector != nil && !bytes.Equal(f.Payload, w.vector) {
				t.Fatalf("payload differs from the spec vector:\n got % x\nwant % x", f.Payload, w.vector)
			}

			var p Packet
			if err := p.Decode(f.Payload); err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if p.Offset != w.offset || p.HasAuth != w.auth || p.HasOrigin != (w.origin != "") || p.IsBubble() != w.bubble {
				t.Fatalf("Offset %d auth %v origin %v bubble %v, want %d %v %v %v",
					p.Offset, p.HasAuth, p.HasOrigin, p.IsBubble(), w.offset, w.auth, w.origin != "", w.bubble)
			}
			if w.origin != "" && p.Origin != ap(w.origin) {
				t.Fatalf("Origin = %s, want %s", p.Origin, w.origin)
			}
			if len(p.Trailer) != 0 || p.Offset+len(p.IPv6) != len(f.Payload) {
				t.Fatalf("IPv6 %d bytes at %d, trailer %d, payload %d", len(p.IPv6), p.Offset, len(p.Trailer), len(f.Payload))
			}
			if s, d := netip.AddrFrom16(Src(p.IPv6)), netip.AddrFrom16(Dst(p.IPv6)); s != ip(w.src) || d != ip(w.dst) {
				t.Fatalf("IPv6 %s -> %s, want %s -> %s", s, d, w.src, w.dst)
			}
			if NextHeader(p.IPv6) != w.nextHeader {
				t.Fatalf("NextHeader = %d, want %d", NextHeader(p.IPv6), w.nextHeader)
			}
			if w.nextHeader == ProtoICMPv6 {
				if p.IPv6[IPv6HeaderLen] != w.icmpType {
					t.Fatalf("ICMPv6 type = %d, want %d", p.IPv6[IPv6HeaderLen], w.icmpType)
				}
				if !VerifyICMPv6Checksum(p.IPv6) {
					t.Fatal("ICMPv6 checksum does not verify")
				}
			}
			// A client's datagram carries its own mapping in its Teredo source.
			if w.from == "203.0.113.1:46240" && w.src == client && !MatchesSource(SrcPtr(p.IPv6), from) {
				t.Fatal("MatchesSource(client datagram) = false")
			}

			// The captures were taken on veth interfaces with checksum offload:
			// the UDP checksum field holds only the folded pseudo-header sum
			// (CHECKSUM_PARTIAL), so the full checksum cannot be compared.
			if got, want := f.UDP.Checksum, partialUDPChecksum(f.IP.Src, f.IP.Dst, f.UDP.Length); got != want {
				t.Fatalf("captured UDP checksum %#04x, want partial %#04x", got, want)
			}
			// Rebuild the IPv4+UDP headers; Miredo sends DF clear like PutIPv4UDP.
			b := make([]byte, EncapLen+len(f.Payload))
			PutIPv4UDP(b, from, to, len(f.Payload), f.IP.ID, f.IP.TTL)
			copy(b[EncapLen:], f.Payload)
			if b[26] != 0 || b[27] != 0 {
				t.Fatal("PutIPv4UDP wrote a non-zero UDP checksum")
			}
			b[26], b[27] = f.Packet[26], f.Packet[27]
			if !bytes.Equal(b, f.Packet) {
				t.Fatalf("PutIPv4UDP:\n got % x\nwant % x", b[:EncapLen], f.Packet[:EncapLen])
			}
			// The full checksum agrees with a plain RFC 1071 implementation and verifies.
			SetUDPChecksum(b)
			if got, want := b[26:28], refUDPChecksum(b); !bytes.Equal(got, want) {
				t.Fatalf("SetUDPChecksum = % x, reference % x", got, want)
			}
			if UDPChecksum(f.IP.Src, f.IP.Dst, b[IPv4HeaderLen:]) != 0 {
				t.Fatal("UDP checksum does not verify after SetUDPChecksum")
			}
		})
	}
	// Every Teredo datagram in the captures is covered by the table.
	total := len(frames[serverPcap]) + len(frames[relayPcap])
	if total != len(captureWants) || seen != total {
		t.Fatalf("captures hold %d UDP frames, table covers %d (seen %d)", total, len(captureWants), seen)
	}
}

// TestCaptureRelayPairs checks that Packet.IPv6 of each client datagram is
// exactly the native packet the Miredo relay forwarded (hop limit - 1), and that
// each native packet re-encapsulated with PutIPv4UDP is exactly the datagram
// the relay sent.
func TestCaptureRelayPairs(t *testing.T) {
	all := readPcap(t, relayPcap)
	native := map[int][]byte{}
	for _, f := range all {
		if f.IsIPv6() {
			native[f.Index] = f.IP()
		}
	}
	udp := captureFrames(t)[relayPcap]
	tests := []struct {
		name        string
		udp, native int
		decap       bool
	}{
		{"decap client echo request 1", 12, 13, true},
		{"decap client echo request 2", 16, 17, true},
		{"decap client echo request 3", 20, 21, true},
		{"encap destination unreachable", 4, 1, false},
		{"encap echo reply 1", 7, 5, false},
		{"encap echo reply 2", 11, 10, false},
		{"encap echo reply 3", 15, 14, false},
		{"encap echo reply 4", 19, 18, false},
		{"encap echo reply 5", 23, 22, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, ok1 := udp[tt.udp]
			n, ok2 := native[tt.native]
			if !ok1 || !ok2 {
				t.Fatalf("frames %d/%d missing", tt.udp, tt.native)
			}
			var p Packet
			if err := p.Decode(u.Payload); err != nil {
				t.Fatal(err)
			}
			inner, outer := p.IPv6, n
			if !tt.decap {
				inner, outer = n, p.IPv6
			}
			want := bytes.Clone(inner)
			SetHopLimit(want, HopLimit(want)-1)
			if !bytes.Equal(outer, want) {
				t.Fatalf("forwarded packet differs:\n got % x\nwant % x", outer, want)
			}
			if tt.decap {
				return
			}
			b := make([]byte, EncapLen+len(outer))
			PutIPv4UDP(b, netip.AddrPortFrom(u.IP.SrcAddr(), u.UDP.SrcPort), netip.AddrPortFrom(u.IP.DstAddr(), u.UDP.DstPort),
				len(outer), u.IP.ID, u.IP.TTL)
			copy(b[EncapLen:], outer)
			b[26], b[27] = u.Packet[26], u.Packet[27] // offloaded checksum, see TestCaptureFrames
			if !bytes.Equal(b, u.Packet) {
				t.Fatalf("encapsulation differs:\n got % x\nwant % x", b, u.Packet)
			}
		})
	}
}

// TestCaptureICMPv6Errors rebuilds the Destination Unreachable the testbed
// router sent (relay frame 1) byte for byte, and checks that the Time Exceeded
// the testbed relay host sent about the client's bubble (relay frame 6, vector
// T13) is one PutICMPv6Error refuses to build.
func TestCaptureICMPv6Errors(t *testing.T) {
	frames := readPcap(t, relayPcap)
	var du []byte
	for _, f := range frames {
		if f.Index == 1 {
			du = f.IP()
		}
	}
	if du == nil || NextHeader(du) != ProtoICMPv6 || du[IPv6HeaderLen] != ICMPv6DestUnreachable {
		t.Fatal("relay frame 1 is not the destination unreachable")
	}
	invoking := du[ICMPv6ErrorHeaderLen:]
	b := make([]byte, MinMTU)
	n, err := PutDestUnreachable(b, du[IPv6HeaderLen+1], netip.AddrFrom16(Src(du)), invoking)
	if err != nil {
		t.Fatal(err)
	}
	// The router's hop limit and flow label differ from ours; the ICMPv6
	// message, checksum included, must be identical.
	if n != len(du) || !bytes.Equal(b[IPv6HeaderLen:n], du[IPv6HeaderLen:]) || !bytes.Equal(b[8:40], du[8:40]) {
		t.Fatalf("PutDestUnreachable:\n got % x\nwant % x", b[:n], du)
	}

	udp := captureFrames(t)[relayPcap][6]
	var p Packet
	if err := p.Decode(udp.Payload); err != nil {
		t.Fatal(err)
	}
	quoted := p.IPv6[ICMPv6ErrorHeaderLen:]
	if !bytes.Equal(quoted, vecT13) {
		t.Fatalf("frame 6 quotes % x, want T13", quoted)
	}
	if _, err := PutTimeExceeded(b, netip.AddrFrom16(Src(p.IPv6)), quoted); !errors.Is(err, ErrBubble) {
		t.Fatalf("PutTimeExceeded(T13 bubble) error = %v, want ErrBubble", err)
	}
}

// partialUDPChecksum is what Linux leaves in the UDP checksum field of a
// datagram whose checksum is offloaded: the folded, non-inverted pseudo-header sum.
func partialUDPChecksum(src, dst [4]byte, udpLen int) uint16 {
	s := uint32(src[0])<<8 | uint32(src[1])
	s += uint32(src[2])<<8 | uint32(src[3])
	s += uint32(dst[0])<<8 | uint32(dst[1])
	s += uint32(dst[2])<<8 | uint32(dst[3])
	s += ProtoUDP + uint32(udpLen)
	for s > 0xffff {
		s = s>>16 + s&0xffff
	}
	return uint16(s)
}

// refUDPChecksum is a byte-at-a-time RFC 1071/RFC 768 checksum of the UDP
// datagram in an IPv4 packet without options, computed with the field as zero.
func refUDPChecksum(pkt []byte) []byte {
	udp := bytes.Clone(pkt[IPv4HeaderLen:])
	udp[6], udp[7] = 0, 0
	pseudo := append(bytes.Clone(pkt[12:20]), 0, ProtoUDP, byte(len(udp)>>8), byte(len(udp)))
	data := append(pseudo, udp...)
	if len(data)%2 == 1 {
		data = append(data, 0)
	}
	var s uint32
	for i := 0; i < len(data); i += 2 {
		s += uint32(data[i])<<8 | uint32(data[i+1])
	}
	for s > 0xffff {
		s = s>>16 + s&0xffff
	}
	c := ^uint16(s)
	if c == 0 {
		c = 0xffff
	}
	return []byte{byte(c >> 8), byte(c)}
}
