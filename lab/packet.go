package lab

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// The packet builders and parsers below are the lab's own, written from the
// RFCs independently of the teredo package: the harness must not share code
// with the relay it judges.

// IPv6 next-header values used by the builders.
const (
	ProtoTCP    = 6
	ProtoICMPv6 = 58
	ProtoNoNext = 59
	ProtoUDP    = 17
)

// TeredoAddr encodes a Teredo address [RFC 4380 §4]: prefix 2001::/32, server
// IPv4, flags, and the client's mapped port and IPv4 address, both inverted.
func TeredoAddr(server netip.Addr, flags uint16, mapped netip.AddrPort) netip.Addr {
	var a [16]byte
	a[0], a[1] = 0x20, 0x01
	s := server.As4()
	copy(a[4:8], s[:])
	binary.BigEndian.PutUint16(a[8:10], flags)
	binary.BigEndian.PutUint16(a[10:12], ^mapped.Port())
	m := mapped.Addr().As4()
	for i := range 4 {
		a[12+i] = ^m[i]
	}
	return netip.AddrFrom16(a)
}

// TeredoMapping decodes the server and mapped endpoint of a Teredo address;
// ok is false outside 2001::/32.
func TeredoMapping(a netip.Addr) (server netip.Addr, mapped netip.AddrPort, ok bool) {
	if !a.Is6() || a.Is4In6() || !TeredoPrefix.Contains(a) {
		return netip.Addr{}, netip.AddrPort{}, false
	}
	b := a.As16()
	server = netip.AddrFrom4([4]byte(b[4:8]))
	port := ^binary.BigEndian.Uint16(b[10:12])
	var m [4]byte
	for i := range 4 {
		m[i] = ^b[12+i]
	}
	return server, netip.AddrPortFrom(netip.AddrFrom4(m), port), true
}

// IPv6Packet builds an IPv6 header (traffic class and flow label 0) followed
// by payload.
func IPv6Packet(src, dst netip.Addr, nextHeader, hopLimit uint8, payload []byte) []byte {
	p := make([]byte, 40+len(payload))
	p[0] = 0x60
	binary.BigEndian.PutUint16(p[4:6], uint16(len(payload)))
	p[6] = nextHeader
	p[7] = hopLimit
	s, d := src.As16(), dst.As16()
	copy(p[8:24], s[:])
	copy(p[24:40], d[:])
	copy(p[40:], payload)
	return p
}

// Bubble builds a Teredo bubble: an IPv6 header with next header 59, payload
// length 0 and hop limit 0 [RFC 4380 §2.8].
func Bubble(src, dst netip.Addr) []byte { return IPv6Packet(src, dst, ProtoNoNext, 0, nil) }

// EchoRequest builds an IPv6 ICMPv6 Echo Request with a correct checksum.
func EchoRequest(src, dst netip.Addr, hopLimit uint8, id, seq uint16, data []byte) []byte {
	icmp := make([]byte, 8+len(data))
	icmp[0] = 128
	binary.BigEndian.PutUint16(icmp[4:6], id)
	binary.BigEndian.PutUint16(icmp[6:8], seq)
	copy(icmp[8:], data)
	p := IPv6Packet(src, dst, ProtoICMPv6, hopLimit, icmp)
	binary.BigEndian.PutUint16(p[42:44], UpperLayerChecksum(p))
	return p
}

// UpperLayerChecksum computes the checksum of the upper-layer payload of an
// IPv6 packet (no extension headers) over the RFC 8200 §8.1 pseudo-header;
// the packet's checksum field must be zero, or the result is 0 for a packet
// whose checksum is right.
func UpperLayerChecksum(pkt []byte) uint16 {
	if len(pkt) < 40 {
		return 0
	}
	body := pkt[40:]
	var sum uint32
	sum = sumWords(sum, pkt[8:40])
	sum += uint32(len(body) >> 16)
	sum += uint32(len(body) & 0xffff)
	sum += uint32(pkt[6])
	sum = sumWords(sum, body)
	return finish(sum)
}

// WithOrigin prefixes a Teredo payload with an Origin Indication
// [RFC 4380 §5.1.1]: 0x0000, then the port and IPv4 address, both inverted.
func WithOrigin(origin netip.AddrPort, payload []byte) []byte {
	b := make([]byte, 8+len(payload))
	binary.BigEndian.PutUint16(b[2:4], ^origin.Port())
	a := origin.Addr().As4()
	for i := range 4 {
		b[4+i] = ^a[i]
	}
	copy(b[8:], payload)
	return b
}

// IPv4UDP builds an IPv4 header (no options, DF clear) and UDP header around
// payload, with both checksums computed.
func IPv4UDP(src, dst netip.AddrPort, id uint16, ttl uint8, payload []byte) []byte {
	p := make([]byte, 28+len(payload))
	p[0] = 0x45
	binary.BigEndian.PutUint16(p[2:4], uint16(len(p)))
	binary.BigEndian.PutUint16(p[4:6], id)
	p[8] = ttl
	p[9] = ProtoUDP
	s, d := src.Addr().As4(), dst.Addr().As4()
	copy(p[12:16], s[:])
	copy(p[16:20], d[:])
	binary.BigEndian.PutUint16(p[10:12], finish(sumWords(0, p[:20])))
	u := p[20:]
	binary.BigEndian.PutUint16(u[0:2], src.Port())
	binary.BigEndian.PutUint16(u[2:4], dst.Port())
	binary.BigEndian.PutUint16(u[4:6], uint16(len(u)))
	copy(u[8:], payload)
	sum := sumWords(0, p[12:20])
	sum += ProtoUDP + uint32(len(u))
	c := finish(sumWords(sum, u))
	if c == 0 {
		c = 0xffff // RFC 768: a computed zero is sent as all ones
	}
	binary.BigEndian.PutUint16(u[6:8], c)
	return p
}

func sumWords(sum uint32, b []byte) uint32 {
	for len(b) >= 2 {
		sum += uint32(b[0])<<8 | uint32(b[1])
		b = b[2:]
	}
	if len(b) == 1 {
		sum += uint32(b[0]) << 8
	}
	return sum
}

func finish(sum uint32) uint16 {
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

// Errors of ParseTeredo.
var (
	ErrShortTeredo = errors.New("teredo payload truncated")
	ErrNotIPv6     = errors.New("teredo payload does not carry IPv6")
)

// TeredoPayload is a decoded Teredo UDP payload.
type TeredoPayload struct {
	HasAuth   bool
	HasOrigin bool
	Origin    netip.AddrPort
	IPv6      []byte // the IPv6 packet (40 + payload length bytes), aliasing the input
}

// ParseTeredo skips an Authentication header and an Origin Indication
// [RFC 4380 §5.1.1] and returns the IPv6 packet they precede.
func ParseTeredo(b []byte) (TeredoPayload, error) {
	var t TeredoPayload
	if len(b) >= 2 && b[0] == 0 && b[1] == 1 {
		if len(b) < 13 {
			return t, ErrShortTeredo
		}
		n := 13 + int(b[2]) + int(b[3])
		if len(b) < n {
			return t, ErrShortTeredo
		}
		t.HasAuth = true
		b = b[n:]
	}
	if len(b) >= 2 && b[0] == 0 && b[1] == 0 {
		if len(b) < 8 {
			return t, ErrShortTeredo
		}
		t.HasOrigin = true
		a := [4]byte{^b[4], ^b[5], ^b[6], ^b[7]}
		t.Origin = netip.AddrPortFrom(netip.AddrFrom4(a), ^binary.BigEndian.Uint16(b[2:4]))
		b = b[8:]
	}
	if len(b) < 40 {
		return t, ErrShortTeredo
	}
	if b[0]>>4 != 6 {
		return t, ErrNotIPv6
	}
	n := 40 + int(binary.BigEndian.Uint16(b[4:6]))
	if len(b) < n {
		return t, ErrShortTeredo
	}
	t.IPv6 = b[:n]
	return t, nil
}

// IsBubble reports whether an IPv6 packet is a Teredo bubble (next header 59,
// payload length 0).
func IsBubble(ipv6 []byte) bool {
	return len(ipv6) >= 40 && ipv6[6] == ProtoNoNext && ipv6[4] == 0 && ipv6[5] == 0
}

// IPv6Src returns the source address of an IPv6 packet (len >= 40).
func IPv6Src(ipv6 []byte) netip.Addr { return netip.AddrFrom16([16]byte(ipv6[8:24])) }

// IPv6Dst returns the destination address of an IPv6 packet (len >= 40).
func IPv6Dst(ipv6 []byte) netip.Addr { return netip.AddrFrom16([16]byte(ipv6[24:40])) }

// Describe renders a Teredo datagram on one line, e.g.
// "198.51.100.1:3544 > 192.0.2.1:3544 bubble fe80::1 > 2001:0:c000:201::1".
func (u UDP4) Describe() string {
	t, err := ParseTeredo(u.Payload)
	if err != nil {
		return fmt.Sprintf("%v > %v udp %d bytes (%v)", u.Src, u.Dst, len(u.Payload), err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%v > %v", u.Src, u.Dst)
	if t.HasAuth {
		b.WriteString(" auth")
	}
	if t.HasOrigin {
		fmt.Fprintf(&b, " origin %v", t.Origin)
	}
	kind := "ipv6"
	switch {
	case IsBubble(t.IPv6):
		kind = "bubble"
	case t.IPv6[6] == ProtoICMPv6 && len(t.IPv6) > 40:
		kind = fmt.Sprintf("icmpv6 type %d", t.IPv6[40])
	case t.IPv6[6] == 6:
		kind = "tcp"
	case t.IPv6[6] == ProtoUDP:
		kind = "udp"
	}
	fmt.Fprintf(&b, " %s %v > %v len %d", kind, IPv6Src(t.IPv6), IPv6Dst(t.IPv6), len(t.IPv6))
	return b.String()
}
