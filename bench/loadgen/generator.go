package loadgen

import (
	"errors"
	"fmt"
	"time"
)

// Pace bounds and paces one Send.
type Pace struct {
	// Rate is the offered load in packets per second; 0 sends as fast as
	// possible.
	Rate float64
	// Count and Duration bound the send; at least one must be set.
	Count    uint64
	Duration time.Duration
}

func (p Pace) check() error {
	if p.Count == 0 && p.Duration <= 0 {
		return errors.New("pace: neither a count nor a duration bounds the send")
	}
	if p.Rate < 0 {
		return fmt.Errorf("pace: negative rate %v", p.Rate)
	}
	return nil
}

// Stats report one Send.
type Stats struct {
	Sent    uint64        // frames the kernel ran the program for (all transmitted with XDP_TX)
	Probes  uint64        // of which carried a timestamp
	Elapsed time.Duration // wall time of the send
	Calls   int           // BPF_PROG_RUN calls
}

// Rate is the achieved offered rate in packets per second.
func (s Stats) Rate() float64 {
	if s.Elapsed <= 0 {
		return 0
	}
	return float64(s.Sent) / s.Elapsed.Seconds()
}

// DefaultProbeEvery is how often a packet carries a timestamp (a power of two).
const DefaultProbeEvery = 256

// Pacing parameters. A paced generator lets the schedule lag by at most
// maxBurst (then skips ahead instead of catching up with a burst). Each
// BPF_PROG_RUN call lasts about callTarget; between calls the kernel spends
// some 25 ms tearing down the live-frames context (measured here), during
// which nothing is sent, so the achieved rate (Stats.Rate) is what the
// benchmark reports as offered, never the target.
const (
	maxBurst      = 100 * time.Microsecond
	callTarget    = 200 * time.Millisecond
	minRepeat     = 1 << 12
	initialRepeat = 1 << 20
	maxRepeat     = 1 << 24
)
