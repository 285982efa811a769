package relay

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/teredorelay/teredorelay/cache"
	"github.com/teredorelay/teredorelay/relay/relaytest"
	"github.com/teredorelay/teredorelay/teredo"
)

// TestHandshake walks RFC 4380 §5.4.1 case 3 with frames from the testbed
// capture: native packet → pending + queued → indirect and direct bubbles →
// (server adds the origin indication) → client's direct bubble → trusted →
// queued packet delivered to the mapping; then both directions on the fast
// path, byte for byte against what Miredo's relay put on the wire.
func TestHandshake(t *testing.T) {
	h := newHarness(t, func(c *Config, _ *cache.Config) { c.DirectBubbles = true }) // as Miredo's relay in the capture
	frames := pcapFrames(t, relayPcap)
	reply := frames[13]   // frame 14: native echo reply 2001:db8:3::7 -> T8, hop limit 63
	wantUDP := frames[14] // frame 15: Miredo's encapsulation of it, hop limit 62
	if teredo.HopLimit(reply) != 63 || teredo.HopLimit(wantUDP[28:]) != 62 {
		t.Fatalf("capture frames are not the expected echo reply pair")
	}

	v, _ := h.encap(reply)
	if v != SlowPath {
		t.Fatalf("first native packet: verdict %v, want slow_path", v)
	}
	if h.out.Len() != 0 {
		t.Fatal("the fast path sent something itself")
	}
	h.drain()
	sent := h.out.Take()
	if len(sent) != 2 {
		t.Fatalf("sent %d packets, want an indirect and a direct bubble", len(sent))
	}
	cookie := h.e.Cookie(clientAddr)
	if !cookie.Is6() || cookie.As16()[0] != 0xfe || cookie.As16()[1] != 0x80 || cookie.As16()[8]&0x03 != 0 {
		t.Fatalf("cookie %v is not fe80::/64 with U/G clear", cookie)
	}
	c16 := cookie.As16()
	// Vector T11 layout: 6000 0000 0000 3b00 | src cookie | dst T8.
	wantBubble := append(mustHex(t, "6000000000003b00"), c16[:]...)
	wantBubble = append(wantBubble, mustHex(t, "20010000c00002013cc44b5f34ff8efe")...)
	if sent[0].Via != relaytest.ViaUDP || sent[0].Dst != serverAP || !bytes.Equal(sent[0].Data, wantBubble) {
		t.Fatalf("indirect bubble %v %v % x, want udp to %v % x", sent[0].Via, sent[0].Dst, sent[0].Data, serverAP, wantBubble)
	}
	if sent[1].Via != relaytest.ViaUDP || sent[1].Dst != clientMap || !bytes.Equal(sent[1].Data, wantBubble) {
		t.Fatalf("direct bubble %v %v % x, want udp to %v", sent[1].Via, sent[1].Dst, sent[1].Data, clientMap)
	}
	k := clientAddr.As16()
	if p, ok := h.peers.Get(&k); !ok || p.State != cache.Pending || p.QueuedPackets != 1 || p.Mapping != clientMap {
		t.Fatalf("peer after first packet: %+v %v, want pending at %v with 1 queued", p, ok, clientMap)
	}

	// The server forwards the bubble to the client with an origin
	// indication naming the relay (vector T12: 0000 f227 39cc 9bfe).
	t12 := relaytest.WithOrigin(relayAP, sent[0].Data)
	if !bytes.Equal(t12[:8], mustHex(t, "0000f22739cc9bfe")) || !bytes.Equal(t12[8:], wantBubble) {
		t.Fatalf("server-forwarded bubble % x", t12)
	}

	// The client answers with a direct bubble to the cookie (vector T13).
	v, _ = h.decap(fromClient(relaytest.Bubble(clientAddr, cookie)))
	if v != SlowPath {
		t.Fatalf("client bubble: verdict %v, want slow_path (trust notice)", v)
	}
	if h.out.Len() != 0 {
		t.Fatal("a bubble was answered by the fast path")
	}
	h.drain()
	sent = h.out.Take()
	if len(sent) != 1 || sent[0].Via != relaytest.ViaUDP || sent[0].Dst != clientMap {
		t.Fatalf("after trust sent %+v, want the queued packet to %v", sent, clientMap)
	}
	if !bytes.Equal(sent[0].Data, wantUDP[28:]) {
		t.Fatalf("released packet\n got % x\nwant % x", sent[0].Data, wantUDP[28:])
	}
	if p, _ := h.peers.Get(&k); p.State != cache.Trusted || p.QueuedPackets != 0 {
		t.Fatalf("peer after bubble: %+v, want trusted with an empty queue", p)
	}

	// Trusted and valid: encapsulated in place.
	v, got := h.encap(reply)
	if v != ToIPv4 {
		t.Fatalf("trusted native packet: verdict %v, want to_ipv4", v)
	}
	checkIPv4UDP(t, got, clientMap, len(reply))
	if !bytes.Equal(got[28:], wantUDP[28:]) {
		t.Fatalf("encapsulated IPv6\n got % x\nwant % x", got[28:], wantUDP[28:])
	}
	// Client data (frame 12) becomes exactly the IPv6 packet Miredo's relay
	// emitted (frame 13): outer headers stripped, hop limit 64 -> 63.
	v, got = h.decap(frames[11])
	if v != ToIPv6 || !bytes.Equal(got, frames[12]) {
		t.Fatalf("client data: verdict %v\n got % x\nwant % x", v, got, frames[12])
	}

	c := h.counters()
	want := Counters{
		DecapPackets: 2, DecapBytes: uint64(len(relaytest.Bubble(clientAddr, cookie)) + 28 + len(frames[11])),
		DecapForwarded: 1, DecapForwardedBytes: uint64(len(frames[12])),
		EncapPackets: 2, EncapBytes: 2 * uint64(len(reply)),
		EncapForwarded: 1, EncapForwardedBytes: uint64(len(reply) + 28),
		BubblesReceived: 1, SlowPathHandoffs: 1, SlowPathNotices: 1,
		BubblesSentDirect: 1, BubblesSentIndirect: 1, PeersTrusted: 1,
		QueuedPackets: 1, QueueReleases: 1,
	}
	if c != want {
		t.Fatalf("counters\n got %+v\nwant %+v", c, want)
	}
	if h.e.pendingPeers() != 0 {
		t.Fatal("verification state left behind after trust")
	}
}

// TestRetryAndExpiry checks the bubble schedule on a fake clock: rounds at
// 0, 2, 4 and 6 s, the entry deleted with its queue and Destination
// Unreachable code 3 sent at 8 s; then the 4-per-300-s budget (vector N9).
func TestRetryAndExpiry(t *testing.T) {
	h := newHarness(t, func(c *Config, _ *cache.Config) { c.DirectBubbles = true })
	pkt := relaytest.Echo(nativeHost, clientAddr, 64, 7, 1, []byte("are you there"))
	start := h.clock.Now()
	if v, _ := h.encap(pkt); v != SlowPath {
		t.Fatalf("verdict %v", v)
	}
	h.drain()
	var indirect, direct, du []time.Duration
	var duPkt []byte
	record := func() {
		for _, s := range h.out.Take() {
			at := time.Duration(h.clock.Now() - start)
			switch {
			case s.Via == relaytest.ViaUDP && s.Dst == serverAP:
				indirect = append(indirect, at)
			case s.Via == relaytest.ViaUDP && s.Dst == clientMap:
				direct = append(direct, at)
			case s.Via == relaytest.ViaIPv6:
				du = append(du, at)
				duPkt = s.Data
			default:
				t.Fatalf("unexpected send %+v", s)
			}
		}
	}
	record()
	for range 120 { // 12 s in 100 ms ticks
		h.advance(100 * time.Millisecond)
		record()
	}
	wantRounds := []time.Duration{0, 2 * time.Second, 4 * time.Second, 6 * time.Second}
	if !slices.Equal(indirect, wantRounds) || !slices.Equal(direct, wantRounds) {
		t.Fatalf("bubbles indirect %v direct %v, want both at %v", indirect, direct, wantRounds)
	}
	if !slices.Equal(du, []time.Duration{8 * time.Second}) {
		t.Fatalf("destination unreachable at %v, want [8s]", du)
	}
	// Type 1 code 3 from the relay's IPv6 address to the sender, quoting the
	// packet as it arrived (hop limit 64).
	if duPkt[6] != teredo.ProtoICMPv6 || duPkt[40] != 1 || duPkt[41] != 3 ||
		teredo.Src(duPkt) != relayIPv6.As16() || teredo.Dst(duPkt) != nativeHost.As16() ||
		!bytes.Equal(duPkt[48:], pkt) || !teredo.VerifyICMPv6Checksum(duPkt) {
		t.Fatalf("destination unreachable % x", duPkt)
	}
	k := clientAddr.As16()
	if _, ok := h.peers.Get(&k); ok {
		t.Fatal("expired peer still in the cache")
	}
	c := h.counters()
	if c.BubbleRetries != 3 || c.PeerExpiries != 1 || c.Drops[DropPeerExpired] != 1 ||
		c.ICMPv6Sent[ICMPv6DestUnreachable] != 1 || c.BubblesSentIndirect != 4 || c.BubblesSentDirect != 4 {
		t.Fatalf("counters %+v", c)
	}

	// N9: 4 rounds already went out in this 300 s window: no bubble, the
	// packet is dropped and its sender told.
	h.advance(2 * time.Second) // t = 14 s
	h.encap(pkt)
	h.drain()
	sent := h.out.Take()
	if len(sent) != 1 || sent[0].Via != relaytest.ViaIPv6 || sent[0].Data[40] != 1 || sent[0].Data[41] != 3 {
		t.Fatalf("within the budget window sent %+v, want only a destination unreachable", sent)
	}
	if got := h.counters().Drops[DropBubbleBudget]; got != 1 {
		t.Fatalf("bubble_budget drops %d, want 1", got)
	}
	if _, ok := h.peers.Get(&k); ok {
		t.Fatal("a peer was created without a bubble budget")
	}

	// A new window opens 300 s after the first bubble.
	h.clock.Advance(time.Duration(start + int64(300*time.Second) - h.clock.Now()))
	h.encap(pkt)
	h.drain()
	if sent := h.out.Take(); len(sent) != 2 || sent[0].Dst != serverAP || sent[1].Dst != clientMap {
		t.Fatalf("after the window sent %+v, want a bubble round", sent)
	}
}

// TestMappingChange: a client behind a symmetric NAT answers from a port
// other than the one in its address; by default its bubble to the right
// cookie makes it trusted at the observed mapping, and traffic follows the
// new mapping; a later packet from the embedded mapping moves it back.
func TestMappingChange(t *testing.T) {
	h := newHarness(t, nil)
	observed := netip.MustParseAddrPort("203.0.113.1:50000")
	pkt := relaytest.Echo(nativeHost, clientAddr, 64, 1, 1, nil)
	h.encap(pkt)
	h.drain()
	h.out.Take()

	// Wrong cookie from the unexpected mapping: refused.
	bad := relaytest.IPv4UDP(observed, relayAP, relaytest.Bubble(clientAddr, netip.MustParseAddr("fe80::1")), true)
	if v, _ := h.decap(bad); v != Drop || h.counters().Drops[DropBadCookie] != 1 {
		t.Fatalf("bubble to a wrong cookie: %v, drops %v", v, h.counters().Drops)
	}
	// Right cookie: trusted at the observed mapping, queue released there.
	good := relaytest.IPv4UDP(observed, relayAP, relaytest.Bubble(clientAddr, h.e.Cookie(clientAddr)), true)
	if v, _ := h.decap(good); v != SlowPath {
		t.Fatalf("bubble to the cookie: verdict %v", v)
	}
	h.drain()
	if sent := h.out.Take(); len(sent) != 1 || sent[0].Dst != observed {
		t.Fatalf("release sent %+v, want one packet to %v", sent, observed)
	}
	v, got := h.encap(pkt)
	if v != ToIPv4 {
		t.Fatalf("encap after symmetric trust: %v", v)
	}
	checkIPv4UDP(t, got, observed, len(pkt))
	// Data from the observed mapping is accepted (trusted there) ...
	data := relaytest.Echo(clientAddr, nativeHost, 64, 1, 1, nil)
	if v, _ := h.decap(relaytest.IPv4UDP(observed, relayAP, data, true)); v != ToIPv6 {
		t.Fatalf("data from the observed mapping: %v", v)
	}
	// ... from a third mapping it is not.
	third := netip.MustParseAddrPort("203.0.113.1:50001")
	if v, _ := h.decap(relaytest.IPv4UDP(third, relayAP, data, true)); v != Drop || h.counters().Drops[DropMappingMismatch] != 1 {
		t.Fatalf("data from a third mapping: %v", v)
	}
	// The client's NAT maps it back to its embedded mapping: forwarded and
	// re-trusted there.
	if v, _ := h.decap(fromClient(data)); v != ToIPv6 {
		t.Fatalf("data from the embedded mapping: %v", v)
	}
	h.drain()
	if v, got := h.encap(pkt); v != ToIPv4 || binary.BigEndian.Uint16(got[22:24]) != clientMap.Port() {
		t.Fatalf("encap after moving back: %v, dst port %d", v, binary.BigEndian.Uint16(got[22:24]))
	}

	// The peer is trusted at its embedded mapping now, and in use: a bubble
	// to a fresh cookie from a foreign mapping must not re-point it.
	hijack := relaytest.IPv4UDP(third, relayAP, relaytest.Bubble(clientAddr, h.e.Cookie(clientAddr)), true)
	mismatches := h.counters().Drops[DropMappingMismatch]
	if v, _ := h.decap(hijack); v != Drop || h.counters().Drops[DropMappingMismatch] != mismatches+1 {
		t.Fatalf("cookie bubble for a trusted peer from a foreign mapping: %v, drops %v", v, h.counters().Drops)
	}
	h.drain()
	if v, got := h.encap(pkt); v != ToIPv4 || binary.BigEndian.Uint16(got[22:24]) != clientMap.Port() {
		t.Fatalf("encap after the refused cookie bubble: %v, dst port %d", v, binary.BigEndian.Uint16(got[22:24]))
	}

	// With StrictMapping the same bubble is a mapping mismatch.
	h2 := newHarness(t, func(c *Config, _ *cache.Config) { c.StrictMapping = true })
	h2.encap(pkt)
	h2.drain()
	if v, _ := h2.decap(good); v != Drop || h2.counters().Drops[DropMappingMismatch] != 1 {
		t.Fatalf("symmetric bubble with the option off: %v", v)
	}
}

// TestReleaseOrder: queued packets leave in FIFO order (Miredo's queue is
// LIFO; RFC 4380 does not say, ordinary routers keep order).
func TestReleaseOrder(t *testing.T) {
	h := newHarness(t, nil)
	for seq := range uint16(4) {
		h.encap(relaytest.Echo(nativeHost, clientAddr, 64, 9, seq, nil))
	}
	h.drain()
	if sent := h.out.Take(); len(sent) != 1 {
		t.Fatalf("sent %d, want one (indirect) bubble for four packets", len(sent))
	}
	h.decap(fromClient(relaytest.Bubble(clientAddr, h.e.Cookie(clientAddr))))
	h.drain()
	sent := h.out.Take()
	if len(sent) != 4 {
		t.Fatalf("released %d packets, want 4", len(sent))
	}
	for i, s := range sent {
		if seq := binary.BigEndian.Uint16(s.Data[46:48]); seq != uint16(i) {
			t.Fatalf("release %d carries seq %d", i, seq)
		}
	}
}

// TestStaleTrustedPeer: a trusted peer silent for 30 s is re-verified; its
// answer from the same mapping releases what was queued meanwhile.
func TestStaleTrustedPeer(t *testing.T) {
	h := newHarness(t, nil)
	h.trustClient(clientMap)
	pkt := relaytest.Echo(nativeHost, clientAddr, 64, 1, 1, nil)
	if v, _ := h.encap(pkt); v != ToIPv4 {
		t.Fatalf("valid peer: %v", v)
	}
	h.advance(DefaultPeerValidity)
	if v, _ := h.encap(pkt); v != SlowPath {
		t.Fatalf("stale peer: %v, want slow_path", v)
	}
	h.drain()
	if sent := h.out.Take(); len(sent) != 1 {
		t.Fatalf("stale peer: sent %d, want a bubble round (indirect only)", len(sent))
	}
	// A data packet from the client (not a bubble) refreshes it.
	data := relaytest.Echo(clientAddr, nativeHost, 64, 1, 1, nil)
	if v, _ := h.decap(fromClient(data)); v != ToIPv6 {
		t.Fatalf("client data: %v", v)
	}
	h.drain()
	if sent := h.out.Take(); len(sent) != 1 || sent[0].Dst != clientMap {
		t.Fatalf("after refresh sent %+v, want the queued packet", sent)
	}
	// No further bubbles or expiry for it.
	for range 100 {
		h.advance(100 * time.Millisecond)
	}
	if n := h.out.Len(); n != 0 {
		t.Fatalf("%d packets sent after the peer answered", n)
	}
	k := clientAddr.As16()
	if p, ok := h.peers.Get(&k); !ok || p.State != cache.Trusted {
		t.Fatalf("peer %+v %v, want trusted", p, ok)
	}
}

// TestIdleSweep: trusted peers silent for IdleTimeout are removed.
func TestIdleSweep(t *testing.T) {
	h := newHarness(t, nil)
	h.trustClient(clientMap)
	for range int((DefaultIdleTimeout + 2*DefaultSweepInterval) / time.Second) {
		h.advance(time.Second)
	}
	k := clientAddr.As16()
	if _, ok := h.peers.Get(&k); ok {
		t.Fatal("idle peer not swept")
	}
	if got := h.counters().PeersSwept; got != 1 {
		t.Fatalf("peers swept %d, want 1", got)
	}
}

// TestAcceptUnknownPeers: with the switch on, a packet from an unknown
// client is forwarded and the client becomes a trusted peer; bubbles from
// unknown clients still create nothing.
func TestAcceptUnknownPeers(t *testing.T) {
	h := newHarness(t, func(c *Config, _ *cache.Config) { c.AcceptUnknownPeers = true })
	if v, _ := h.decap(fromClient(relaytest.Bubble(clientAddr, h.e.Cookie(clientAddr)))); v != Drop {
		t.Fatalf("bubble from unknown peer: %v", v)
	}
	h.drain()
	k := clientAddr.As16()
	if _, ok := h.peers.Get(&k); ok {
		t.Fatal("a bubble created state")
	}
	data := relaytest.Echo(clientAddr, nativeHost, 64, 1, 1, nil)
	if v, _ := h.decap(fromClient(data)); v != ToIPv6 {
		t.Fatalf("data from unknown peer: %v", v)
	}
	h.drain()
	if p, ok := h.peers.Get(&k); !ok || p.State != cache.Trusted || p.Mapping != clientMap {
		t.Fatalf("learned peer %+v %v", p, ok)
	}
	if v, _ := h.encap(relaytest.Echo(nativeHost, clientAddr, 64, 1, 1, nil)); v != ToIPv4 {
		t.Fatalf("encap to learned peer: %v", v)
	}
	if c := h.counters(); c.PeersLearned != 1 || h.out.Len() != 0 {
		t.Fatalf("learned %d, output %d", c.PeersLearned, h.out.Len())
	}
}

// TestHandleUDP: the kernel-socket path applies the same rules and sends
// through Output.SendIPv6; the source may arrive IPv4-mapped.
func TestHandleUDP(t *testing.T) {
	h := newHarness(t, nil)
	h.trustClient(clientMap)
	big := relaytest.UDPPayload(clientAddr, nativeHost, 64, 3000) // larger than one IPv4 fragment
	payload := append([]byte(nil), big...)
	mapped := netip.AddrPortFrom(netip.AddrFrom16(clientMap.Addr().As16()), clientMap.Port())
	h.e.HandleUDP(mapped, payload)
	sent := h.out.Take()
	want := append([]byte(nil), big...)
	want[7]--
	if len(sent) != 1 || sent[0].Via != relaytest.ViaIPv6 || !bytes.Equal(sent[0].Data, want) {
		t.Fatalf("HandleUDP sent %d packets", len(sent))
	}
	// A bubble through the same path is consumed, never sent.
	h.e.HandleUDP(clientMap, relaytest.Bubble(clientAddr, h.e.Cookie(clientAddr)))
	if h.out.Len() != 0 {
		t.Fatal("HandleUDP forwarded a bubble")
	}
	c := h.counters()
	if c.DecapPackets != 2 || c.DecapForwarded != 1 || c.BubblesReceived != 1 {
		t.Fatalf("counters %+v", c)
	}
}
