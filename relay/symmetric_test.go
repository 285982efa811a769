package relay

import (
	"net/netip"
	"testing"
	"time"

	"github.com/teredorelay/teredorelay/cache"
	"github.com/teredorelay/teredorelay/relay/relaytest"
)

// TestCookieEpochs: a cookie is accepted for CookieValidity after its epoch
// (ages 0 to 3) and refused after, including 64 epochs later when its epoch
// bits come round again; it stays a link-local address with the U/G bits
// clear and differs per peer and per epoch.
func TestCookieEpochs(t *testing.T) {
	c := newCookie(testKey)
	peer, other := clientAddr.As16(), nativeOther.As16()
	const e0 = 2_000_000_000 / 10 // an epoch in 2033
	var a, b [16]byte
	c.put(&peer, e0, &a)
	if a[0] != 0xfe || a[1] != 0x80 || a[2]|a[3]|a[4]|a[5]|a[6]|a[7] != 0 || a[8]&0x03 != 0 {
		t.Fatalf("cookie %v: want fe80::/64 with the U/G bits clear", netip.AddrFrom16(a))
	}
	for age := int64(-1); age <= 130; age++ {
		want := age >= 0 && age <= cookieMaxAge
		if got := c.matches(&peer, &a, e0+age); got != want {
			t.Errorf("cookie of epoch e0 checked in epoch e0%+d: %v, want %v", age, got, want)
		}
	}
	if c.matches(&other, &a, e0) {
		t.Error("a cookie matches another peer")
	}
	c.put(&peer, e0+1, &b)
	if a == b {
		t.Error("two epochs give the same cookie")
	}
	c.put(&peer, e0+64, &b) // same epoch bits, another epoch
	if a == b || c.matches(&peer, &a, e0+64) {
		t.Error("a cookie 64 epochs old passes for a current one")
	}
	b = a
	b[0] = 0xfd
	if c.matches(&peer, &b, e0) {
		t.Error("a cookie outside fe80::/64 matches")
	}
	if n := testing.AllocsPerRun(100, func() { c.matches(&peer, &a, e0+1) }); n != 0 {
		t.Errorf("matches allocates %v times", n)
	}
}

// verifyPeer starts a verification of clientAddr with a native packet (the
// slow path queues it and sends the indirect bubble) and returns the cookie
// of that bubble.
func (h *harness) verifyPeer(pkt []byte) netip.Addr {
	h.t.Helper()
	if v, _ := h.encap(pkt); v != SlowPath {
		h.t.Fatalf("native packet: %v, want slow_path", v)
	}
	h.drain()
	sent := h.out.Take()
	if len(sent) != 1 || sent[0].Dst != serverAP {
		h.t.Fatalf("sent %+v, want the indirect bubble", sent)
	}
	return netip.AddrFrom16([16]byte(sent[0].Data[8:24]))
}

// TestReplayedCookieRefused (issue 10, section 2): a cookie seen once (say,
// by an attacker on the path to the client's server) cannot be replayed
// later, when the same peer is verified again, to point it at another
// mapping. Before cookies expired, this bubble made the relay trust the
// attacker's address.
func TestReplayedCookieRefused(t *testing.T) {
	h := newHarness(t, nil)
	pkt := relaytest.Echo(nativeHost, clientAddr, 64, 1, 1, nil)
	old := h.verifyPeer(pkt)
	// The client never answers: the peer expires after its bubble rounds.
	for range 5 {
		h.advance(DefaultBubbleInterval)
	}
	h.out.Take()
	k := clientAddr.As16()
	if _, ok := h.peers.Get(&k); ok {
		t.Fatal("peer still there after its bubbles")
	}
	// A new verification, after the bubble budget's window.
	h.advance(DefaultBubbleWindow)
	fresh := h.verifyPeer(pkt)
	if fresh == old {
		t.Fatalf("the cookie did not change in %v", DefaultBubbleWindow)
	}
	attacker := netip.MustParseAddrPort("203.0.113.66:4444")
	before := h.counters()
	if v, _ := h.decap(relaytest.IPv4UDP(attacker, relayAP, relaytest.Bubble(clientAddr, old), true)); v != Drop {
		t.Fatalf("replayed cookie: %v", v)
	}
	checkDrops(t, before, h.counters(), map[DropReason]uint64{DropBadCookie: 1})
	h.drain()
	if p, ok := h.peers.Get(&k); !ok || p.State != cache.Pending {
		t.Fatalf("peer after the replay: %+v %v, want pending", p, ok)
	}
	if sent := h.out.Take(); len(sent) != 0 {
		t.Fatalf("the replay released %+v", sent)
	}
	// The client's own answer, from a port its NAT chose: served there.
	nat := netip.AddrPortFrom(clientMap.Addr(), 61000)
	if v, _ := h.decap(relaytest.IPv4UDP(nat, relayAP, relaytest.Bubble(clientAddr, fresh), true)); v != SlowPath {
		t.Fatalf("fresh cookie from the NAT's port: %v", v)
	}
	h.drain()
	if sent := h.out.Take(); len(sent) != 1 || sent[0].Dst != nat {
		t.Fatalf("released %+v, want the queued packet to %v", sent, nat)
	}
}

// TestIdlePeerNATRebind (issue 10, section 2): a trusted peer idle for
// longer than the validity period whose NAT gave it a new port meanwhile
// (the mapping timed out, the NAT rebound) is verified again by the next
// native packet; its bubble from the new port to the fresh cookie makes it
// trusted there and the queued packet goes out. Before, the bubble was a
// mapping mismatch: the peer expired and its packet was lost. A bubble to
// an expired cookie is refused, and a peer in use is not re-pointed.
func TestIdlePeerNATRebind(t *testing.T) {
	h := newHarness(t, nil)
	pkt := relaytest.Echo(nativeHost, clientAddr, 64, 1, 1, nil)
	first := h.verifyPeer(pkt)
	if v, _ := h.decap(fromClient(relaytest.Bubble(clientAddr, first))); v != SlowPath {
		t.Fatalf("client bubble: %v", v)
	}
	h.drain()
	h.out.Take()
	k := clientAddr.As16()
	// In use: a fresh cookie from another port does not move it.
	rebound := netip.AddrPortFrom(clientMap.Addr(), 62000)
	before := h.counters()
	if v, _ := h.decap(relaytest.IPv4UDP(rebound, relayAP, relaytest.Bubble(clientAddr, h.e.Cookie(clientAddr)), true)); v != Drop {
		t.Fatalf("cookie bubble for a peer in use: %v", v)
	}
	checkDrops(t, before, h.counters(), map[DropReason]uint64{DropMappingMismatch: 1})

	// Idle past the validity period (not yet swept), and the NAT rebinds.
	h.advance(DefaultPeerValidity + 10*time.Second)
	fresh := h.verifyPeer(pkt)
	if p, ok := h.peers.Get(&k); !ok || p.State != cache.Trusted || p.QueuedPackets != 1 {
		t.Fatalf("stale peer: %+v %v, want trusted with one queued packet", p, ok)
	}
	// The first verification's cookie is 40 s old: refused.
	before = h.counters()
	if v, _ := h.decap(relaytest.IPv4UDP(rebound, relayAP, relaytest.Bubble(clientAddr, first), true)); v != Drop {
		t.Fatalf("expired cookie: %v", v)
	}
	checkDrops(t, before, h.counters(), map[DropReason]uint64{DropBadCookie: 1})
	h.advance(time.Second) // the answer comes within the bubble round
	if v, _ := h.decap(relaytest.IPv4UDP(rebound, relayAP, relaytest.Bubble(clientAddr, fresh), true)); v != SlowPath {
		t.Fatalf("fresh cookie from the new port: %v", v)
	}
	h.drain()
	if sent := h.out.Take(); len(sent) != 1 || sent[0].Dst != rebound {
		t.Fatalf("released %+v, want the queued packet to %v", sent, rebound)
	}
	if p, ok := h.peers.Get(&k); !ok || p.State != cache.Trusted || p.Mapping != rebound {
		t.Fatalf("peer %+v %v, want trusted at %v", p, ok, rebound)
	}
	v, out := h.encap(pkt)
	if v != ToIPv4 {
		t.Fatalf("encap after the rebind: %v", v)
	}
	checkIPv4UDP(t, out, rebound, len(pkt))
	// Its data from the new port is forwarded.
	if v, _ := h.decap(relaytest.IPv4UDP(rebound, relayAP, relaytest.Echo(clientAddr, nativeHost, 64, 2, 2, nil), true)); v != ToIPv6 {
		t.Fatalf("data from the new port: %v", v)
	}
}

// TestStrictMapping: StrictMapping refuses what the default accepts, a
// fresh-cookie bubble from a port the Teredo address does not name.
func TestStrictMapping(t *testing.T) {
	h := newHarness(t, func(c *Config, _ *cache.Config) { c.StrictMapping = true })
	fresh := h.verifyPeer(relaytest.Echo(nativeHost, clientAddr, 64, 1, 1, nil))
	before := h.counters()
	nat := netip.AddrPortFrom(clientMap.Addr(), 61000)
	if v, _ := h.decap(relaytest.IPv4UDP(nat, relayAP, relaytest.Bubble(clientAddr, fresh), true)); v != Drop {
		t.Fatalf("strict: %v", v)
	}
	checkDrops(t, before, h.counters(), map[DropReason]uint64{DropMappingMismatch: 1})
	// From the embedded mapping it is the RFC 4380 case: trusted.
	if v, _ := h.decap(fromClient(relaytest.Bubble(clientAddr, fresh))); v != SlowPath {
		t.Fatalf("strict, embedded mapping: %v", v)
	}
}
