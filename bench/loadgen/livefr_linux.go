//go:build linux

package loadgen

import (
	"context"
	"fmt"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"golang.org/x/sys/unix"

	"github.com/teredorelay/teredorelay/bench/internal/benchbpf"
)

// xdpMd is the BPF_PROG_RUN context of an XDP program (struct xdp_md).
type xdpMd struct {
	Data, DataEnd, DataMeta, IngressIfindex, RxQueueIndex, EgressIfindex uint32
}

// probeEtherType marks the probe's frame: IEEE 802 "local experimental"
// 1, which no receiver on the path handles (sinks and relays pass it to the
// kernel, which drops it).
const probeEtherType = 0x88b5

// ProbeLiveFrames transmits one frame with BPF_PROG_RUN in live-frames mode
// out of ifindex (in the calling thread's network namespace) and returns the
// kernel's answer: nil where live frames are permitted. The frame carries an
// experimental EtherType, so whoever receives it drops it.
func ProbeLiveFrames(ifindex int) error {
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{Type: ebpf.XDP, License: "GPL",
		Instructions: asm.Instructions{asm.Mov.Imm(asm.R0, 3 /* XDP_TX */), asm.Return()}})
	if err != nil {
		return fmt.Errorf("probe live frames: load XDP_TX program: %w", err)
	}
	defer prog.Close()
	frame := make([]byte, 64)
	copy(frame[0:6], []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	copy(frame[6:12], []byte{0x02, 0, 0, 0, 0, 0x01})
	frame[12], frame[13] = probeEtherType>>8, probeEtherType&0xff
	md := xdpMd{DataEnd: uint32(len(frame)), IngressIfindex: uint32(ifindex)}
	_, err = prog.Run(&ebpf.RunOptions{Data: frame, Repeat: 1, Flags: unix.BPF_F_TEST_XDP_LIVE_FRAMES, Context: &md})
	if err != nil {
		return fmt.Errorf("probe live frames: one-frame BPF_PROG_RUN on ifindex %d: %w", ifindex, err)
	}
	return nil
}

// liveGen sends one Traffic with the live-frames generator program.
type liveGen struct {
	prog    *benchbpf.Gen
	traffic Traffic
	ifindex int
	opts    ebpf.RunOptions
	md      xdpMd
	cfg     benchbpf.GenConfig // per-traffic part; Send adds the bounds and pacing
}

// newLiveGen loads the generator program for t, to be sent out of ifindex,
// and out of redirectIfindex for slots marked for redirection (both in the
// network namespace of the thread that later calls Send; the redirect
// target needs a native XDP program on its peer too).
func newLiveGen(t Traffic, ifindex, redirectIfindex int, probeEvery uint64) (*liveGen, error) {
	p, err := benchbpf.LoadGen()
	if err != nil {
		return nil, err
	}
	g := &liveGen{prog: p, traffic: t, ifindex: ifindex}
	keys := make([]uint32, len(t.Slots))
	for i := range keys {
		keys[i] = uint32(i)
	}
	if _, err := p.Slots.BatchUpdate(keys, t.Slots, nil); err != nil {
		// Older kernels lack batch ops on arrays; fall back to single updates.
		for i := range t.Slots {
			if err := p.Slots.Put(uint32(i), &t.Slots[i]); err != nil {
				p.Close()
				return nil, fmt.Errorf("write slot %d: %w", i, err)
			}
		}
	}
	g.cfg = benchbpf.GenConfig{Nslots: uint32(len(t.Slots)), RedirectIfindex: uint32(redirectIfindex),
		Npeers: uint32(t.Peers), Nhosts: uint32(t.Hosts), ProbeMask: probeEvery - 1}
	g.md = xdpMd{DataEnd: uint32(len(t.Frame)), IngressIfindex: uint32(ifindex)}
	g.opts = ebpf.RunOptions{
		Data:      t.Frame,
		BatchSize: 64,
		Flags:     unix.BPF_F_TEST_XDP_LIVE_FRAMES,
		Context:   &g.md,
	}
	return g, nil
}

func (g *liveGen) Traffic() *Traffic { return &g.traffic }

func (g *liveGen) Close() error { return g.prog.Close() }

func (g *liveGen) Send(ctx context.Context, p Pace) (Stats, error) {
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
	st := Stats{Method: LiveFrames, First: before.Seq}
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
		last = cur
		if p.Count > 0 && cur.Seq >= cfg.MaxSeq {
			break
		}
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

func (g *liveGen) state() (benchbpf.GenState, error) {
	var s benchbpf.GenState
	if err := g.prog.State.Lookup(uint32(0), &s); err != nil {
		return s, fmt.Errorf("generator: read state: %w", err)
	}
	return s, nil
}
