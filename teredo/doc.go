// Package teredo is the Teredo wire format (RFC 4380 §4, §5.1.1; RFC 5991
// §3.1; RFC 6081 §4): address encoding, the UDP payload demultiplexer, and the
// builders the relay, server and client roles need (bubbles, indicators,
// IPv4+UDP encapsulation, RS/RA, ICMPv6 errors). It is a leaf package: no I/O,
// no logging, no locks. Parsers decode into caller-owned structs and builders
// write into caller buffers; neither allocates. Errors are pre-built sentinels.
//
// # Teredo address [RFC 4380 §4, RFC 5991 §3.1]
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                  Prefix 2001:0000::/32                        |  bytes 0-3
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|               Teredo server IPv4 address (clear)              |  bytes 4-7
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|C|z|Random1|U|G|    Random2    |   mapped UDP port XOR ffff    |  bytes 8-11
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|               mapped IPv4 address XOR ffffffff                |  bytes 12-15
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// C (0x8000) is the cone bit; z/U/G (0x4300) are zero when built and ignored
// on receipt; the 12 Random bits (0x3CFF) are random per RFC 5991. Receivers
// never validate flags. Link-local Teredo addresses are fe80::/64 with the same
// last 64 bits; a server's is fe80::8000:f227:<~server IPv4> (ServerLinkLocal).
//
// # UDP payload [RFC 4380 §5.1.1, RFC 6081 §4]
//
//	[authentication indicator] [origin indication] IPv6 packet [trailers]
//
// The first octet tells them apart: 0x6? starts the IPv6 header, 0x00 starts an
// indicator whose second octet is its type. Authentication comes first.
//
// Origin indication (8 bytes), inserted by a server relaying a packet from a
// third party; it holds the IPv4/port the server received the packet from:
//
//	+--------+--------+--------+--------+
//	|  0x00  |  0x00  | origin port^ffff|
//	+--------+--------+--------+--------+
//	|      origin IPv4 ^ ffffffff       |
//	+--------+--------+--------+--------+
//
// Authentication indicator (13 + ID-len + AU-len bytes), RS/RA only:
//
//	+--------+--------+--------+--------+
//	|  0x00  |  0x01  | ID-len | AU-len |
//	+--------+--------+--------+--------+
//	|  Client identifier (ID-len)  ...  |
//	+--------+--------+--------+--------+
//	|  Authentication value (AU-len) ...|
//	+--------+--------+--------+--------+
//	|          Nonce (8 bytes)          |
//	|                                   |
//	+--------+--------+--------+--------+
//	|Confirm.|
//	+--------+
//
// The IPv6 packet must have version 6 and 40 + payload length <= the bytes left
// (RFC 6081 relaxes RFC 4380's equality so that trailers may follow). Packet.IPv6
// is exactly the IPv6 packet; the rest is Packet.Trailer, a sequence of
// Type(1) Length(1) Value TLVs (Trailers, CheckTrailers). A bubble is an IPv6
// header with next header 59 and payload length 0.
//
// # Fast path
//
// A relay's receive path needs: IPv4Header.Decode and UDPHeader.Decode
// (caller-owned structs; fragments reported as ErrFragment), Packet.Decode or
// the cheaper IPv6Offset, SrcPtr/DstPtr (no-copy [16]byte keys), MatchesSource (the RFC 4380
// §5.4.2 source check) and Bogons.GlobalUnicast4. Its send path needs
// DecodeAddr, PutIPv4UDP (28 bytes of headroom) and PutBubble.
//
// # Choices the RFCs leave open
//
//   - PutBubble uses hop limit 0 (BubbleHopLimit), as Miredo does: a bubble is
//     consumed by the Teredo node that receives it, never routed as IPv6.
//   - PutIPv4UDP leaves the UDP checksum 0 (allowed over IPv4) and DF clear;
//     SetUDPChecksum fills the checksum when wanted.
//   - PutICMPv6Error caps the error at 1280 bytes, uses hop limit 64 and
//     refuses to answer ICMPv6 errors, bubbles, multicast or unspecified
//     sources and (RFC 4443 §2.4 (e)) multicast destinations.
//   - Bogons starts from the RFC 4380 §5.2.4 list; SpecialPurposeBogons is an
//     opt-in list of later special-purpose blocks (documentation ranges are
//     left out because test beds use them as public addresses).
//   - PutRA builds Miredo's RA: router lifetime 0, retrans timer 2000 ms, one
//     prefix 2001:0:<server>::/64 with the A flag and infinite lifetimes, MTU
//     option 1280.
package teredo
