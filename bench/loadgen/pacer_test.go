package loadgen

import (
	"testing"
	"time"
)

// TestPacer runs the AF_XDP generator's schedule against a simulated clock
// that polls it every 3 µs (and once stalls for 5 ms, a descheduled thread)
// sending whatever is due in batches of at most 64: over one simulated
// second it must send the target rate (within one burst), never more, at
// rates above and below one frame per maxBurst (10 kpps), and never more
// than one burst after the stall.
func TestPacer(t *testing.T) {
	for _, rate := range []float64{500, 6000, 9999, 10_001, 20_000, 500_000, 2_000_000} {
		p := newPacer(rate)
		var sent, afterStall uint64
		for now := time.Duration(0); now < time.Second; now += 3 * time.Microsecond {
			if now == 300*time.Millisecond {
				now += 5 * time.Millisecond // the thread did not run for 5 ms
				n := min(p.due(now), 64)
				p.sent(n)
				sent += n
				afterStall = n
				continue
			}
			n := min(p.due(now), 64)
			p.sent(n)
			sent += n
		}
		burst := uint64(maxBurst.Seconds()*rate) + 1
		want := uint64(rate)
		if sent > want+burst || sent+burst+uint64(0.005*rate) < want {
			t.Errorf("rate %.0f: sent %d in a second, want %d (±%d, minus the 5 ms stall)", rate, sent, want, burst)
		}
		if afterStall > burst {
			t.Errorf("rate %.0f: %d frames at once after a stall, want at most %d", rate, afterStall, burst)
		}
	}
	if p := newPacer(0); p.interval != 0 {
		t.Error("an unpaced send has an interval")
	}
}
