// Command benchrun runs the side-by-side benchmark (package bench): the
// relay under test, Miredo's relay and the bare AF_XDP forwarders in the same
// topology with the same generator (offered-load ladder, then the peer-count
// sweep), then writes bench/results/<date>-<host>.{json,md} and PNG plots and
// prints the summary with the ratios and the CPU per packet. Root and Linux
// ≥ 5.18 are required.
//
//	go run ./bench/cmd/benchrun                  # everything (`make bench`)
//	go run ./bench/cmd/benchrun -systems miredo,floor -modes decap -step 1s
//	go run ./bench/cmd/benchrun -generator afxdp  # the generator of kernels that refuse live frames
//	go run ./bench/cmd/benchrun -ladder=false -sweep 1k,1M  # the peer-count sweep only
//	go run ./bench/cmd/benchrun -report bench/results/<date>-<host>.json  # plots and summary again
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/teredorelay/teredorelay/bench"
	"github.com/teredorelay/teredorelay/bench/loadgen"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "benchrun:", err)
		os.Exit(1)
	}
}

func run() error {
	systems := flag.String("systems", strings.Join(bench.AllSystems, ","), "systems to run, comma-separated")
	modes := flag.String("modes", "decap,encap,mixed", "traffic modes, comma-separated")
	rates := flag.String("rates", "", "offered-load ladder in pps, comma-separated, 0 = as fast as possible (default 50k…1.6M, max)")
	step := flag.Duration("step", 2*time.Second, "duration of one offered-load step")
	clients := flag.Int("clients", 64, "emulated Teredo clients")
	size := flag.Int("ipv6-len", 0, "inner IPv6 packet size in bytes (default 100)")
	garbage := flag.Int("garbage", 5, "garbage flood multiple of legitimate traffic (0 skips)")
	micro := flag.Bool("micro", true, "run the Go micro-benchmarks of relay/, cache/, teredo/")
	out := flag.String("out", "", "results directory (default <module>/bench/results)")
	stem := flag.String("stem", "", "results file name stem (default <date>-<host>)")
	relayd := flag.String("relayd", "", "prebuilt teredo-relayd (default: build ./cmd/teredo-relayd)")
	quiet := flag.Bool("quiet", false, "no progress bar")
	verbose := flag.Bool("v", false, "print every step")
	pin := flag.Bool("pin", false, "pin the generator to CPU 0 and the system under test to CPU 1")
	diag := flag.String("diag", "", "diagnostics directory: teredo-relayd's counters per step, CPU profiles (Go, perf) of unpaced and garbage steps")
	report := flag.String("report", "", "do not run: load this results JSON and write its plots and Markdown summary again (next to it)")
	ladder := flag.Bool("ladder", true, "run the offered-load ladder (and the garbage step)")
	sweep := flag.String("sweep", "1k,64k,1M", "peer counts of the peer-count sweep, comma-separated (k = 1000, M = 1000000, 64k = 65536); \"none\" skips it")
	sweepStep := flag.Duration("sweep-step", 2*time.Second, "duration of one sweep step")
	sweepRate := flag.String("sweep-rate", "", "offered load of every sweep step (default: each system's best ladder step; unpaced without the ladder)")
	warmupCap := flag.Duration("warmup-cap", bench.DefaultWarmupCap, "bound of one sweep point's bubble warm-up")
	generator := flag.String("generator", "", "load generator: auto (live frames where the kernel permits them, else AF_XDP), livefr or afxdp (default $"+loadgen.MethodEnv+", else auto)")
	flag.Parse()
	var method loadgen.Method // empty: bench.Options takes the environment, then auto
	if *generator != "" {
		m, err := loadgen.ParseMethod(*generator)
		if err != nil {
			return err
		}
		method = m
	}

	opts := bench.Options{
		Systems: split(*systems), StepDuration: *step, Clients: *clients, IPv6Len: *size,
		GarbageRatio: *garbage, Micro: *micro, RelaydBinary: *relayd, DiagDir: *diag, Pin: *pin,
		Generator: method, NoLadder: !*ladder, SweepStep: *sweepStep, WarmupCap: *warmupCap,
	}
	if *sweepRate != "" {
		v, err := parseRate(*sweepRate)
		if err != nil {
			return err
		}
		opts.SweepRate = v
	}
	if *sweep == "none" {
		opts.NoSweep = true
	} else {
		for _, f := range split(*sweep) {
			n, err := parsePeers(f)
			if err != nil {
				return err
			}
			opts.SweepPeers = append(opts.SweepPeers, n)
		}
	}
	if opts.DiagDir != "" {
		if err := os.MkdirAll(opts.DiagDir, 0o755); err != nil {
			return err
		}
	}
	if *garbage == 0 {
		opts.GarbageRatio = -1
	}
	for _, m := range split(*modes) {
		opts.Modes = append(opts.Modes, bench.Mode(m))
	}
	for _, r := range split(*rates) {
		v, err := parseRate(r)
		if err != nil {
			return err
		}
		opts.Rates = append(opts.Rates, v)
	}
	switch {
	case *verbose:
		opts.Log = os.Stderr // one line per step instead of the bar
	case !*quiet:
		opts.Progress = os.Stderr
	}
	if *report != "" {
		return rewrite(*report)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	rep, err := bench.Run(ctx, opts)
	if rep == nil {
		return err
	}
	dir := *out
	if dir == "" {
		wd, _ := os.Getwd()
		dir = filepath.Join(findModule(wd), "bench", "results")
	}
	name := *stem
	if name == "" {
		name = rep.Date.Format("2006-01-02") + "-" + rep.Host
	}
	return joinErr(err, write(rep, dir, name))
}

// write plots and saves rep as dir/stem.* and prints its summary.
func write(rep *bench.Report, dir, stem string) error {
	rep.Files = nil
	_, err := rep.Plot(dir, stem, rep.Settings.Modes)
	_, serr := rep.Save(dir, stem, rep.Settings.Modes)
	err = joinErr(err, serr)
	rep.WriteSummary(os.Stdout, rep.Settings.Modes)
	fmt.Println()
	for _, f := range rep.Files {
		fmt.Println("wrote", f)
	}
	return err
}

// rewrite loads a results file and writes its plots and summary again.
func rewrite(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var rep bench.Report
	if err := json.Unmarshal(b, &rep); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if len(rep.Settings.Modes) == 0 { // results files from before the field
		rep.Settings.Modes = []bench.Mode{bench.ModeDecap, bench.ModeEncap, bench.ModeMixed}
	}
	return write(&rep, filepath.Dir(path), strings.TrimSuffix(filepath.Base(path), ".json"))
}

func split(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// parseRate reads "50000", "50k", "1.6M" or "0"/"max".
func parseRate(s string) (float64, error) {
	if s == "max" {
		return 0, nil
	}
	mult := 1.0
	switch {
	case strings.HasSuffix(s, "k"):
		mult, s = 1e3, strings.TrimSuffix(s, "k")
	case strings.HasSuffix(s, "M"):
		mult, s = 1e6, strings.TrimSuffix(s, "M")
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("bad rate %q", s)
	}
	return v * mult, nil
}

// parsePeers reads a peer count: "1000", "1k", "64k" (65536: the usual
// power of two), "1M" (1000000).
func parsePeers(s string) (int, error) {
	switch s {
	case "64k":
		return 65536, nil
	}
	v, err := parseRate(s)
	if err != nil || v < 1 || v != float64(int(v)) {
		return 0, fmt.Errorf("bad peer count %q", s)
	}
	return int(v), nil
}

func findModule(dir string) string {
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d
		}
		if filepath.Dir(d) == d {
			return dir
		}
	}
}

func joinErr(a, b error) error {
	switch {
	case a == nil:
		return b
	case b == nil:
		return a
	}
	return fmt.Errorf("%w; %w", a, b)
}
