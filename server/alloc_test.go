package server

import (
	"net/netip"
	"testing"

	"github.com/teredorelay/teredorelay/teredo"
)

type fastCase struct {
	name string
	pkt  []byte
	want Verdict
}

func fastCases() []fastCase {
	ourClient := teredoAddr(serverIP, 0, netip.MustParseAddrPort("198.51.100.77:5000"))
	return []fastCase{
		{"rs to ra", fromClient(rsPayload(false, &teredo.Auth{Nonce: [8]byte{1}})), ToIPv4},
		{"cone rs to ra", fromClient(rsPayload(true, &teredo.Auth{Nonce: [8]byte{1}})), ToIPv4},
		{"indirect bubble with origin", ipv4udp(relayAP, primaryAP(), bubble(relayCookie, clientAddr)), ToIPv4},
		{"client echo to our client", fromClient(echo(clientAddr, ourClient, 64, 64)), ToIPv4},
		{"client echo to native", fromClient(echo(clientAddr, nativeHost, 64, 64)), ToIPv6},
		{"data handed to the relay", fromClient(ipv6(clientAddr, nativeHost, 17, 64, make([]byte, 64))), Relay},
		{"drop mapping mismatch", ipv4udp(netip.MustParseAddrPort("203.0.113.9:1"), primaryAP(), echo(clientAddr, nativeHost, 64, 64)), Drop},
		{"drop not teredo", fromClient([]byte{0, 2, 3, 4, 5}), Drop},
	}
}

// TestZeroAllocs proves Handle and HandleDatagram allocate nothing, for
// answers, forwards, hand-offs and drops. Each run restores the frame.
func TestZeroAllocs(t *testing.T) {
	if testing.CoverMode() != "" {
		t.Skip("coverage instrumentation allocates")
	}
	h := newHarness(t, func(c *Config) { c.RelayAddr = serverIP; c.RatePerSource = -1 })
	for _, c := range fastCases() {
		t.Run(c.name, func(t *testing.T) {
			buf, off := frame(c.pkt)
			orig := append([]byte(nil), buf...)
			var v Verdict
			allocs := testing.AllocsPerRun(1000, func() {
				copy(buf, orig)
				v, _, _ = h.h.Handle(buf, off, len(c.pkt))
			})
			if v != c.want {
				t.Fatalf("verdict %v, want %v", v, c.want)
			}
			if allocs != 0 {
				t.Fatalf("Handle: %v allocations per packet", allocs)
			}
			payload := c.pkt[28:]
			var r Result
			allocs = testing.AllocsPerRun(1000, func() {
				copy(buf, orig)
				copy(buf[off:], payload)
				r = h.h.HandleDatagram(serverIP, natAP, buf, off, len(payload))
			})
			if allocs != 0 {
				t.Fatalf("HandleDatagram: %v allocations per packet (%v)", allocs, r.Verdict)
			}
		})
	}
}

// BenchmarkHandle measures the frame path per datagram kind (the frame is
// restored with a copy of the packet's bytes each iteration).
func BenchmarkHandle(b *testing.B) {
	h := newHarness(b, func(c *Config) { c.RelayAddr = serverIP })
	for _, c := range fastCases() {
		b.Run(c.name, func(b *testing.B) {
			buf, off := frame(c.pkt)
			orig := append([]byte(nil), buf[off-8:off+len(c.pkt)]...)
			b.SetBytes(int64(len(c.pkt)))
			b.ReportAllocs()
			for b.Loop() {
				copy(buf[off-8:], orig)
				h.clock.advance(1e9) // keep the source's bucket full
				if v, _, _ := h.h.Handle(buf, off, len(c.pkt)); v != c.want {
					b.Fatalf("verdict %v", v)
				}
			}
		})
	}
}

// BenchmarkRateLimiter measures one token-bucket decision over many sources.
func BenchmarkRateLimiter(b *testing.B) {
	l := newSourceLimiter(100, 200, DefaultRateTableSize, 99)
	var now int64
	i := uint32(0)
	for b.Loop() {
		i++
		now += 1000
		l.allow([4]byte{byte(i >> 24), byte(i >> 16), byte(i >> 8), byte(i & 0x3ff)}, now)
	}
}
