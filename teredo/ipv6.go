package teredo

import (
	"encoding/binary"
	"net/netip"
)

// IPv6 constants used by the Teredo data path.
const (
	IPv6HeaderLen  = 40
	ProtoICMPv6    = 58 // next header: ICMPv6
	ProtoNoNext    = 59 // next header: no next header (bubbles)
	ProtoHopByHop  = 0
	ProtoRouting   = 43
	ProtoFragment  = 44
	ProtoDestOpts  = 60
	MinMTU         = 1280 // IPv6 minimum MTU; the Teredo link MTU [RFC 4380 §5.1.2]
	BubbleHopLimit = 0    // hop limit of the bubbles PutBubble builds (Miredo's choice)
	NDHopLimit     = 255  // hop limit of RS/RA [RFC 4861 §6.1]
)

// The accessors below read fields of a raw IPv6 header. They check nothing but
// need len(ipv6) >= 40 (they panic on shorter slices, like any index).

// Src returns the IPv6 source address.
func Src(ipv6 []byte) (a [16]byte) { return [16]byte(ipv6[8:24]) }

// Dst returns the IPv6 destination address.
func Dst(ipv6 []byte) (a [16]byte) { return [16]byte(ipv6[24:40]) }

// SrcPtr returns a pointer to the source address inside ipv6 (no copy).
func SrcPtr(ipv6 []byte) *[16]byte { return (*[16]byte)(ipv6[8:24]) }

// DstPtr returns a pointer to the destination address inside ipv6 (no copy).
func DstPtr(ipv6 []byte) *[16]byte { return (*[16]byte)(ipv6[24:40]) }

// NextHeader returns the next header field.
func NextHeader(ipv6 []byte) uint8 { return ipv6[6] }

// HopLimit returns the hop limit field.
func HopLimit(ipv6 []byte) uint8 { return ipv6[7] }

// SetHopLimit overwrites the hop limit field (no checksum covers it).
func SetHopLimit(ipv6 []byte, h uint8) { ipv6[7] = h }

// PayloadLen returns the payload length field.
func PayloadLen(ipv6 []byte) int { return int(binary.BigEndian.Uint16(ipv6[4:6])) }

// IsBubble reports whether ipv6 is a Teredo bubble: next header 59 and payload
// length 0 [RFC 4380 §2.8]. Slices shorter than 40 bytes are not bubbles.
func IsBubble(ipv6 []byte) bool {
	return len(ipv6) >= IPv6HeaderLen && ipv6[6] == ProtoNoNext && ipv6[4] == 0 && ipv6[5] == 0
}

// IsMulticast reports whether ip is in ff00::/8.
func IsMulticast(ip *[16]byte) bool { return ip[0] == 0xff }

// IsRoutable reports whether the (non-multicast) IPv6 address ip may be
// forwarded to or accepted from the IPv6 Internet by a relay or server: not
// in ::/8 (unspecified, loopback, IPv4-compatible and IPv4-mapped), not a
// unique local address (fc00::/7, RFC 4193 §4.1: never routed globally),
// not link-local or site-local (fe80::/10, fec0::/10).
func IsRoutable(ip *[16]byte) bool {
	switch {
	case ip[0] == 0:
		return false
	case ip[0]&0xfe == 0xfc:
		return false
	case ip[0] == 0xfe && ip[1]&0x80 == 0x80:
		return false
	}
	return true
}

// IsUnspecified reports whether ip is ::.
func IsUnspecified(ip *[16]byte) bool { return *ip == [16]byte{} }

// putIPv6Header writes a 40-byte IPv6 header (traffic class and flow label 0).
func putIPv6Header(b []byte, payloadLen int, nextHeader, hopLimit uint8, src, dst *[16]byte) {
	_ = b[IPv6HeaderLen-1]
	b[0], b[1], b[2], b[3] = 0x60, 0, 0, 0
	binary.BigEndian.PutUint16(b[4:6], uint16(payloadLen))
	b[6], b[7] = nextHeader, hopLimit
	copy(b[8:24], src[:])
	copy(b[24:40], dst[:])
}

// PutBubble writes a Teredo bubble (40-byte IPv6 header, next header 59, payload
// length 0) from src to dst into b and returns 40, or 0 if len(b) < 40. The hop
// limit is BubbleHopLimit (0, as Miredo sends): a bubble is consumed by the
// Teredo node that receives it and must never be routed as IPv6 [RFC 4380 §2.8].
// A local discovery bubble needs hop limit 1 [RFC 4380 §5.2.8]: use SetHopLimit.
func PutBubble(b []byte, src, dst netip.Addr) int {
	if len(b) < IPv6HeaderLen {
		return 0
	}
	s, d := src.As16(), dst.As16()
	putIPv6Header(b, 0, ProtoNoNext, BubbleHopLimit, &s, &d)
	return IPv6HeaderLen
}

// AllRouters is ff02::2, the destination of Router Solicitations.
var AllRouters = netip.MustParseAddr("ff02::2")

// ICMPv6 message types and codes [RFC 4443, RFC 4861].
const (
	ICMPv6DestUnreachable = 1
	ICMPv6PacketTooBig    = 2
	ICMPv6TimeExceeded    = 3
	ICMPv6ParamProblem    = 4
	ICMPv6EchoRequest     = 128
	ICMPv6EchoReply       = 129
	ICMPv6RouterSolicit   = 133
	ICMPv6RouterAdvert    = 134

	// Destination Unreachable codes.
	CodeNoRoute          = 0
	CodeAdminProhibited  = 1
	CodeBeyondScope      = 2
	CodeAddrUnreachable  = 3
	CodePortUnreachable  = 4
	CodeHopLimitExceeded = 0 // Time Exceeded code 0
)

// RSLen is the size of the IPv6 Router Solicitation PutRS builds (no options).
const RSLen = IPv6HeaderLen + 8

// PutRS writes a Router Solicitation without options from src (a client's
// link-local address, see ClientLinkLocal) to ff02::2, hop limit 255, with its
// ICMPv6 checksum [RFC 4380 §5.2.1, RFC 4861 §4.1]. It returns RSLen, or 0 if b
// is too short.
func PutRS(b []byte, src netip.Addr) int {
	if len(b) < RSLen {
		return 0
	}
	s, d := src.As16(), AllRouters.As16()
	putIPv6Header(b, 8, ProtoICMPv6, NDHopLimit, &s, &d)
	m := b[IPv6HeaderLen:RSLen]
	clear(m)
	m[0] = ICMPv6RouterSolicit
	binary.BigEndian.PutUint16(m[2:4], ICMPv6Checksum(&s, &d, m))
	return RSLen
}

// IsRS reports whether ipv6 (a decoded IPv6 packet) is a Router Solicitation
// that a Teredo server must process: link-local source, destination ff02::2,
// next header ICMPv6, type 133 code 0, hop limit 255, at least 8 bytes of
// ICMPv6 and a correct checksum [RFC 4380 §5.3.1 rule 4, RFC 4861 §6.1.1].
func IsRS(ipv6 []byte) bool {
	if len(ipv6) < RSLen || ipv6[6] != ProtoICMPv6 || ipv6[7] != NDHopLimit {
		return false
	}
	src, dst := SrcPtr(ipv6), DstPtr(ipv6)
	if !IsLinkLocal(src) || *dst != AllRouters.As16() {
		return false
	}
	m := ipv6[IPv6HeaderLen:]
	if m[0] != ICMPv6RouterSolicit || m[1] != 0 {
		return false
	}
	return ICMPv6Checksum(src, dst, m) == 0
}

// Router Advertisement layout built by PutRA.
const (
	raHeaderLen = 16 // type, code, checksum, cur hop limit, flags, lifetime, reachable, retrans
	pioLen      = 32 // Prefix Information option
	mtuOptLen   = 8  // MTU option
	// RALen is the size of the IPv6 Router Advertisement PutRA builds.
	RALen = IPv6HeaderLen + raHeaderLen + pioLen + mtuOptLen
	// RARetransTimer is the retrans timer (ms) in the RA, Miredo's value.
	RARetransTimer = 2000
)

// PutRA writes the Router Advertisement a Teredo server sends in answer to a
// Router Solicitation [RFC 4380 §5.3.2, §5.1.2]: source ServerLinkLocal(server),
// destination dst (the RS source), hop limit 255; cur hop limit 0, no flags,
// router lifetime 0, reachable time 0, retrans timer 2000 ms; one Prefix
// Information option 2001:0:<server>::/64 (A flag, infinite lifetimes) and an
// MTU option with mtu (0 means 1280). The ICMPv6 checksum is filled. The UDP
// payload of the reply is [auth indicator] origin indication + this packet
// (PutAuth, PutOrigin). It returns RALen, or 0 if b is too short.
func PutRA(b []byte, server, dst netip.Addr, mtu uint32) int {
	if len(b) < RALen {
		return 0
	}
	if mtu == 0 {
		mtu = MinMTU
	}
	s, d := ServerLinkLocal(server).As16(), dst.As16()
	putIPv6Header(b, RALen-IPv6HeaderLen, ProtoICMPv6, NDHopLimit, &s, &d)
	m := b[IPv6HeaderLen:RALen]
	clear(m)
	m[0] = ICMPv6RouterAdvert
	binary.BigEndian.PutUint32(m[12:16], RARetransTimer)
	o := m[raHeaderLen:]
	o[0], o[1] = 3, pioLen/8                        // Prefix Information, length in units of 8 bytes
	o[2] = 64                                       // prefix length
	o[3] = 0x40                                     // A (autonomous address configuration)
	binary.BigEndian.PutUint32(o[4:8], 0xffffffff)  // valid lifetime
	binary.BigEndian.PutUint32(o[8:12], 0xffffffff) // preferred lifetime
	p := ServerPrefix(server).Addr().As16()
	copy(o[16:32], p[:])
	o = o[pioLen:]
	o[0], o[1] = 5, mtuOptLen/8 // MTU option
	binary.BigEndian.PutUint32(o[4:8], mtu)
	binary.BigEndian.PutUint16(m[2:4], ICMPv6Checksum(&s, &d, m))
	return RALen
}

// RA holds what a Teredo client needs from a Router Advertisement.
type RA struct {
	Src    netip.Addr   // IPv6 source (the server's link-local address)
	Dst    netip.Addr   // IPv6 destination (must equal the RS source)
	Prefix netip.Prefix // the one Prefix Information option
	MTU    uint32       // MTU option, 0 if absent
}

// ParseRA validates ipv6 as a Router Advertisement a Teredo client may accept
// [RFC 4380 §5.2.1]: next header ICMPv6, type 134 code 0, hop limit 255,
// link-local source, correct checksum, well-formed options and exactly one
// Prefix Information option of length /64 inside 2001::/32. It returns
// ErrTruncated, ErrLength or ErrNotRA.
func ParseRA(ipv6 []byte, ra *RA) error {
	*ra = RA{}
	if len(ipv6) < IPv6HeaderLen+raHeaderLen {
		return ErrTruncated
	}
	if ipv6[0]>>4 != 6 {
		return ErrBadVersion
	}
	end := IPv6HeaderLen + PayloadLen(ipv6)
	if end > len(ipv6) || end < IPv6HeaderLen+raHeaderLen {
		return ErrLength
	}
	src, dst := SrcPtr(ipv6), DstPtr(ipv6)
	m := ipv6[IPv6HeaderLen:end]
	if ipv6[6] != ProtoICMPv6 || ipv6[7] != NDHopLimit || m[0] != ICMPv6RouterAdvert || m[1] != 0 ||
		!IsLinkLocal(src) || ICMPv6Checksum(src, dst, m) != 0 {
		return ErrNotRA
	}
	var out RA
	prefixes := 0
	for o := m[raHeaderLen:]; len(o) > 0; {
		if len(o) < 2 || o[1] == 0 || len(o) < int(o[1])*8 {
			return ErrLength
		}
		n := int(o[1]) * 8
		switch o[0] {
		case 3:
			if n != pioLen {
				return ErrNotRA
			}
			prefixes++
			out.Prefix = netip.PrefixFrom(netip.AddrFrom16([16]byte(o[16:32])), int(o[2]))
		case 5:
			if n != mtuOptLen {
				return ErrNotRA
			}
			out.MTU = binary.BigEndian.Uint32(o[4:8])
		}
		o = o[n:]
	}
	if prefixes != 1 || out.Prefix.Bits() != 64 || !Prefix.Contains(out.Prefix.Addr()) {
		return ErrNotRA
	}
	out.Src, out.Dst = netip.AddrFrom16(*src), netip.AddrFrom16(*dst)
	*ra = out
	return nil
}
