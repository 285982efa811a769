package teredo

import (
	"encoding/binary"
	"net/netip"
	"testing"
)

// Every parse and build path runs without allocating.
func TestZeroAllocs(t *testing.T) {
	var (
		p      Packet
		h      IPv4Header
		u      UDPHeader
		ra     RA
		sink   bool
		sinkN  int
		sinkA  Addr
		sinkIP netip.Addr
		sinkE  error
		buf    = make([]byte, 2048)
	)
	t8 := ip(client)
	t8b := t8.As16()
	server := ip("192.0.2.1")
	relay := ip("2001:db8:ffff::1")
	bogons := NewBogons(SpecialPurposeBogons)
	ipv4pkt := cat(unhex("4500 0044 f39a 0000 4011 9ad8 c633 6401 c000 0201 0dd8 0dd8 0030 0000"), vecT11)
	frag := cat(unhex("4500 0044 f39a 2000 4011 0000 c633 6401 c000 0201"), make([]byte, 48))
	binary.BigEndian.PutUint16(frag[10:12], ^fold(sum(frag[:20], 0)))
	if err := h.Decode(frag); err != ErrFragment {
		t.Fatalf("fragment decodes with %v", err)
	}
	trailers := unhex("01 04 deadbeef 04 04 00000000 41 00")

	tests := []struct {
		name string
		fn   func()
	}{
		{"ParseAddr", func() { sinkA, sink = ParseAddr(t8) }},
		{"DecodeAddr", func() { sinkA = DecodeAddr(&t8b) }},
		{"IsTeredo", func() { sink = IsTeredo(&t8b) }},
		{"Addr.IP", func() { sinkIP = sinkA.IP() }},
		{"MatchesSource", func() { sink = MatchesSource(&t8b, ap("203.0.113.1:46240")) }},
		{"ServerLinkLocal", func() { sinkIP = ServerLinkLocal(server) }},
		{"ClientLinkLocal", func() { sinkIP = ClientLinkLocal(false) }},
		{"ServerPrefix", func() { sinkIP = ServerPrefix(server).Addr() }},
		{"Decode T9", func() { sinkE = p.Decode(vecT9) }},
		{"Decode T10", func() { sinkE = p.Decode(vecT10) }},
		{"Decode T12", func() { sinkE = p.Decode(vecT12) }},
		{"Decode data", func() { sinkE = p.Decode(vecEcho) }},
		{"Decode error", func() { sinkE = p.Decode(vecT10[:50]) }},
		{"IPv6Offset", func() { sinkN, sinkE = IPv6Offset(vecT10) }},
		{"IsBubble", func() { sink = p.IsBubble() }},
		{"Src/Dst", func() { t8b = Src(vecEcho); t8b = Dst(vecEcho); t8b = *SrcPtr(vecEcho) }},
		{"PutOrigin", func() { PutOrigin(buf, ap("203.0.113.1:46240")) }},
		{"PutAuth", func() { sinkN = PutAuth(buf, &p.Auth) }},
		{"PutBubble", func() { sinkN = PutBubble(buf, relay, t8) }},
		{"PutRS", func() { sinkN = PutRS(buf, ClientLinkLocal(false)) }},
		{"IsRS", func() { sink = IsRS(vecT9[13:]) }},
		{"PutRA", func() { sinkN = PutRA(buf, server, ClientLinkLocal(false), 0) }},
		{"ParseRA", func() { sinkE = ParseRA(vecT10[21:], &ra) }},
		{"PutIPv4UDP", func() { PutIPv4UDP(buf, ap("198.51.100.1:3544"), ap("203.0.113.1:46240"), 100, 1, 64) }},
		{"SetUDPChecksum", func() { SetUDPChecksum(ipv4pkt) }},
		{"IPv4Header.Decode", func() { sinkE = h.Decode(ipv4pkt) }},
		{"IPv4Header.Decode fragment", func() { sinkE = h.Decode(frag) }},
		{"UDPHeader.Decode", func() { sinkE = u.Decode(ipv4pkt[20:]) }},
		{"ICMPv6Checksum", func() { sinkN = int(ICMPv6Checksum(&t8b, &t8b, vecEcho[40:])) }},
		{"VerifyICMPv6Checksum", func() { sink = VerifyICMPv6Checksum(vecEcho) }},
		{"PutICMPv6Error", func() { sinkN, sinkE = PutDestUnreachable(buf, 3, relay, vecEcho) }},
		{"PutICMPv6Error refusal", func() { sinkN, sinkE = PutTimeExceeded(buf, relay, vecT13) }},
		{"Bogons.GlobalUnicast", func() { sink = bogons.GlobalUnicast(sinkA.Mapped.Addr()) }},
		{"IsGlobalUnicast", func() { sink = IsGlobalUnicast(server) }},
		{"Trailers", func() {
			it := NewTrailers(trailers)
			for _, ok := it.Next(); ok; _, ok = it.Next() {
			}
		}},
		{"CheckTrailers", func() { sinkE = CheckTrailers(trailers) }},
		{"PutTrailer", func() { sinkN = PutTrailer(buf, TrailerNonce, trailers[2:6]) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if n := testing.AllocsPerRun(100, tt.fn); n != 0 {
				t.Fatalf("%s allocates %v times per run", tt.name, n)
			}
		})
	}
	_, _, _, _, _ = sink, sinkN, sinkIP, sinkE, sinkA
}
