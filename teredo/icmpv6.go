package teredo

import (
	"encoding/binary"
	"errors"
	"net/netip"
)

// Reasons PutICMPv6Error refuses to build an error [RFC 4443 §2.4 (e)].
var (
	// ErrICMPv6Error: the invoking packet is itself an ICMPv6 error message.
	ErrICMPv6Error = errors.New("teredo: no icmpv6 error about an icmpv6 error")
	// ErrBubble: the invoking packet is a Teredo bubble.
	ErrBubble = errors.New("teredo: no icmpv6 error about a bubble")
	// ErrMulticastSource: the invoking packet's source is multicast.
	ErrMulticastSource = errors.New("teredo: no icmpv6 error to a multicast source")
	// ErrUnspecifiedSource: the invoking packet's source is ::.
	ErrUnspecifiedSource = errors.New("teredo: no icmpv6 error to the unspecified address")
	// ErrMulticastDestination: the invoking packet was sent to a multicast
	// address (allowed only for Packet Too Big and Parameter Problem code 2).
	ErrMulticastDestination = errors.New("teredo: no icmpv6 error about a multicast destination")
)

const (
	// ICMPv6ErrorHeaderLen is the IPv6 + ICMPv6 error header size (40 + 8).
	ICMPv6ErrorHeaderLen = IPv6HeaderLen + 8
	// ICMPv6ErrorHopLimit is the hop limit of generated ICMPv6 errors.
	ICMPv6ErrorHopLimit = 64
	// maxQuote is how much of the invoking packet fits in a 1280-byte error.
	maxQuote = MinMTU - ICMPv6ErrorHeaderLen
)

// ICMPv6Checksum returns the ICMPv6 checksum of msg (the ICMPv6 message: type,
// code, checksum, body) with the IPv6 pseudo-header for src, dst, length
// len(msg) and next header 58 [RFC 4443 §2.3]. To compute a checksum the
// checksum field (msg[2:4]) must be zero; to verify a received message compute
// over it as received: a correct message yields 0.
func ICMPv6Checksum(src, dst *[16]byte, msg []byte) uint16 {
	l := uint64(len(msg))
	acc := sumAddr(src, sumAddr(dst, l>>16+l&0xffff+ProtoICMPv6))
	return ^fold(fold64(sum64(msg, acc)))
}

// VerifyICMPv6Checksum reports whether the ICMPv6 message carried by the IPv6
// packet ipv6 (no extension headers: next header 58, message ipv6[40:40+plen])
// has a correct checksum.
func VerifyICMPv6Checksum(ipv6 []byte) bool {
	if len(ipv6) < IPv6HeaderLen+4 || ipv6[6] != ProtoICMPv6 {
		return false
	}
	end := IPv6HeaderLen + PayloadLen(ipv6)
	if end > len(ipv6) || end < IPv6HeaderLen+4 {
		return false
	}
	return ICMPv6Checksum(SrcPtr(ipv6), DstPtr(ipv6), ipv6[IPv6HeaderLen:end]) == 0
}

// PutICMPv6Error writes into b an IPv6 packet carrying an ICMPv6 error message
// of type typ and code code about the invoking IPv6 packet [RFC 4443 §2.4, §3]:
// source src, destination the invoking packet's source, hop limit 64, the
// 32-bit param field (unused/MTU/pointer), then as much of the invoking packet
// as fits in a 1280-byte result, and the checksum. It returns the bytes written.
//
// It refuses, with a sentinel error and nothing written, to answer an ICMPv6
// error message (ErrICMPv6Error), a bubble (ErrBubble), a packet from a
// multicast (ErrMulticastSource) or unspecified (ErrUnspecifiedSource) source,
// or a packet to a multicast destination unless typ is Packet Too Big or
// Parameter Problem code 2 (ErrMulticastDestination). It returns ErrTruncated
// or ErrBadVersion for an invoking packet shorter than 40 bytes or not IPv6,
// and ErrShortBuffer if b cannot hold the 48-byte header plus the quote: b of
// 1280 bytes always suffices.
func PutICMPv6Error(b []byte, typ, code uint8, param uint32, src netip.Addr, invoking []byte) (int, error) {
	if err := errorEligible(typ, code, invoking); err != nil {
		return 0, err
	}
	quote := len(invoking)
	if quote > maxQuote {
		quote = maxQuote
	}
	n := ICMPv6ErrorHeaderLen + quote
	if len(b) < n {
		return 0, ErrShortBuffer
	}
	s := src.As16()
	d := Src(invoking)
	// d is read and the quote moved (copy is memmove) before the header is
	// written, so invoking may overlap b, e.g. sit at b[48:] already.
	copy(b[ICMPv6ErrorHeaderLen:n], invoking[:quote])
	putIPv6Header(b, n-IPv6HeaderLen, ProtoICMPv6, ICMPv6ErrorHopLimit, &s, &d)
	m := b[IPv6HeaderLen:n]
	m[0], m[1], m[2], m[3] = typ, code, 0, 0
	binary.BigEndian.PutUint32(m[4:8], param)
	binary.BigEndian.PutUint16(m[2:4], ICMPv6Checksum(&s, &d, m))
	return n, nil
}

// PutDestUnreachable builds a Destination Unreachable error (type 1) with code
// (CodeNoRoute, CodeAdminProhibited, CodeAddrUnreachable, ...); see PutICMPv6Error.
func PutDestUnreachable(b []byte, code uint8, src netip.Addr, invoking []byte) (int, error) {
	return PutICMPv6Error(b, ICMPv6DestUnreachable, code, 0, src, invoking)
}

// PutTimeExceeded builds a Time Exceeded error, code 0 (hop limit exceeded in
// transit); see PutICMPv6Error.
func PutTimeExceeded(b []byte, src netip.Addr, invoking []byte) (int, error) {
	return PutICMPv6Error(b, ICMPv6TimeExceeded, CodeHopLimitExceeded, 0, src, invoking)
}

// PutPacketTooBig builds a Packet Too Big error carrying mtu; see PutICMPv6Error.
func PutPacketTooBig(b []byte, mtu uint32, src netip.Addr, invoking []byte) (int, error) {
	return PutICMPv6Error(b, ICMPv6PacketTooBig, 0, mtu, src, invoking)
}

// ICMPv6ErrorEligible reports, with the sentinel error PutICMPv6Error would
// return, why no ICMPv6 error of type typ and code may answer invoking, or
// nil when one may: the checks of PutICMPv6Error without building anything,
// so that a rate limit is not spent on an error that cannot be sent.
func ICMPv6ErrorEligible(typ, code uint8, invoking []byte) error {
	return errorEligible(typ, code, invoking)
}

// errorEligible applies RFC 4443 §2.4 (e) and the Teredo bubble rule to the
// invoking packet.
func errorEligible(typ, code uint8, invoking []byte) error {
	if len(invoking) < IPv6HeaderLen {
		return ErrTruncated
	}
	if invoking[0]>>4 != 6 {
		return ErrBadVersion
	}
	src, dst := SrcPtr(invoking), DstPtr(invoking)
	if IsUnspecified(src) {
		return ErrUnspecifiedSource
	}
	if IsMulticast(src) {
		return ErrMulticastSource
	}
	if IsMulticast(dst) && typ != ICMPv6PacketTooBig && !(typ == ICMPv6ParamProblem && code == 2) {
		return ErrMulticastDestination
	}
	if IsBubble(invoking) {
		return ErrBubble
	}
	isErr, err := carriesICMPv6Error(invoking)
	if err != nil {
		return err
	}
	if isErr {
		return ErrICMPv6Error
	}
	return nil
}

// carriesICMPv6Error walks the extension headers of ipv6 (hop-by-hop, routing,
// destination options, fragment) and reports whether the upper layer is an
// ICMPv6 error message (type < 128). A non-first fragment has no upper-layer
// header and is not an error message. Headers cut short return ErrTruncated:
// when in doubt, no error is sent.
func carriesICMPv6Error(ipv6 []byte) (bool, error) {
	nh := ipv6[6]
	p := ipv6[IPv6HeaderLen:]
	for {
		switch nh {
		case ProtoICMPv6:
			if len(p) < 1 {
				return false, ErrTruncated
			}
			return p[0] < 128, nil
		case ProtoHopByHop, ProtoRouting, ProtoDestOpts:
			if len(p) < 2 {
				return false, ErrTruncated
			}
			n := (int(p[1]) + 1) * 8
			if len(p) < n {
				return false, ErrTruncated
			}
			nh, p = p[0], p[n:]
		case ProtoFragment:
			if len(p) < 8 {
				return false, ErrTruncated
			}
			if binary.BigEndian.Uint16(p[2:4])&0xfff8 != 0 {
				return false, nil
			}
			nh, p = p[0], p[8:]
		default:
			return false, nil
		}
	}
}
