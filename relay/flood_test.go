package relay

import (
	"net/netip"
	"testing"

	"github.com/teredorelay/teredorelay/cache"
	"github.com/teredorelay/teredorelay/relay/relaytest"
)

// TestNativeFloodSparesSlowPath (issue 10, section 3): a flood from the
// native side of packets that need the slow path (hop limit 1 and too big
// for Time Exceeded and Packet Too Big, to many destinations; data for a
// peer being verified) is bounded in the worker, before any hand-off, while
// the slow path is stalled: ICMPv6 errors by their rate limit's tokens,
// taken first; a peer's packets by its full queue and by its destination's
// hand-off budget. A legitimate client answering the relay's bubble in the
// middle of it gets its trust notice through, becomes trusted and gets its
// queued packet. Before, every such packet took a slow-path slot until the
// 1024 were gone, and the client's notice was lost.
func TestNativeFloodSparesSlowPath(t *testing.T) {
	h := newHarness(t, nil)
	cfg := h.e.Config()
	k := clientAddr.As16()
	cookie := h.verifyPeer(relaytest.Echo(nativeHost, clientAddr, 64, 1, 1, nil))
	before := h.counters()

	// The flood, with the slow path not draining at all.
	const n = 2000
	attacker := netip.MustParseAddr("2001:db8:66::1")
	for i := range n {
		dst, _ := uniquePeer(1000 + i)
		h.encap(relaytest.Echo(attacker, dst, 1, 1, uint16(i), nil))                     // Time Exceeded
		h.encap(relaytest.UDPPayload(attacker, dst, 64, 1400-48))                        // Packet Too Big
		h.encap(relaytest.Echo(attacker, clientAddr, 1, 2, uint16(i), nil))              // Time Exceeded, one destination
		h.encap(relaytest.UDPPayload(attacker, clientAddr, 64, 600))                     // queued for the peer being verified
		h.encap(relaytest.Echo(attacker, clientAddr, 64, 3, uint16(i), make([]byte, 8))) // the same
	}
	// The client's answer to the bubble.
	if v, _ := h.decap(fromClient(relaytest.Bubble(clientAddr, cookie))); v != SlowPath {
		t.Fatalf("client bubble during the flood: %v", v)
	}
	c := h.counters()
	handoffs := c.SlowPathHandoffs - before.SlowPathHandoffs
	icmpBound := uint64(cfg.ICMPv6Burst)
	queueBound := uint64(cfg.DestinationHandoffBurst)
	t.Logf("%d packets: %d handed off (ICMPv6 burst %d, destination burst %d); drops %v", 5*n, handoffs, icmpBound, queueBound, dropsDelta(before, c))
	if handoffs > icmpBound+queueBound {
		t.Errorf("%d hand-offs, want at most the ICMPv6 burst %d and one destination's budget %d", handoffs, icmpBound, queueBound)
	}
	if c.SlowPathNoticesLost != 0 || c.SlowPathNotices != before.SlowPathNotices+1 {
		t.Errorf("notices: %d lost, %d posted", c.SlowPathNoticesLost, c.SlowPathNotices-before.SlowPathNotices)
	}
	if c.Drops[DropSlowPathQueue] != 0 {
		t.Errorf("%d slowpath_queue_full drops", c.Drops[DropSlowPathQueue])
	}
	if got := c.Drops[DropHopLimit] + c.Drops[DropPacketTooBig] - before.Drops[DropHopLimit] - before.Drops[DropPacketTooBig]; got+handoffs < 3*n {
		t.Errorf("hop_limit + packet_too_big %d: the ICMPv6 cases are not all accounted for", got)
	}

	h.drain()
	p, ok := h.peers.Get(&k)
	if !ok || p.State != cache.Trusted || p.Mapping != clientMap {
		t.Fatalf("client after the flood: %+v %v, want trusted at %v", p, ok, clientMap)
	}
	var released int
	for _, s := range h.out.Take() {
		if s.Dst == clientMap {
			released++
		}
	}
	if released == 0 {
		t.Fatal("nothing released to the client")
	}
	if c := h.counters(); c.ICMPv6Sent[ICMPv6TimeExceeded]+c.ICMPv6Sent[ICMPv6PacketTooBig] > icmpBound {
		t.Errorf("%d ICMPv6 errors sent, burst %d", c.ICMPv6Sent[ICMPv6TimeExceeded]+c.ICMPv6Sent[ICMPv6PacketTooBig], icmpBound)
	}
}

// dropsDelta returns the drop reasons that moved between two snapshots.
func dropsDelta(before, after Counters) map[string]uint64 {
	m := map[string]uint64{}
	for r := range NumDropReasons {
		if d := after.Drops[r] - before.Drops[r]; d != 0 {
			m[r.String()] = d
		}
	}
	return m
}
