package teredo

import (
	"encoding/binary"
	"errors"
	"net/netip"
)

// IPv4/UDP constants for the Teredo encapsulation.
const (
	IPv4HeaderLen = 20 // without options
	UDPHeaderLen  = 8
	// EncapLen is the IPv4+UDP overhead PutIPv4UDP writes.
	EncapLen   = IPv4HeaderLen + UDPHeaderLen
	ProtoUDP   = 17
	DefaultTTL = 64
)

// IPv4 header errors.
var (
	// ErrFragment: the IPv4 packet is a fragment (MF set or offset non-zero).
	// IPv4Header.Decode still fills the header so the caller can count or pass it.
	ErrFragment = errors.New("teredo: ipv4 fragment")
	// ErrChecksum: the IPv4 header checksum is wrong.
	ErrChecksum = errors.New("teredo: bad ipv4 header checksum")
	// ErrNotRA: the packet is not a valid Router Advertisement.
	ErrNotRA = errors.New("teredo: not a valid router advertisement")
)

// IPv4Header is a decoded IPv4 header. It is caller-owned and reused.
type IPv4Header struct {
	HeaderLen int // IHL in bytes (20..60)
	TotalLen  int // total length field
	TOS       uint8
	ID        uint16
	Flags     uint8  // the 3 flag bits (0x2 DF, 0x1 MF)
	FragOff   uint16 // fragment offset in 8-byte units
	TTL       uint8
	Protocol  uint8
	Src, Dst  [4]byte
}

// IPv4 flag bits as in IPv4Header.Flags.
const (
	IPv4FlagDF = 0x2
	IPv4FlagMF = 0x1
)

// Decode parses and validates the IPv4 header at the start of b: version 4,
// IHL >= 5, IHL*4 <= total length <= len(b) (bytes after total length, such as
// Ethernet padding, are allowed), and the header checksum. It returns
// ErrTruncated, ErrBadVersion, ErrLength, ErrChecksum, or ErrFragment for a
// valid header of a fragment (the fields are filled in that case).
func (h *IPv4Header) Decode(b []byte) error {
	if len(b) < IPv4HeaderLen {
		*h = IPv4Header{}
		return ErrTruncated
	}
	hl := int(b[0]&0x0f) * 4
	tl := int(binary.BigEndian.Uint16(b[2:4]))
	var err error
	switch {
	case b[0]>>4 != 4:
		err = ErrBadVersion
	case hl < IPv4HeaderLen:
		err = ErrLength
	case len(b) < hl:
		err = ErrTruncated
	case tl < hl || tl > len(b):
		err = ErrLength
	case !headerSumOK(b[:hl]):
		err = ErrChecksum
	}
	if err != nil {
		*h = IPv4Header{}
		return err
	}
	// Field by field: a composite literal is built on the stack and copied,
	// and IsFragment would then read back what that copy just stored.
	ff := binary.BigEndian.Uint16(b[6:8])
	h.HeaderLen = hl
	h.TotalLen = tl
	h.TOS = b[1]
	h.ID = binary.BigEndian.Uint16(b[4:6])
	h.Flags = uint8(ff >> 13)
	h.FragOff = ff & 0x1fff
	h.TTL = b[8]
	h.Protocol = b[9]
	h.Src = [4]byte(b[12:16])
	h.Dst = [4]byte(b[16:20])
	if ff&(IPv4FlagMF<<13|0x1fff) != 0 {
		return ErrFragment
	}
	return nil
}

// headerSumOK reports whether the IPv4 header h (IHL*4 bytes) sums to
// 0xffff, its checksum included. The common 20-byte header is five 32-bit
// words added inline; a header with options takes sum.
func headerSumOK(h []byte) bool {
	if len(h) != IPv4HeaderLen {
		return fold(sum(h, 0)) == 0xffff
	}
	s := uint64(binary.BigEndian.Uint32(h[0:4])) + uint64(binary.BigEndian.Uint32(h[4:8])) +
		uint64(binary.BigEndian.Uint32(h[8:12])) + uint64(binary.BigEndian.Uint32(h[12:16])) +
		uint64(binary.BigEndian.Uint32(h[16:20]))
	return fold(fold64(s)) == 0xffff
}

// IsFragment reports whether the header describes a fragment.
func (h *IPv4Header) IsFragment() bool { return h.Flags&IPv4FlagMF != 0 || h.FragOff != 0 }

// SrcAddr returns the source address as a netip.Addr.
func (h *IPv4Header) SrcAddr() netip.Addr { return netip.AddrFrom4(h.Src) }

// DstAddr returns the destination address as a netip.Addr.
func (h *IPv4Header) DstAddr() netip.Addr { return netip.AddrFrom4(h.Dst) }

// UDPHeader is a decoded UDP header. It is caller-owned and reused.
type UDPHeader struct {
	SrcPort, DstPort uint16
	Length           int // UDP length field (header + payload)
	Checksum         uint16
}

// Decode parses the UDP header at the start of b, which holds the UDP datagram
// as bounded by the IPv4 total length. It checks 8 <= length <= len(b) and
// returns ErrTruncated or ErrLength. The payload is b[8:Length]. The checksum is
// not verified (see UDPChecksum).
func (u *UDPHeader) Decode(b []byte) error {
	*u = UDPHeader{}
	if len(b) < UDPHeaderLen {
		return ErrTruncated
	}
	l := int(binary.BigEndian.Uint16(b[4:6]))
	if l < UDPHeaderLen || l > len(b) {
		return ErrLength
	}
	*u = UDPHeader{
		SrcPort:  binary.BigEndian.Uint16(b[0:2]),
		DstPort:  binary.BigEndian.Uint16(b[2:4]),
		Length:   l,
		Checksum: binary.BigEndian.Uint16(b[6:8]),
	}
	return nil
}

// PutIPv4UDP writes a 20-byte IPv4 header (no options, DF clear [RFC 4380
// §5.1.2], protocol UDP, header checksum filled) and an 8-byte UDP header
// (checksum 0, "not computed", which IPv4 allows) into b[0:28] for a UDP
// payload of payloadLen bytes that the caller places at b[28:]. len(b) >= 28 and
// payloadLen <= 65507. SetUDPChecksum can fill the UDP checksum afterwards
// with a pass over the payload; PutIPv4UDPSum computes it from the
// payload's sum instead.
func PutIPv4UDP(b []byte, src, dst netip.AddrPort, payloadLen int, id uint16, ttl uint8) {
	putIPv4UDP(b, src, dst, payloadLen, id, ttl, 0, false)
}

// PutIPv4UDPSum is PutIPv4UDP with the UDP checksum filled from
// payloadSum, the one's complement sum of the payload (InnerChecksum for an
// IPv6 packet): the payload is not read again.
func PutIPv4UDPSum(b []byte, src, dst netip.AddrPort, payloadLen int, id uint16, ttl uint8, payloadSum uint32) {
	putIPv4UDP(b, src, dst, payloadLen, id, ttl, payloadSum, true)
}

// putIPv4UDP writes the headers; both checksums are computed from the
// values, not read back from b (a load over bytes just stored one or two at
// a time waits for them: store forwarding fails).
func putIPv4UDP(b []byte, src, dst netip.AddrPort, payloadLen int, id uint16, ttl uint8, payloadSum uint32, udpSum bool) {
	_ = b[EncapLen-1]
	s, d := as4(src.Addr()), as4(dst.Addr())
	s32, d32 := binary.BigEndian.Uint32(s[:]), binary.BigEndian.Uint32(d[:])
	total, udpLen := uint64(EncapLen+payloadLen), uint64(UDPHeaderLen+payloadLen)
	addrs := uint64(s32>>16) + uint64(s32&0xffff) + uint64(d32>>16) + uint64(d32&0xffff)
	hsum := 0x4500 + total + uint64(id) + (uint64(ttl)<<8 | ProtoUDP) + addrs
	binary.BigEndian.PutUint32(b[0:4], 0x45000000|uint32(total))
	binary.BigEndian.PutUint16(b[4:6], id)
	b[6], b[7] = 0, 0 // flags (DF clear) and fragment offset
	b[8], b[9] = ttl, ProtoUDP
	binary.BigEndian.PutUint16(b[10:12], ^fold(fold64(hsum)))
	binary.BigEndian.PutUint32(b[12:16], s32)
	binary.BigEndian.PutUint32(b[16:20], d32)
	u := b[IPv4HeaderLen:EncapLen]
	binary.BigEndian.PutUint16(u[0:2], src.Port())
	binary.BigEndian.PutUint16(u[2:4], dst.Port())
	binary.BigEndian.PutUint16(u[4:6], uint16(udpLen))
	var c uint16
	if udpSum {
		// Pseudo-header (addresses, protocol, length) and UDP header
		// (ports, length; the checksum field counts as 0), then the payload.
		acc := uint64(payloadSum) + addrs + ProtoUDP + udpLen +
			uint64(src.Port()) + uint64(dst.Port()) + udpLen
		if c = ^fold(fold64(acc)); c == 0 {
			c = 0xffff // RFC 768: 0 means no checksum
		}
	}
	binary.BigEndian.PutUint16(u[6:8], c)
}

// UDPChecksum returns the UDP checksum over the IPv4 pseudo-header (src, dst,
// protocol 17, len(udp)) and udp, the whole UDP datagram with its checksum
// field as it is. To compute a checksum the field must be zero; the result is
// then never 0 (0 is sent as 0xffff, RFC 768). To verify a received datagram
// whose checksum field is non-zero, compare the result computed over the
// datagram as received with 0: a correct datagram yields 0.
func UDPChecksum(src, dst [4]byte, udp []byte) uint16 {
	var s uint32
	s += uint32(src[0])<<8 | uint32(src[1])
	s += uint32(src[2])<<8 | uint32(src[3])
	s += uint32(dst[0])<<8 | uint32(dst[1])
	s += uint32(dst[2])<<8 | uint32(dst[3])
	s += ProtoUDP
	s += uint32(len(udp))
	c := ^fold(sum(udp, s))
	if c == 0 && binary.BigEndian.Uint16(udp[6:8]) == 0 {
		return 0xffff
	}
	return c
}

// SetUDPChecksum fills the UDP checksum of an IPv4+UDP packet without IPv4
// options, as written by PutIPv4UDP followed by its payload; the UDP datagram
// is pkt[20:total length].
func SetUDPChecksum(pkt []byte) {
	tl := int(binary.BigEndian.Uint16(pkt[2:4]))
	udp := pkt[IPv4HeaderLen:tl]
	udp[6], udp[7] = 0, 0
	binary.BigEndian.PutUint16(udp[6:8], UDPChecksum([4]byte(pkt[12:16]), [4]byte(pkt[16:20]), udp))
}
