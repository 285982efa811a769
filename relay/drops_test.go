package relay

import (
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/teredorelay/teredorelay/cache"
	"github.com/teredorelay/teredorelay/relay/relaytest"
	"github.com/teredorelay/teredorelay/teredo"
)

// fixIPv4Checksum recomputes the IPv4 header checksum after a test edit.
func fixIPv4Checksum(b []byte) []byte {
	hl := int(b[0]&0x0f) * 4
	b[10], b[11] = 0, 0
	var s uint32
	for i := 0; i < hl; i += 2 {
		s += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	for s > 0xffff {
		s = s>>16 + s&0xffff
	}
	binary.BigEndian.PutUint16(b[10:12], ^uint16(s))
	return b
}

func edit(b []byte, f func([]byte)) []byte {
	b = append([]byte(nil), b...)
	f(b)
	return b
}

// TestDropReasons feeds one packet per fast-path drop reason and checks the
// verdict, that exactly that reason's counter moved by one, that no other
// packet counter moved and that nothing was sent. N-vectors from
// teredo-spec.md §8.5 are named after their ID.
func TestDropReasons(t *testing.T) {
	data := relaytest.Echo(clientAddr, nativeHost, 64, 1, 1, []byte("data"))
	good := fromClient(data)
	native := relaytest.Echo(nativeHost, clientAddr, 64, 1, 1, []byte("data"))
	teredoTo := func(server netip.Addr, mapped string) netip.Addr {
		return relaytest.TeredoAddr(server, 0, netip.MustParseAddrPort(mapped))
	}
	nativeTo := func(dst netip.Addr) []byte { return relaytest.Echo(nativeHost, dst, 64, 1, 1, nil) }
	trusted := func(h *harness) { h.trustClient(clientMap) }

	type tc struct {
		name   string
		cfg    func(*Config, *cache.Config)
		setup  func(*harness)
		decap  []byte // IPv4 frame for Decap
		encap  []byte // IPv6 packet for Encap
		run    func(*harness) Verdict
		reason DropReason
	}
	cases := []tc{
		{name: "ipv4 truncated", decap: good[:19], reason: DropIPv4Malformed},
		{name: "ipv4 version 6", decap: fixIPv4Checksum(edit(good, func(b []byte) { b[0] = 0x65 })), reason: DropIPv4Malformed},
		{name: "ipv4 total length beyond frame", decap: fixIPv4Checksum(edit(good, func(b []byte) { b[2], b[3] = 0xff, 0xff })), reason: DropIPv4Malformed},
		{name: "ipv4 checksum", decap: edit(good, func(b []byte) { b[8]-- }), reason: DropIPv4Checksum},
		{name: "ipv4 first fragment", decap: fixIPv4Checksum(edit(good, func(b []byte) { b[6] = 0x20 })), reason: DropIPv4Fragment},
		{name: "ipv4 later fragment", decap: fixIPv4Checksum(edit(good, func(b []byte) { b[7] = 0x10 })), reason: DropIPv4Fragment},
		{name: "not udp", decap: fixIPv4Checksum(edit(good, func(b []byte) { b[9] = 6 })), reason: DropNotUDP},
		{name: "other ipv4 destination", decap: relaytest.IPv4UDP(clientMap, netip.MustParseAddrPort("198.51.100.2:3544"), data, true), reason: DropWrongDestination},
		{name: "other udp port", decap: relaytest.IPv4UDP(clientMap, netip.MustParseAddrPort("198.51.100.1:3545"), data, true), reason: DropWrongDestination},
		{name: "udp length beyond ip", decap: edit(good, func(b []byte) { binary.BigEndian.PutUint16(b[24:26], uint16(len(b))) }), reason: DropUDPMalformed},
		{name: "udp length below 8", decap: edit(good, func(b []byte) { binary.BigEndian.PutUint16(b[24:26], 7) }), reason: DropUDPMalformed},
		{name: "udp checksum", cfg: func(c *Config, _ *cache.Config) { c.VerifyUDPChecksum = true }, decap: edit(good, func(b []byte) { b[len(b)-1]++ }), reason: DropUDPChecksum},
		{name: "N5 indicator 00 02", decap: fromClient(append([]byte{0, 2}, data...)), reason: DropTeredoMalformed},
		{name: "N5 first nibble 5", decap: fromClient(edit(data, func(b []byte) { b[0] = 0x50 })), reason: DropTeredoMalformed},
		{name: "N5 version 5 after origin", decap: fromClient(relaytest.WithOrigin(serverAP, edit(data, func(b []byte) { b[0] = 0x50 }))), reason: DropIPv6Malformed},
		{name: "N6 payload length beyond udp", decap: fromClient(edit(relaytest.IPv6(clientAddr, nativeHost, 59, 64, make([]byte, 20)), func(b []byte) { b[5] = 100 })), reason: DropIPv6Malformed},
		{name: "ipv6 truncated", decap: fromClient(data[:30]), reason: DropTeredoMalformed},
		{name: "authentication indicator (T9 shape)", decap: fromClient(append(mustHex(t, "0001000043c84a662f0adcb300"), data...)), reason: DropAuthHeader},
		{name: "origin indication", decap: fromClient(relaytest.WithOrigin(serverAP, data)), reason: DropOriginIndication},
		{name: "trailer type 01xxxxxx", decap: fromClient(append(append([]byte(nil), data...), 0x40, 0)), setup: trusted, reason: DropTrailerDiscard},
		{name: "N4 source not teredo", decap: fromClient(relaytest.Echo(netip.MustParseAddr("2001:db8::1"), nativeHost, 64, 1, 1, nil)), reason: DropSrcNotTeredo},
		{name: "N3 mapping mismatch", decap: relaytest.IPv4UDP(netip.MustParseAddrPort("203.0.113.9:46240"), relayAP, data, true), setup: trusted, reason: DropMappingMismatch},
		{name: "mapping mismatch port", decap: relaytest.IPv4UDP(netip.MustParseAddrPort("203.0.113.1:46241"), relayAP, data, true), setup: trusted, reason: DropMappingMismatch},
		{name: "symmetric data without trust", decap: relaytest.IPv4UDP(netip.MustParseAddrPort("203.0.113.1:50000"), relayAP, data, true), setup: trusted, reason: DropMappingMismatch},
		{name: "symmetric bubble wrong cookie", decap: relaytest.IPv4UDP(netip.MustParseAddrPort("203.0.113.1:50000"), relayAP, relaytest.Bubble(clientAddr, netip.MustParseAddr("fe80::4439:a801:d529:32ad")), true), setup: trusted, reason: DropBadCookie},
		{name: "unknown peer data", decap: good, reason: DropUnknownPeer},
		{name: "unknown peer bubble", decap: fromClient(relaytest.Bubble(clientAddr, netip.MustParseAddr("fe80::1"))), reason: DropUnknownPeer},
		{name: "destination teredo", decap: fromClient(relaytest.Echo(clientAddr, teredoTo(serverIPv4, "198.51.100.9:1000"), 64, 1, 1, nil)), setup: trusted, reason: DropDstTeredoLoop},
		{name: "destination multicast", decap: fromClient(relaytest.Echo(clientAddr, netip.MustParseAddr("ff02::1"), 64, 1, 1, nil)), setup: trusted, reason: DropDstMulticast},
		{name: "destination link-local", decap: fromClient(relaytest.Echo(clientAddr, netip.MustParseAddr("fe80::1"), 64, 1, 1, nil)), setup: trusted, reason: DropDstNotServed},
		{name: "destination loopback", decap: fromClient(relaytest.Echo(clientAddr, netip.MustParseAddr("::1"), 64, 1, 1, nil)), setup: trusted, reason: DropDstNotServed},
		{name: "destination v4-mapped", decap: fromClient(relaytest.Echo(clientAddr, netip.MustParseAddr("::ffff:192.0.2.9"), 64, 1, 1, nil)), setup: trusted, reason: DropDstNotServed},

		{name: "native truncated", encap: native[:39], reason: DropIPv6Malformed},
		{name: "native version 4", encap: edit(native, func(b []byte) { b[0] = 0x45 }), reason: DropIPv6Malformed},
		{name: "native payload length beyond frame", encap: edit(native, func(b []byte) { b[4] = 0x10 }), reason: DropIPv6Malformed},
		{name: "no headroom", run: func(h *harness) Verdict {
			buf := make([]byte, 2048)
			copy(buf[20:], native)
			v, _, _ := h.w.Encap(buf, 20, len(native))
			return v
		}, reason: DropNoHeadroom},
		{name: "native source teredo", encap: relaytest.Echo(teredoTo(serverIPv4, "198.51.100.9:1000"), clientAddr, 64, 1, 1, nil), reason: DropSrcTeredoLoop},
		{name: "native source link-local", encap: relaytest.Echo(netip.MustParseAddr("fe80::1"), clientAddr, 64, 1, 1, nil), reason: DropSrcInvalid},
		{name: "native source unspecified", encap: relaytest.Echo(netip.IPv6Unspecified(), clientAddr, 64, 1, 1, nil), reason: DropSrcInvalid},
		{name: "native source multicast", encap: relaytest.Echo(netip.MustParseAddr("ff05::2"), clientAddr, 64, 1, 1, nil), reason: DropSrcInvalid},
		{name: "N8 old microsoft prefix", encap: nativeTo(netip.MustParseAddr("3ffe:831f:ce49:7601:8000:efff:62c3:fffe")), reason: DropDstNotTeredo},
		{name: "destination not teredo", encap: nativeTo(netip.MustParseAddr("2001:db8::1")), reason: DropDstNotTeredo},
		{name: "native destination multicast", encap: nativeTo(netip.MustParseAddr("ff0e::1")), reason: DropDstMulticast},
		{name: "N1 mapped 10.0.0.1", encap: nativeTo(netip.MustParseAddr("2001:0:c000:201:0:f227:f5ff:fffe")), reason: DropDstMappedBogon},
		{name: "N2 mapped 224.0.0.1", encap: nativeTo(teredoTo(serverIPv4, "224.0.0.1:3544")), reason: DropDstMappedBogon},
		{name: "N2 mapped 255.255.255.255", encap: nativeTo(teredoTo(serverIPv4, "255.255.255.255:3544")), reason: DropDstMappedBogon},
		{name: "N2 mapped 127.0.0.1", encap: nativeTo(teredoTo(serverIPv4, "127.0.0.1:3544")), reason: DropDstMappedBogon},
		{name: "N2 mapped 192.88.99.1", encap: nativeTo(teredoTo(serverIPv4, "192.88.99.1:3544")), reason: DropDstMappedBogon},
		{name: "N2 mapped 169.254.1.1", encap: nativeTo(teredoTo(serverIPv4, "169.254.1.1:3544")), reason: DropDstMappedBogon},
		{name: "mapped port 0", encap: nativeTo(teredoTo(serverIPv4, "203.0.113.1:0")), reason: DropDstMappedBogon},
		{name: "mapped in extra bogons", cfg: func(c *Config, _ *cache.Config) { c.ExtraBogons = teredo.SpecialPurposeBogons },
			encap: nativeTo(teredoTo(serverIPv4, "100.64.0.1:3544")), reason: DropDstMappedBogon},
		{name: "mapped is the relay", encap: nativeTo(teredoTo(serverIPv4, "198.51.100.1:3544")), reason: DropDstSelf},
		{name: "server 10.1.1.1", encap: nativeTo(teredoTo(netip.MustParseAddr("10.1.1.1"), "203.0.113.1:46240")), reason: DropDstServerBogon},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, c.cfg)
			if c.setup != nil {
				c.setup(h)
			}
			before := h.counters()
			var v Verdict
			switch {
			case c.run != nil:
				v = c.run(h)
			case c.decap != nil:
				v, _ = h.decap(c.decap)
			default:
				v, _ = h.encap(c.encap)
			}
			h.drain()
			after := h.counters()
			if v != Drop {
				t.Errorf("verdict %v, want drop", v)
			}
			for r := range NumDropReasons {
				want := before.Drops[r]
				if r == c.reason {
					want++
				}
				if after.Drops[r] != want {
					t.Errorf("drops[%v] = %d, want %d", r, after.Drops[r], want)
				}
			}
			if after.DecapForwarded != before.DecapForwarded || after.EncapForwarded != before.EncapForwarded ||
				after.SlowPathHandoffs != before.SlowPathHandoffs || after.SlowPathNotices != before.SlowPathNotices ||
				after.BubblesReceived != before.BubblesReceived {
				t.Errorf("other counters moved:\nbefore %+v\nafter  %+v", before, after)
			}
			if n := h.out.Len(); n != 0 {
				t.Errorf("%d packets sent", n)
			}
			if h.e.pendingPeers() != 0 {
				t.Error("verification started")
			}
		})
	}
}

// TestNoICMPv6ForBubbles (vector T13): a bubble with hop limit 0 from
// unknown, pending and trusted peers never yields an ICMPv6 error (the
// testbed relay host sent a Time Exceeded about exactly this bubble).
func TestNoICMPv6ForBubbles(t *testing.T) {
	frames := pcapFrames(t, relayPcap)
	bubble := frames[2] // frame 3: 203.0.113.1:46240 -> 198.51.100.1:3544, src T8, dst fe80::4439:a801:d529:32ad
	if teredo.HopLimit(bubble[28:]) != 0 || !teredo.IsBubble(bubble[28:]) {
		t.Fatal("frame 3 is not the client's bubble")
	}
	for _, state := range []string{"unknown", "pending", "trusted"} {
		t.Run(state, func(t *testing.T) {
			h := newHarness(t, nil)
			k := clientAddr.As16()
			switch state {
			case "pending":
				h.peers.InsertPending(&k, clientMap, h.clock.Now())
			case "trusted":
				h.trustClient(clientMap)
			}
			h.decap(bubble)
			h.drain()
			for range 100 {
				h.advance(100_000_000)
			}
			c := h.counters()
			for kind := range NumICMPv6Kinds {
				if c.ICMPv6Sent[kind] != 0 || c.ICMPv6Suppressed[kind] != 0 {
					t.Fatalf("ICMPv6 %v: sent %d suppressed %d", kind, c.ICMPv6Sent[kind], c.ICMPv6Suppressed[kind])
				}
			}
			if n := h.out.Len(); n != 0 {
				t.Fatalf("%d packets sent in answer to a bubble", n)
			}
			if state != "unknown" && c.BubblesReceived != 1 {
				t.Fatalf("bubbles received %d, want 1", c.BubblesReceived)
			}
			if p, ok := h.peers.Get(&k); state != "unknown" && (!ok || p.State != cache.Trusted) {
				t.Fatalf("peer %+v after its bubble, want trusted", p)
			}
		})
	}
	// N7: a bubble followed by an RFC 6081 trailer (type 01, skippable) is
	// valid and consumed.
	h := newHarness(t, nil)
	h.trustClient(clientMap)
	n7 := append(relaytest.Bubble(clientAddr, h.e.Cookie(clientAddr)), 0x01, 0x04, 0xde, 0xad, 0xbe, 0xef)
	if v, _ := h.decap(fromClient(n7)); v != Drop || h.counters().BubblesReceived != 1 || h.counters().TotalDrops() != 0 {
		t.Fatalf("N7: verdict %v counters %+v", v, h.counters())
	}
}
