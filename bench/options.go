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
}

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
	return nil
}
