package relaytest

import (
	"encoding/binary"
	"net/netip"

	"github.com/teredorelay/teredorelay/teredo"
)

// Headroom is the space Frame leaves in front of a packet, like an AF_XDP
// frame's headroom: enough for the relay's 28-byte encapsulation.
const Headroom = 256

// FrameSize is the size of the frames Frame builds (an AF_XDP chunk).
const FrameSize = 4096

// Frame copies pkt into a new FrameSize buffer at offset Headroom and returns
// the buffer and the offset, the way a worker sees an RX descriptor.
func Frame(pkt []byte) (buf []byte, off int) {
	buf = make([]byte, max(FrameSize, Headroom+len(pkt)))
	copy(buf[Headroom:], pkt)
	return buf, Headroom
}

// IPv6 builds an IPv6 packet (traffic class and flow label 0).
func IPv6(src, dst netip.Addr, nextHeader, hopLimit uint8, payload []byte) []byte {
	b := make([]byte, teredo.IPv6HeaderLen+len(payload))
	b[0] = 0x60
	binary.BigEndian.PutUint16(b[4:6], uint16(len(payload)))
	b[6], b[7] = nextHeader, hopLimit
	s, d := src.As16(), dst.As16()
	copy(b[8:24], s[:])
	copy(b[24:40], d[:])
	copy(b[40:], payload)
	return b
}

// Bubble builds a Teredo bubble with teredo.PutBubble: next header 59,
// payload length 0, hop limit 0 (what Miredo sends).
func Bubble(src, dst netip.Addr) []byte {
	b := make([]byte, teredo.IPv6HeaderLen)
	teredo.PutBubble(b, src, dst)
	return b
}

// Echo builds an ICMPv6 Echo Request with a correct checksum.
func Echo(src, dst netip.Addr, hopLimit uint8, id, seq uint16, data []byte) []byte {
	m := make([]byte, 8+len(data))
	m[0] = teredo.ICMPv6EchoRequest
	binary.BigEndian.PutUint16(m[4:6], id)
	binary.BigEndian.PutUint16(m[6:8], seq)
	copy(m[8:], data)
	s, d := src.As16(), dst.As16()
	binary.BigEndian.PutUint16(m[2:4], teredo.ICMPv6Checksum(&s, &d, m))
	return IPv6(src, dst, teredo.ProtoICMPv6, hopLimit, m)
}

// UDPPayload builds a UDP-over-IPv6 packet (next header 17) with size bytes
// of payload; the UDP checksum is not computed (the relay does not look).
func UDPPayload(src, dst netip.Addr, hopLimit uint8, size int) []byte {
	p := make([]byte, 8+size)
	binary.BigEndian.PutUint16(p[0:2], 40000)
	binary.BigEndian.PutUint16(p[2:4], 9)
	binary.BigEndian.PutUint16(p[4:6], uint16(len(p)))
	for i := 8; i < len(p); i++ {
		p[i] = byte(i)
	}
	return IPv6(src, dst, 17, hopLimit, p)
}

// WithOrigin prepends an origin indication for origin to ipv6, as a Teredo
// server does when it forwards a bubble to its client (RFC 4380 §5.1.1).
func WithOrigin(origin netip.AddrPort, ipv6 []byte) []byte {
	b := make([]byte, teredo.OriginLen+len(ipv6))
	teredo.PutOrigin(b, origin)
	copy(b[teredo.OriginLen:], ipv6)
	return b
}

// IPv4UDP builds an IPv4/UDP datagram from src to dst around payload: DF
// clear, TTL 64, header checksum and, when udpChecksum is set, the UDP
// checksum.
func IPv4UDP(src, dst netip.AddrPort, payload []byte, udpChecksum bool) []byte {
	b := make([]byte, teredo.EncapLen+len(payload))
	teredo.PutIPv4UDP(b, src, dst, len(payload), 0x1234, 64)
	copy(b[teredo.EncapLen:], payload)
	if udpChecksum {
		teredo.SetUDPChecksum(b)
	}
	return b
}

// TeredoAddr builds the Teredo address of a client qualified by server with
// the given flags and mapping (RFC 4380 §4).
func TeredoAddr(server netip.Addr, flags uint16, mapped netip.AddrPort) netip.Addr {
	return teredo.Addr{Server: server, Flags: flags, Mapped: mapped}.IP()
}

// TCPSegment builds a TCP-over-IPv6 packet (an ACK with size bytes of
// payload) with a correct checksum or, with partialChecksum, with only the
// folded pseudo-header sum in the checksum field: what a Linux stack sends
// on a virtual interface with checksum offload (CHECKSUM_PARTIAL), which
// the relay must complete.
func TCPSegment(src, dst netip.Addr, hopLimit uint8, size int, partialChecksum bool) []byte {
	seg := make([]byte, 20+size)
	binary.BigEndian.PutUint16(seg[0:2], 443)
	binary.BigEndian.PutUint16(seg[2:4], 51000)
	binary.BigEndian.PutUint32(seg[4:8], 0x01020304)
	binary.BigEndian.PutUint32(seg[8:12], 0x0a0b0c0d)
	seg[12], seg[13] = 5<<4, 0x10 // 20-byte header, ACK
	binary.BigEndian.PutUint16(seg[14:16], 512)
	for i := 20; i < len(seg); i++ {
		seg[i] = byte(i * 7)
	}
	p := IPv6(src, dst, 6, hopLimit, seg)
	// The pseudo-header: addresses, length, next header (RFC 8200 §8.1).
	ph := make([]byte, 40)
	copy(ph, p[8:40])
	binary.BigEndian.PutUint32(ph[32:36], uint32(len(seg)))
	ph[39] = 6
	pseudo := ^teredo.Checksum(ph, 0) // folded sum, not complemented
	if partialChecksum {
		binary.BigEndian.PutUint16(p[40+16:], pseudo)
		return p
	}
	binary.BigEndian.PutUint16(p[40+16:], teredo.Checksum(seg, uint32(pseudo)))
	return p
}
