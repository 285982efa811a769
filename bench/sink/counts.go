package sink

import (
	"math"

	"github.com/teredorelay/teredorelay/bench/internal/benchbpf"
)

// Counts is a snapshot of the sink's counters, summed over CPUs.
type Counts struct {
	Pkts, Bytes [benchbpf.Kinds]uint64
	Passed      uint64 // handed to the kernel
	Other       uint64 // not a generated packet, dropped
	Probes      uint64
	Latency     [benchbpf.HistKinds]Histogram
}

// Sub returns c - o (the counts of an interval between two snapshots).
func (c Counts) Sub(o Counts) Counts {
	var d Counts
	for k := range c.Pkts {
		d.Pkts[k] = c.Pkts[k] - o.Pkts[k]
		d.Bytes[k] = c.Bytes[k] - o.Bytes[k]
	}
	d.Passed, d.Other, d.Probes = c.Passed-o.Passed, c.Other-o.Other, c.Probes-o.Probes
	for k := range c.Latency {
		for b := range c.Latency[k] {
			d.Latency[k][b] = c.Latency[k][b] - o.Latency[k][b]
		}
	}
	return d
}

// Add returns c + o (two sinks' counts together).
func (c Counts) Add(o Counts) Counts {
	var d Counts
	for k := range c.Pkts {
		d.Pkts[k] = c.Pkts[k] + o.Pkts[k]
		d.Bytes[k] = c.Bytes[k] + o.Bytes[k]
	}
	d.Passed, d.Other, d.Probes = c.Passed+o.Passed, c.Other+o.Other, c.Probes+o.Probes
	for k := range c.Latency {
		for b := range c.Latency[k] {
			d.Latency[k][b] = c.Latency[k][b] + o.Latency[k][b]
		}
	}
	return d
}

// Histogram counts probes per latency bucket (see benchbpf.BucketBounds).
type Histogram [benchbpf.HistBuckets]uint64

// Total is the number of probes in h.
func (h *Histogram) Total() uint64 {
	var n uint64
	for _, v := range h {
		n += v
	}
	return n
}

// Percentile returns the latency in nanoseconds below which fraction q
// (0..1) of the probes fall, interpolated inside the bucket; NaN when empty.
func (h *Histogram) Percentile(q float64) float64 {
	total := h.Total()
	if total == 0 {
		return math.NaN()
	}
	rank := q * float64(total)
	var seen float64
	for b, v := range h {
		if v == 0 {
			continue
		}
		if seen+float64(v) >= rank {
			lo, hi := benchbpf.BucketBounds(b)
			frac := (rank - seen) / float64(v)
			return float64(lo) + frac*float64(hi-lo)
		}
		seen += float64(v)
	}
	_, hi := benchbpf.BucketBounds(len(h) - 1)
	return float64(hi)
}
