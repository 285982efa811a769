package bench

import (
	"fmt"
	"io"
	"time"

	"github.com/teredorelay/teredorelay/bench/loadgen"
)

// Mode is a traffic direction mix.
type Mode string

// Traffic modes.
const (
	ModeDecap Mode = "decap" // Teredo clients → native hosts
	ModeEncap Mode = "encap" // native hosts → Teredo clients
	ModeMixed Mode = "mixed" // both, interleaved one for one
)

// System names.
const (
	SysRelayd = "teredo-relayd"
	SysMiredo = "miredo"
	SysFloor  = "floor"  // bare forwarder on xsk
	SysAsavie = "asavie" // bare forwarder on asavie/xdp
)

// AllSystems is the default system list, in run order.
var AllSystems = []string{SysRelayd, SysMiredo, SysFloor, SysAsavie}

// DefaultRates is the offered-load ladder in packets per second; 0 means as
// fast as the generator goes (about 3–4 Mpps here).
var DefaultRates = []float64{50e3, 100e3, 200e3, 400e3, 800e3, 1.6e6, 0}

// Options configure Run. The zero value runs the full benchmark.
type Options struct {
	Systems []string // default AllSystems
	Modes   []Mode   // default decap, encap, mixed
	Rates   []float64
	// StepDuration is the length of one offered-load step (default 2 s).
	StepDuration time.Duration
	// Clients is the number of emulated Teredo clients (default 64).
	Clients int
	// IPv6Len is the inner IPv6 packet size (default 100 bytes).
	IPv6Len int
	// GarbageRatio is the garbage flood's multiple of legitimate traffic
	// (default 5; negative skips the garbage step).
	GarbageRatio int
	// SaturatedSteps: after this many consecutive steps delivering less than
	// half the offered load, the ladder jumps to its unpaced step (default 2).
	SaturatedSteps int
	// Micro runs the Go micro-benchmarks in relay/, cache/, teredo/.
	Micro bool
	// ModuleDir is the repository root (default: found from the working directory).
	ModuleDir string
	// RelaydBinary is a prebuilt teredo-relayd; empty builds ./cmd/teredo-relayd.
	RelaydBinary string
	// Tag names the namespaces and interfaces (default "bn" + pid).
	Tag string
	// Progress shows a progress bar on this writer (nil: none).
	Progress io.Writer
	// Log receives one line per step (nil: none).
	Log io.Writer
	// DiagDir, when set, turns on diagnostics (bench/diag_linux.go):
	// teredo-relayd's internal counters that moved during each step are
	// logged and saved there, and during unpaced steps a Go CPU profile of
	// teredo-relayd and a system-wide `perf record -g` are written there.
	DiagDir string
	// Pin runs the generator thread on CPU 0 and the system under test (all
	// its threads, with taskset) on CPU 1, so that on a small machine the
	// two do not take turns on one CPU (the kernel work of the system's
	// own packets still runs where the kernel puts it).
	Pin bool
	// RequireAll makes a system that cannot run (missing binary) an error
	// instead of a skipped entry.
	RequireAll bool
	// Generator is the load generator's method: loadgen.Auto (live frames
	// where the kernel permits them, AF_XDP otherwise), loadgen.LiveFrames
	// or loadgen.AFXDP. Empty takes loadgen.MethodEnv, then Auto.
	Generator loadgen.Method
	// CalibrationDuration is the length of each calibration send (the
	// generator straight into sinks, no system; default 1 s).
	CalibrationDuration time.Duration

	// NoLadder skips the offered-load ladder and the garbage step.
	NoLadder bool
	// NoSweep skips the peer-count sweep.
	NoSweep bool
	// SweepPeers are the peer counts of the sweep (default DefaultSweepPeers).
	SweepPeers []int
	// SweepStep is the length of each sweep step (default 2 s).
	SweepStep time.Duration
	// SweepRate is the offered load of every sweep step; 0 offers each
	// system the load of its best ladder step in that direction (unpaced
	// when the ladder did not run).
	SweepRate float64
	// WarmupCap bounds the bubble warm-up of each sweep point (default
	// DefaultWarmupCap): a system that has not verified every peer by then
	// runs with what it reached (teredo-relayd: with accept_unknown_peers).
	WarmupCap time.Duration
}

// DefaultSweepPeers are the sweep's peer counts.
var DefaultSweepPeers = []int{1000, 65536, 1000000}

// DefaultWarmupCap bounds one sweep point's bubble warm-up.
const DefaultWarmupCap = 150 * time.Second

func (o *Options) defaults() error {
	if len(o.Systems) == 0 {
		o.Systems = AllSystems
	}
	var err error
	if o.Generator == "" {
		o.Generator, err = loadgen.MethodFromEnv()
	} else {
		o.Generator, err = loadgen.ParseMethod(string(o.Generator))
	}
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	for _, s := range o.Systems {
		switch s {
		case SysRelayd, SysMiredo, SysFloor, SysAsavie:
		default:
			return fmt.Errorf("bench: unknown system %q (known: %v)", s, AllSystems)
		}
	}
	if len(o.Modes) == 0 {
		o.Modes = []Mode{ModeDecap, ModeEncap, ModeMixed}
	}
	for _, m := range o.Modes {
		if m != ModeDecap && m != ModeEncap && m != ModeMixed {
			return fmt.Errorf("bench: unknown mode %q", m)
		}
	}
	if len(o.Rates) == 0 {
		o.Rates = DefaultRates
	}
	if o.StepDuration == 0 {
		o.StepDuration = 2 * time.Second
	}
	if o.Clients == 0 {
		o.Clients = 64
	}
	if o.GarbageRatio == 0 {
		o.GarbageRatio = 5
	}
	if o.SaturatedSteps == 0 {
		o.SaturatedSteps = 2
	}
	if o.CalibrationDuration == 0 {
		o.CalibrationDuration = time.Second
	}
	if len(o.SweepPeers) == 0 {
		o.SweepPeers = DefaultSweepPeers
	}
	for _, n := range o.SweepPeers {
		if n < 1 || n > loadgen.MaxPeers {
			return fmt.Errorf("bench: sweep over %d peers (want 1 to %d)", n, loadgen.MaxPeers)
		}
	}
	if o.SweepStep == 0 {
		o.SweepStep = 2 * time.Second
	}
	if o.WarmupCap == 0 {
		o.WarmupCap = DefaultWarmupCap
	}
	if o.NoLadder && o.NoSweep {
		return fmt.Errorf("bench: neither the ladder nor the sweep is to run")
	}
	return nil
}
