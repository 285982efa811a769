package relay

import (
	"context"
	"net/netip"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/teredorelay/teredorelay/cache"
	"github.com/teredorelay/teredorelay/relay/relaytest"
	"github.com/teredorelay/teredorelay/teredo"
)

// baseConfig is the configuration newHarness starts from, for Reconfigure.
func (h *harness) baseConfig() Config {
	return Config{IPv4Addr: relayIPv4, IPv6Addr: relayIPv6, Key: testKey, Now: h.clock.Now}
}

// reconfigure applies base modified by mod, failing the test on an error.
func (h *harness) reconfigure(mod func(*Config)) {
	h.t.Helper()
	c := h.baseConfig()
	if mod != nil {
		mod(&c)
	}
	if err := h.e.Reconfigure(c); err != nil {
		h.t.Fatalf("reconfigure: %v", err)
	}
}

// uniquePeer returns the n-th of many distinct Teredo peers (n < 15 000 000)
// with the mapping embedded in its address.
func uniquePeer(n int) (netip.Addr, netip.AddrPort) {
	m := netip.AddrPortFrom(netip.AddrFrom4([4]byte{203, 0, 113, byte(1 + n/60000)}), uint16(1024+n%60000))
	return relaytest.TeredoAddr(serverIPv4, 0, m), m
}

// fromPeer is an echo request from Teredo peer n to the native host, from
// its own mapping.
func fromPeer(n int) []byte {
	a, m := uniquePeer(n)
	return relaytest.IPv4UDP(m, relayAP, relaytest.Echo(a, nativeHost, 64, 1, 1, nil), true)
}

// TestReconfigure: each reloadable setting changes what the workers and the
// slow path do, from the next packet on, and Config reports it.
func TestReconfigure(t *testing.T) {
	second := netip.MustParseAddr("198.51.100.2")
	cases := []struct {
		name string
		mod  func(*Config)
		// check runs once before and once after Reconfigure(mod); after
		// says which.
		check func(t *testing.T, h *harness, after bool)
	}{
		{"accept unknown peers", func(c *Config) { c.AcceptUnknownPeers = true }, func(t *testing.T, h *harness, after bool) {
			before := h.counters()
			v, _ := h.decap(fromPeer(map[bool]int{false: 1, true: 2}[after]))
			h.drain()
			if !after {
				checkDrops(t, before, h.counters(), map[DropReason]uint64{DropUnknownPeer: 1})
				return
			}
			if v != ToIPv6 || h.counters().PeersLearned != before.PeersLearned+1 {
				t.Fatalf("unknown peer after: %v, learned %d", v, h.counters().PeersLearned)
			}
		}},
		{"strict mapping", func(c *Config) { c.StrictMapping = true }, func(t *testing.T, h *harness, after bool) {
			// A bubble to the right cookie from a mapping other than the
			// embedded one, from a peer being verified.
			peer, _ := uniquePeer(map[bool]int{false: 20, true: 21}[after])
			k := peer.As16()
			h.encap(relaytest.Echo(nativeHost, peer, 64, 1, 1, nil)) // pending, cookie sent
			h.drain()
			h.out.Take()
			before := h.counters()
			other := netip.MustParseAddrPort("203.0.113.99:4000")
			h.decap(relaytest.IPv4UDP(other, relayAP, relaytest.Bubble(peer, h.e.Cookie(peer)), true))
			h.drain()
			if after {
				checkDrops(t, before, h.counters(), map[DropReason]uint64{DropMappingMismatch: 1})
				return
			}
			if p, ok := h.peers.Get(&k); !ok || p.State != cache.Trusted || p.Mapping != other {
				t.Fatalf("peer %+v %v, want trusted at %v", p, ok, other)
			}
		}},
		{"direct bubbles", func(c *Config) { c.DirectBubbles = true }, func(t *testing.T, h *harness, after bool) {
			dst, _ := uniquePeer(map[bool]int{false: 10, true: 11}[after])
			h.encap(relaytest.Echo(nativeHost, dst, 64, 1, 1, nil))
			h.drain()
			if n, want := len(h.out.Take()), map[bool]int{false: 1, true: 2}[after]; n != want {
				t.Fatalf("%d bubbles, want %d", n, want)
			}
		}},
		{"disable ICMPv6 errors", func(c *Config) { c.DisableICMPv6Errors = true }, func(t *testing.T, h *harness, after bool) {
			before := h.counters()
			h.encap(relaytest.Echo(nativeHost, clientAddr, 1, 1, 1, nil)) // time exceeded
			h.drain()
			c := h.counters()
			sent := c.ICMPv6Sent[ICMPv6TimeExceeded] - before.ICMPv6Sent[ICMPv6TimeExceeded]
			suppressed := c.ICMPv6Suppressed[ICMPv6TimeExceeded] - before.ICMPv6Suppressed[ICMPv6TimeExceeded]
			if want := map[bool][2]uint64{false: {1, 0}, true: {0, 1}}[after]; [2]uint64{sent, suppressed} != want {
				t.Fatalf("sent %d suppressed %d, want %v", sent, suppressed, want)
			}
			if n := len(h.out.Take()); n != int(sent) {
				t.Fatalf("%d packets on the wire", n)
			}
		}},
		{"icmpv6 rate and burst", func(c *Config) { c.ICMPv6Rate, c.ICMPv6Burst = 100, 5 }, func(t *testing.T, h *harness, after bool) {
			// The clock stands still: the burst is all that gets through.
			// The default bucket (10) is already empty at the second check,
			// the new one starts from what was left, so advance to refill.
			h.clock.Advance(time.Second)
			before := h.counters()
			for range 20 {
				h.encap(relaytest.Echo(nativeHost, clientAddr, 1, 1, 1, nil))
			}
			h.drain()
			sent := h.counters().ICMPv6Sent[ICMPv6TimeExceeded] - before.ICMPv6Sent[ICMPv6TimeExceeded]
			if want := map[bool]uint64{false: 10, true: 5}[after]; sent != want {
				t.Fatalf("%d errors sent, want the burst %d", sent, want)
			}
		}},
		{"extra bogons", func(c *Config) { c.ExtraBogons = []netip.Prefix{netip.MustParsePrefix("203.0.113.0/24")} }, func(t *testing.T, h *harness, after bool) {
			before := h.counters()
			v, _ := h.encap(relaytest.Echo(nativeHost, clientAddr, 64, 1, 1, nil)) // mapped 203.0.113.1
			if !after {
				if v != ToIPv4 {
					t.Fatalf("trusted peer: %v", v)
				}
				return
			}
			checkDrops(t, before, h.counters(), map[DropReason]uint64{DropDstMappedBogon: 1})
		}},
		{"secondary ipv4 address", func(c *Config) { c.IPv4Addrs = []netip.Addr{second} }, func(t *testing.T, h *harness, after bool) {
			before := h.counters()
			v, _ := h.decap(relaytest.IPv4UDP(clientMap, netip.AddrPortFrom(second, teredo.Port), relaytest.Echo(clientAddr, nativeHost, 64, 1, 1, nil), true))
			if !after {
				checkDrops(t, before, h.counters(), map[DropReason]uint64{DropWrongDestination: 1})
			} else if v != ToIPv6 {
				t.Fatalf("to the new address: %v", v)
			}
			before = h.counters()
			self := relaytest.TeredoAddr(serverIPv4, 0, netip.AddrPortFrom(second, 40000))
			h.encap(relaytest.Echo(nativeHost, self, 64, 1, 1, nil))
			h.drain()
			if d := h.counters().Drops[DropDstSelf] - before.Drops[DropDstSelf]; d != map[bool]uint64{false: 0, true: 1}[after] {
				t.Fatalf("dst_self moved by %d", d)
			}
			h.out.Take()
		}},
		{"new-peer rate", func(c *Config) { c.NewPeerRate, c.NewPeerBurst = 1, 2 }, func(t *testing.T, h *harness, after bool) {
			h.clock.Advance(10 * time.Second) // full buckets under either policy
			src := map[bool]netip.Addr{false: nativeHost, true: nativeOther}[after]
			base := map[bool]int{false: 100, true: 200}[after]
			before := h.counters()
			for i := range 5 {
				dst, _ := uniquePeer(base + i)
				h.encap(relaytest.Echo(src, dst, 64, 1, 1, nil))
			}
			h.drain()
			h.out.Take()
			if d, want := h.counters().Drops[DropNewPeerRateLimited]-before.Drops[DropNewPeerRateLimited], map[bool]uint64{false: 0, true: 3}[after]; d != want {
				t.Fatalf("new_peer_rate_limited moved by %d, want %d", d, want)
			}
		}},
		{"client slow-path rate", func(c *Config) { c.ClientSlowPathRate, c.ClientSlowPathBurst = 1, 3 }, func(t *testing.T, h *harness, after bool) {
			h.clock.Advance(10 * time.Minute)
			before := h.counters()
			for range 10 {
				h.decap(fromClient(relaytest.Echo(clientAddr, nativeHost, 1, 1, 1, nil)))
			}
			h.drain()
			h.out.Take()
			if d, want := h.counters().Drops[DropClientRateLimited]-before.Drops[DropClientRateLimited], map[bool]uint64{false: 0, true: 7}[after]; d != want {
				t.Fatalf("client_rate_limited moved by %d, want %d", d, want)
			}
		}},
		{"bubble rate", func(c *Config) { c.BubbleRate, c.BubbleBurst, c.BubbleShare = 1, 2, 1 }, func(t *testing.T, h *harness, after bool) {
			h.clock.Advance(10 * time.Second)
			base := map[bool]int{false: 300, true: 400}[after]
			before := h.counters()
			for i := range 4 {
				dst, _ := uniquePeer(base + i)
				h.encap(relaytest.Echo(netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 9, byte(i)}), dst, 64, 1, 1, nil))
			}
			h.drain()
			h.out.Take()
			if d, want := h.counters().Drops[DropBubbleRateLimited]-before.Drops[DropBubbleRateLimited], map[bool]uint64{false: 0, true: 2}[after]; d != want {
				t.Fatalf("bubble_rate_limited moved by %d, want %d", d, want)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, nil)
			h.trustClient(clientMap)
			tc.check(t, h, false)
			h.reconfigure(tc.mod)
			tc.check(t, h, true)
			want := h.baseConfig()
			tc.mod(&want)
			got := h.e.Config()
			if got.AcceptUnknownPeers != want.AcceptUnknownPeers || got.StrictMapping != want.StrictMapping ||
				got.DirectBubbles != want.DirectBubbles || got.DisableICMPv6Errors != want.DisableICMPv6Errors ||
				!slices.Equal(got.ExtraBogons, want.ExtraBogons) || !slices.Equal(got.IPv4Addrs, want.IPv4Addrs) ||
				(want.NewPeerRate != 0 && got.NewPeerRate != want.NewPeerRate) ||
				(want.ICMPv6Burst != 0 && got.ICMPv6Burst != want.ICMPv6Burst) || got.Key != nil {
				t.Fatalf("Config() after reconfigure: %+v", got)
			}
		})
	}
}

// TestReconfigureRefused: a setting that cannot change at run time is
// refused with its field named, and nothing at all is applied.
func TestReconfigureRefused(t *testing.T) {
	cases := []struct {
		field string
		mod   func(*Config)
	}{
		{"IPv4Addr", func(c *Config) { c.IPv4Addr = netip.MustParseAddr("198.51.100.7") }},
		{"Port", func(c *Config) { c.Port = 3545 }},
		{"IPv6Addr", func(c *Config) { c.IPv6Addr = netip.MustParseAddr("2001:db8:ffff::2") }},
		{"Key", func(c *Config) { c.Key = make([]byte, KeySize) }},
		{"NewPeerTableSize", func(c *Config) { c.NewPeerTableSize = 64 }},
		{"ClientSlowPathTableSize", func(c *Config) { c.ClientSlowPathTableSize = 64 }},
		{"SlowPathQueueLen", func(c *Config) { c.SlowPathQueueLen = 8 }},
		{"PeerValidity", func(c *Config) { c.PeerValidity = time.Minute; c.IdleTimeout = 5 * time.Minute }},
		{"BubbleInterval", func(c *Config) { c.BubbleInterval = time.Second }},
		{"BubbleRetries", func(c *Config) { c.BubbleRetries = 2 }},
		{"BubbleBudget", func(c *Config) { c.BubbleBudget = 8 }},
		{"BubbleWindow", func(c *Config) { c.BubbleWindow = time.Minute }},
		{"BudgetTableSize", func(c *Config) { c.BudgetTableSize = 8 }},
		{"MTU", func(c *Config) { c.MTU = 1400 }},
		{"IdleTimeout", func(c *Config) { c.IdleTimeout = time.Hour }},
		{"SweepInterval", func(c *Config) { c.SweepInterval = time.Minute }},
		{"TimerTick", func(c *Config) { c.TimerTick = 50 * time.Millisecond }},
		{"TTL", func(c *Config) { c.TTL = 32 }},
	}
	h := newHarness(t, nil)
	pol := h.e.pol.Load()
	for _, tc := range cases {
		c := h.baseConfig()
		c.AcceptUnknownPeers = true // a reloadable change alongside: not applied either
		tc.mod(&c)
		err := h.e.Reconfigure(c)
		if err == nil || !strings.Contains(err.Error(), tc.field+" cannot change at run time") {
			t.Errorf("%s: error %v, want it named", tc.field, err)
		}
		if h.e.pol.Load() != pol || h.e.Config().AcceptUnknownPeers {
			t.Fatalf("%s: a refused reconfiguration changed the policy", tc.field)
		}
	}
	// Several fields: all named. An invalid value: the validation error.
	c := h.baseConfig()
	c.Port, c.MTU = 3545, 1400
	if err := h.e.Reconfigure(c); err == nil || !strings.Contains(err.Error(), "Port") || !strings.Contains(err.Error(), "MTU") {
		t.Errorf("two fixed fields: %v", err)
	}
	c = h.baseConfig()
	c.NewPeerBurst = -1
	if err := h.e.Reconfigure(c); err == nil || !strings.Contains(err.Error(), "new-peer burst") {
		t.Errorf("invalid burst: %v", err)
	}
	c = h.baseConfig()
	c.IPv4Addrs = []netip.Addr{netip.MustParseAddr("127.0.0.1")}
	if err := h.e.Reconfigure(c); err == nil || !strings.Contains(err.Error(), "127.0.0.1") {
		t.Errorf("loopback secondary address: %v", err)
	}
	if h.e.pol.Load() != pol {
		t.Fatal("a refused reconfiguration changed the policy")
	}
	// A nil key (as Config returns it) keeps the running key: Config,
	// modified, goes back through Reconfigure.
	c = h.e.Config()
	c.AcceptUnknownPeers = true
	if err := h.e.Reconfigure(c); err != nil || !h.e.Config().AcceptUnknownPeers {
		t.Fatalf("Config round trip: %v", err)
	}
	// Defaults spelled out or left zero are the same configuration.
	c = h.baseConfig()
	c.Port, c.MTU, c.SlowPathQueueLen = DefaultPort, DefaultMTU, DefaultSlowPathQueueLen
	if err := h.e.Reconfigure(c); err != nil {
		t.Fatalf("explicit defaults: %v", err)
	}
}

// TestReconfigureConcurrent (run with -race): workers decapsulate and
// encapsulate in their own goroutines and the slow path runs while
// Reconfigure flips every reloadable setting. Each worker reads the phase
// before a packet: once the last Reconfigure has returned, every packet
// from an unknown peer is dropped (accept off) and then forwarded (accept
// on); traffic of a trusted peer is forwarded throughout.
func TestReconfigureConcurrent(t *testing.T) {
	h := newHarness(t, func(c *Config, cc *cache.Config) { cc.Capacity = 1 << 16 })
	h.trustClient(clientMap)
	ctx, cancel := context.WithCancel(context.Background())
	runDone := make(chan error, 1)
	go func() { runDone <- h.e.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-runDone; err != nil {
			t.Error(err)
		}
	}()

	const (
		workers      = 2
		flips        = 300
		perPhase     = 200 // packets each worker checks in each final phase
		peersPerWork = 1 << 22
	)
	const (
		flipping = iota
		finalOff
		finalOn
	)
	var phase atomic.Int32
	var stop, failed atomic.Bool
	type result struct {
		failure  string
		inPhase  [3]int
		unknownV [3][len(verdictNames)]int
	}
	results := make([]result, workers)
	var flipped [workers]atomic.Int64
	reached := make([]chan struct{}, 3)
	for i := range reached {
		reached[i] = make(chan struct{}, 2*workers)
	}
	var wg sync.WaitGroup
	for wi := range workers {
		wg.Add(1)
		w := h.e.NewWorker()
		go func() {
			defer wg.Done()
			r := &results[wi]
			trusted := fromClient(relaytest.UDPPayload(clientAddr, nativeHost, 64, 200))
			native := relaytest.UDPPayload(nativeHost, clientAddr, 64, 200)
			for n := 0; !stop.Load() && n < peersPerWork; n++ {
				ph := phase.Load()
				buf, off := relaytest.Frame(fromPeer(wi*peersPerWork + n))
				v, _, _ := w.Decap(buf, off, len(buf)-off)
				r.unknownV[ph][v]++
				switch {
				case ph == finalOff && v != Drop:
					r.failure = "unknown peer forwarded after accept_unknown_peers went off"
				case ph == finalOn && v != ToIPv6:
					r.failure = "unknown peer dropped after accept_unknown_peers went on"
				}
				buf, off = relaytest.Frame(trusted)
				if v, _, _ := w.Decap(buf, off, len(trusted)); v != ToIPv6 {
					r.failure = "trusted peer's packet not forwarded: " + v.String()
				}
				buf, off = relaytest.Frame(native)
				if v, _, _ := w.Encap(buf, off, len(native)); v != ToIPv4 {
					r.failure = "packet to trusted peer not encapsulated: " + v.String()
				}
				if r.failure != "" {
					failed.Store(true)
					for i := range reached {
						reached[i] <- struct{}{} // wake the main goroutine
					}
					return
				}
				r.inPhase[ph]++
				if ph == flipping {
					flipped[wi].Add(1)
				}
				if ph != flipping && r.inPhase[ph] == perPhase {
					// Park until the next phase, so that no packet judged
					// under this phase's expectation is in flight while the
					// policy changes again.
					reached[ph] <- struct{}{}
					for phase.Load() == ph && !stop.Load() {
						runtime.Gosched()
					}
				}
			}
		}()
	}
	// fail stops the workers, then reports.
	fail := func(format string, args ...any) {
		t.Helper()
		stop.Store(true)
		wg.Wait()
		t.Fatalf(format+" (results %+v)", append(args, results)...)
	}
	wait := func(ph int) {
		deadline := time.After(30 * time.Second)
		for range workers {
			select {
			case <-reached[ph]:
				if failed.Load() {
					fail("phase %d: a worker failed", ph)
				}
			case <-deadline:
				fail("phase %d: workers stalled", ph)
			}
		}
	}
	// Flip at least flips times, and until every worker has judged
	// minFlipping packets under changing policies.
	minFlipping := func() int64 {
		n := flipped[0].Load()
		for i := range flipped {
			n = min(n, flipped[i].Load())
		}
		return n
	}
	for i := 0; i < flips || minFlipping() < 500; i++ {
		if i > 1_000_000 || failed.Load() {
			fail("workers judged %d packets during %d reconfigurations", minFlipping(), i)
		}
		on := i%2 == 0
		h.reconfigure(func(c *Config) {
			c.AcceptUnknownPeers, c.StrictMapping, c.DirectBubbles, c.DisableICMPv6Errors = on, !on, on, !on
			c.ICMPv6Rate, c.ICMPv6Burst = float64(1+i%7), 1+i%5
			c.NewPeerRate, c.NewPeerBurst = float64(10+i), 1+i%9
			c.BubbleRate, c.ClientSlowPathRate = float64(100+i), float64(1000+i)
			if on {
				c.ExtraBogons = []netip.Prefix{netip.MustParsePrefix("192.0.2.128/25")}
				c.IPv4Addrs = []netip.Addr{netip.MustParseAddr("198.51.100.2"), netip.MustParseAddr("198.51.100.3")}
			}
		})
	}
	h.reconfigure(func(c *Config) { c.AcceptUnknownPeers = false })
	phase.Store(finalOff)
	wait(finalOff)
	h.reconfigure(func(c *Config) { c.AcceptUnknownPeers = true })
	phase.Store(finalOn)
	wait(finalOn)
	stop.Store(true)
	wg.Wait()
	for i, r := range results {
		if r.failure != "" {
			t.Fatalf("worker %d: %s (verdicts per phase %v)", i, r.failure, r.unknownV)
		}
	}
	c := h.counters()
	if c.Drops[DropUnknownPeer] < workers*perPhase || c.DecapForwarded < 2*workers*perPhase {
		t.Fatalf("unknown_peer drops %d, forwarded %d", c.Drops[DropUnknownPeer], c.DecapForwarded)
	}
}

// TestReconfigureZeroAllocs: the fast path stays allocation-free under a
// reconfigured policy (secondary addresses, extra bogons, direct bubbles),
// and Reconfigure between packets does not make the next one allocate.
func TestReconfigureZeroAllocs(t *testing.T) {
	if testing.CoverMode() != "" {
		t.Skip("coverage instrumentation allocates")
	}
	h := newHarness(t, nil)
	h.trustClient(clientMap)
	h.reconfigure(func(c *Config) {
		c.IPv4Addrs = []netip.Addr{netip.MustParseAddr("198.51.100.2")}
		c.ExtraBogons = []netip.Prefix{netip.MustParsePrefix("192.0.2.128/25")}
		c.DirectBubbles, c.AcceptUnknownPeers = true, true
	})
	for _, c := range fastPathCases(h) {
		t.Run(c.name, func(t *testing.T) {
			buf, off := relaytest.Frame(c.pkt)
			orig := append([]byte(nil), buf...)
			allocs := testing.AllocsPerRun(1000, func() {
				copy(buf, orig)
				if c.decap {
					h.w.Decap(buf, off, len(c.pkt))
				} else {
					h.w.Encap(buf, off, len(c.pkt))
				}
			})
			if allocs != 0 {
				t.Fatalf("%v allocations per packet", allocs)
			}
		})
	}
}
