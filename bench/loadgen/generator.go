package loadgen

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"
)

// Method is how frames are put on the wire.
type Method string

// Generator methods.
const (
	// Auto probes live frames with a one-frame run and uses them when the
	// kernel allows them, the AF_XDP generator otherwise.
	Auto Method = "auto"
	// LiveFrames runs the XDP program bench/internal/benchbpf/gen.c with
	// BPF_PROG_RUN and BPF_F_TEST_XDP_LIVE_FRAMES (Linux ≥ 5.18, and a
	// kernel that does not refuse the mode: some answer EPERM).
	LiveFrames Method = "livefr"
	// AFXDP writes the frames into the UMEM of AF_XDP sockets bound to the
	// generator's devices (copy mode on veth) and transmits them in batches:
	// it works wherever AF_XDP works.
	AFXDP Method = "afxdp"
)

// MethodEnv overrides the method of a benchmark run (and of the tests that
// do not name one): auto, livefr or afxdp.
const MethodEnv = "TEREDO_BENCH_GENERATOR"

// ParseMethod checks a method name; "" is Auto.
func ParseMethod(s string) (Method, error) {
	switch m := Method(s); m {
	case "":
		return Auto, nil
	case Auto, LiveFrames, AFXDP:
		return m, nil
	}
	return "", fmt.Errorf("generator %q: want auto, livefr or afxdp", s)
}

// MethodFromEnv returns the method named by MethodEnv, Auto when it is unset.
func MethodFromEnv() (Method, error) {
	m, err := ParseMethod(os.Getenv(MethodEnv))
	if err != nil {
		return "", fmt.Errorf("%s: %w", MethodEnv, err)
	}
	return m, nil
}

// Describe says in a sentence how a method puts frames on the wire and what
// it cannot measure, for result files.
func (m Method) Describe() string {
	switch m {
	case LiveFrames:
		return "live frames (BPF_PROG_RUN with BPF_F_TEST_XDP_LIVE_FRAMES, one thread): an XDP program writes each frame " +
			"and its probe record and transmits it with XDP_TX/XDP_REDIRECT from page-pool pages; pacing and the send " +
			"timestamp (bpf_ktime_get_ns) are taken per frame in the program, so latency includes no generator queueing; " +
			"each BPF_PROG_RUN call ends with some 25 ms in which nothing is sent, so the offered rate is the achieved one; " +
			"the frames are xdp_frames, which a kernel-stack receiver (Miredo) accepts only through an XDP_PASS program"
	case AFXDP:
		return "AF_XDP TX (copy mode, one socket per generator device, one thread): Go writes each frame, its probe " +
			"record and, on probes, a CLOCK_MONOTONIC send timestamp into a UMEM frame, then queues batches on the TX " +
			"ring; the kernel builds an skb per frame in sendto (32 per call), so latency includes up to one batch of " +
			"transmit time spent in the generator's own sendto (the calibration's generator → sink latency shows it), " +
			"and pacing is per batch (a burst is at most one batch)"
	}
	return string(m)
}

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
	Method  Method
	First   uint64        // sequence number of the first frame sent
	Sent    uint64        // frames transmitted: sequence numbers First … First+Sent-1
	Probes  uint64        // of which carried a timestamp
	Elapsed time.Duration // wall time of the send
	Calls   int           // BPF_PROG_RUN calls (live frames) or TX batches (AF_XDP)
}

// Rate is the achieved offered rate in packets per second.
func (s Stats) Rate() float64 {
	if s.Elapsed <= 0 {
		return 0
	}
	return float64(s.Sent) / s.Elapsed.Seconds()
}

// Generator sends one Traffic. Its sequence numbers continue from one Send
// to the next, so the traffic's slots and peers keep cycling.
type Generator interface {
	// Traffic returns what the generator sends.
	Traffic() *Traffic
	// Send transmits frames until p's count or duration is reached or ctx
	// ends. It must run on an OS thread inside the namespace of the
	// generator's devices (see topo.Do); it keeps that thread busy for the
	// whole send.
	Send(ctx context.Context, p Pace) (Stats, error)
	// Close releases what the generator holds (not the Sender's sockets).
	Close() error
}

// DefaultProbeEvery is how often a packet carries a timestamp (a power of two).
const DefaultProbeEvery = 256

// Pacing parameters. A paced generator lets the schedule lag by at most
// maxBurst (then skips ahead instead of catching up with a burst).
const maxBurst = 100 * time.Microsecond

// pacer is the AF_XDP generator's schedule (gen.c paces live frames the
// same way): one frame every interval, the next one due at next (time since
// the send started); a schedule lagging by more than maxBurst skips ahead.
type pacer struct {
	interval, next time.Duration
}

func newPacer(rate float64) pacer {
	if rate <= 0 {
		return pacer{}
	}
	return pacer{interval: max(time.Duration(1e9/rate), 1)}
}

// due returns how many frames are due at elapsed: those scheduled at next,
// next+interval, … up to elapsed.
func (p *pacer) due(elapsed time.Duration) uint64 {
	p.next = max(p.next, elapsed-maxBurst)
	if elapsed < p.next {
		return 0
	}
	return uint64((elapsed-p.next)/p.interval) + 1
}

// sent moves the schedule past n frames sent.
func (p *pacer) sent(n uint64) { p.next += time.Duration(n) * p.interval }

// Live-frames call sizing. Each BPF_PROG_RUN call lasts about callTarget;
// between calls the kernel spends some 25 ms tearing down the live-frames
// context (measured here), during which nothing is sent, so the achieved
// rate (Stats.Rate) is what the benchmark reports as offered, never the
// target.
const (
	callTarget    = 200 * time.Millisecond
	minRepeat     = 1 << 12
	initialRepeat = 1 << 20
	maxRepeat     = 1 << 24
)

func checkProbeEvery(probeEvery uint64) (uint64, error) {
	if probeEvery == 0 {
		return DefaultProbeEvery, nil
	}
	if probeEvery&(probeEvery-1) != 0 {
		return 0, fmt.Errorf("probe interval %d is not a power of two", probeEvery)
	}
	return probeEvery, nil
}
