package relay

import (
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/teredorelay/teredorelay/cache"
	"github.com/teredorelay/teredorelay/relay/relaytest"
	"github.com/teredorelay/teredorelay/teredo"
)

// fastPathCases are frames for the zero-allocation proofs and benchmarks.
type fastPathCase struct {
	name  string
	decap bool
	pkt   []byte
	want  Verdict
}

func fastPathCases(h *harness) []fastPathCase {
	data := relaytest.UDPPayload(clientAddr, nativeHost, 64, 1232-48)
	native := relaytest.TCPSegment(nativeHost, clientAddr, 64, 1280-60, false)
	nativePartial := relaytest.TCPSegment(nativeHost, clientAddr, 64, 1280-60, true)
	return []fastPathCase{
		{"decap trusted", true, fromClient(data), ToIPv6},
		{"decap bubble trusted", true, fromClient(relaytest.Bubble(clientAddr, h.e.Cookie(clientAddr))), Drop},
		{"decap drop unknown peer", true, relaytest.IPv4UDP(netip.MustParseAddrPort("203.0.113.7:1"), relayAP,
			relaytest.Echo(relaytest.TeredoAddr(serverIPv4, 0, netip.MustParseAddrPort("203.0.113.7:1")), nativeHost, 64, 1, 1, nil), true), Drop},
		{"decap drop mapping mismatch", true, relaytest.IPv4UDP(netip.MustParseAddrPort("203.0.113.9:1"), relayAP, data, true), Drop},
		{"decap drop not teredo", true, fromClient([]byte{0, 2, 3, 4}), Drop},
		{"decap drop ipv4 checksum", true, edit(fromClient(data), func(b []byte) { b[8]-- }), Drop},
		{"encap trusted", false, native, ToIPv4},
		{"encap trusted partial checksum", false, nativePartial, ToIPv4},
		{"encap drop bogon", false, relaytest.Echo(nativeHost, netip.MustParseAddr("2001:0:c000:201:0:f227:f5ff:fffe"), 64, 1, 1, nil), Drop},
		{"encap drop not teredo", false, relaytest.Echo(nativeHost, nativeOther, 64, 1, 1, nil), Drop},
		{"encap drop loop", false, relaytest.Echo(clientAddr, clientAddr, 64, 1, 1, nil), Drop},
	}
}

// TestZeroAllocs proves the fast path allocates nothing, for trusted peers
// and for drops. Each run restores the frame (the fast path edits the hop
// limit and writes headers in place).
func TestZeroAllocs(t *testing.T) {
	if testing.CoverMode() != "" {
		t.Skip("coverage instrumentation allocates")
	}
	h := newHarness(t, nil)
	h.trustClient(clientMap)
	for _, c := range fastPathCases(h) {
		t.Run(c.name, func(t *testing.T) {
			buf, off := relaytest.Frame(c.pkt)
			orig := append([]byte(nil), buf...)
			var v Verdict
			allocs := testing.AllocsPerRun(1000, func() {
				copy(buf, orig)
				if c.decap {
					v, _, _ = h.w.Decap(buf, off, len(c.pkt))
				} else {
					v, _, _ = h.w.Encap(buf, off, len(c.pkt))
				}
			})
			if v != c.want {
				t.Fatalf("verdict %v, want %v", v, c.want)
			}
			if allocs != 0 {
				t.Fatalf("%v allocations per packet", allocs)
			}
		})
	}
	if h.out.Len() != 0 {
		t.Fatal("fast path produced output")
	}
}

func BenchmarkFastPath(b *testing.B) {
	h := newHarness(b, nil)
	h.trustClient(clientMap)
	for _, c := range fastPathCases(h) {
		switch c.name {
		case "decap trusted", "decap bubble trusted", "encap trusted", "encap trusted partial checksum", "encap drop bogon":
		default:
			continue
		}
		bench := func(b *testing.B) {
			buf, off := relaytest.Frame(c.pkt)
			// The partial checksum is completed in place: restore it with
			// the hop limit before every run.
			partial := c.name == "encap trusted partial checksum"
			var csum [2]byte
			if partial {
				csum = [2]byte(c.pkt[40+16 : 40+18])
			}
			b.ReportAllocs()
			b.SetBytes(int64(len(c.pkt)))
			for b.Loop() {
				var v Verdict
				if c.decap {
					buf[off+28+7] = 64 // restore the hop limit
					v, _, _ = h.w.Decap(buf, off, len(c.pkt))
				} else {
					buf[off+7] = 64
					if partial {
						buf[off+40+16], buf[off+40+17] = csum[0], csum[1]
					}
					v, _, _ = h.w.Encap(buf, off, len(c.pkt))
				}
				if v != c.want {
					b.Fatalf("verdict %v", v)
				}
			}
		}
		b.Run(c.name, bench)
		if c.name == "encap trusted" {
			// What the outer UDP checksum costs: the same packet without it.
			h.reconfigure(func(cfg *Config) { cfg.DisableEncapUDPChecksum = true })
			b.Run("encap trusted no udp checksum", bench)
			h.reconfigure(nil)
		}
	}
}

// BenchmarkDecapParallel runs one worker per goroutine on a shared cache,
// as the daemon does with one worker per RX queue.
func BenchmarkDecapParallel(b *testing.B) {
	h := newHarness(b, nil)
	h.trustClient(clientMap)
	pkt := fromClient(relaytest.UDPPayload(clientAddr, nativeHost, 64, 1232-48))
	b.ReportAllocs()
	b.SetBytes(int64(len(pkt)))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		w := h.e.NewWorker()
		buf, off := relaytest.Frame(pkt)
		for pb.Next() {
			buf[off+28+7] = 64
			if v, _, _ := w.Decap(buf, off, len(pkt)); v != ToIPv6 {
				b.Fatalf("verdict %v", v)
			}
		}
	})
}

// TestZeroAllocsHardening: the hardening checks allocate nothing either:
// secondary relay addresses, routing header type 0, the client rate limit
// (tokens available and spent), and the slow path's new-peer and bubble
// limits dropping a flood of new destinations.
func TestZeroAllocsHardening(t *testing.T) {
	if testing.CoverMode() != "" {
		t.Skip("coverage instrumentation allocates")
	}
	second := netip.MustParseAddr("198.51.100.2")
	h := newHarness(t, func(c *Config, _ *cache.Config) {
		c.IPv4Addrs = []netip.Addr{second}
		c.ClientSlowPathRate, c.ClientSlowPathBurst = 1, 10
		c.NewPeerRate, c.NewPeerBurst = 1, 1
	})
	h.trustClient(clientMap)
	pendingAddr, pendingMap := teredoPeer(7)
	k := pendingAddr.As16()
	h.peers.InsertPending(&k, pendingMap, h.clock.Now())
	rh0, rh0ext := extChain("hbh", "rh0")
	cases := []struct {
		name   string
		decap  bool
		pkt    []byte
		want   Verdict
		reason DropReason // a drop the run must have counted, with want Drop
	}{
		{"decap to secondary address", true, relaytest.IPv4UDP(clientMap, netip.AddrPortFrom(second, teredo.Port),
			relaytest.UDPPayload(clientAddr, nativeHost, 64, 1000), true), ToIPv6, 0},
		{"decap drop rh0", true, fromClient(relaytest.IPv6(clientAddr, nativeHost, rh0, 64, rh0ext)), Drop, DropRoutingHeader0},
		{"encap drop rh0", false, relaytest.IPv6(nativeHost, clientAddr, rh0, 64, rh0ext), Drop, DropRoutingHeader0},
		{"decap hop limit 1, rate limited", true, fromClient(relaytest.Echo(clientAddr, nativeHost, 1, 1, 1, nil)), Drop, DropClientRateLimited},
		// The hop-limit case spent the tokens of 203.0.113.1, the address of
		// both peers: the pending peer's notices are all rate limited.
		{"decap pending peer, notices rate limited", true, relaytest.IPv4UDP(pendingMap, relayAP,
			relaytest.Echo(pendingAddr, nativeHost, 64, 1, 1, nil), true), ToIPv6, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			buf, off := relaytest.Frame(c.pkt)
			orig := append([]byte(nil), buf...)
			before := h.counters()
			var v Verdict
			allocs := testing.AllocsPerRun(1000, func() {
				copy(buf, orig)
				if c.decap {
					v, _, _ = h.w.Decap(buf, off, len(c.pkt))
				} else {
					v, _, _ = h.w.Encap(buf, off, len(c.pkt))
				}
				h.drain()
			})
			if v != c.want {
				t.Fatalf("verdict %v, want %v", v, c.want)
			}
			if c.want == Drop && h.counters().Drops[c.reason] <= before.Drops[c.reason] {
				t.Fatalf("%v not counted", c.reason)
			}
			if allocs != 0 {
				t.Fatalf("%v allocations per packet", allocs)
			}
		})
	}
	if c := h.counters(); c.SlowPathNoticesRateLimited == 0 {
		t.Fatal("no notice was rate limited")
	}

	// Slow path: a flood of new destinations from one /64, dropped by the
	// new-peer limit after the first, and processed without allocating.
	pkt := relaytest.Echo(nativeHost, clientAddr, 64, 1, 1, nil)
	buf, off := relaytest.Frame(pkt)
	orig := append([]byte(nil), buf...)
	port := uint16(0)
	before := h.counters()
	allocs := testing.AllocsPerRun(1000, func() {
		copy(buf, orig)
		port++
		binary.BigEndian.PutUint16(buf[off+24+10:], ^port) // a new mapped port: a new peer
		h.w.Encap(buf, off, len(pkt))
		h.drain()
	})
	if d := h.counters().Drops[DropNewPeerRateLimited] - before.Drops[DropNewPeerRateLimited]; d < 1000 {
		t.Fatalf("new_peer_rate_limited moved by %d", d)
	}
	if allocs != 0 {
		t.Fatalf("%v allocations per rate-limited packet", allocs)
	}
}
