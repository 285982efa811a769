package bpf

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"slices"

	"github.com/teredorelay/teredorelay/internal/pcapfile"
	"github.com/teredorelay/teredorelay/teredo"
)

// Test frames, a pcap reader and a Go reference model of steer.c. The model
// is the oracle of FuzzSteer; the hand-written expectations of steerCases are
// checked against both the model (TestModel, no root) and the BPF program
// (TestSteer).

var (
	macRelay = []byte{0xb6, 0x7b, 0xe9, 0x04, 0x03, 0xfb} // from miredo-relay.pcap
	macPeer  = []byte{0x42, 0x07, 0x45, 0x80, 0x4e, 0x70}

	relayAddrA = netip.MustParseAddr("198.51.100.1") // relay in miredo-relay.pcap
	relayAddrB = netip.MustParseAddr("192.0.2.1")    // server in miredo-server.pcap
	clientAddr = netip.MustParseAddr("203.0.113.1")  // client (NAT) in both captures

	// RFC 4380 §4 example Teredo address (server 65.54.227.120, client
	// 192.0.2.45:40000, cone).
	teredoExample = netip.MustParseAddr("2001:0:4136:e378:8000:63bf:3fff:fdd2")
	// Teredo client of the captures.
	teredoClient = netip.MustParseAddr("2001:0:c000:201:3cc4:4b5f:34ff:8efe")
	nativePeer   = netip.MustParseAddr("2001:db8:3::7")
)

// testConfig is the configuration steerCases expect: the relay's MAC and a
// second one (a VLAN sub-interface's), and a frame limit low enough for
// BPF_PROG_TEST_RUN to exceed.
var testConfig = Config{Addrs: []netip.Addr{relayAddrA, relayAddrB}, Port: DefaultPort, SteerIPv4: true, SteerIPv6: true,
	MACs: [][6]byte{[6]byte(macRelay), [6]byte(macRelayVLAN)}, MaxFrameLen: testMaxFrameLen}

// testMaxFrameLen is testConfig's MaxFrameLen.
const testMaxFrameLen = 1200

var (
	macRelayVLAN = []byte{0xb6, 0x7b, 0xe9, 0x04, 0x03, 0xfc}
	macOther     = []byte{0x02, 0x00, 0x5e, 0x10, 0x00, 0x09} // another host on the LAN
	macBroadcast = []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	macIPv6Mcast = []byte{0x33, 0x33, 0x00, 0x00, 0x00, 0x01}
)

const (
	etherIPv4 = 0x0800
	etherARP  = 0x0806
	etherVLAN = 0x8100
	etherQinQ = 0x88a8
	etherIPv6 = 0x86dd
	etherLLDP = 0x88cc

	protoICMP   = 1
	protoTCP    = 6
	protoUDP    = 17
	protoICMPv6 = 58
)

// ethernet returns an Ethernet header to the relay with one VLAN tag per
// TPID in tags (outermost first), ending in etherType.
func ethernet(etherType uint16, tags ...uint16) []byte {
	return ethernetTo(macRelay, etherType, tags...)
}

// ethernetTo is ethernet with the destination MAC dst.
func ethernetTo(dst []byte, etherType uint16, tags ...uint16) []byte {
	b := slices.Concat(dst, macPeer)
	for i, tpid := range tags {
		b = binary.BigEndian.AppendUint16(b, tpid)
		b = binary.BigEndian.AppendUint16(b, uint16(100+i)) // PCP 0, VID 100+i
	}
	return binary.BigEndian.AppendUint16(b, etherType)
}

// ipv4Header describes an IPv4 header; zero fields take sane defaults.
type ipv4Header struct {
	src, dst netip.Addr
	proto    uint8
	options  []byte // length a multiple of 4
	fragOff  uint16 // flags and offset field
	totLen   int    // 0: header + payload
}

func (h ipv4Header) packet(payload []byte) []byte {
	hlen := 20 + len(h.options)
	b := make([]byte, hlen, hlen+len(payload))
	b[0] = 0x40 | byte(hlen/4)
	tot := h.totLen
	if tot == 0 {
		tot = hlen + len(payload)
	}
	binary.BigEndian.PutUint16(b[2:], uint16(tot))
	binary.BigEndian.PutUint16(b[4:], 0x1234)
	binary.BigEndian.PutUint16(b[6:], h.fragOff)
	b[8] = 64
	b[9] = h.proto
	src, dst := h.src.As4(), h.dst.As4()
	copy(b[12:], src[:])
	copy(b[16:], dst[:])
	copy(b[20:], h.options)
	var sum uint32
	for i := 0; i < hlen; i += 2 {
		sum += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	binary.BigEndian.PutUint16(b[10:], ^uint16(sum))
	return append(b, payload...)
}

// udp returns a UDP datagram (checksum 0, which IPv4 allows).
func udp(sport, dport uint16, payload []byte) []byte {
	b := binary.BigEndian.AppendUint16(nil, sport)
	b = binary.BigEndian.AppendUint16(b, dport)
	b = binary.BigEndian.AppendUint16(b, uint16(8+len(payload)))
	b = binary.BigEndian.AppendUint16(b, 0)
	return append(b, payload...)
}

func ipv6(src, dst netip.Addr, nextHeader uint8, payload []byte) []byte {
	b := make([]byte, 40, 40+len(payload))
	b[0] = 0x60
	binary.BigEndian.PutUint16(b[4:], uint16(len(payload)))
	b[6] = nextHeader
	b[7] = 255
	s, d := src.As16(), dst.As16()
	copy(b[8:], s[:])
	copy(b[24:], d[:])
	return append(b, payload...)
}

// icmpv6 returns an ICMPv6 message of the type with 20 bytes of body
// (checksum left zero: the program does not look at it).
func icmpv6(typ uint8) []byte {
	return append([]byte{typ, 0, 0, 0}, make([]byte, 20)...)
}

// bubble is a Teredo bubble: an IPv6 header with next header 59 and no
// payload (RFC 4380 §2.8), the smallest relay payload.
func bubble() []byte {
	return ipv6(teredoClient, netip.MustParseAddr("fe80::8000:ffff:ffff:fffe"), 59, nil)
}

// relayUDP is UDP from the client to dst:3544 carrying a bubble.
func relayUDP(dst netip.Addr) []byte {
	return ipv4Header{src: clientAddr, dst: dst, proto: protoUDP}.packet(udp(46240, 3544, bubble()))
}

// relayTeredo is an Ethernet frame with UDP from the client to the relay
// address and port carrying payload.
func relayTeredo(payload []byte) []byte {
	return frame(ethernet(etherIPv4), ipv4Header{src: clientAddr, dst: relayAddrA, proto: protoUDP}.packet(udp(46240, 3544, payload)))
}

// authIndicator is a Teredo authentication indicator (RFC 4380 §5.1.1) with
// idLen bytes of client identifier and authLen bytes of authentication value.
func authIndicator(idLen, authLen int) []byte {
	b := []byte{0, 1, byte(idLen), byte(authLen)}
	b = append(b, make([]byte, idLen+authLen)...)
	return append(b, 1, 2, 3, 4, 5, 6, 7, 8, 0) // nonce, confirmation
}

// originIndication is a Teredo origin indication (RFC 4380 §5.1.1).
func originIndication() []byte { return []byte{0, 0, 0x3c, 0xc4, 0x34, 0xff, 0x8e, 0xfe} }

func frame(parts ...[]byte) []byte { return slices.Concat(parts...) }

// with returns a copy of b with f applied.
func with(b []byte, f func(b []byte)) []byte {
	b = slices.Clone(b)
	f(b)
	return b
}

type steerCase struct {
	name  string
	frame []byte
	want  Reason // for steered reasons: the verdict when a socket is registered
}

// steerCases are hand-built frames with hand-written expectations for
// testConfig. Frames are at least 14 bytes (BPF_PROG_TEST_RUN's minimum).
func steerCases() []steerCase {
	eth4 := ethernet(etherIPv4)
	eth6 := ethernet(etherIPv6)
	relay := frame(eth4, relayUDP(relayAddrA))
	nop4 := []byte{1, 1, 1, 1}
	dnsQuery := make([]byte, 29)
	ndSrc := netip.MustParseAddr("fe80::4007:45ff:fe80:4e70")
	return []steerCase{
		// Steered IPv4.
		{"ipv4 relay udp", relay, ReasonSteerIPv4UDP},
		{"ipv4 second relay address", frame(eth4, relayUDP(relayAddrB)), ReasonSteerIPv4UDP},
		{"ipv4 options ihl 6", frame(eth4, ipv4Header{src: clientAddr, dst: relayAddrA, proto: protoUDP, options: nop4}.packet(udp(46240, 3544, bubble()))), ReasonSteerIPv4UDP},
		{"ipv4 options ihl 15", frame(eth4, ipv4Header{src: clientAddr, dst: relayAddrA, proto: protoUDP, options: slices.Repeat(nop4, 10)}.packet(udp(46240, 3544, bubble()))), ReasonSteerIPv4UDP},
		{"ipv4 dont fragment set", frame(eth4, ipv4Header{src: clientAddr, dst: relayAddrA, proto: protoUDP, fragOff: 0x4000}.packet(udp(46240, 3544, bubble()))), ReasonSteerIPv4UDP},
		{"ipv4 vlan 802.1q", frame(ethernet(etherIPv4, etherVLAN), relayUDP(relayAddrA)), ReasonSteerIPv4UDP},
		{"ipv4 qinq 802.1ad+802.1q", frame(ethernet(etherIPv4, etherQinQ, etherVLAN), relayUDP(relayAddrA)), ReasonSteerIPv4UDP},
		{"ipv4 ethernet padding", frame(eth4, ipv4Header{src: clientAddr, dst: relayAddrA, proto: protoUDP}.packet(udp(46240, 3544, bubble())), make([]byte, 14)), ReasonSteerIPv4UDP},
		{"teredo auth+origin+ipv6", relayTeredo(slices.Concat(authIndicator(4, 8), originIndication(), bubble())), ReasonSteerIPv4UDP},
		{"teredo auth+ipv6", relayTeredo(slices.Concat(authIndicator(0, 0), bubble())), ReasonSteerIPv4UDP},
		{"teredo origin+ipv6", relayTeredo(slices.Concat(originIndication(), bubble())), ReasonSteerIPv4UDP},
		{"teredo ipv6 with trailer", relayTeredo(slices.Concat(bubble(), []byte{1, 4, 0, 0, 0, 0})), ReasonSteerIPv4UDP},
		{"teredo ipv6 with payload", relayTeredo(ipv6(teredoClient, nativePeer, protoICMPv6, icmpv6(128))), ReasonSteerIPv4UDP},

		// Relay-bound UDP that is not Teredo: dropped (what teredo.Packet.Decode rejects).
		{"teredo empty udp payload", frame(eth4, ipv4Header{src: clientAddr, dst: relayAddrA, proto: protoUDP}.packet(udp(46240, 3544, nil))), ReasonDropTeredoMalformed},
		{"teredo one byte", relayTeredo([]byte{0x60}), ReasonDropTeredoMalformed},
		{"teredo not ipv6 not indicator", relayTeredo(slices.Concat([]byte{1, 2, 3, 4}, make([]byte, 40))), ReasonDropTeredoMalformed},
		{"teredo ipv6 version 4", relayTeredo(with(bubble(), func(b []byte) { b[0] = 0x40 })), ReasonDropTeredoMalformed},
		{"teredo ipv6 header truncated", relayTeredo(bubble()[:39]), ReasonDropTeredoMalformed},
		{"teredo ipv6 payload beyond datagram", relayTeredo(with(bubble(), func(b []byte) { b[5] = 1 })), ReasonDropTeredoMalformed},
		{"teredo ipv6 payload beyond datagram, frame padded", frame(relayTeredo(with(bubble(), func(b []byte) { b[5] = 8 })), make([]byte, 16)), ReasonDropTeredoMalformed},
		{"teredo auth lengths beyond datagram", relayTeredo(slices.Concat([]byte{0, 1, 0xff, 0xff}, make([]byte, 60))), ReasonDropTeredoMalformed},
		{"teredo auth shorter than 13", relayTeredo([]byte{0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}), ReasonDropTeredoMalformed},
		{"teredo auth only", relayTeredo(authIndicator(2, 2)), ReasonDropTeredoMalformed},
		{"teredo auth then ipv4", relayTeredo(slices.Concat(authIndicator(0, 0), with(bubble(), func(b []byte) { b[0] = 0x45 }))), ReasonDropTeredoMalformed},
		{"teredo auth twice", relayTeredo(slices.Concat(authIndicator(0, 0), authIndicator(0, 0), bubble())), ReasonDropTeredoMalformed},
		{"teredo unknown indicator 00 02", relayTeredo(slices.Concat([]byte{0, 2, 0, 0, 0, 0, 0, 0}, bubble())), ReasonDropTeredoMalformed},
		{"teredo origin truncated", relayTeredo([]byte{0, 0, 1, 2, 3}), ReasonDropTeredoMalformed},
		{"teredo origin twice", relayTeredo(slices.Concat(originIndication(), originIndication(), bubble())), ReasonDropTeredoMalformed},
		{"teredo origin then auth", relayTeredo(slices.Concat(originIndication(), authIndicator(0, 0), bubble())), ReasonDropTeredoMalformed},
		{"teredo origin only", relayTeredo(originIndication()), ReasonDropTeredoMalformed},
		// Boundaries of steer.c's copies (bpf_xdp_load_bytes): the 22-byte UDP
		// head copy, the copies after authentication, variable IHL, padding.
		{"teredo origin+ipv6 header truncated", relayTeredo(slices.Concat(originIndication(), bubble()[:39])), ReasonDropTeredoMalformed},
		{"teredo origin+ipv6 version 4", relayTeredo(slices.Concat(originIndication(), with(bubble(), func(b []byte) { b[0] = 0x45 }))), ReasonDropTeredoMalformed},
		{"teredo origin+ipv6 payload beyond datagram", relayTeredo(slices.Concat(originIndication(), with(bubble(), func(b []byte) { b[5] = 1 }))), ReasonDropTeredoMalformed},
		{"teredo origin+ipv6 with trailer", relayTeredo(slices.Concat(originIndication(), bubble(), []byte{1, 4, 0, 0, 0, 0})), ReasonSteerIPv4UDP},
		{"teredo auth+ipv6 payload beyond datagram", relayTeredo(slices.Concat(authIndicator(3, 5), with(bubble(), func(b []byte) { b[5] = 1 }))), ReasonDropTeredoMalformed},
		{"teredo auth+origin+ipv6 version 4", relayTeredo(slices.Concat(authIndicator(1, 0), originIndication(), with(bubble(), func(b []byte) { b[0] = 0x40 }))), ReasonDropTeredoMalformed},
		{"teredo auth+origin+ipv6 header truncated", relayTeredo(slices.Concat(authIndicator(0, 1), originIndication(), bubble()[:39])), ReasonDropTeredoMalformed},
		{"teredo auth+origin then indicator", relayTeredo(slices.Concat(authIndicator(0, 0), originIndication(), []byte{0, 0}, bubble())), ReasonDropTeredoMalformed},
		{"teredo auth max lengths+ipv6", relayTeredo(slices.Concat(authIndicator(255, 255), bubble())), ReasonSteerIPv4UDP},
		{"teredo auth ends one byte before datagram end, frame padded", frame(relayTeredo(slices.Concat(authIndicator(0, 0), []byte{0x60})), make([]byte, 48)), ReasonDropTeredoMalformed},
		{"teredo short payload, frame padded", frame(relayTeredo([]byte{0x60, 0, 0, 0, 0}), make([]byte, 40)), ReasonDropTeredoMalformed},
		{"teredo short payload at frame end", relayTeredo([]byte{0x60, 0, 0, 0, 0}), ReasonDropTeredoMalformed},
		{"ipv4 options ihl 15 auth+origin+ipv6", frame(ethernet(etherIPv4, etherQinQ, etherVLAN), ipv4Header{src: clientAddr, dst: relayAddrA, proto: protoUDP, options: slices.Repeat(nop4, 10)}.packet(udp(46240, 3544, slices.Concat(authIndicator(2, 7), originIndication(), bubble())))), ReasonSteerIPv4UDP},
		{"ipv4 options ihl 7 malformed teredo", frame(eth4, ipv4Header{src: clientAddr, dst: relayAddrA, proto: protoUDP, options: slices.Repeat(nop4, 2)}.packet(udp(46240, 3544, []byte{1, 2, 3}))), ReasonDropTeredoMalformed},
		{"udp truncated header after options", frame(eth4, ipv4Header{src: clientAddr, dst: relayAddrA, proto: protoUDP, options: nop4}.packet([]byte{0xb4, 0xa0, 0x0d, 0xd8, 0, 8})), ReasonPassUDPMalformed},

		// Steered IPv6.
		{"ipv6 to rfc4380 example", frame(eth6, ipv6(nativePeer, teredoExample, protoICMPv6, icmpv6(129))), ReasonSteerIPv6Teredo},
		{"ipv6 to 2001:0::", frame(eth6, ipv6(nativePeer, netip.MustParseAddr("2001::"), 59, nil)), ReasonSteerIPv6Teredo},
		{"ipv6 nd to teredo address", frame(eth6, ipv6(ndSrc, teredoClient, protoICMPv6, icmpv6(135))), ReasonSteerIPv6Teredo},
		{"ipv6 vlan", frame(ethernet(etherIPv6, etherVLAN), ipv6(nativePeer, teredoClient, 59, nil)), ReasonSteerIPv6Teredo},
		{"ipv6 qinq", frame(ethernet(etherIPv6, etherQinQ, etherVLAN), ipv6(nativePeer, teredoClient, 59, nil)), ReasonSteerIPv6Teredo},

		// Layer 2.
		{"truncated vlan tag", frame(ethernet(etherVLAN)), ReasonPassTruncatedL2},
		{"truncated inner vlan tag", frame(ethernet(etherVLAN, etherQinQ), []byte{0, 1}), ReasonPassTruncatedL2},
		{"three vlan tags", frame(ethernet(etherIPv4, etherQinQ, etherVLAN, etherVLAN), relayUDP(relayAddrA)), ReasonPassVLANTooDeep},
		{"arp", frame(ethernet(etherARP), make([]byte, 28)), ReasonPassARP},
		{"arp in vlan", frame(ethernet(etherARP, etherVLAN), make([]byte, 28)), ReasonPassARP},
		{"lldp", frame(ethernet(etherLLDP), make([]byte, 46)), ReasonPassNotIP},
		{"ethernet header only ipv4", ethernet(etherIPv4), ReasonPassIPv4Malformed},

		// IPv4 not steered.
		{"ipv4 truncated header", frame(eth4, relayUDP(relayAddrA)[:19]), ReasonPassIPv4Malformed},
		{"ipv4 ihl 4", with(relay, func(b []byte) { b[14] = 0x44 }), ReasonPassIPv4Malformed},
		{"ipv4 ihl 0", with(relay, func(b []byte) { b[14] = 0x40 }), ReasonPassIPv4Malformed},
		{"ipv4 version 6", with(relay, func(b []byte) { b[14] = 0x65 }), ReasonPassIPv4Malformed},
		{"ipv4 options beyond frame", frame(eth4, ipv4Header{src: clientAddr, dst: relayAddrA, proto: protoUDP, options: slices.Repeat(nop4, 10)}.packet(nil)[:40]), ReasonPassIPv4Malformed},
		{"ipv4 total length beyond frame", with(relay, func(b []byte) { binary.BigEndian.PutUint16(b[16:], uint16(len(b)-14+1)) }), ReasonPassIPv4Malformed},
		{"ipv4 total length below header", with(relay, func(b []byte) { binary.BigEndian.PutUint16(b[16:], 19) }), ReasonPassIPv4Malformed},
		{"ipv4 icmp to relay", frame(eth4, ipv4Header{src: clientAddr, dst: relayAddrA, proto: protoICMP}.packet([]byte{8, 0, 0, 0, 0, 1, 0, 1})), ReasonPassIPv4Other},
		{"ipv4 bgp to relay", frame(eth4, ipv4Header{src: clientAddr, dst: relayAddrA, proto: protoTCP}.packet(make([]byte, 20))), ReasonPassIPv4Other},
		{"ipv4 other address", frame(eth4, relayUDP(netip.MustParseAddr("203.0.113.9"))), ReasonPassIPv4NotRelayAddr},
		{"ipv4 local discovery multicast", frame(eth4, relayUDP(netip.MustParseAddr("224.0.0.253"))), ReasonPassIPv4NotRelayAddr},
		{"ipv4 first fragment", frame(eth4, ipv4Header{src: clientAddr, dst: relayAddrA, proto: protoUDP, fragOff: 0x2000}.packet(udp(46240, 3544, bubble()))), ReasonPassIPv4Fragment},
		{"ipv4 last fragment", frame(eth4, ipv4Header{src: clientAddr, dst: relayAddrA, proto: protoUDP, fragOff: 185}.packet(make([]byte, 40))), ReasonPassIPv4Fragment},
		{"ipv4 fragment with df", frame(eth4, ipv4Header{src: clientAddr, dst: relayAddrA, proto: protoUDP, fragOff: 0x4001}.packet(make([]byte, 40))), ReasonPassIPv4Fragment},
		{"ipv4 fragment other address", frame(eth4, ipv4Header{src: clientAddr, dst: clientAddr, proto: protoUDP, fragOff: 0x2000}.packet(make([]byte, 40))), ReasonPassIPv4NotRelayAddr},
		{"ipv4 wrong port", frame(eth4, ipv4Header{src: clientAddr, dst: relayAddrA, proto: protoUDP}.packet(udp(46240, 3545, bubble()))), ReasonPassIPv4NotRelayPort},
		{"ipv4 dns to relay", frame(eth4, ipv4Header{src: clientAddr, dst: relayAddrA, proto: protoUDP}.packet(udp(40000, 53, dnsQuery))), ReasonPassIPv4NotRelayPort},
		{"ipv4 source port 3544 only", frame(eth4, ipv4Header{src: clientAddr, dst: relayAddrA, proto: protoUDP}.packet(udp(3544, 46240, bubble()))), ReasonPassIPv4NotRelayPort},
		{"udp truncated header", frame(eth4, ipv4Header{src: clientAddr, dst: relayAddrA, proto: protoUDP}.packet([]byte{0xb4, 0xa0, 0x0d, 0xd8})), ReasonPassUDPMalformed},
		{"udp length below 8", with(relay, func(b []byte) { binary.BigEndian.PutUint16(b[38:], 7) }), ReasonPassUDPMalformed},
		{"udp length beyond ip payload", with(relay, func(b []byte) { binary.BigEndian.PutUint16(b[38:], uint16(len(b)-34+1)) }), ReasonPassUDPMalformed},

		// IPv6 not steered.
		{"ipv6 to 2001:db8::1", frame(eth6, ipv6(teredoClient, netip.MustParseAddr("2001:db8::1"), 59, nil)), ReasonPassIPv6Other},
		{"ipv6 to 2001:1::1", frame(eth6, ipv6(nativePeer, netip.MustParseAddr("2001:1::1"), 59, nil)), ReasonPassIPv6Other},
		{"ipv6 to 2000:ffff::1", frame(eth6, ipv6(nativePeer, netip.MustParseAddr("2000:ffff::1"), 59, nil)), ReasonPassIPv6Other},
		{"ipv6 echo request to native", frame(eth6, ipv6(teredoClient, nativePeer, protoICMPv6, icmpv6(128))), ReasonPassIPv6Other},
		{"ipv6 nd router solicitation", frame(eth6, ipv6(ndSrc, netip.MustParseAddr("ff02::2"), protoICMPv6, icmpv6(133))), ReasonPassIPv6ND},
		{"ipv6 nd router advertisement", frame(eth6, ipv6(ndSrc, netip.MustParseAddr("ff02::1"), protoICMPv6, icmpv6(134))), ReasonPassIPv6ND},
		{"ipv6 nd neighbor solicitation", frame(eth6, ipv6(ndSrc, netip.MustParseAddr("ff02::1:ff00:1"), protoICMPv6, icmpv6(135))), ReasonPassIPv6ND},
		{"ipv6 nd neighbor advertisement", frame(eth6, ipv6(ndSrc, netip.MustParseAddr("fe80::1"), protoICMPv6, icmpv6(136))), ReasonPassIPv6ND},
		{"ipv6 nd redirect", frame(eth6, ipv6(ndSrc, netip.MustParseAddr("fe80::1"), protoICMPv6, icmpv6(137))), ReasonPassIPv6ND},
		{"ipv6 nd in vlan", frame(ethernet(etherIPv6, etherVLAN), ipv6(ndSrc, netip.MustParseAddr("ff02::1"), protoICMPv6, icmpv6(135))), ReasonPassIPv6ND},
		{"ipv6 icmpv6 type 138", frame(eth6, ipv6(ndSrc, netip.MustParseAddr("ff02::1"), protoICMPv6, icmpv6(138))), ReasonPassIPv6Other},
		{"ipv6 icmpv6 without body", frame(eth6, ipv6(ndSrc, netip.MustParseAddr("ff02::1"), protoICMPv6, nil)), ReasonPassIPv6Other},
		{"ipv6 truncated header", frame(eth6, ipv6(nativePeer, teredoClient, 59, nil)[:39]), ReasonPassIPv6Malformed},
		{"ipv6 version 4", with(frame(eth6, ipv6(nativePeer, teredoClient, 59, nil)), func(b []byte) { b[14] = 0x40 }), ReasonPassIPv6Malformed},
		{"ipv6 payload beyond frame", with(frame(eth6, ipv6(nativePeer, teredoClient, 59, nil)), func(b []byte) { b[19] = 1 }), ReasonPassIPv6Malformed},
		{"ipv6 payload beyond frame in qinq", with(frame(ethernet(etherIPv6, etherQinQ, etherVLAN), ipv6(nativePeer, teredoClient, 59, make([]byte, 8))), func(b []byte) { b[27] = 9 }), ReasonPassIPv6Malformed},
		{"ipv6 payload up to frame end in qinq", with(frame(ethernet(etherIPv6, etherQinQ, etherVLAN), ipv6(nativePeer, teredoClient, 59, make([]byte, 8))), func(b []byte) { b[27] = 8 }), ReasonSteerIPv6Teredo},

		// Destination MAC (issue 10): steered only to our own unicast MACs.
		{"ipv4 relay udp to another host's mac", frame(ethernetTo(macOther, etherIPv4), relayUDP(relayAddrA)), ReasonDropNotOurMAC},
		{"ipv6 to teredo, another host's mac", frame(ethernetTo(macOther, etherIPv6), ipv6(nativePeer, teredoClient, 59, nil)), ReasonDropNotOurMAC},
		{"ipv6 to teredo, another host's mac, vlan", frame(ethernetTo(macOther, etherIPv6, etherVLAN), ipv6(nativePeer, teredoClient, 59, nil)), ReasonDropNotOurMAC},
		{"ipv4 relay udp to the second own mac", frame(ethernetTo(macRelayVLAN, etherIPv4, etherVLAN), relayUDP(relayAddrA)), ReasonSteerIPv4UDP},
		{"ipv4 relay udp to the broadcast mac", frame(ethernetTo(macBroadcast, etherIPv4), relayUDP(relayAddrA)), ReasonPassL2Group},
		{"ipv6 to teredo, multicast mac", frame(ethernetTo(macIPv6Mcast, etherIPv6), ipv6(nativePeer, teredoClient, 59, nil)), ReasonPassL2Group},
		{"ipv4 bgp to another host's mac", frame(ethernetTo(macOther, etherIPv4), ipv4Header{src: clientAddr, dst: relayAddrA, proto: protoTCP}.packet(make([]byte, 20))), ReasonPassIPv4Other},
		{"arp to the broadcast mac", frame(ethernetTo(macBroadcast, etherARP), make([]byte, 28)), ReasonPassARP},
		{"ipv6 nd to another host's mac", frame(ethernetTo(macOther, etherIPv6), ipv6(ndSrc, netip.MustParseAddr("fe80::1"), protoICMPv6, icmpv6(136))), ReasonPassIPv6ND},
		{"malformed teredo to another host's mac", frame(ethernetTo(macOther, etherIPv4), ipv4Header{src: clientAddr, dst: relayAddrA, proto: protoUDP}.packet(udp(46240, 3544, []byte{1}))), ReasonDropTeredoMalformed},

		// Length (issue 10): generic XDP may hand over GRO/GSO super-frames.
		{"ipv6 to teredo, frame at the limit", frame(eth6, ipv6(nativePeer, teredoClient, protoTCP, make([]byte, testMaxFrameLen-14-40))), ReasonSteerIPv6Teredo},
		{"ipv6 to teredo, frame one byte over", frame(eth6, ipv6(nativePeer, teredoClient, protoTCP, make([]byte, testMaxFrameLen-14-40+1))), ReasonDropOversize},
		{"ipv4 relay udp, frame over", relayTeredo(ipv6(teredoClient, nativePeer, protoTCP, make([]byte, 1400))), ReasonDropOversize},
		{"ipv6 not teredo, frame over", frame(eth6, ipv6(nativePeer, nativePeer, protoTCP, make([]byte, 1400))), ReasonPassIPv6Other},
	}
}

// modelConfig is the state the reference model needs.
type modelConfig struct {
	addrs      []netip.Addr
	port       uint16
	ipv4, ipv6 bool
	macs       [][6]byte
	maxLen     int
}

func modelOf(c Config) modelConfig {
	return modelConfig{addrs: c.Addrs, port: c.port(), ipv4: c.SteerIPv4, ipv6: c.SteerIPv6, macs: c.MACs, maxLen: c.MaxFrameLen}
}

// modelSteer is the decision for a frame the model would steer: its
// destination MAC and its length.
func modelSteer(f []byte, c modelConfig, steer Reason) Reason {
	switch dst := [6]byte(f[:6]); {
	case dst[0]&1 != 0:
		return ReasonPassL2Group
	case len(c.macs) > 0 && !slices.Contains(c.macs, dst):
		return ReasonDropNotOurMAC
	case c.maxLen > 0 && len(f) > c.maxLen:
		return ReasonDropOversize
	}
	return steer
}

// modelReason is an independent Go rendering of steer.c's decision for a
// frame received on a queue with a registered socket.
func modelReason(f []byte, c modelConfig) Reason {
	if len(f) < 14 {
		return ReasonPassTruncatedL2
	}
	etherType, off := binary.BigEndian.Uint16(f[12:]), 14
	for tags := 0; tags < 2 && (etherType == etherVLAN || etherType == etherQinQ); tags++ {
		if len(f) < off+4 {
			return ReasonPassTruncatedL2
		}
		etherType, off = binary.BigEndian.Uint16(f[off+2:]), off+4
	}
	var r Reason
	switch etherType {
	case etherIPv4:
		r = modelIPv4(f[off:], c)
	case etherIPv6:
		r = modelIPv6(f[off:], c)
	case etherARP:
		return ReasonPassARP
	case etherVLAN, etherQinQ:
		return ReasonPassVLANTooDeep
	default:
		return ReasonPassNotIP
	}
	if r.Steered() {
		return modelSteer(f, c, r)
	}
	return r
}

func modelIPv4(p []byte, c modelConfig) Reason {
	if !c.ipv4 {
		return ReasonPassIPv4Disabled
	}
	if len(p) < 20 || p[0]>>4 != 4 {
		return ReasonPassIPv4Malformed
	}
	hlen, totLen := int(p[0]&0x0f)*4, int(binary.BigEndian.Uint16(p[2:]))
	if hlen < 20 || totLen < hlen || hlen > len(p) || totLen > len(p) {
		return ReasonPassIPv4Malformed
	}
	if p[9] != protoUDP {
		return ReasonPassIPv4Other
	}
	if !slices.Contains(c.addrs, netip.AddrFrom4([4]byte(p[16:20]))) {
		return ReasonPassIPv4NotRelayAddr
	}
	if binary.BigEndian.Uint16(p[6:])&0x3fff != 0 {
		return ReasonPassIPv4Fragment
	}
	if len(p) < hlen+8 {
		return ReasonPassUDPMalformed
	}
	if binary.BigEndian.Uint16(p[hlen+2:]) != c.port {
		return ReasonPassIPv4NotRelayPort
	}
	udpLen := int(binary.BigEndian.Uint16(p[hlen+4:]))
	if udpLen < 8 || udpLen > totLen-hlen {
		return ReasonPassUDPMalformed
	}
	var pkt teredo.Packet
	if pkt.Decode(p[hlen+8:hlen+udpLen]) != nil {
		return ReasonDropTeredoMalformed
	}
	return ReasonSteerIPv4UDP
}

func modelIPv6(p []byte, c modelConfig) Reason {
	if !c.ipv6 {
		return ReasonPassIPv6Disabled
	}
	if len(p) < 40 || p[0]>>4 != 6 || 40+int(binary.BigEndian.Uint16(p[4:])) > len(p) {
		return ReasonPassIPv6Malformed
	}
	if binary.BigEndian.Uint32(p[24:]) == 0x20010000 {
		return ReasonSteerIPv6Teredo
	}
	if p[6] == protoICMPv6 && len(p) > 40 && p[40] >= 133 && p[40] <= 137 {
		return ReasonPassIPv6ND
	}
	return ReasonPassIPv6Other
}

// readPcap returns the link-layer frames of an Ethernet capture.
func readPcap(path string) ([][]byte, error) {
	f, err := pcapfile.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if f.LinkType != pcapfile.LinkTypeEthernet {
		return nil, fmt.Errorf("%s: link type %d, want Ethernet", path, f.LinkType)
	}
	frames := make([][]byte, len(f.Frames))
	for i := range f.Frames {
		frames[i] = f.Frames[i].Data
	}
	return frames, nil
}

// pcapCase is a capture with its configuration and the per-reason totals
// (counted independently with tcpdump filters, see TestSteerPcap).
type pcapCase struct {
	file string
	cfg  Config
	want map[Reason]int
}

var pcapCases = []pcapCase{
	{
		// Relay 198.51.100.1 with a single interface for both sides.
		file: "../testdata/miredo-relay.pcap",
		cfg:  Config{Addrs: []netip.Addr{relayAddrA}, SteerIPv4: true, SteerIPv6: true},
		want: map[Reason]int{
			ReasonSteerIPv4UDP:         4, // udp and dst host 198.51.100.1 and dst port 3544
			ReasonPassIPv4NotRelayAddr: 9, // the relay's own transmissions to clients
			ReasonSteerIPv6Teredo:      6, // ip6[24:4] == 0x20010000
			ReasonPassIPv6ND:           8,
			ReasonPassIPv6Other:        4,
			ReasonPassARP:              4,
		},
	},
	{
		// Server role: two addresses, IPv4 side only.
		file: "../testdata/miredo-server.pcap",
		cfg:  Config{Addrs: []netip.Addr{relayAddrB, netip.MustParseAddr("192.0.2.2")}, SteerIPv4: true},
		want: map[Reason]int{
			ReasonSteerIPv4UDP:         6,
			ReasonPassIPv4NotRelayAddr: 2,
			ReasonPassIPv6Disabled:     10,
			ReasonPassARP:              4,
		},
	},
}
