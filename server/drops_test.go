package server

import (
	"encoding/binary"
	"encoding/hex"
	"net/netip"
	"strings"
	"testing"

	"github.com/teredorelay/teredorelay/teredo"
)

// fixIPv4Checksum recomputes the IPv4 header checksum after an edit.
func fixIPv4Checksum(b []byte) {
	b[10], b[11] = 0, 0
	var s uint32
	for i := 0; i < 20; i += 2 {
		s += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	for s > 0xffff {
		s = s>>16 + s&0xffff
	}
	binary.BigEndian.PutUint16(b[10:12], ^uint16(s))
}

func edit(b []byte, f func([]byte)) []byte {
	b = append([]byte(nil), b...)
	f(b)
	return b
}

type dropCase struct {
	name string
	pkt  []byte
	mod  func(*Config)
	// prime is how many times pkt is handled (and accepted) first.
	prime int
	// run replaces the default Handle on a fresh frame.
	run  func(h *harness, pkt []byte) Verdict
	want DropReason
}

func fromClient(payload []byte) []byte { return ipv4udp(natAP, primaryAP(), payload) }

func dropCases() []dropCase {
	clientEcho := echo(clientAddr, nativeHost, 64, 16)
	otherServerClient := teredoAddr(netip.MustParseAddr("198.51.100.99"), 0, netip.MustParseAddrPort("203.0.113.50:4000"))
	auth := &teredo.Auth{Nonce: [8]byte{1, 2, 3, 4, 5, 6, 7, 8}}
	authBubble := make([]byte, auth.Len())
	teredo.PutAuth(authBubble, auth)
	authBubble = append(authBubble, bubble(clientAddr, otherServerClient)...)
	rs := rsPayload(false, auth)
	return []dropCase{
		{name: "truncated ipv4", pkt: fromClient(clientEcho)[:12], want: DropIPv4Malformed},
		{name: "ipv4 checksum", pkt: edit(fromClient(clientEcho), func(b []byte) { b[10]++ }), want: DropIPv4Checksum},
		{name: "ipv4 fragment", pkt: edit(fromClient(clientEcho), func(b []byte) { b[6] = 0x20; fixIPv4Checksum(b) }), want: DropIPv4Fragment},
		{name: "tcp", pkt: edit(fromClient(clientEcho), func(b []byte) { b[9] = 6; fixIPv4Checksum(b) }), want: DropNotUDP},
		{name: "other ipv4 destination", pkt: ipv4udp(natAP, netip.MustParseAddrPort("192.0.2.9:3544"), clientEcho), want: DropWrongDestination},
		{name: "other port", pkt: ipv4udp(natAP, netip.MustParseAddrPort("192.0.2.1:3545"), clientEcho), want: DropWrongDestination},
		{name: "udp length", pkt: edit(fromClient(clientEcho), func(b []byte) { b[24], b[25] = 0xff, 0 }), want: DropUDPMalformed},
		{name: "rule 1 not teredo (00 02)", pkt: fromClient([]byte{0, 2, 0, 0, 0, 0, 0, 0, 0x60}), want: DropTeredoMalformed},
		{name: "rule 1 ipv6 length (N6)", pkt: fromClient(edit(clientEcho, func(b []byte) { b[5] = 100 })), want: DropIPv6Malformed},
		{name: "rule 1 trailer 01xxxxxx", pkt: fromClient(append(bubble(clientAddr, otherServerClient), 0x41, 0)), want: DropTrailerDiscard},
		{name: "rule 1 origin indication", pkt: ipv4udp(relayAP, primaryAP(), append([]byte{0, 0, 1, 2, 3, 4, 5, 6}, bubble(relayCookie, clientAddr)...)), want: DropOriginIndication},
		{name: "rule 2 udp payload", pkt: fromClient(ipv6(clientAddr, nativeHost, 17, 64, make([]byte, 8))), want: DropNotBubbleOrICMPv6},
		{name: "rule 2 icmpv6 of 3 bytes to native", pkt: fromClient(ipv6(clientAddr, nativeHost, teredo.ProtoICMPv6, 64, []byte{128, 0, 0})), want: DropICMPv6Truncated},
		{name: "rule 2 icmpv6 of 0 bytes to a client", pkt: ipv4udp(relayAP, primaryAP(), ipv6(nativeHost, clientAddr, teredo.ProtoICMPv6, 64, nil)), want: DropICMPv6Truncated},
		{name: "rule 3 private source", pkt: ipv4udp(netip.MustParseAddrPort("10.1.2.3:46240"), primaryAP(), rs), want: DropSrcNotGlobal},
		{name: "rule 3 extra bogon", pkt: fromClient(rs), mod: func(c *Config) { c.ExtraBogons = []netip.Prefix{netip.MustParsePrefix("203.0.113.0/24")} }, want: DropSrcNotGlobal},
		{name: "loop guard", pkt: ipv4udp(secondaryAP(), primaryAP(), bubble(relayCookie, clientAddr)), want: DropLoop},
		{name: "rule 4 rs hop limit", pkt: fromClient(edit(rs, func(b []byte) { b[len(b)-48+7] = 64 })), want: DropRSInvalid},
		{name: "rule 4 rs checksum", pkt: fromClient(edit(rs, func(b []byte) { b[len(b)-1] = 1 })), want: DropRSInvalid},
		{name: "auth on a bubble", pkt: fromClient(authBubble), want: DropAuthHeader},
		{name: "rule 5 mapping mismatch (N3)", pkt: ipv4udp(netip.MustParseAddrPort("203.0.113.9:46240"), primaryAP(), clientEcho), want: DropMappingMismatch},
		{name: "rule 5 port mismatch", pkt: ipv4udp(netip.MustParseAddrPort("203.0.113.1:46241"), primaryAP(), clientEcho), want: DropMappingMismatch},
		{name: "rule 6 native to native", pkt: ipv4udp(relayAP, primaryAP(), echo(nativeHost, netip.MustParseAddr("2001:db8::7"), 64, 16)), want: DropDstNotOurClient},
		{name: "rule 6 other server's client", pkt: ipv4udp(relayAP, primaryAP(), bubble(relayCookie, otherServerClient)), want: DropDstNotOurClient},
		{name: "echo to server link-local", pkt: fromClient(echo(clientAddr, teredo.ServerLinkLocal(serverIP), 255, 16)), want: DropLocalNotRS},
		{name: "echo to ff02::2", pkt: fromClient(echo(clientAddr, teredo.AllRouters, 255, 16)), want: DropLocalNotRS},
		{name: "icmpv6 89 bytes", pkt: fromClient(echo(clientAddr, nativeHost, 64, 89)), want: DropICMPv6TooBig},
		{name: "icmpv6 cap configured", pkt: fromClient(echo(clientAddr, nativeHost, 64, 40)), mod: func(c *Config) { c.ICMPv6PayloadMax = 39 }, want: DropICMPv6TooBig},
		{name: "multicast destination", pkt: fromClient(echo(clientAddr, netip.MustParseAddr("ff0e::1"), 64, 16)), want: DropDstMulticast},
		{name: "link-local destination", pkt: fromClient(echo(clientAddr, netip.MustParseAddr("fe80::1"), 64, 16)), want: DropDstNotGlobal},
		{name: "loopback destination", pkt: fromClient(echo(clientAddr, netip.IPv6Loopback(), 64, 16)), want: DropDstNotGlobal},
		{name: "unique local destination", pkt: fromClient(echo(clientAddr, netip.MustParseAddr("fd00::1"), 64, 16)), want: DropDstNotGlobal},
		{name: "bubble to native", pkt: fromClient(bubble(clientAddr, nativeHost)), want: DropBubbleToNative},
		{name: "mapped private (N1)", pkt: fromClient(echo(clientAddr, netip.MustParseAddr("2001:0:c000:201:0:f227:f5ff:fffe"), 64, 16)), want: DropDstMappedBogon},
		{name: "mapped port 0", pkt: fromClient(echo(clientAddr, teredoAddr(serverIP, 0, netip.MustParseAddrPort("203.0.113.50:0")), 64, 16)), want: DropDstMappedBogon},
		{name: "mapped to our secondary", pkt: fromClient(bubble(clientAddr, teredoAddr(serverIP, 0, netip.MustParseAddrPort("192.0.2.2:3544")))), want: DropDstSelf},
		{name: "mapped to our relay", pkt: fromClient(bubble(clientAddr, teredoAddr(serverIP, 0, netip.MustParseAddrPort("198.51.100.7:3544")))),
			mod: func(c *Config) { c.RelayAddr = netip.MustParseAddr("198.51.100.7") }, want: DropDstSelf},
		{name: "hop limit 1 to native", pkt: fromClient(echo(clientAddr, nativeHost, 1, 16)), want: DropHopLimit},
		{name: "rate limited", pkt: fromClient(rs), mod: func(c *Config) { c.RateBurst = 3 }, prime: 3, want: DropRateLimited},
		{name: "no headroom for origin", pkt: unhexMust(t11Bubble), want: DropNoHeadroom,
			run: func(h *harness, pkt []byte) Verdict {
				buf := append([]byte(nil), pkt...)
				return h.h.HandleDatagram(serverIP, relayAP, buf, 0, len(buf)).Verdict
			}},
		{name: "no tailroom for the RA", pkt: fromClient(rs), want: DropNoTailroom,
			run: func(h *harness, pkt []byte) Verdict {
				buf, off := frame(pkt)
				v, _, _ := h.h.Handle(buf[:off+len(pkt)+50], off, len(pkt))
				return v
			}},
	}
}

func unhexMust(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(err)
	}
	return b
}

// TestDrops sends one datagram per case and checks that exactly the expected
// drop reason moved, by one, and nothing else did.
func TestDrops(t *testing.T) {
	covered := map[DropReason]bool{}
	for _, c := range dropCases() {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, c.mod)
			for i := range c.prime {
				if v, _ := h.handle(c.pkt); v == Drop {
					t.Fatalf("priming packet %d dropped: %v", i, countersDelta(Counters{}, h.s.Counters()))
				}
			}
			before := h.s.Counters()
			var v Verdict
			if c.run != nil {
				v = c.run(h, c.pkt)
			} else {
				v, _ = h.handle(c.pkt)
			}
			if v != Drop {
				t.Fatalf("verdict %v, want drop %s", v, c.want)
			}
			after := h.s.Counters()
			delta := countersDelta(before, after)
			want := map[string]uint64{"drop_" + c.want.String(): 1}
			if c.want == DropRateLimited || c.want == DropNoTailroom {
				want["rs_received"] = 1
			}
			if len(delta) != len(want) {
				t.Fatalf("counter delta %v, want %v", delta, want)
			}
			for k, n := range want {
				if delta[k] != n {
					t.Fatalf("counter delta %v, want %v", delta, want)
				}
			}
			if after.Packets != before.Packets+1 {
				t.Fatalf("packets %d → %d", before.Packets, after.Packets)
			}
			covered[c.want] = true
		})
	}
	for r := range NumDropReasons {
		if !covered[r] {
			t.Errorf("drop reason %s has no test case", r)
		}
	}
}

// TestNames checks that every enum value has a distinct snake_case name.
func TestNames(t *testing.T) {
	seen := map[string]bool{}
	check := func(n string) {
		if n == "" || n == "unknown" || seen[n] {
			t.Errorf("bad or duplicate name %q", n)
		}
		for _, r := range n {
			if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '_' {
				t.Errorf("name %q is not snake_case", n)
			}
		}
		seen[n] = true
	}
	var c Counters
	c.Each(func(n string, _ uint64) { check(n) })
	if DropReason(NumDropReasons).String() != "unknown" || Verdict(9).String() != "unknown" ||
		ForwardKind(NumForwardKinds).String() != "unknown" || RAKind(NumRAKinds).String() != "unknown" {
		t.Error("out-of-range values must be unknown")
	}
	for _, v := range []Verdict{Drop, ToIPv4, ToIPv6, Relay} {
		check("verdict_" + v.String())
	}
}
