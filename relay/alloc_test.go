package relay

import (
	"net/netip"
	"testing"

	"github.com/teredorelay/teredorelay/relay/relaytest"
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
	native := relaytest.UDPPayload(nativeHost, clientAddr, 64, 1280-48)
	return []fastPathCase{
		{"decap trusted", true, fromClient(data), ToIPv6},
		{"decap bubble trusted", true, fromClient(relaytest.Bubble(clientAddr, h.e.Cookie(clientAddr))), Drop},
		{"decap drop unknown peer", true, relaytest.IPv4UDP(netip.MustParseAddrPort("203.0.113.7:1"), relayAP,
			relaytest.Echo(relaytest.TeredoAddr(serverIPv4, 0, netip.MustParseAddrPort("203.0.113.7:1")), nativeHost, 64, 1, 1, nil), true), Drop},
		{"decap drop mapping mismatch", true, relaytest.IPv4UDP(netip.MustParseAddrPort("203.0.113.9:1"), relayAP, data, true), Drop},
		{"decap drop not teredo", true, fromClient([]byte{0, 2, 3, 4}), Drop},
		{"decap drop ipv4 checksum", true, edit(fromClient(data), func(b []byte) { b[8]-- }), Drop},
		{"encap trusted", false, native, ToIPv4},
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
		if c.name != "decap trusted" && c.name != "encap trusted" && c.name != "decap bubble trusted" && c.name != "encap drop bogon" {
			continue
		}
		b.Run(c.name, func(b *testing.B) {
			buf, off := relaytest.Frame(c.pkt)
			b.ReportAllocs()
			b.SetBytes(int64(len(c.pkt)))
			for b.Loop() {
				var v Verdict
				if c.decap {
					buf[off+28+7] = 64 // restore the hop limit
					v, _, _ = h.w.Decap(buf, off, len(c.pkt))
				} else {
					buf[off+7] = 64
					v, _, _ = h.w.Encap(buf, off, len(c.pkt))
				}
				if v != c.want {
					b.Fatalf("verdict %v", v)
				}
			}
		})
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
