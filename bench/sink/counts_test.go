package sink

import (
	"math"
	"testing"

	"github.com/teredorelay/teredorelay/bench/internal/benchbpf"
)

func TestPercentile(t *testing.T) {
	var h Histogram
	if !math.IsNaN(h.Percentile(0.5)) {
		t.Error("empty histogram has a median")
	}
	// 90 probes at ~1 µs, 10 at ~100 µs.
	h[benchbpf.Bucket(1000)] = 90
	h[benchbpf.Bucket(100_000)] = 10
	lo1, hi1 := benchbpf.BucketBounds(benchbpf.Bucket(1000))
	lo2, hi2 := benchbpf.BucketBounds(benchbpf.Bucket(100_000))
	for _, c := range []struct {
		q      float64
		lo, hi uint64
	}{{0.5, lo1, hi1}, {0.9, lo1, hi1}, {0.95, lo2, hi2}, {0.99, lo2, hi2}} {
		if p := h.Percentile(c.q); p < float64(c.lo) || p > float64(c.hi) {
			t.Errorf("p%.0f = %.0f ns, want within [%d, %d]", c.q*100, p, c.lo, c.hi)
		}
	}
	if h.Total() != 100 {
		t.Errorf("total %d", h.Total())
	}
}

func TestCountsSubAdd(t *testing.T) {
	var a, b Counts
	a.Pkts[1], a.Bytes[1], a.Other, a.Latency[0][3] = 10, 1000, 2, 5
	b.Pkts[1], b.Bytes[1], b.Other, b.Latency[0][3] = 4, 400, 1, 2
	d := a.Sub(b)
	if d.Pkts[1] != 6 || d.Bytes[1] != 600 || d.Other != 1 || d.Latency[0][3] != 3 {
		t.Errorf("sub: %+v", d)
	}
	s := d.Add(b)
	if s.Pkts[1] != a.Pkts[1] || s.Latency[0][3] != a.Latency[0][3] {
		t.Errorf("add does not undo sub")
	}
}
