package teredo

import (
	"encoding/binary"
	"net/netip"
)

// Port is the Teredo UDP port servers listen on [RFC 4380 §2.7].
const Port = 3544

// Prefix is the global Teredo service prefix 2001::/32 [RFC 4380 §2.6].
var Prefix = netip.MustParsePrefix("2001::/32")

// Flag bits of the Teredo address flags field [RFC 4380 §4, RFC 5991 §3.1].
//
//	bit:  0  1  2  3  4  5  6  7  8  9 10 11 12 13 14 15
//	     |C |z |  Random1  |U |G |        Random2        |
const (
	FlagCone      uint16 = 0x8000 // C: client believes it is behind a cone NAT
	FlagReserved  uint16 = 0x4000 // z: must be zero when built, ignored on receipt
	FlagUniversal uint16 = 0x0200 // U: must be zero when built, ignored on receipt
	FlagGroup     uint16 = 0x0100 // G: must be zero when built, ignored on receipt
	// FlagRandomMask covers Random1 (0x3C00) and Random2 (0x00FF), the 12 bits RFC 5991
	// fills with random data.
	FlagRandomMask uint16 = 0x3CFF
)

// Addr is a decoded Teredo address [RFC 4380 §4, RFC 5991 §3.1].
//
// The zero value encodes as 2001:0:0:0:0:ffff:ffff:ffff (server 0.0.0.0, mapped 0.0.0.0:0).
type Addr struct {
	Server netip.Addr     // Teredo server IPv4 address, stored in clear
	Flags  uint16         // flags field; only FlagCone has a meaning, the rest is ignored on receipt
	Mapped netip.AddrPort // client's mapped IPv4 address and UDP port, de-obfuscated
}

// IsTeredo reports whether ip is in the Teredo prefix 2001::/32.
func IsTeredo(ip *[16]byte) bool {
	return ip[0] == 0x20 && ip[1] == 0x01 && ip[2] == 0 && ip[3] == 0
}

// ParseAddr decodes ip as a Teredo address. It returns false unless ip is an IPv6
// address in 2001::/32 (IPv4-mapped addresses are not Teredo addresses).
func ParseAddr(ip netip.Addr) (Addr, bool) {
	if !ip.Is6() || ip.Is4In6() {
		return Addr{}, false
	}
	b := ip.As16()
	if !IsTeredo(&b) {
		return Addr{}, false
	}
	return DecodeAddr(&b), true
}

// DecodeAddr decodes the Teredo fields of ip without checking the prefix; the
// caller has checked IsTeredo. The same decoding applies to the interface
// identifier of a Teredo link-local address (fe80::/64).
func DecodeAddr(ip *[16]byte) Addr {
	return Addr{
		Server: netip.AddrFrom4([4]byte{ip[4], ip[5], ip[6], ip[7]}),
		Flags:  binary.BigEndian.Uint16(ip[8:10]),
		Mapped: decodeMapped(ip[10:16]),
	}
}

// decodeMapped de-obfuscates a 6-byte port(2)+IPv4(4) field stored inverted, the
// layout shared by the address (bytes 10-15) and the origin indication (bytes 2-7).
func decodeMapped(b []byte) netip.AddrPort {
	_ = b[5]
	port := ^binary.BigEndian.Uint16(b[0:2])
	ip := netip.AddrFrom4([4]byte{^b[2], ^b[3], ^b[4], ^b[5]})
	return netip.AddrPortFrom(ip, port)
}

// putMapped writes mapped obfuscated into b[0:6] (port then IPv4, each inverted).
func putMapped(b []byte, mapped netip.AddrPort) {
	_ = b[5]
	binary.BigEndian.PutUint16(b[0:2], ^mapped.Port())
	ip := as4(mapped.Addr())
	b[2], b[3], b[4], b[5] = ^ip[0], ^ip[1], ^ip[2], ^ip[3]
}

// as4 returns the IPv4 bytes of a (unmapping ::ffff:a.b.c.d); anything that is
// not an IPv4 address yields 0.0.0.0.
func as4(a netip.Addr) [4]byte {
	if a.Is4() || a.Is4In6() {
		return a.Unmap().As4()
	}
	return [4]byte{}
}

// Put writes the 128-bit Teredo address of a into ip.
func (a Addr) Put(ip *[16]byte) {
	ip[0], ip[1], ip[2], ip[3] = 0x20, 0x01, 0, 0
	s := as4(a.Server)
	copy(ip[4:8], s[:])
	binary.BigEndian.PutUint16(ip[8:10], a.Flags)
	putMapped(ip[10:16], a.Mapped)
}

// As16 returns the 128-bit Teredo address of a.
func (a Addr) As16() (ip [16]byte) {
	a.Put(&ip)
	return ip
}

// IP encodes a back to an IPv6 address in 2001::/32.
func (a Addr) IP() netip.Addr {
	return netip.AddrFrom16(a.As16())
}

// Cone reports whether the cone bit is set. RFC 5991 §3.2: relays and clients
// SHOULD ignore it; servers MUST honour it.
func (a Addr) Cone() bool { return a.Flags&FlagCone != 0 }

// String returns the IPv6 form of a.
func (a Addr) String() string { return a.IP().String() }

// RandomFlags builds an RFC 5991 §3.1 flags value: the 12 random bits are taken
// from random, z/U/G are zero and C is set when cone is true.
func RandomFlags(random uint16, cone bool) uint16 {
	f := random & FlagRandomMask
	if cone {
		f |= FlagCone
	}
	return f
}

// LinkLocal returns the Teredo link-local address fe80::/64 whose interface
// identifier holds flags and the obfuscated mapped port and IPv4 address, in the
// same layout as the last 64 bits of a global Teredo address [RFC 4380 §4]. An
// invalid mapped address encodes as 0.0.0.0.
func LinkLocal(flags uint16, mapped netip.AddrPort) netip.Addr {
	var ip [16]byte
	ip[0], ip[1] = 0xfe, 0x80
	binary.BigEndian.PutUint16(ip[8:10], flags)
	putMapped(ip[10:16], mapped)
	return netip.AddrFrom16(ip)
}

// ServerLinkLocal returns the server's link-local address used as the source of
// its Router Advertisements: cone bit set, port 3544 and the server IPv4, both
// obfuscated, i.e. fe80::8000:f227:<~server> [RFC 4380 §5.3.2].
func ServerLinkLocal(server netip.Addr) netip.Addr {
	return LinkLocal(FlagCone, netip.AddrPortFrom(server, Port))
}

// ClientLinkLocal returns the link-local source a client uses for its Router
// Solicitation [RFC 4380 §5.2.1]: the given cone bit and an all-zero mapping,
// which gives fe80::ffff:ffff:ffff (cone false) or fe80::8000:ffff:ffff:ffff
// (cone true), the addresses Miredo sends.
func ClientLinkLocal(cone bool) netip.Addr {
	var flags uint16
	if cone {
		flags = FlagCone
	}
	return LinkLocal(flags, netip.AddrPortFrom(netip.IPv4Unspecified(), 0))
}

// IsLinkLocal reports whether ip is in fe80::/10.
func IsLinkLocal(ip *[16]byte) bool {
	return ip[0] == 0xfe && ip[1]&0xc0 == 0x80
}

// ServerPrefix returns the /64 a server advertises to its clients,
// 2001:0:<server IPv4>::/64 [RFC 4380 §5.3.2].
func ServerPrefix(server netip.Addr) netip.Prefix {
	var ip [16]byte
	ip[0], ip[1] = 0x20, 0x01
	s := as4(server)
	copy(ip[4:8], s[:])
	return netip.PrefixFrom(netip.AddrFrom16(ip), 64)
}

// MatchesSource reports whether ip is a Teredo address whose embedded mapped
// IPv4 address and port equal from, the IPv4/UDP source of the datagram that
// carried it: the check a relay applies to every packet it receives from a
// client [RFC 4380 §5.4.2] and a server applies in its rule 5 [RFC 4380 §5.3.1].
func MatchesSource(ip *[16]byte, from netip.AddrPort) bool {
	if !IsTeredo(ip) || from.Port() != ^binary.BigEndian.Uint16(ip[10:12]) {
		return false
	}
	a := from.Addr()
	if !a.Is4() {
		if !a.Is4In6() {
			return false
		}
		a = a.Unmap()
	}
	v := a.As4()
	return v[0] == ^ip[12] && v[1] == ^ip[13] && v[2] == ^ip[14] && v[3] == ^ip[15]
}
