package relay

import (
	"net/netip"
	"testing"

	"github.com/teredorelay/teredorelay/cache"
	"github.com/teredorelay/teredorelay/relay/relaytest"
)

// TestMappingValidity (issue 10, section 4; RFC 4380 §5.4.1): the outer
// IPv4 source of a client's packet becomes the mapping the relay sends to
// when it trusts or learns the peer, or answers it with an ICMPv6 error. A
// source the relay must not send to (not global unicast, in extra_bogons, a
// relay address, port 0) is refused before any of that, under
// src_mapping_invalid: a spoofed cookie bubble does not re-point a peer
// being verified, and with accept_unknown_peers a spoofed hop-limit-1
// datagram gets no 1280-byte ICMPv6 error sent to the victim.
func TestMappingValidity(t *testing.T) {
	second := netip.MustParseAddr("198.51.100.2")
	extra := netip.MustParsePrefix("192.0.2.128/25")
	invalid := []netip.AddrPort{
		netip.MustParseAddrPort("10.0.0.5:53"),          // RFC 1918
		netip.MustParseAddrPort("224.0.0.1:3544"),       // multicast
		netip.MustParseAddrPort("255.255.255.255:3544"), // limited broadcast
		netip.MustParseAddrPort("127.0.0.1:3544"),       // loopback
		netip.AddrPortFrom(relayIPv4, 3544),             // the relay itself
		netip.AddrPortFrom(relayIPv4, 40000),            // the relay, another port
		netip.AddrPortFrom(second, 3544),                // a further relay address
		netip.MustParseAddrPort("192.0.2.200:4000"),     // extra_bogons
		netip.MustParseAddrPort("203.0.113.8:0"),        // port 0
	}
	valid := netip.MustParseAddrPort("203.0.113.8:4000")
	cfg := func(c *Config, _ *cache.Config) {
		c.IPv4Addrs = []netip.Addr{second}
		c.ExtraBogons = []netip.Prefix{extra}
		c.AcceptUnknownPeers = true
	}
	for _, from := range append(invalid, valid) {
		ok := from == valid
		t.Run(from.String(), func(t *testing.T) {
			// A cookie bubble from from for a peer being verified.
			h := newHarness(t, cfg)
			k := clientAddr.As16()
			fresh := h.verifyPeer(relaytest.Echo(nativeHost, clientAddr, 64, 1, 1, nil))
			before := h.counters()
			v, _ := h.decap(relaytest.IPv4UDP(from, relayAP, relaytest.Bubble(clientAddr, fresh), true))
			h.drain()
			p, _ := h.peers.Get(&k)
			sent := h.out.Take()
			if ok {
				if v != SlowPath || p.State != cache.Trusted || p.Mapping != from || len(sent) != 1 || sent[0].Dst != from {
					t.Fatalf("valid mapping: %v, peer %+v, sent %+v", v, p, sent)
				}
			} else {
				checkDrops(t, before, h.counters(), map[DropReason]uint64{DropSrcMappingInvalid: 1})
				if v != Drop || p.State != cache.Pending || len(sent) != 0 {
					t.Fatalf("cookie bubble from %v: %v, peer %+v, sent %+v", from, v, p, sent)
				}
			}

			// accept_unknown_peers: a datagram from a Teredo address that
			// embeds from (consistent, so only the source check stands),
			// hop limit 1 (Time Exceeded to from) or 64 (learnt at from).
			src := relaytest.TeredoAddr(serverIPv4, 0, from)
			sk := src.As16()
			for _, hop := range []uint8{1, 64} {
				h := newHarness(t, cfg)
				before := h.counters()
				v, _ := h.decap(relaytest.IPv4UDP(from, relayAP, relaytest.Echo(src, nativeHost, hop, 1, 1, nil), true))
				h.drain()
				sent := h.out.Take()
				_, known := h.peers.Get(&sk)
				if ok {
					if want := map[uint8]Verdict{1: SlowPath, 64: ToIPv6}[hop]; v != want || !known {
						t.Fatalf("valid mapping, hop limit %d: %v, learnt %v", hop, v, known)
					}
					continue
				}
				checkDrops(t, before, h.counters(), map[DropReason]uint64{DropSrcMappingInvalid: 1})
				if v != Drop || known || len(sent) != 0 || h.counters().PeersLearned != 0 {
					t.Fatalf("hop limit %d from %v: %v, learnt %v, sent %+v", hop, from, v, known, sent)
				}
			}
		})
	}
}
