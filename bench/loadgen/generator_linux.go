//go:build linux

package loadgen

import (
	"context"
	"fmt"
	"time"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/teredorelay/teredorelay/bench/internal/benchbpf"
)

// xdpMd is the BPF_PROG_RUN context of an XDP program (struct xdp_md).
type xdpMd struct {
	Data, DataEnd, DataMeta, IngressIfindex, RxQueueIndex, EgressIfindex uint32
}

// Generator sends one Traffic out of one interface.
type Generator struct {
	prog    *benchbpf.Gen
	traffic Traffic
	ifindex int
	opts    ebpf.RunOptions
	md      xdpMd
	cfg     benchbpf.GenConfig // per-traffic part; Send adds the bounds and pacing
}

// New loads the generator program for t, to be sent out of ifindex, and out
// of redirectIfindex for slots marked for redirection (both in the network
// namespace of the thread that later calls Send; the redirect target needs a
// native XDP program on its peer too). probeEvery is a power of two (0
// means DefaultProbeEvery).
func New(t Traffic, ifindex, redirectIfindex int, probeEvery uint64) (*Generator, error) {
	if err := t.check(); err != nil {
		return nil, fmt.Errorf("new generator: %w", err)
	}
	if probeEvery == 0 {
		probeEvery = DefaultProbeEvery
	}
	if probeEvery&(probeEvery-1) != 0 {
		return nil, fmt.Errorf("new generator: probe interval %d is not a power of two", probeEvery)
	}
	p, err := benchbpf.LoadGen()
	if err != nil {
		return nil, fmt.Errorf("new generator: %w", err)
	}
	g := &Generator{prog: p, traffic: t, ifindex: ifindex}
	keys := make([]uint32, len(t.Slots))
	for i := range keys {
		keys[i] = uint32(i)
	}
	if _, err := p.Slots.BatchUpdate(keys, t.Slots, nil); err != nil {
		// Older kernels lack batch ops on arrays; fall back to single updates.
		for i := range t.Slots {
			if err := p.Slots.Put(uint32(i), &t.Slots[i]); err != nil {
				p.Close()
				return nil, fmt.Errorf("new generator: write slot %d: %w", i, err)
			}
		}
	}
	if t.Redirect() && redirectIfindex <= 0 {
		p.Close()
		return nil, fmt.Errorf("new generator: %s traffic needs a redirect device", t.Name)
	}
	g.cfg = benchbpf.GenConfig{Nslots: uint32(len(t.Slots)), RedirectIfindex: uint32(redirectIfindex), ProbeMask: probeEvery - 1}
	g.md = xdpMd{DataEnd: uint32(len(t.Frame)), IngressIfindex: uint32(ifindex)}
	g.opts = ebpf.RunOptions{
		Data:      t.Frame,
		BatchSize: 64,
		Flags:     unix.BPF_F_TEST_XDP_LIVE_FRAMES,
		Context:   &g.md,
	}
	return g, nil
}

// Traffic returns what the generator sends.
func (g *Generator) Traffic() *Traffic { return &g.traffic }

// Close releases the program.
func (g *Generator) Close() error { return g.prog.Close() }

// Send transmits frames until p's count or duration is reached or ctx ends.
// It must run on an OS thread inside the namespace of the generator's
// interface (see topo.Do); it blocks that thread for the whole send.
func (g *Generator) Send(ctx context.Context, p Pace) (Stats, error) {
	if err := p.check(); err != nil {
		return Stats{}, err
	}
	before, err := g.state()
	if err != nil {
		return Stats{}, err
	}
	cfg := g.cfg
	if p.Count > 0 {
		cfg.MaxSeq = before.Seq + p.Count
	}
	if p.Rate > 0 {
		cfg.IntervalPs = uint64(1e12 / p.Rate)
		cfg.BurstPs = uint64(maxBurst.Nanoseconds()) * 1000
	}
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return Stats{}, fmt.Errorf("generator: clock: %w", err)
	}
	if p.Duration > 0 {
		cfg.StopNs = uint64(ts.Nano() + p.Duration.Nanoseconds())
	}
	// Restart the pacing schedule now.
	before.NextPs = uint64(ts.Nano()) * 1000
	if err := g.prog.State.Put(uint32(0), &before); err != nil {
		return Stats{}, fmt.Errorf("generator: reset schedule: %w", err)
	}
	if err := g.prog.Config.Put(uint32(0), &cfg); err != nil {
		return Stats{}, fmt.Errorf("generator: write config: %w", err)
	}
	start := time.Now()
	deadline := time.Time{}
	if p.Duration > 0 {
		deadline = start.Add(p.Duration)
	}
	var st Stats
	repeat := uint64(initialRepeat)
	last := before
	for ctx.Err() == nil {
		if !deadline.IsZero() && !time.Now().Before(deadline) {
			break
		}
		g.opts.Repeat = uint32(repeat)
		t0 := time.Now()
		if _, err := g.prog.Prog.Run(&g.opts); err != nil {
			return st, fmt.Errorf("generator: BPF_PROG_RUN live frames on ifindex %d: %w", g.ifindex, err)
		}
		took := time.Since(t0)
		st.Calls++
		cur, err := g.state()
		if err != nil {
			return st, err
		}
		if p.Count > 0 && cur.Seq >= cfg.MaxSeq {
			last = cur
			break
		}
		last = cur
		// Size the next call to last about callTarget.
		if took > 0 {
			repeat = uint64(float64(repeat) * float64(callTarget) / float64(took))
		}
		repeat = min(max(repeat, minRepeat), maxRepeat)
	}
	st.Elapsed = time.Since(start)
	st.Sent = last.Seq - before.Seq
	st.Probes = last.Probes - before.Probes
	return st, nil
}

func (g *Generator) state() (benchbpf.GenState, error) {
	var s benchbpf.GenState
	if err := g.prog.State.Lookup(uint32(0), &s); err != nil {
		return s, fmt.Errorf("generator: read state: %w", err)
	}
	return s, nil
}
