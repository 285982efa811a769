package control_test

import (
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"

	"github.com/teredorelay/teredorelay/control"
	"github.com/teredorelay/teredorelay/control/api"
	"github.com/teredorelay/teredorelay/control/controltest"
	"github.com/teredorelay/teredorelay/metrics/metricstest"
	"github.com/teredorelay/teredorelay/teredo"
)

// BenchmarkPeersRequest measures one GET /v1/peers (walk, filter, top-100,
// JSON) over a 100 000-entry table; it reports the cost per scanned entry.
func BenchmarkPeersRequest(b *testing.B) {
	const n = 100_000
	peers := make([]api.Peer, n)
	for i := range peers {
		a := teredo.Addr{Server: netip.AddrFrom4([4]byte{192, 0, 2, byte(i % 7)}),
			Mapped: netip.AddrPortFrom(netip.AddrFrom4([4]byte{203, 0, 113, byte(i)}), uint16(i))}
		peers[i] = api.Peer{Address: a.IP(), State: api.StateTrusted, RxPackets: uint64(i * 7919 % n),
			LastRx: controltest.Now.Add(-time.Duration(i) * time.Millisecond)}
	}
	h := control.NewServer(control.Config{Backend: controltest.New(metricstest.Sample(), controltest.SampleInfo, peers)}).Handler()
	for _, q := range []string{"?sort=rx-packets&limit=100", "?v4=203.0.113.0/28&limit=100", "/count?state=pending"} {
		b.Run(q, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, httptest.NewRequest("GET", "/v1/peers"+q, nil))
				if rec.Code != 200 {
					b.Fatal(rec.Code)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/entry")
		})
	}
}
