package relay

import (
	"encoding/binary"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/teredorelay/teredorelay/cache"
	"github.com/teredorelay/teredorelay/relay/relaytest"
	"github.com/teredorelay/teredorelay/teredo"
)

// checkDrops asserts that between before and after the drop counters moved
// by exactly want (reasons not in want did not move).
func checkDrops(t testing.TB, before, after Counters, want map[DropReason]uint64) {
	t.Helper()
	for r := range NumDropReasons {
		if d := after.Drops[r] - before.Drops[r]; d != want[r] {
			t.Errorf("drops[%v] moved by %d, want %d", r, d, want[r])
		}
	}
}

// teredoPeer returns a distinct Teredo address (server 192.0.2.1, mapping
// 203.0.113.1:1000+i) and its mapping.
func teredoPeer(i int) (netip.Addr, netip.AddrPort) {
	m := netip.AddrPortFrom(netip.MustParseAddr("203.0.113.1"), uint16(1000+i))
	return relaytest.TeredoAddr(serverIPv4, 0, m), m
}

// TestNewPeerRateLimit: verifications started by native packets are limited
// per source /64 (threat T5, reliability D2): one host spraying many Teredo
// destinations gets NewPeerBurst pending peers, then one per 1/NewPeerRate;
// another /64 is not affected; packets to a peer already being verified do
// not pay; colliding sources share a cell.
func TestNewPeerRateLimit(t *testing.T) {
	hostA := nativeHost                             // 2001:db8:3::7
	hostA2 := netip.MustParseAddr("2001:db8:3::99") // same /64
	hostB := netip.MustParseAddr("2001:db8:3:1::7") // next /64
	type step struct {
		advance time.Duration
		src     netip.Addr
		peer    int // destination teredoPeer(peer)
		want    DropReason
		ok      bool // a verification starts (or the packet is queued), no drop
	}
	const limited = DropNewPeerRateLimited
	cases := []struct {
		name  string
		cfg   func(*Config, *cache.Config)
		steps []step
	}{
		{
			name: "burst then rate, per /64",
			cfg:  func(c *Config, _ *cache.Config) { c.NewPeerRate, c.NewPeerBurst = 2, 3 },
			steps: []step{
				{src: hostA, peer: 0, ok: true},
				{src: hostA, peer: 1, ok: true},
				{src: hostA2, peer: 2, ok: true}, // same /64: same budget
				{src: hostA, peer: 3, want: limited},
				{src: hostA2, peer: 4, want: limited},
				{src: hostB, peer: 5, ok: true}, // another /64 has its own budget
				{src: hostA, peer: 0, ok: true}, // already pending: queued, free
				{advance: 499 * time.Millisecond, src: hostA, peer: 6, want: limited},
				{advance: time.Millisecond, src: hostA, peer: 6, ok: true}, // 500 ms = one token at 2/s
				{src: hostA, peer: 7, want: limited},
				{advance: 10 * time.Second, src: hostA, peer: 8, ok: true}, // refilled to the burst, not beyond
				{src: hostA, peer: 9, ok: true},
				{src: hostA, peer: 10, ok: true},
				{src: hostA, peer: 11, want: limited},
			},
		},
		{
			name: "one cell shared by every source",
			cfg: func(c *Config, _ *cache.Config) {
				c.NewPeerRate, c.NewPeerBurst, c.NewPeerTableSize = 1, 2, 1
			},
			steps: []step{
				{src: hostA, peer: 0, ok: true},
				{src: hostB, peer: 1, ok: true},
				{src: netip.MustParseAddr("2001:db8:77::1"), peer: 2, want: limited},
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tc.cfg)
			verifying := map[int]bool{}
			for i, s := range tc.steps {
				if s.advance != 0 {
					h.clock.Advance(s.advance) // timers deliberately not run: no retries in the way
				}
				dst, _ := teredoPeer(s.peer)
				before := h.counters()
				// Over the limit, a packet for a peer without an entry is
				// dropped by the worker; it never reaches the slow path.
				wantV := SlowPath
				if !s.ok {
					wantV = Drop
				}
				if v, _ := h.encap(relaytest.Echo(s.src, dst, 64, 1, uint16(i), nil)); v != wantV {
					t.Fatalf("step %d: verdict %v, want %v", i, v, wantV)
				}
				h.drain()
				after := h.counters()
				sent := h.out.Take()
				k := dst.As16()
				_, inCache := h.peers.Get(&k)
				if !s.ok {
					checkDrops(t, before, after, map[DropReason]uint64{s.want: 1})
					if len(sent) != 0 || inCache {
						t.Fatalf("step %d: limited packet sent %d packets, peer in cache %v", i, len(sent), inCache)
					}
					continue
				}
				checkDrops(t, before, after, nil)
				if after.QueuedPackets != before.QueuedPackets+1 || !inCache {
					t.Fatalf("step %d: queued %d→%d, in cache %v", i, before.QueuedPackets, after.QueuedPackets, inCache)
				}
				wantSent := 1 // a new verification: the indirect bubble
				if verifying[s.peer] {
					wantSent = 0
				}
				if len(sent) != wantSent {
					t.Fatalf("step %d: sent %d packets, want %d", i, len(sent), wantSent)
				}
				verifying[s.peer] = true
			}
			if got := h.e.pendingPeers(); got != len(verifying) {
				t.Fatalf("pending peers %d, want %d", got, len(verifying))
			}
		})
	}
}

// TestNewPeerFloodBounded (reliability D2): one host sprays 10 000 Teredo
// destinations over 20 s; pending entries, bubbles and ICMPv6 errors stay
// within what its /64 budget allows, and a trusted peer keeps working.
func TestNewPeerFloodBounded(t *testing.T) {
	h := newHarness(t, func(_ *Config, c *cache.Config) { c.Capacity = 1 << 14 })
	h.trustClient(clientMap)
	const steps, perStep = 200, 50 // 200 × 100 ms, 500 packets per second
	maxPending := 0
	for s := range steps {
		for i := range perStep {
			dst, _ := teredoPeer(s*perStep + i)
			h.encap(relaytest.Echo(nativeHost, dst, 64, 1, 1, nil))
		}
		h.drain()
		h.out.Take()
		h.advance(100 * time.Millisecond)
		maxPending = max(maxPending, h.e.pendingPeers())
		// The trusted client's traffic is unaffected.
		if v, _ := h.decap(fromClient(relaytest.Echo(clientAddr, nativeHost, 64, 1, uint16(s), nil))); v != ToIPv6 {
			t.Fatalf("step %d: trusted client's packet %v", s, v)
		}
		if v, _ := h.encap(relaytest.Echo(nativeOther, clientAddr, 64, 1, uint16(s), nil)); v != ToIPv4 {
			t.Fatalf("step %d: packet to the trusted client %v", s, v)
		}
	}
	c := h.counters()
	// 20 s at 50/s plus the burst of 100.
	allowed := uint64(20*DefaultNewPeerRate + DefaultNewPeerBurst)
	started := c.BubblesSentIndirect - c.BubbleRetries
	if started > allowed || started < allowed-uint64(DefaultNewPeerRate) {
		t.Fatalf("verifications started %d, want about %d", started, allowed)
	}
	if c.Drops[DropNewPeerRateLimited] != steps*perStep-started {
		t.Fatalf("new_peer_rate_limited %d, want %d", c.Drops[DropNewPeerRateLimited], steps*perStep-started)
	}
	// Pending peers live 8 s: at most the burst plus 8 s of the rate.
	if limit := DefaultNewPeerBurst + 9*DefaultNewPeerRate; maxPending > limit {
		t.Fatalf("pending peers peaked at %d, want at most %d", maxPending, limit)
	}
}

// TestBubbleRateLimit: the global bubble cap bounds bubble datagrams
// whatever the input; a first round without tokens starts nothing (counted
// bubble_rate_limited), a retry round without tokens is skipped
// (BubbleRoundsRateLimited) and the peer still expires on schedule.
func TestBubbleRateLimit(t *testing.T) {
	// 2 bubbles per second, burst 2: one round, refilled in 1 s.
	// All the peers are under one server: BubbleShare 1 leaves the global
	// cap alone in play (TestBubbleShares has the shares).
	h := newHarness(t, func(c *Config, _ *cache.Config) {
		c.BubbleRate, c.BubbleBurst, c.DirectBubbles, c.BubbleShare = 2, 2, true, 1
	})
	type step struct {
		at          time.Duration // since start; the timers run up to here, then the packet
		peer        int           // destination teredoPeer(peer), -1 for none
		wantBubbles int           // bubble datagrams sent during the step
		wantSkipped uint64        // retry rounds skipped during the step
		wantDrops   map[DropReason]uint64
	}
	steps := []step{
		{at: 0, peer: 0, wantBubbles: 2},
		{at: 0, peer: 1, wantDrops: map[DropReason]uint64{DropBubbleRateLimited: 1}},
		// 1.9 s: the bucket is full again (2 tokens): peer 2 gets a round.
		{at: 1900 * time.Millisecond, peer: 2, wantBubbles: 2},
		// Peer 0's retries (2, 4, 6 s) come 100 ms after peer 2's (3.9,
		// 5.9, 7.9 s), which empty the bucket: all skipped.
		{at: 2 * time.Second, peer: -1, wantSkipped: 1},
		{at: 3900 * time.Millisecond, peer: -1, wantBubbles: 2},
		{at: 4 * time.Second, peer: -1, wantSkipped: 1},
		{at: 5900 * time.Millisecond, peer: -1, wantBubbles: 2},
		{at: 6 * time.Second, peer: -1, wantSkipped: 1},
		{at: 7900 * time.Millisecond, peer: -1, wantBubbles: 2},
		// 8 s: peer 0 expires on schedule, its queued packet with it.
		{at: 8 * time.Second, peer: -1, wantDrops: map[DropReason]uint64{DropPeerExpired: 1}},
		{at: 9900 * time.Millisecond, peer: -1, wantDrops: map[DropReason]uint64{DropPeerExpired: 1}},
	}
	start := h.clock.Now()
	for i, s := range steps {
		before := h.counters()
		for h.clock.Now()-start < int64(s.at) {
			h.advance(100 * time.Millisecond)
		}
		if s.peer >= 0 {
			dst, _ := teredoPeer(s.peer)
			h.encap(relaytest.Echo(nativeHost, dst, 64, 1, 1, nil))
			h.drain()
		}
		after := h.counters()
		bubbles := 0
		for _, p := range h.out.Take() {
			if p.Via == relaytest.ViaUDP && teredo.IsBubble(p.Data) {
				bubbles++
			}
		}
		if bubbles != s.wantBubbles {
			t.Errorf("step %d (%v): %d bubbles, want %d", i, s.at, bubbles, s.wantBubbles)
		}
		if d := after.BubbleRoundsRateLimited - before.BubbleRoundsRateLimited; d != s.wantSkipped {
			t.Errorf("step %d (%v): %d rounds rate limited, want %d", i, s.at, d, s.wantSkipped)
		}
		checkDrops(t, before, after, s.wantDrops)
	}
	c := h.counters()
	if c.PeerExpiries != 2 || c.BubbleRetries != 3 || c.BubblesSentIndirect != 5 || c.BubblesSentDirect != 5 {
		t.Fatalf("counters %+v", c)
	}
	if st := h.peers.Stats(); h.e.pendingPeers() != 0 || st.Entries != 0 {
		t.Fatalf("pending %d, cache entries %d, want none", h.e.pendingPeers(), st.Entries)
	}
}

// TestBubbleFloodBounded (reliability D2/D4): many native sources spraying
// new destinations for 10 s: bubble datagrams never exceed rate × time +
// burst.
func TestBubbleFloodBounded(t *testing.T) {
	h := newHarness(t, func(c *Config, cc *cache.Config) {
		c.BubbleRate, c.BubbleBurst = 100, 20
		c.BubbleShare = 1 // one server: the global cap alone
		cc.Capacity = 1 << 14
	})
	n := 0
	for s := range 100 { // 100 × 100 ms
		for i := range 40 {
			src := netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0, byte(i), 0, byte(s), 15: 1})
			dst, _ := teredoPeer(n)
			n++
			h.encap(relaytest.Echo(src, dst, 64, 1, 1, nil))
		}
		h.drain()
		h.advance(100 * time.Millisecond)
	}
	c := h.counters()
	sent := c.BubblesSentDirect + c.BubblesSentIndirect
	if limit := uint64(100*10 + 20); sent > limit || sent < limit-40 {
		t.Fatalf("%d bubbles in 10 s, want close to and at most %d", sent, limit)
	}
	if c.Drops[DropBubbleRateLimited] == 0 || c.Drops[DropNewPeerRateLimited] != 0 {
		t.Fatalf("counters %+v", c)
	}
}

// TestClientSlowPathRateLimit (threats T1/T6): slow-path work caused from
// the UDP side is limited per client IPv4 address, shared by every worker
// and the HandleUDP path. Hop-limit packets and bubbles over the limit are
// dropped as client_rate_limited; data over the limit is still forwarded,
// only its notice is skipped.
func TestClientSlowPathRateLimit(t *testing.T) {
	limit := func(c *Config, _ *cache.Config) { c.ClientSlowPathRate, c.ClientSlowPathBurst = 1, 2 }
	other := netip.MustParseAddrPort("203.0.113.2:50000")
	otherAddr := relaytest.TeredoAddr(serverIPv4, 0, other)
	hop1 := func(src netip.Addr, from netip.AddrPort) []byte {
		return relaytest.IPv4UDP(from, relayAP, relaytest.Echo(src, nativeHost, 1, 1, 1, nil), true)
	}
	data := func(src netip.Addr, from netip.AddrPort) []byte {
		return relaytest.IPv4UDP(from, relayAP, relaytest.Echo(src, nativeHost, 64, 1, 1, nil), true)
	}
	bubble := func(h *harness) []byte { return fromClient(relaytest.Bubble(clientAddr, h.e.Cookie(clientAddr))) }
	trustBoth := func(h *harness) {
		h.trustClient(clientMap)
		k := otherAddr.As16()
		h.peers.InsertPending(&k, other, h.clock.Now())
		h.peers.Trust(&k, other, -1, h.clock.Now(), nil)
	}
	pending := func(h *harness) {
		k := clientAddr.As16()
		h.peers.InsertPending(&k, clientMap, h.clock.Now())
	}
	type pkt struct {
		advance time.Duration
		frame   func(h *harness) []byte
		udp     bool // through HandleUDP instead of Decap
		want    Verdict
	}
	cases := []struct {
		name         string
		cfg          func(*Config, *cache.Config)
		setup        func(*harness)
		pkts         []pkt
		drain        bool // run the slow path after each packet
		wantDrops    map[DropReason]uint64
		wantICMP     uint64 // Time Exceeded sent
		wantBubbles  uint64 // bubbles consumed
		wantNotices  uint64
		wantNLimited uint64
	}{
		{
			name: "time exceeded", cfg: limit, setup: trustBoth, drain: true,
			pkts: []pkt{
				{frame: func(*harness) []byte { return hop1(clientAddr, clientMap) }, want: SlowPath},
				{frame: func(*harness) []byte { return hop1(clientAddr, clientMap) }, want: SlowPath},
				{frame: func(*harness) []byte { return hop1(clientAddr, clientMap) }, want: Drop},
				{frame: func(*harness) []byte { return hop1(clientAddr, clientMap) }, udp: true, want: Drop},
				// Another address has its own budget.
				{frame: func(*harness) []byte { return hop1(otherAddr, other) }, want: SlowPath},
				// One token per second.
				{advance: time.Second, frame: func(*harness) []byte { return hop1(clientAddr, clientMap) }, udp: true, want: SlowPath},
				{frame: func(*harness) []byte { return hop1(clientAddr, clientMap) }, want: Drop},
			},
			wantDrops: map[DropReason]uint64{DropHopLimit: 4, DropClientRateLimited: 3},
			wantICMP:  4,
		},
		{
			name: "bubbles from a pending peer", cfg: limit, setup: pending,
			pkts: []pkt{
				{frame: bubble, want: SlowPath},
				{frame: bubble, want: SlowPath},
				{frame: bubble, want: Drop},
			},
			wantDrops:   map[DropReason]uint64{DropClientRateLimited: 1},
			wantBubbles: 2, wantNotices: 2,
		},
		{
			name: "data from a pending peer", cfg: limit, setup: pending,
			pkts: []pkt{
				{frame: func(*harness) []byte { return data(clientAddr, clientMap) }, want: ToIPv6},
				{frame: func(*harness) []byte { return data(clientAddr, clientMap) }, want: ToIPv6},
				{frame: func(*harness) []byte { return data(clientAddr, clientMap) }, want: ToIPv6},
				{frame: func(*harness) []byte { return data(clientAddr, clientMap) }, udp: true, want: ToIPv6},
			},
			wantNotices: 2, wantNLimited: 2,
		},
		{
			name: "learning unknown peers",
			cfg: func(c *Config, cc *cache.Config) {
				limit(c, cc)
				c.AcceptUnknownPeers = true
			},
			pkts: []pkt{
				{frame: func(*harness) []byte { return data(clientAddr, clientMap) }, want: ToIPv6},
				{frame: func(*harness) []byte { return data(clientAddr, clientMap) }, want: ToIPv6},
				{frame: func(*harness) []byte { return data(clientAddr, clientMap) }, want: ToIPv6},
			},
			wantNotices: 2, wantNLimited: 1,
		},
		{
			name: "trusted peers do not pay", cfg: limit, setup: trustBoth, drain: true,
			pkts: []pkt{
				{frame: func(*harness) []byte { return data(clientAddr, clientMap) }, want: ToIPv6},
				{frame: func(*harness) []byte { return data(clientAddr, clientMap) }, want: ToIPv6},
				{frame: func(*harness) []byte { return data(clientAddr, clientMap) }, want: ToIPv6},
				{frame: bubble, want: Drop},
				{frame: bubble, want: Drop},
				{frame: bubble, want: Drop},
				{frame: func(*harness) []byte { return hop1(clientAddr, clientMap) }, want: SlowPath},
			},
			wantDrops:   map[DropReason]uint64{DropHopLimit: 1},
			wantICMP:    1,
			wantBubbles: 3,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tc.cfg)
			if tc.setup != nil {
				tc.setup(h)
			}
			before := h.counters()
			for i, p := range tc.pkts {
				h.clock.Advance(p.advance)
				frame := p.frame(h)
				var v Verdict
				if p.udp {
					v = h.handleUDP(frame)
				} else {
					v, _ = h.decap(frame)
				}
				if v != p.want {
					t.Fatalf("packet %d: verdict %v, want %v", i, v, p.want)
				}
				if tc.drain {
					h.drain()
				}
			}
			h.drain()
			after := h.counters()
			checkDrops(t, before, after, tc.wantDrops)
			if got := after.ICMPv6Sent[ICMPv6TimeExceeded]; got != tc.wantICMP {
				t.Errorf("time exceeded sent %d, want %d", got, tc.wantICMP)
			}
			if got := after.BubblesReceived; got != tc.wantBubbles {
				t.Errorf("bubbles received %d, want %d", got, tc.wantBubbles)
			}
			if got := after.SlowPathNotices; got != tc.wantNotices {
				t.Errorf("notices %d, want %d", got, tc.wantNotices)
			}
			if got := after.SlowPathNoticesRateLimited; got != tc.wantNLimited {
				t.Errorf("notices rate limited %d, want %d", got, tc.wantNLimited)
			}
		})
	}
}

// TestMultipleIPv4Addrs: Decap accepts datagrams to every configured relay
// address and no other; Encap never encapsulates to any of them; bubbles
// and the effective config keep IPv4Addr as the primary address.
func TestMultipleIPv4Addrs(t *testing.T) {
	second := netip.MustParseAddr("198.51.100.2")
	third := netip.MustParseAddr("198.51.100.3")
	addrs := []netip.Addr{second, relayIPv4, third}
	h := newHarness(t, func(c *Config, _ *cache.Config) { c.IPv4Addrs = addrs })
	addrs[0] = netip.MustParseAddr("198.51.100.9") // the engine keeps its own copy
	h.trustClient(clientMap)
	data := relaytest.Echo(clientAddr, nativeHost, 64, 1, 1, nil)
	cases := []struct {
		dst    netip.AddrPort
		want   Verdict
		reason DropReason
	}{
		{relayAP, ToIPv6, 0},
		{netip.AddrPortFrom(second, teredo.Port), ToIPv6, 0},
		{netip.AddrPortFrom(third, teredo.Port), ToIPv6, 0},
		{netip.MustParseAddrPort("198.51.100.9:3544"), Drop, DropWrongDestination},
		{netip.MustParseAddrPort("198.51.100.4:3544"), Drop, DropWrongDestination},
		{netip.AddrPortFrom(second, 3545), Drop, DropWrongDestination},
	}
	for _, c := range cases {
		before := h.counters()
		v, out := h.decap(relaytest.IPv4UDP(clientMap, c.dst, data, true))
		if v != c.want {
			t.Fatalf("to %v: verdict %v, want %v", c.dst, v, c.want)
		}
		want := map[DropReason]uint64{}
		if v == Drop {
			want[c.reason] = 1
		} else if len(out) != len(data) || teredo.Src(out) != clientAddr.As16() {
			t.Fatalf("to %v: forwarded % x", c.dst, out)
		}
		checkDrops(t, before, h.counters(), want)
	}
	for _, self := range []netip.Addr{relayIPv4, second, third} {
		before := h.counters()
		dst := relaytest.TeredoAddr(serverIPv4, 0, netip.AddrPortFrom(self, 40000))
		if v, _ := h.encap(relaytest.Echo(nativeHost, dst, 64, 1, 1, nil)); v != Drop {
			t.Fatalf("encap to a Teredo address mapped to %v: %v", self, v)
		}
		checkDrops(t, before, h.counters(), map[DropReason]uint64{DropDstSelf: 1})
	}
	if v, out := h.encap(relaytest.Echo(nativeHost, clientAddr, 64, 1, 1, nil)); v != ToIPv4 {
		t.Fatalf("encap: %v", v)
	} else {
		checkIPv4UDP(t, out, clientMap, len(out)-teredo.EncapLen) // source: the primary address
	}
	cfg := h.e.Config()
	if cfg.IPv4Addr != relayIPv4 || len(cfg.IPv4Addrs) != 3 || cfg.IPv4Addrs[0] != second {
		t.Fatalf("effective config %v %v", cfg.IPv4Addr, cfg.IPv4Addrs)
	}
	if h.e.pol.Load().nRelay4 != 3 || !strings.Contains(h.e.String(), "198.51.100.1:3544 +2 addresses") {
		t.Fatalf("%d distinct addresses (%v), want 3", h.e.pol.Load().nRelay4, h.e)
	}
}

// handleUDP gives the UDP payload of an IPv4/UDP datagram to HandleUDP and
// returns the verdict Decap would have given, read from the counters.
func (h *harness) handleUDP(datagram []byte) Verdict {
	from := netip.AddrPortFrom(netip.AddrFrom4([4]byte(datagram[12:16])), binary.BigEndian.Uint16(datagram[20:22]))
	before := h.counters()
	h.e.HandleUDP(from, append([]byte(nil), datagram[teredo.EncapLen:]...))
	after := h.counters()
	switch {
	case after.DecapForwarded > before.DecapForwarded:
		return ToIPv6
	case after.SlowPathHandoffs > before.SlowPathHandoffs,
		after.BubblesReceived > before.BubblesReceived && after.SlowPathNotices > before.SlowPathNotices:
		return SlowPath
	}
	return Drop
}

// extChain builds IPv6 extension headers: "hbh" and "dst" are 8-byte option
// headers (one PadN), "rh0" and "rh2" 24-byte routing headers of type 0 and 2
// with one address and segments left 1, "frag" a fragment header; the last
// header's next header is 59 (no next header). It returns the first next
// header value and the bytes.
func extChain(kinds ...string) (uint8, []byte) {
	codes := map[string]uint8{"hbh": teredo.ProtoHopByHop, "dst": teredo.ProtoDestOpts, "rh0": teredo.ProtoRouting, "rh2": teredo.ProtoRouting, "frag": teredo.ProtoFragment}
	var b []byte
	for i, k := range kinds {
		next := uint8(teredo.ProtoNoNext)
		if i+1 < len(kinds) {
			next = codes[kinds[i+1]]
		}
		switch k {
		case "hbh", "dst":
			b = append(b, next, 0, 1, 4, 0, 0, 0, 0)
		case "rh0", "rh2":
			typ := uint8(0)
			if k == "rh2" {
				typ = 2
			}
			a := netip.MustParseAddr("2001:db8::1").As16()
			b = append(append(b, next, 2, typ, 1, 0, 0, 0, 0), a[:]...)
		case "frag":
			b = append(b, next, 0, 0, 0, 0, 0, 0, 1)
		}
	}
	return codes[kinds[0]], b
}

// TestRoutingHeader0 (reliability B8, RFC 5095): a type 0 routing header,
// first or after option headers, is dropped in both directions; other
// routing types and chains without one are forwarded.
func TestRoutingHeader0(t *testing.T) {
	cases := []struct {
		name  string
		chain []string
		cut   int // bytes cut off the end (truncated chain)
		drop  bool
	}{
		{name: "rh0", chain: []string{"rh0"}, drop: true},
		{name: "hbh rh0", chain: []string{"hbh", "rh0"}, drop: true},
		{name: "hbh dst rh0", chain: []string{"hbh", "dst", "rh0"}, drop: true},
		{name: "dst dst dst dst rh0", chain: []string{"dst", "dst", "dst", "dst", "rh0"}, drop: true},
		{name: "rh2 (mobile IPv6)", chain: []string{"rh2"}},
		{name: "hbh rh2", chain: []string{"hbh", "rh2"}},
		{name: "hbh only", chain: []string{"hbh"}},
		{name: "frag rh0 (after a fragment header: not walked)", chain: []string{"frag", "rh0"}},
		{name: "five option headers then rh0 (beyond the walk bound)", chain: []string{"dst", "dst", "dst", "dst", "dst", "rh0"}},
		{name: "hbh, routing header truncated before its type", chain: []string{"hbh", "rh0"}, cut: 22},
		{name: "hbh claiming more than the packet", chain: []string{"hbh"}, cut: 4},
	}
	for _, c := range cases {
		nh, ext := extChain(c.chain...)
		ext = ext[:len(ext)-c.cut]
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, nil)
			h.trustClient(clientMap)
			for _, dir := range []string{"decap", "encap"} {
				before := h.counters()
				var v Verdict
				if dir == "decap" {
					v, _ = h.decap(fromClient(relaytest.IPv6(clientAddr, nativeHost, nh, 64, ext)))
				} else {
					v, _ = h.encap(relaytest.IPv6(nativeHost, clientAddr, nh, 64, ext))
				}
				want, reasons := ToIPv6, map[DropReason]uint64(nil)
				if dir == "encap" {
					want = ToIPv4
				}
				if c.drop {
					want, reasons = Drop, map[DropReason]uint64{DropRoutingHeader0: 1}
				}
				if v != want {
					t.Errorf("%s: verdict %v, want %v", dir, v, want)
				}
				checkDrops(t, before, h.counters(), reasons)
			}
		})
	}
}

// rh0Reference is a direct reading of the rule hasRoutingHeader0 applies,
// for the differential fuzz test.
func rh0Reference(ip []byte) bool {
	nh, off := ip[6], 40
	for i := 0; i < maxOptionHeaders && (nh == 0 || nh == 60); i++ {
		if len(ip) < off+2 {
			return false
		}
		nh, off = ip[off], off+8*(1+int(ip[off+1]))
	}
	return nh == 43 && len(ip) >= off+3 && ip[off+2] == 0
}

// FuzzRoutingHeader0 checks the extension-header walk on arbitrary chains
// against rh0Reference: no panic, same answer.
func FuzzRoutingHeader0(f *testing.F) {
	for _, chain := range [][]string{{"rh0"}, {"hbh", "rh0"}, {"hbh", "dst", "rh2"}, {"frag", "rh0"}} {
		nh, ext := extChain(chain...)
		f.Add(nh, ext)
	}
	f.Fuzz(func(t *testing.T, nh uint8, ext []byte) {
		ip := relaytest.IPv6(nativeHost, clientAddr, nh, 64, ext)
		if got, want := hasRoutingHeader0(ip), rh0Reference(ip); got != want {
			t.Fatalf("hasRoutingHeader0 = %v, want %v for % x", got, want, ip)
		}
	})
}

// TestDisableICMPv6Errors: DisableICMPv6Errors (or the older negative rate)
// suppresses every ICMPv6 error, counted by kind; the packets are still
// dropped with their reason. A rate of 0 means the default, not "off".
func TestDisableICMPv6Errors(t *testing.T) {
	cases := []struct {
		name     string
		cfg      func(*Config, *cache.Config)
		wantSent bool
		wantRate float64
	}{
		{"zero rate is the default", nil, true, DefaultICMPv6Rate},
		{"disabled", func(c *Config, _ *cache.Config) { c.DisableICMPv6Errors = true }, false, DefaultICMPv6Rate},
		{"disabled with a rate", func(c *Config, _ *cache.Config) { c.DisableICMPv6Errors, c.ICMPv6Rate = true, 50 }, false, 50},
		{"negative rate (compatibility)", func(c *Config, _ *cache.Config) { c.ICMPv6Rate = -1 }, false, -1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tc.cfg)
			h.trustClient(clientMap)
			cfg := h.e.Config()
			if cfg.DisableICMPv6Errors == tc.wantSent || cfg.ICMPv6Rate != tc.wantRate {
				t.Fatalf("effective config: disabled %v rate %v", cfg.DisableICMPv6Errors, cfg.ICMPv6Rate)
			}
			before := h.counters()
			h.decap(fromClient(relaytest.Echo(clientAddr, nativeHost, 1, 1, 1, nil)))                                   // time exceeded
			h.encap(relaytest.UDPPayload(nativeHost, clientAddr, 64, 1400))                                             // packet too big
			h.encap(relaytest.Echo(nativeHost, clientAddr, 1, 1, 1, nil))                                               // time exceeded
			h.encap(relaytest.Echo(nativeHost, func() netip.Addr { a, _ := teredoPeer(1); return a }(), 64, 1, 1, nil)) // expires: unreachable
			h.drain()
			for range 90 {
				h.advance(100 * time.Millisecond)
			}
			after := h.counters()
			checkDrops(t, before, after, map[DropReason]uint64{DropHopLimit: 2, DropPacketTooBig: 1, DropPeerExpired: 1})
			want := [NumICMPv6Kinds]uint64{ICMPv6DestUnreachable: 1, ICMPv6PacketTooBig: 1, ICMPv6TimeExceeded: 2}
			sent, suppressed := after.ICMPv6Sent, after.ICMPv6Suppressed
			if !tc.wantSent {
				sent, suppressed = suppressed, sent
			}
			if sent != want || suppressed != [NumICMPv6Kinds]uint64{} {
				t.Fatalf("sent %v suppressed %v", after.ICMPv6Sent, after.ICMPv6Suppressed)
			}
			icmp := 0
			for _, p := range h.out.Take() {
				if len(p.Data) > 40 && p.Data[6] == teredo.ProtoICMPv6 {
					icmp++
				}
			}
			if wantN := map[bool]int{true: 4, false: 0}[tc.wantSent]; icmp != wantN {
				t.Fatalf("%d ICMPv6 errors on the wire, want %d", icmp, wantN)
			}
		})
	}
}

// TestClientLimitConcurrent: workers share the per-client cells and the
// compare-and-swap keeps the limit exact: with the clock standing still,
// four workers sending 400 hop-limit packets from one address get exactly
// the burst through. (The ICMPv6 error limit, also checked before the
// hand-off, is set out of the way.)
func TestClientLimitConcurrent(t *testing.T) {
	h := newHarness(t, func(c *Config, _ *cache.Config) {
		c.ClientSlowPathRate, c.ClientSlowPathBurst = 1, 150
		c.ICMPv6Rate, c.ICMPv6Burst = 1e6, 10000
	})
	h.trustClient(clientMap)
	pkt := fromClient(relaytest.Echo(clientAddr, nativeHost, 1, 1, 1, nil))
	done := make(chan int)
	for range 4 {
		w := h.e.NewWorker()
		go func() {
			n := 0
			buf, off := relaytest.Frame(pkt)
			for range 400 {
				if v, _, _ := w.Decap(buf, off, len(pkt)); v == SlowPath {
					n++
				}
			}
			done <- n
		}()
	}
	total := 0
	for range 4 {
		total += <-done
	}
	c := h.counters()
	if total != 150 || c.SlowPathHandoffs != 150 || c.Drops[DropClientRateLimited] != 1600-150 {
		t.Fatalf("%d hand-offs (%d counted), %d rate limited; want 150 and 1450", total, c.SlowPathHandoffs, c.Drops[DropClientRateLimited])
	}
}

// TestNewPeerFloodFastPath (reliability D2): a line-rate spray of native
// packets from one /64 to random Teredo destinations, with the slow path not
// draining at all, takes only its /64's burst of slow-path slots: the rest
// is dropped by the worker as new_peer_rate_limited, never as
// slowpath_queue_full, and a packet from another source still gets a slot.
// The slow path does not charge those events a second time.
func TestNewPeerFloodFastPath(t *testing.T) {
	const queue, burst, flood = 64, 10, 5000
	h := newHarness(t, func(c *Config, cc *cache.Config) {
		c.SlowPathQueueLen, c.NewPeerRate, c.NewPeerBurst = queue, 1, burst
		cc.Capacity = 1 << 14
	})
	attacker := netip.MustParseAddr("2001:db8:666::1")
	verdicts := map[Verdict]int{}
	for i := range flood {
		dst, _ := uniquePeer(1000 + i)
		v, _ := h.encap(relaytest.Echo(attacker, dst, 64, 1, uint16(i), nil))
		verdicts[v]++
	}
	c := h.counters()
	if verdicts[SlowPath] != burst || verdicts[Drop] != flood-burst || h.e.QueueDepth() != burst {
		t.Fatalf("flood verdicts %v, queue depth %d; want %d hand-offs", verdicts, h.e.QueueDepth(), burst)
	}
	if c.Drops[DropNewPeerRateLimited] != flood-burst || c.Drops[DropSlowPathQueue] != 0 {
		t.Fatalf("new_peer_rate_limited %d, slowpath_queue_full %d", c.Drops[DropNewPeerRateLimited], c.Drops[DropSlowPathQueue])
	}
	// A legitimate second source, still without draining.
	legit, _ := uniquePeer(1)
	if v, _ := h.encap(relaytest.Echo(nativeHost, legit, 64, 1, 1, nil)); v != SlowPath {
		t.Fatalf("second source: %v, want slow_path", v)
	}
	h.drain()
	c = h.counters()
	if h.e.pendingPeers() != burst+1 || c.BubblesSentIndirect != burst+1 || c.Drops[DropNewPeerRateLimited] != flood-burst {
		t.Fatalf("after draining: pending %d, bubbles %d, rate limited %d", h.e.pendingPeers(), c.BubblesSentIndirect, c.Drops[DropNewPeerRateLimited])
	}
	k := legit.As16()
	if p, ok := h.peers.Get(&k); !ok || p.State != cache.Pending || p.QueuedPackets != 1 {
		t.Fatalf("legitimate peer %+v %v, want pending with its packet queued", p, ok)
	}

	// Paid once: one second later the attacker has exactly one token.
	h.clock.Advance(time.Second)
	for i, want := range []Verdict{SlowPath, Drop} {
		dst, _ := uniquePeer(900000 + i)
		if v, _ := h.encap(relaytest.Echo(attacker, dst, 64, 1, 1, nil)); v != want {
			t.Fatalf("after 1 s, packet %d: %v, want %v", i, v, want)
		}
	}
	h.drain()

	// Refund: packets for a destination whose verification started by the
	// time the slow path sees them cost nothing in the end.
	h.clock.Advance(burst * time.Second) // full again
	dst, _ := uniquePeer(910000)
	for range 4 {
		if v, _ := h.encap(relaytest.Echo(attacker, dst, 64, 1, 1, nil)); v != SlowPath {
			t.Fatalf("packets to one new destination: %v", v)
		}
	}
	h.drain() // one verification, three refunds
	for i := range burst - 1 {
		d, _ := uniquePeer(920000 + i)
		if v, _ := h.encap(relaytest.Echo(attacker, d, 64, 1, 1, nil)); v != SlowPath {
			t.Fatalf("after refunds, new destination %d: %v", i, v)
		}
	}
	d, _ := uniquePeer(930000)
	if v, _ := h.encap(relaytest.Echo(attacker, d, 64, 1, 1, nil)); v != Drop {
		t.Fatalf("beyond the burst: %v, want drop", v)
	}
}
