package relay

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/teredorelay/teredorelay/cache"
	"github.com/teredorelay/teredorelay/relay/relaytest"
	"github.com/teredorelay/teredorelay/teredo"
)

// checkICMPv6Error verifies an ICMPv6 error built by the relay.
func checkICMPv6Error(t testing.TB, pkt []byte, typ, code uint8, param uint32, dst netip.Addr, invoking []byte) {
	t.Helper()
	if len(pkt) < 48 || pkt[6] != teredo.ProtoICMPv6 || pkt[40] != typ || pkt[41] != code {
		t.Fatalf("not ICMPv6 type %d code %d: % x", typ, code, pkt[:min(len(pkt), 48)])
	}
	if binary.BigEndian.Uint32(pkt[44:48]) != param {
		t.Fatalf("param %d, want %d", binary.BigEndian.Uint32(pkt[44:48]), param)
	}
	if teredo.Src(pkt) != relayIPv6.As16() || teredo.Dst(pkt) != dst.As16() {
		t.Fatalf("ICMPv6 error %v -> %v, want %v -> %v", netip.AddrFrom16(teredo.Src(pkt)), netip.AddrFrom16(teredo.Dst(pkt)), relayIPv6, dst)
	}
	if !teredo.VerifyICMPv6Checksum(pkt) {
		t.Fatal("bad ICMPv6 checksum")
	}
	q := invoking[:min(len(invoking), quoteMax)]
	if !bytes.Equal(pkt[48:], q) || len(pkt) > teredo.MinMTU {
		t.Fatalf("quote of %d bytes (total %d), want the first %d bytes of the invoking packet", len(pkt)-48, len(pkt), len(q))
	}
}

// TestTimeExceeded: hop limit 1 in either direction is not forwarded; the
// sender gets Time Exceeded (to a client over UDP to its mapping, to a
// native host with SendIPv6).
func TestTimeExceeded(t *testing.T) {
	h := newHarness(t, nil)
	h.trustClient(clientMap)
	fromC := relaytest.Echo(clientAddr, nativeHost, 1, 1, 1, []byte("ttl"))
	if v, _ := h.decap(fromClient(fromC)); v != SlowPath {
		t.Fatalf("client hop limit 1: %v", v)
	}
	h.drain()
	sent := h.out.Take()
	if len(sent) != 1 || sent[0].Via != relaytest.ViaUDP || sent[0].Dst != clientMap {
		t.Fatalf("sent %+v, want one datagram to the client", sent)
	}
	checkICMPv6Error(t, sent[0].Data, 3, 0, 0, clientAddr, fromC)

	toC := relaytest.Echo(nativeHost, clientAddr, 1, 1, 1, []byte("ttl"))
	if v, _ := h.encap(toC); v != SlowPath {
		t.Fatalf("native hop limit 1: %v", v)
	}
	h.drain()
	sent = h.out.Take()
	if len(sent) != 1 || sent[0].Via != relaytest.ViaIPv6 {
		t.Fatalf("sent %+v, want one native packet", sent)
	}
	checkICMPv6Error(t, sent[0].Data, 3, 0, 0, nativeHost, toC)
	// Hop limit 0 too.
	h.encap(edit(toC, func(b []byte) { b[7] = 0 }))
	h.drain()
	if len(h.out.Take()) != 1 {
		t.Fatal("no Time Exceeded for hop limit 0")
	}
	c := h.counters()
	if c.Drops[DropHopLimit] != 3 || c.ICMPv6Sent[ICMPv6TimeExceeded] != 3 || c.DecapForwarded+c.EncapForwarded != 0 {
		t.Fatalf("counters %+v", c)
	}
	// An ICMPv6 error with hop limit 1 is dropped without an error about it.
	du := make([]byte, 1280)
	n, err := teredo.PutDestUnreachable(du, 3, nativeHost, relaytest.Echo(clientAddr, nativeHost, 64, 1, 1, nil))
	if err != nil {
		t.Fatal(err)
	}
	h.encap(edit(du[:n], func(b []byte) { b[7] = 1 }))
	h.drain()
	if h.out.Len() != 0 || h.counters().ICMPv6Suppressed[ICMPv6TimeExceeded] != 1 {
		t.Fatal("answered an ICMPv6 error with an ICMPv6 error")
	}
}

// TestPacketTooBig (vector N10): a 1400-byte native packet gets Packet Too
// Big with MTU 1280, quoting as much as fits in 1280 bytes.
func TestPacketTooBig(t *testing.T) {
	h := newHarness(t, nil)
	h.trustClient(clientMap)
	big := relaytest.UDPPayload(nativeHost, clientAddr, 64, 1400-48)
	if len(big) != 1400 {
		t.Fatalf("built %d bytes", len(big))
	}
	if v, _ := h.encap(big); v != SlowPath {
		t.Fatalf("verdict %v", v)
	}
	h.drain()
	sent := h.out.Take()
	if len(sent) != 1 || sent[0].Via != relaytest.ViaIPv6 || len(sent[0].Data) != teredo.MinMTU {
		t.Fatalf("sent %+v", sent)
	}
	checkICMPv6Error(t, sent[0].Data, 2, 0, 1280, nativeHost, big)
	// Exactly the MTU is forwarded.
	if v, _ := h.encap(relaytest.UDPPayload(nativeHost, clientAddr, 64, 1280-48)); v != ToIPv4 {
		t.Fatalf("1280-byte packet: %v", v)
	}
	if c := h.counters(); c.Drops[DropPacketTooBig] != 1 || c.ICMPv6Sent[ICMPv6PacketTooBig] != 1 {
		t.Fatalf("counters %+v", c)
	}
}

// TestICMPv6RateLimit: 10 errors per second with a burst of 10; the rest are
// counted as suppressed.
func TestICMPv6RateLimit(t *testing.T) {
	h := newHarness(t, nil)
	pkt := relaytest.Echo(nativeHost, clientAddr, 1, 1, 1, nil)
	for range 15 {
		h.encap(pkt)
	}
	h.drain()
	if n := len(h.out.Take()); n != 10 {
		t.Fatalf("sent %d errors at once, want 10", n)
	}
	h.advance(300 * time.Millisecond) // 3 tokens
	for range 5 {
		h.encap(pkt)
	}
	h.drain()
	if n := len(h.out.Take()); n != 3 {
		t.Fatalf("sent %d errors after 300 ms, want 3", n)
	}
	c := h.counters()
	if c.ICMPv6Sent[ICMPv6TimeExceeded] != 13 || c.ICMPv6Suppressed[ICMPv6TimeExceeded] != 7 || c.Drops[DropHopLimit] != 20 {
		t.Fatalf("counters %+v", c)
	}
}

// TestQueueCaps: the per-peer queue (cache PeerQueueBytes) and the global
// queue arena (QueueBytes) bound what waits for a pending peer.
func TestQueueCaps(t *testing.T) {
	h := newHarness(t, func(_ *Config, c *cache.Config) { c.PeerQueueBytes = 1280 })
	pkt := relaytest.UDPPayload(nativeHost, clientAddr, 64, 600-48)
	for range 3 {
		if v, _ := h.encap(pkt); v != SlowPath {
			t.Fatalf("verdict %v", v)
		}
	}
	h.drain()
	c := h.counters()
	if c.QueuedPackets != 2 || c.Drops[DropPeerQueueFull] != 1 || c.SlowPathHandoffs != 3 {
		t.Fatalf("per-peer cap: queued %d, peer_queue_full %d", c.QueuedPackets, c.Drops[DropPeerQueueFull])
	}

	// Global arena of 1 KiB: the second peer's packet does not fit.
	h = newHarness(t, func(_ *Config, c *cache.Config) { c.QueueBytes = 1024 })
	h.encap(relaytest.UDPPayload(nativeHost, clientAddr, 64, 900))
	other := relaytest.TeredoAddr(serverIPv4, 0, netip.MustParseAddrPort("203.0.113.2:1000"))
	h.encap(relaytest.UDPPayload(nativeHost, other, 64, 900))
	h.drain()
	if c := h.counters(); c.QueuedPackets != 1 || c.Drops[DropQueueLimit] != 1 {
		t.Fatalf("global cap: queued %d, queue_limit %d", c.QueuedPackets, c.Drops[DropQueueLimit])
	}
	// The second peer is still verified, with nothing to release.
	if h.e.pendingPeers() != 2 {
		t.Fatalf("pending peers %d, want 2", h.e.pendingPeers())
	}
}

// TestSlowPathQueueFull: a full slow-path queue is a counted drop, never a
// stall. Notices have places of their own: a full packet queue does not
// cost a client its trust notice; with those places taken too, notices
// lost are counted apart and the packet is still forwarded.
func TestSlowPathQueueFull(t *testing.T) {
	h := newHarness(t, func(c *Config, _ *cache.Config) { c.SlowPathQueueLen = 2 })
	pkt := relaytest.Echo(nativeHost, clientAddr, 64, 1, 1, nil)
	want := []Verdict{SlowPath, SlowPath, Drop, Drop}
	for i, w := range want {
		if v, _ := h.encap(pkt); v != w {
			t.Fatalf("packet %d: verdict %v, want %v", i, v, w)
		}
	}
	c := h.counters()
	if c.Drops[DropSlowPathQueue] != 2 || c.SlowPathHandoffs != 2 || h.e.QueueDepth() != 2 {
		t.Fatalf("counters %+v depth %d", c, h.e.QueueDepth())
	}
	// A pending peer's data while the packet queue is full: forwarded, and
	// its notice is posted.
	k := clientAddr.As16()
	h.peers.InsertPending(&k, clientMap, h.clock.Now())
	data := fromClient(relaytest.Echo(clientAddr, nativeHost, 64, 1, 1, nil))
	if v, _ := h.decap(data); v != ToIPv6 {
		t.Fatalf("pending peer data with a full queue: %v", v)
	}
	if c := h.counters(); c.SlowPathNoticesLost != 0 || c.SlowPathNotices != 1 {
		t.Fatalf("notices posted %d, lost %d", c.SlowPathNotices, c.SlowPathNoticesLost)
	}
	// Two notice places: the third notice is lost, its packet forwarded.
	for _, want := range []uint64{0, 1} {
		if v, _ := h.decap(data); v != ToIPv6 {
			t.Fatalf("pending peer data with full notice places: %v", v)
		}
		if c := h.counters(); c.SlowPathNoticesLost != want {
			t.Fatalf("notices lost %d, want %d", c.SlowPathNoticesLost, want)
		}
	}
	h.drain()
	// The notice that got through made the peer trusted.
	if v, _ := h.encap(pkt); v != ToIPv4 {
		t.Fatalf("after draining: %v", v)
	}
}

// TestOutputError: send failures are counted, never fatal.
func TestOutputError(t *testing.T) {
	h := newHarness(t, func(c *Config, _ *cache.Config) { c.DirectBubbles = true })
	h.out.Err = errors.New("network down")
	h.encap(relaytest.Echo(nativeHost, clientAddr, 64, 1, 1, nil))
	h.drain()
	c := h.counters()
	if c.Drops[DropOutputError] != 2 || c.BubblesSentIndirect != 0 || c.BubblesSentDirect != 0 {
		t.Fatalf("counters %+v", c)
	}
}

// TestDirectBubbles: by default a round is only the indirect bubble (to the
// client's server); with DirectBubbles the direct one to the embedded
// mapping follows it, from the same cookie source.
func TestDirectBubbles(t *testing.T) {
	for _, direct := range []bool{false, true} {
		h := newHarness(t, func(c *Config, _ *cache.Config) { c.DirectBubbles = direct })
		h.encap(relaytest.Echo(nativeHost, clientAddr, 64, 1, 1, nil))
		h.drain()
		sent := h.out.Take()
		want := []netip.AddrPort{serverAP}
		if direct {
			want = append(want, clientMap)
		}
		if len(sent) != len(want) {
			t.Fatalf("direct %v: sent %+v, want bubbles to %v", direct, sent, want)
		}
		for i, p := range sent {
			if p.Dst != want[i] || !bytes.Equal(p.Data, sent[0].Data) {
				t.Fatalf("direct %v: bubble %d to %v (% x), want %v", direct, i, p.Dst, p.Data, want[i])
			}
		}
		c := h.counters()
		if c.BubblesSentIndirect != 1 || c.BubblesSentDirect != uint64(len(want)-1) {
			t.Fatalf("direct %v: counters indirect %d direct %d", direct, c.BubblesSentIndirect, c.BubblesSentDirect)
		}
	}
}

// TestBudgetTableBound: bubble-budget records are bounded; the oldest is
// evicted.
func TestBudgetTableBound(t *testing.T) {
	h := newHarness(t, func(c *Config, _ *cache.Config) { c.BudgetTableSize = 2 })
	for i := range 3 {
		dst := relaytest.TeredoAddr(serverIPv4, 0, netip.AddrPortFrom(netip.MustParseAddr("203.0.113.5"), uint16(1000+i)))
		h.encap(relaytest.Echo(nativeHost, dst, 64, 1, 1, nil))
	}
	h.drain()
	if c := h.counters(); c.BubbleBudgetEvictions != 1 || len(h.e.slow.budget) != 2 {
		t.Fatalf("evictions %d, records %d", c.BubbleBudgetEvictions, len(h.e.slow.budget))
	}
}

// TestRun drives the real slow-path goroutine: events are processed, timers
// fire on the (fake) clock, and cancelling returns nil.
func TestRun(t *testing.T) {
	h := newHarness(t, func(c *Config, _ *cache.Config) { c.TimerTick = 10 * time.Millisecond })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.e.Run(ctx) }()
	h.encap(relaytest.Echo(nativeHost, clientAddr, 64, 1, 1, nil))
	waitFor(t, func() bool { return h.counters().BubblesSentIndirect == 1 })
	h.clock.Advance(DefaultBubbleInterval)
	waitFor(t, func() bool { return h.counters().BubbleRetries == 1 })
	if err := h.e.Run(ctx); err == nil {
		t.Fatal("a second Run was accepted")
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run returned %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 5 s")
		}
		time.Sleep(time.Millisecond)
	}
}
