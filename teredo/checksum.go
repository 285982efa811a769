package teredo

import (
	"encoding/binary"
	"math/bits"
)

// The Internet checksum (RFC 1071) over big-endian 16-bit words. Sums are
// kept unfolded in a uint32 between the helpers (sum, fold) and in a uint64
// inside sum64, whose main loop adds 64-bit words with carry (sumBlocks):
// several times the speed of a 16- or 32-bit loop on a full-size packet.

// sum adds b as big-endian 16-bit words to s (one's complement sum, not
// folded; the result is congruent modulo 0xffff, which is all a checksum
// needs).
func sum(b []byte, s uint32) uint32 {
	return fold64(sum64(b, uint64(s)))
}

// sum64 adds b, as big-endian 16-bit words, to the one's complement
// accumulator acc. A word is 32 or 64 bits here: since 2^16 ≡ 1 (mod
// 0xffff), adding wider big-endian words with end-around carry gives a sum
// congruent to the 16-bit one. Blocks of 32 bytes go through 64-bit adds
// with carry; what is left (and a short input, such as an IPv4 header)
// through 32-bit words in the 64-bit accumulator, which cannot overflow.
func sum64(b []byte, acc uint64) uint64 {
	if len(b) >= 32 {
		n := len(b) &^ 31
		acc = sumBlocks(b[:n], acc)
		b = b[n:]
	}
	acc = uint64(fold64(acc)) // < 2^32: room for the 32-bit words below
	for len(b) >= 4 {
		acc += uint64(binary.BigEndian.Uint32(b))
		b = b[4:]
	}
	if len(b) >= 2 {
		acc += uint64(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		acc += uint64(b[0]) << 8
	}
	return acc
}

// sumBlocks adds b, a multiple of 32 bytes long, to acc with 64-bit adds
// with carry (bits.Add64 compiles to an ADC chain), four per iteration:
// about 8 bytes per cycle on current x86.
func sumBlocks(b []byte, acc uint64) uint64 {
	var c uint64
	for len(b) >= 32 {
		acc, c = bits.Add64(acc, binary.BigEndian.Uint64(b[0:8]), c)
		acc, c = bits.Add64(acc, binary.BigEndian.Uint64(b[8:16]), c)
		acc, c = bits.Add64(acc, binary.BigEndian.Uint64(b[16:24]), c)
		acc, c = bits.Add64(acc, binary.BigEndian.Uint64(b[24:32]), c)
		b = b[32:]
	}
	acc, c = bits.Add64(acc, 0, c) // end-around carry
	return acc + c                 // cannot carry again
}

// sumAddrs adds the 32 bytes of an IPv6 header's addresses to acc: sum64
// unrolled for the pseudo-header, small enough to be inlined.
func sumAddrs(a *[32]byte, acc uint64) uint64 {
	var c uint64
	acc, c = bits.Add64(acc, binary.BigEndian.Uint64(a[0:8]), 0)
	acc, c = bits.Add64(acc, binary.BigEndian.Uint64(a[8:16]), c)
	acc, c = bits.Add64(acc, binary.BigEndian.Uint64(a[16:24]), c)
	acc, c = bits.Add64(acc, binary.BigEndian.Uint64(a[24:32]), c)
	acc, c = bits.Add64(acc, 0, c)
	return acc + c
}

// sumAddr adds a 16-byte IPv6 address to acc (inlined).
func sumAddr(a *[16]byte, acc uint64) uint64 {
	var c uint64
	acc, c = bits.Add64(acc, binary.BigEndian.Uint64(a[0:8]), 0)
	acc, c = bits.Add64(acc, binary.BigEndian.Uint64(a[8:16]), c)
	acc, c = bits.Add64(acc, 0, c)
	return acc + c
}

// fold64 folds a 64-bit one's complement sum to 32 bits (still unfolded
// as far as 16-bit checksums go; fold finishes the job).
func fold64(acc uint64) uint32 {
	acc = (acc >> 32) + (acc & 0xffffffff)
	acc = (acc >> 32) + (acc & 0xffffffff)
	return uint32(acc)
}

// fold folds a 32-bit one's complement sum to 16 bits.
func fold(s uint32) uint16 {
	s = (s >> 16) + (s & 0xffff)
	s = (s >> 16) + (s & 0xffff)
	return uint16(s)
}

// Checksum returns the Internet checksum of b (RFC 1071): the complement of
// the folded one's complement sum of b as big-endian 16-bit words, with
// initial added first (pass 0, or an unfolded pseudo-header sum). Over data
// that includes a correct checksum field the result is 0.
func Checksum(b []byte, initial uint32) uint16 {
	return ^fold(sum(b, initial))
}

// Upper-layer protocols whose checksum covers the IPv6 pseudo-header (RFC
// 8200 §8.1) and is offloaded (CHECKSUM_PARTIAL) by Linux.
const (
	ProtoTCP = 6
	// protoUDPv6 is UDP over IPv6, the same number as ProtoUDP.
	protoUDPv6 = ProtoUDP
)

// maxChecksumExtHeaders bounds the hop-by-hop and destination options
// headers InnerChecksum walks to find the upper-layer header.
const maxChecksumExtHeaders = 4

// InnerChecksum prepares the IPv6 packet ip (exactly 40 + payload length
// bytes) for encapsulation towards a Teredo client, in place, and returns
// the one's complement sum of its bytes (unfolded, for PutIPv4UDPSum):
//
//   - Partial checksums are completed. A Linux stack on a virtual interface
//     (veth, bridge, tap: containers, network namespaces, VMs) sends TCP and
//     UDP with CHECKSUM_PARTIAL offload: the checksum field holds only the
//     folded sum of the pseudo-header and the NIC is expected to finish the
//     job. XDP and AF_XDP see such frames with the kernel's checksum state
//     lost. When the TCP or UDP checksum field (after up to 4 hop-by-hop or
//     destination options headers) equals the folded pseudo-header sum,
//     InnerChecksum computes the checksum over the segment, as the NIC
//     would, and reports completed. A complete checksum that happens to
//     equal that value (1 in 65536) is rewritten with itself: over a segment
//     whose checksum is right the computation gives back the same value.
//   - The sum is derived from the headers when the upper-layer checksum is
//     one over the pseudo-header (TCP, UDP with a non-zero checksum,
//     ICMPv6): a segment with a correct checksum sums to the complement of
//     its pseudo-header, so the packet's sum is that of its first 8 bytes
//     and its extension headers, minus the segment length and protocol (the
//     addresses cancel). If that checksum is wrong, so is the derived sum,
//     and the outer UDP checksum then makes the receiver drop the datagram,
//     as the inner check would have. Anything else (fragments, routing
//     headers, other protocols, UDP without a checksum, a segment shorter
//     than its header) is summed in full.
//
// With wantSum false only the completion is done and the sum is 0.
func InnerChecksum(ip []byte, wantSum bool) (s uint32, completed bool) {
	off, proto, whole := upperLayer(ip)
	if !whole {
		if wantSum {
			return sum(ip, 0), false
		}
		return 0, false
	}
	l4 := ip[off:]
	derive := false
	switch proto {
	case ProtoTCP:
		completed = completePartial(ip, l4, 16, proto)
		derive = len(l4) >= 20
	case protoUDPv6:
		completed = completePartial(ip, l4, 6, proto)
		derive = len(l4) >= 8 && l4[6]|l4[7] != 0 // 0: no checksum to derive from
	case ProtoICMPv6:
		derive = len(l4) >= 4
	}
	if !derive {
		if wantSum {
			return sum(ip, 0), completed
		}
		return 0, completed
	}
	if !wantSum {
		return 0, completed
	}
	// sum(ip) = sum(ip[0:8]) + sum(src, dst) + sum(ext) + sum(l4), and
	// sum(l4) = -(sum(src, dst) + len(l4) + proto) for a correct checksum.
	acc := uint64(binary.BigEndian.Uint32(ip[0:4])) + uint64(binary.BigEndian.Uint32(ip[4:8]))
	if off > IPv6HeaderLen {
		acc = sum64(ip[IPv6HeaderLen:off], acc)
	}
	acc += uint64(0xffff-uint32(len(l4))&0xffff) + uint64(0xffff-uint32(len(l4))>>16) + uint64(0xffff-uint32(proto))
	return fold64(acc), completed
}

// upperLayer finds the upper-layer header of ip after hop-by-hop and
// destination options headers. whole is false when the upper layer cannot
// be judged as a whole segment: a fragment header, a routing header (the
// pseudo-header then names the final destination, not the one in the
// header), more than maxChecksumExtHeaders headers, or a truncated chain.
func upperLayer(ip []byte) (off int, proto uint8, whole bool) {
	off, proto = IPv6HeaderLen, ip[6]
	for range maxChecksumExtHeaders {
		if proto != ProtoHopByHop && proto != ProtoDestOpts {
			break
		}
		if off+2 > len(ip) {
			return 0, 0, false
		}
		proto = ip[off]
		off += (int(ip[off+1]) + 1) * 8
	}
	switch proto {
	case ProtoHopByHop, ProtoDestOpts, ProtoRouting, ProtoFragment:
		return 0, 0, false
	}
	if off > len(ip) {
		return 0, 0, false
	}
	return off, proto, true
}

// completePartial completes the checksum at l4[at:at+2] when it holds the
// folded pseudo-header sum of ip for proto and l4 (CHECKSUM_PARTIAL), and
// reports whether it did.
func completePartial(ip, l4 []byte, at int, proto uint8) bool {
	if len(l4) < at+2 {
		return false
	}
	field := binary.BigEndian.Uint16(l4[at:])
	n := uint64(len(l4))
	pseudo := sumAddrs((*[32]byte)(ip[8:40]), n>>16+n&0xffff+uint64(proto))
	if field != fold(fold64(pseudo)) {
		return false
	}
	c := ^fold(sum(l4, 0)) // the field already holds the pseudo-header sum
	if c == 0 && proto == protoUDPv6 {
		c = 0xffff // RFC 768: 0 means no checksum
	}
	binary.BigEndian.PutUint16(l4[at:], c)
	return true
}
