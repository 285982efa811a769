//go:build linux

package bench

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"
	"github.com/schollz/progressbar/v3"
	"golang.org/x/sys/unix"

	"github.com/teredorelay/teredorelay/bench/handshake"
	"github.com/teredorelay/teredorelay/bench/loadgen"
	"github.com/teredorelay/teredorelay/bench/sink"
	"github.com/teredorelay/teredorelay/bench/topo"
)

// probeEvery: one packet in probeEvery carries a send timestamp.
const probeEvery = 256

// drainTime is how long after a step the sinks are read again, so that
// packets still queued in the system count as delivered.
const drainTime = 200 * time.Millisecond

// env is the state of one run.
type env struct {
	opts      *Options
	topo      *topo.Topology
	dir       string // work directory: binaries, configs, logs
	moduleDir string
	goTool    string
	bins      map[string]string

	ep      loadgen.Endpoints
	clients []loadgen.Client
	sinkV4  *sink.Sink // on g0: encap output
	sinkV6  *sink.Sink // on g1: decap output
	resp    *handshake.Responder
	sender  *loadgen.Sender
	gens    map[string]loadgen.Generator
	bar     *progressbar.ProgressBar

	// softirqPerSent is the calibration's softirq time per frame sent, by
	// traffic (calibration keys: the mode names, calSweepDecap, calSweepEncap).
	softirqPerSent map[string]float64
	// relayd is how teredo-relayd is configured at its next start.
	relayd relaydSettings
	// sweepRates is the offered load of each system's sweep steps, by
	// direction (0: unpaced).
	sweepRates map[string]map[Mode]float64
}

// Run runs the benchmark and returns its report (not yet saved or plotted).
// It needs root and Linux ≥ 5.18.
func Run(ctx context.Context, opts Options) (rep *Report, err error) {
	if err := opts.defaults(); err != nil {
		return nil, err
	}
	start := time.Now()
	e := &env{opts: &opts, bins: map[string]string{}, gens: map[string]loadgen.Generator{}, softirqPerSent: map[string]float64{}}
	if e.moduleDir, err = moduleDir(opts.ModuleDir); err != nil {
		return nil, err
	}
	if e.goTool, err = exec.LookPath("go"); err != nil {
		e.goTool = "/usr/local/go/bin/go" // where the Makefile and .ci/run expect it
	}
	if e.dir, err = os.MkdirTemp("", "teredo-bench-"); err != nil {
		return nil, fmt.Errorf("work directory: %w", err)
	}
	defer os.RemoveAll(e.dir)

	rep = &Report{Methodology: Methodology, Date: start, Machine: describeMachine()}
	rep.Host, _ = os.Hostname()
	rep.Settings = Settings{Modes: opts.Modes, StepDuration: Duration(opts.StepDuration), Clients: opts.Clients, IPv6Len: ipv6Len(opts.IPv6Len),
		Rates: opts.Rates, GarbageRatio: max(opts.GarbageRatio, 0), ProbeEvery: probeEvery}
	if opts.NoLadder {
		rep.Settings.Rates, rep.Settings.Clients = nil, 0
	}

	// Binaries first (building takes a while; no namespaces exist yet).
	var systems []*system
	for _, name := range opts.Systems {
		s := systemByName(name)
		res := &SystemResult{Name: name}
		rep.Systems = append(rep.Systems, res)
		skip, err := s.prepare(ctx, e)
		switch {
		case err != nil:
			return rep, fmt.Errorf("%s: %w", name, err)
		case skip != "" && opts.RequireAll:
			return rep, fmt.Errorf("%s: %s", name, skip)
		case skip != "":
			res.Skipped = skip
			e.logf("%s: skipped: %s", name, skip)
			systems = append(systems, nil)
			continue
		}
		systems = append(systems, s)
	}

	tag := opts.Tag
	if tag == "" {
		tag = fmt.Sprintf("bn%d", os.Getpid()%100000)
	}
	if e.topo, err = topo.Up(tag); err != nil {
		return rep, err
	}
	defer func() { err = errors.Join(err, e.topo.Down()) }()
	if err := e.setup(); err != nil {
		return rep, err
	}
	defer e.teardown()
	rep.Generator = GeneratorInfo{Requested: opts.Generator, Method: e.sender.Method(), Description: e.sender.Method().Describe()}
	if err := e.sender.LiveFramesRefused(); err != nil {
		rep.Generator.LiveFramesRefused = err.Error()
	}
	e.logf("generator: %s (requested %s)", rep.Generator.Method, opts.Generator)
	if rep.Generator.Calibration, err = e.calibrate(ctx); err != nil {
		return rep, err
	}

	if opts.Progress != nil {
		total := 0
		for _, s := range systems {
			if s == nil {
				continue
			}
			if !opts.NoLadder {
				total += len(opts.Modes) * len(opts.Rates)
				if s.teredo && opts.GarbageRatio > 0 {
					total++
				}
			}
			if !opts.NoSweep && s.sweep {
				total += len(opts.SweepPeers)
			}
		}
		e.bar = progressbar.NewOptions(total, progressbar.OptionSetWriter(opts.Progress), progressbar.OptionSetWidth(30),
			progressbar.OptionShowCount(), progressbar.OptionSetPredictTime(true), progressbar.OptionClearOnFinish(),
			progressbar.OptionSetDescription("bench"))
	}
	for i, s := range systems {
		if s == nil || opts.NoLadder {
			continue
		}
		if err := e.runSystem(ctx, s, rep.Systems[i]); err != nil {
			rep.Systems[i].Error = err.Error()
			e.logf("%s: %v", s.name, err)
			if ctx.Err() != nil {
				return rep, err
			}
		}
	}
	if !opts.NoSweep {
		rep.Sweep, err = e.sweep(ctx, systems, rep.Systems)
		if err != nil {
			return rep, err
		}
	}
	if e.bar != nil {
		e.bar.Finish()
	}
	if opts.Micro {
		e.logf("micro-benchmarks: %s", strings.Join(MicroPackages, " "))
		rep.Micro = runMicro(ctx, e.moduleDir, e.goTool)
	}
	rep.computeRatios(opts.Modes)
	rep.Elapsed = Duration(time.Since(start))
	return rep, nil
}

func ipv6Len(n int) int {
	if n == 0 {
		return loadgen.DefaultIPv6Len
	}
	return n
}

func (e *env) logf(format string, args ...any) {
	if e.opts.Log == nil {
		return
	}
	if e.bar != nil {
		e.bar.Clear()
	}
	fmt.Fprintf(e.opts.Log, format+"\n", args...)
}

// setup attaches the sinks, opens the handshake responder, chooses the
// generator method and loads the generators.
func (e *env) setup() error {
	t := e.topo
	e.ep = loadgen.Endpoints{
		Relay: netip.AddrPortFrom(topo.RelayIPv4, 3544), Server: topo.ServerIPv4,
		GenMAC: t.Gen.MAC, RelayV4MAC: t.RelayV4.MAC, RelayV6MAC: t.RelayV6.MAC, NativeMAC: t.Native.MAC,
	}
	e.clients = loadgen.Clients(e.opts.Clients, topo.ServerIPv4)
	err := topo.Do(t.GenNS, func() error {
		var err error
		if e.sinkV4, err = sink.Attach(t.Gen.Index); err != nil {
			return err
		}
		if e.sinkV6, err = sink.Attach(t.Native.Index); err != nil {
			return err
		}
		if e.resp, err = handshake.Open(topo.ServerIPv4); err != nil {
			return err
		}
		e.sender, err = loadgen.Open(e.opts.Generator, loadgen.Devices{TX: t.Gen.Index, Redirect: t.Native.Index})
		return err
	})
	if err != nil {
		return err
	}
	go e.resp.Run(context.Background())
	l := ipv6Len(e.opts.IPv6Len)
	for _, build := range []struct {
		name string
		fn   func() (loadgen.Traffic, error)
	}{
		{string(ModeDecap), func() (loadgen.Traffic, error) { return loadgen.Decap(e.ep, e.clients, l) }},
		{string(ModeEncap), func() (loadgen.Traffic, error) { return loadgen.Encap(e.ep, e.clients, l) }},
		{string(ModeMixed), func() (loadgen.Traffic, error) { return loadgen.Mixed(e.ep, e.clients, l) }},
	} {
		tr, err := build.fn()
		if err != nil {
			return err
		}
		g, err := e.sender.New(tr, probeEvery)
		if err != nil {
			return err
		}
		e.gens[build.name] = g
	}
	if e.opts.GarbageRatio > 0 {
		tr, err := loadgen.Garbage(e.ep, e.clients, l, e.opts.GarbageRatio)
		if err != nil {
			return err
		}
		if e.gens["garbage"], err = e.sender.New(tr, probeEvery); err != nil {
			return err
		}
	}
	return nil
}

func (e *env) teardown() {
	for _, g := range e.gens {
		g.Close()
	}
	if e.sender != nil {
		e.sender.Close()
	}
	if e.resp != nil {
		e.resp.Close()
	}
	if e.sinkV4 != nil {
		e.sinkV4.Close()
	}
	if e.sinkV6 != nil {
		e.sinkV6.Close()
	}
}

// read returns both sinks' counters.
func (e *env) read() (v4, v6 sink.Counts, err error) {
	if v4, err = e.sinkV4.Read(); err != nil {
		return
	}
	v6, err = e.sinkV6.Read()
	return
}

// passNote is the result note of a kernel-stack system run with live frames.
const passNote = "native XDP_PASS program on both relay veths (live frames reach the kernel stack through it)"

// launch starts one system (with the XDP_PASS program a kernel-stack system
// needs under live frames) and returns it with a function that stops it
// and reports a failure to stop.
func (e *env) launch(ctx context.Context, s *system) (p *proc, cmdline string, notes []string, stop func() error, err error) {
	detach := func() {}
	if s.kernel && e.sender.Method() == loadgen.LiveFrames {
		if detach, err = e.attachPass(); err != nil {
			return nil, "", nil, nil, err
		}
		notes = append(notes, passNote)
	}
	e.logf("%s: starting", s.name)
	p, cmdline, err = s.start(ctx, e)
	if err != nil {
		detach()
		return nil, "", nil, nil, err
	}
	stop = func() error {
		defer detach()
		if serr := p.stop(10 * time.Second); serr != nil {
			return fmt.Errorf("stop %s: %w\nlog:\n%s", s.name, serr, p.tail(2000))
		}
		return nil
	}
	return p, cmdline, notes, stop, nil
}

// runSystem starts one system, runs its ladder steps and stops it.
func (e *env) runSystem(ctx context.Context, s *system, res *SystemResult) (err error) {
	e.relayd = relaydSettings{}
	p, cmdline, notes, stop, err := e.launch(ctx, s)
	if err != nil {
		return err
	}
	res.Command = cmdline
	res.Notes = append(res.Notes, notes...)
	defer func() {
		if serr := stop(); serr != nil && err == nil {
			err = serr
		}
	}()
	maxDecap := 0.0
	for _, m := range e.opts.Modes {
		saturated := 0
		for i, rate := range e.opts.Rates {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if saturated >= e.opts.SaturatedSteps && rate != 0 {
				e.progress(1)
				continue
			}
			if p.exited() {
				return fmt.Errorf("%s exited during the run: %v\nlog:\n%s", s.name, p.err, p.tail(3000))
			}
			w, err := e.warmup(ctx, m)
			if err != nil {
				return err
			}
			res.Warmup = append(res.Warmup, w)
			diag := e.diagStart(ctx, p, s.name, fmt.Sprintf("%s-%d-%s", m, i+1, targetStr(rate)), rate == 0)
			st, err := e.step(ctx, p, e.gens[string(m)], m, rate, string(m))
			if err != nil {
				return err
			}
			res.Steps = append(res.Steps, st)
			e.logf("%-14s %-5s step %d: target %8s offered %8s delivered %8s loss %5.1f%% p50 %s p99 %s cpu %3.0f%%",
				s.name, m, i+1, targetStr(rate), kpps(st.OfferedPPS), kpps(st.DeliveredPPS), st.Loss*100, micros(st.P50Micros), micros(st.P99Micros), st.SystemCPU)
			diag.finish(ctx)
			e.progress(1)
			if st.DeliveredPPS < 0.5*st.OfferedPPS {
				saturated++
			} else {
				saturated = 0
			}
			if m == ModeDecap {
				maxDecap = max(maxDecap, st.DeliveredPPS)
			}
		}
	}
	if s.teredo && e.opts.GarbageRatio > 0 {
		if maxDecap == 0 {
			for _, m := range e.opts.Modes {
				v, _ := res.MaxDelivered(m)
				maxDecap = max(maxDecap, v)
			}
		}
		diag := e.diagStart(ctx, p, s.name, "garbage", true)
		g, err := e.garbageStep(ctx, p, maxDecap)
		if err != nil {
			return err
		}
		diag.finish(ctx)
		res.Garbage = g
		e.progress(1)
	}
	return nil
}

func targetStr(rate float64) string {
	if rate == 0 {
		return "max"
	}
	return kpps(rate)
}

func (e *env) progress(n int) {
	if e.bar != nil {
		e.bar.Add(n)
	}
}

// attachPass attaches a native XDP_PASS program to both relay veths.
func (e *env) attachPass() (func(), error) {
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{Type: ebpf.XDP, License: "GPL",
		Instructions: asm.Instructions{asm.Mov.Imm(asm.R0, 2 /* XDP_PASS */), asm.Return()}})
	if err != nil {
		return nil, fmt.Errorf("load XDP_PASS program: %w", err)
	}
	var links []link.Link
	err = topo.Do(e.topo.RelayNS, func() error {
		for _, s := range []topo.Side{e.topo.RelayV4, e.topo.RelayV6} {
			l, err := link.AttachXDP(link.XDPOptions{Program: prog, Interface: s.Index, Flags: link.XDPDriverMode})
			if err != nil {
				return fmt.Errorf("attach XDP_PASS to %s: %w", s.Name, err)
			}
			links = append(links, l)
		}
		return nil
	})
	detach := func() {
		for _, l := range links {
			l.Close()
		}
		prog.Close()
	}
	if err != nil {
		detach()
		return nil, err
	}
	return detach, nil
}

// warmup sends one encap packet to every client and waits until they all
// came out on the Teredo side: a relay holds them until the client's bubble
// exchange completes (the responder answers the indirect bubbles), so
// afterwards every client is a trusted peer (RFC 4380 §5.4.1). It repeats the
// packets a few times if the relay rate-limits its bubbles.
func (e *env) warmup(ctx context.Context, m Mode) (Warmup, error) {
	start := time.Now()
	n := len(e.clients)
	before, err := e.sinkV4.Read()
	if err != nil {
		return Warmup{}, err
	}
	rb := e.resp.Stats().Bubbles
	w := Warmup{Mode: m, Clients: n}
	g := e.gens[string(ModeEncap)]
	for attempt := 0; attempt < 4; attempt++ {
		if err := e.send(ctx, g, loadgen.Pace{Count: uint64(n)}); err != nil {
			return w, err
		}
		err := waitFor(ctx, time.Second, func() (bool, error) {
			now, err := e.sinkV4.Read()
			if err != nil {
				return false, err
			}
			w.Reached = int(min(uint64(n), now.Pkts[loadgen.KindEncap]-before.Pkts[loadgen.KindEncap]))
			return w.Reached >= n, nil
		})
		if err == nil || ctx.Err() != nil {
			break
		}
	}
	w.Bubbles = e.resp.Stats().Bubbles - rb
	w.TookMilli = float64(time.Since(start).Microseconds()) / 1000
	return w, ctx.Err()
}

// send runs g on a thread in the generator namespace.
func (e *env) send(ctx context.Context, g loadgen.Generator, p loadgen.Pace) error {
	_, err := e.sendStats(ctx, g, p)
	return err
}

func (e *env) sendStats(ctx context.Context, g loadgen.Generator, p loadgen.Pace) (loadgen.Stats, error) {
	var st loadgen.Stats
	err := topo.Do(e.topo.GenNS, func() error {
		if e.opts.Pin {
			restore, err := pinThread(genCPU)
			if err != nil {
				return err
			}
			defer restore()
		}
		var err error
		st, err = g.Send(ctx, p)
		return err
	})
	return st, err
}

// CPUs of Options.Pin: the generator thread and the system under test.
const (
	genCPU    = 0
	systemCPU = 1
)

// pinThread pins the calling (locked) thread to cpu and returns a function
// that restores its previous affinity.
func pinThread(cpu int) (func(), error) {
	var old, set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &old); err != nil {
		return nil, fmt.Errorf("pin generator: %w", err)
	}
	set.Set(cpu)
	if err := unix.SchedSetaffinity(0, &set); err != nil {
		return nil, fmt.Errorf("pin generator to CPU %d: %w", cpu, err)
	}
	return func() { _ = unix.SchedSetaffinity(0, &old) }, nil
}

// pinArgv prefixes argv with taskset(1) pinning the system under test to
// systemCPU when Options.Pin is set.
func (e *env) pinArgv(argv []string) []string {
	if !e.opts.Pin {
		return argv
	}
	return append([]string{"taskset", "-c", fmt.Sprint(systemCPU)}, argv...)
}

type sample struct {
	v4, v6 sink.Counts
	cpu    time.Duration // the system's process tree
	mach   cpuTimes
	at     time.Time
}

func (e *env) sample(p *proc) (sample, error) {
	var s sample
	var err error
	if s.v4, s.v6, err = e.read(); err != nil {
		return s, err
	}
	s.cpu = p.cpu()
	s.mach = readCPUTimes()
	s.at = time.Now()
	return s, nil
}

// step offers one load for the ladder's step duration and measures what
// comes out; calKey names the calibration whose softirq baseline applies.
func (e *env) step(ctx context.Context, p *proc, g loadgen.Generator, m Mode, rate float64, calKey string) (Step, error) {
	return e.stepFor(ctx, p, g, m, loadgen.Pace{Rate: rate, Duration: e.opts.StepDuration}, calKey)
}

// stepFor sends with pace and measures what comes out.
func (e *env) stepFor(ctx context.Context, p *proc, g loadgen.Generator, m Mode, pace loadgen.Pace, calKey string) (Step, error) {
	rate := pace.Rate
	a, err := e.sample(p)
	if err != nil {
		return Step{}, err
	}
	gs, err := e.sendStats(ctx, g, pace)
	if err != nil {
		return Step{}, err
	}
	time.Sleep(drainTime)
	b, err := e.sample(p)
	if err != nil {
		return Step{}, err
	}
	dv4, dv6 := b.v4.Sub(a.v4), b.v6.Sub(a.v6)
	tr := g.Traffic()
	st := Step{Mode: m, TargetPPS: rate, Sent: gs.Sent, Seconds: gs.Elapsed.Seconds()}
	st.DecapSent = tr.SentIn(loadgen.KindDecap, gs.First, gs.Sent)
	st.EncapSent = tr.SentIn(loadgen.KindEncap, gs.First, gs.Sent)
	st.DecapDelivered = dv6.Pkts[loadgen.KindDecap]
	st.EncapDelivered = dv4.Pkts[loadgen.KindEncap]
	st.Delivered = st.DecapDelivered + st.EncapDelivered
	st.OfferedPPS = float64(gs.Sent) / gs.Elapsed.Seconds()
	st.DeliveredPPS = float64(st.Delivered) / gs.Elapsed.Seconds()
	if gs.Sent > 0 {
		st.Loss = max(0, 1-float64(st.Delivered)/float64(gs.Sent))
	}
	var h sink.Histogram
	addHist(&h, &dv6.Latency[loadgen.KindDecap])
	addHist(&h, &dv4.Latency[loadgen.KindEncap])
	st.Probes = h.Total()
	st.P50Micros, st.P99Micros = nanToZero(h.Percentile(0.5)/1e3), nanToZero(h.Percentile(0.99)/1e3)
	st.Other = dv4.Other + dv6.Other
	e.cost(&st, a, b, gs.Sent, calKey)
	return st, nil
}

// cost fills the CPU figures of st from the samples around it: the
// system's process tree time (per wall second and per delivered packet),
// machine-wide busy and softirq shares, and the softirq time per delivered
// packet beyond what the calibration measured for the generator and a sink
// alone (softirqPerSent × frames sent).
func (e *env) cost(st *Step, a, b sample, sent uint64, calKey string) {
	wall := b.at.Sub(a.at).Seconds()
	proc := b.cpu - a.cpu
	st.SystemCPU = 100 * proc.Seconds() / wall
	if total := b.mach.total - a.mach.total; total > 0 {
		st.MachineCPU = 100 * float64(b.mach.busy-a.mach.busy) / float64(total)
		st.SoftirqCPU = 100 * float64(b.mach.softirq-a.mach.softirq) / float64(total)
	}
	if st.Delivered == 0 {
		return
	}
	st.ProcessNsPerPkt = float64(proc.Nanoseconds()) / float64(st.Delivered)
	soft := float64(ticks(b.mach.softirq-a.mach.softirq).Nanoseconds()) - e.softirqPerSent[calKey]*float64(sent)
	st.SoftirqNsPerPkt = max(0, soft) / float64(st.Delivered)
}

func addHist(dst, src *sink.Histogram) {
	for i := range dst {
		dst[i] += src[i]
	}
}

func nanToZero(v float64) float64 {
	if math.IsNaN(v) {
		return 0
	}
	return v
}

// garbageStep offers legitimate decap traffic at half the system's measured
// capacity mixed with GarbageRatio times as much garbage (capped so that the
// total stays within what the generator sends smoothly).
func (e *env) garbageStep(ctx context.Context, p *proc, capacity float64) (*GarbageResult, error) {
	ratio := e.opts.GarbageRatio
	legit := capacity / 2
	const maxTotal = 2.4e6
	if legit*float64(ratio+1) > maxTotal {
		legit = maxTotal / float64(ratio+1)
	}
	legit = max(legit, 1000)
	if _, err := e.warmup(ctx, ModeDecap); err != nil {
		return nil, err
	}
	g := e.gens["garbage"]
	a, err := e.sample(p)
	if err != nil {
		return nil, err
	}
	gs, err := e.sendStats(ctx, g, loadgen.Pace{Rate: legit * float64(ratio+1), Duration: e.opts.StepDuration})
	if err != nil {
		return nil, err
	}
	time.Sleep(drainTime)
	b, err := e.sample(p)
	if err != nil {
		return nil, err
	}
	dv4, dv6 := b.v4.Sub(a.v4), b.v6.Sub(a.v6)
	tr := g.Traffic()
	r := &GarbageResult{RatioOffered: ratio}
	r.LegitSent = tr.SentIn(loadgen.KindDecap, gs.First, gs.Sent)
	r.GarbageSent = gs.Sent - r.LegitSent
	r.LegitGot = dv6.Pkts[loadgen.KindDecap]
	r.LegitPPS = float64(r.LegitSent) / gs.Elapsed.Seconds()
	r.GarbagePPS = float64(r.GarbageSent) / gs.Elapsed.Seconds()
	if r.LegitSent > 0 {
		r.LegitLoss = max(0, 1-float64(r.LegitGot)/float64(r.LegitSent))
	}
	for _, k := range []loadgen.Kind{loadgen.KindSpoofed, loadgen.KindMalformed} {
		r.GarbageLeak += dv4.Pkts[k] + dv6.Pkts[k]
	}
	r.GarbageLeak += dv6.Other // malformed packets forwarded that the sink cannot parse
	h := dv6.Latency[loadgen.KindDecap]
	r.P99Micros = nanToZero(h.Percentile(0.99) / 1e3)
	r.SystemCPU = 100 * (b.cpu - a.cpu).Seconds() / b.at.Sub(a.at).Seconds()
	e.logf("garbage %d×: legit %s sent %d delivered %d (loss %.3f%%), garbage %s leaked %d",
		ratio, kpps(r.LegitPPS), r.LegitSent, r.LegitGot, r.LegitLoss*100, kpps(r.GarbagePPS), r.GarbageLeak)
	return r, nil
}

// moduleDir returns dir, or the nearest parent of the working directory
// holding this module's go.mod.
func moduleDir(dir string) (string, error) {
	if dir != "" {
		return filepath.Abs(dir)
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := wd; ; d = filepath.Dir(d) {
		b, err := os.ReadFile(filepath.Join(d, "go.mod"))
		if err == nil && strings.Contains(string(b), "module github.com/teredorelay/teredorelay\n") {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("bench: no go.mod of github.com/teredorelay/teredorelay above %s", wd)
		}
	}
}

func describeMachine() Machine {
	m := Machine{CPUs: runtime.NumCPU(), GoVersion: runtime.Version(),
		Link: "veth pairs between network namespaces, native XDP, AF_XDP copy mode (veth has no zero-copy)"}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int
		fmt.Sscanf(strings.TrimPrefix(strings.SplitN(string(b), "\n", 2)[0], "MemTotal:"), "%d", &kb)
		m.MemoryMiB = kb / 1024
	}
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		m.Kernel = unix.ByteSliceToString(u.Release[:])
	}
	return m
}
