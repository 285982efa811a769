package bench

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/teredorelay/teredorelay/bench/loadgen"
)

// Methodology says how this version of the benchmark measures, and what
// changed since the previous one, in every results file: change it when a
// change to the bench makes new results incomparable with older files.
const Methodology = "issue 9 (2026-12-07): the generator is chosen per run (live frames where the kernel permits them, " +
	"else AF_XDP TX; named in every file with the rate it reached into sinks); every step reports the system's CPU ns " +
	"per delivered packet (from its process tree's time to that plus the softirq beyond a calibrated generator " +
	"baseline) and machine-wide CPU; a " +
	"peer-count sweep (1 k, 64 k, 1 M peers, relays warmed up through the bubble exchange) follows the ladder; " +
	"generated frames carry correct inner UDP checksums and a 32-byte probe record naming the peer (the sinks count " +
	"distinct peers). Results up to 2026-11-28 were live frames only, without CPU per packet or the sweep."

// Report is everything one run measured.
type Report struct {
	// Methodology is the Methodology of the bench that wrote the report.
	Methodology string `json:"methodology,omitempty"`

	Date     time.Time `json:"date"`
	Host     string    `json:"host"`
	Machine  Machine   `json:"machine"`
	Settings Settings  `json:"settings"`
	// Generator is the load generator that produced every step.
	Generator GeneratorInfo   `json:"generator"`
	Systems   []*SystemResult `json:"systems"`
	// Sweep is the peer-count sweep (nil when it did not run).
	Sweep   *SweepResult `json:"sweep,omitempty"`
	Micro   *MicroResult `json:"micro,omitempty"`
	Ratios  []Ratio      `json:"ratios"`
	Goals   []Goal       `json:"goals"`
	Files   []string     `json:"files,omitempty"`
	Elapsed Duration     `json:"elapsed"`
}

// Machine describes where the run happened.
type Machine struct {
	CPUModel  string `json:"cpu_model"`
	CPUs      int    `json:"cpus"`
	MemoryMiB int    `json:"memory_mib"`
	Kernel    string `json:"kernel"`
	GoVersion string `json:"go_version"`
	Link      string `json:"link"`
}

// Settings are the options that shaped the numbers.
type Settings struct {
	Modes        []Mode    `json:"modes,omitempty"`
	StepDuration Duration  `json:"step_duration"`
	Clients      int       `json:"clients"`
	IPv6Len      int       `json:"ipv6_len"`
	Rates        []float64 `json:"rates_pps"`
	GarbageRatio int       `json:"garbage_ratio"`
	ProbeEvery   int       `json:"probe_every"`
}

// GeneratorInfo names the load generator of a run.
type GeneratorInfo struct {
	Requested loadgen.Method `json:"requested"` // auto, livefr or afxdp
	Method    loadgen.Method `json:"method"`    // what ran
	// LiveFramesRefused is the kernel's answer to the live-frames probe when
	// auto fell back to AF_XDP.
	LiveFramesRefused string `json:"live_frames_refused,omitempty"`
	Description       string `json:"description"`
	// Calibration: the generator straight into sinks on the relay veths,
	// no system in between: the rate it achieves and the machine's CPU per
	// frame, which the steps' softirq attribution subtracts.
	Calibration []Calibration `json:"calibration,omitempty"`
}

// Calibration is one unpaced send of a traffic into sinks on the relay
// veths (no system under test).
type Calibration struct {
	Traffic   string  `json:"traffic"`
	Seconds   float64 `json:"seconds"`
	Sent      uint64  `json:"sent"`
	Delivered uint64  `json:"delivered"`
	RatePPS   float64 `json:"rate_pps"` // achieved: sent per second
	P50Micros float64 `json:"p50_us"`   // one-way generator → sink latency
	P99Micros float64 `json:"p99_us"`
	// Machine-wide CPU time (both CPUs) and softirq time per frame sent.
	MachineNsPerSent float64 `json:"machine_ns_per_sent"`
	SoftirqNsPerSent float64 `json:"softirq_ns_per_sent"`
}

// Rate returns the calibration rate of a traffic, 0 when not calibrated.
func (g GeneratorInfo) Rate(traffic string) float64 {
	for _, c := range g.Calibration {
		if c.Traffic == traffic {
			return c.RatePPS
		}
	}
	return 0
}

// String is the one-line form used in summaries.
func (g GeneratorInfo) String() string {
	s := string(g.Method)
	if g.Requested != "" && g.Requested != g.Method {
		s += " (" + string(g.Requested) + ")"
	}
	if g.LiveFramesRefused != "" {
		s += "; live frames refused: " + g.LiveFramesRefused
	}
	return s
}

// Duration marshals as a string ("2s").
type Duration time.Duration

// MarshalJSON implements json.Marshaler.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads what MarshalJSON writes, so a results file can be
// loaded again (to re-plot or compare runs).
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration: %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("duration: %w", err)
	}
	*d = Duration(v)
	return nil
}

// SystemResult is one system's measurements.
type SystemResult struct {
	Name    string         `json:"name"`
	Command string         `json:"command,omitempty"`
	Skipped string         `json:"skipped,omitempty"`
	Error   string         `json:"error,omitempty"`
	Warmup  []Warmup       `json:"warmup,omitempty"`
	Steps   []Step         `json:"steps"`
	Garbage *GarbageResult `json:"garbage,omitempty"`
	Notes   []string       `json:"notes,omitempty"`
}

// Warmup is one peer warm-up: how many clients became reachable.
type Warmup struct {
	Mode      Mode     `json:"mode"`
	Clients   int      `json:"clients"`
	Reached   int      `json:"reached"`
	Bubbles   uint64   `json:"bubbles_answered"`
	TookMilli float64  `json:"took_ms"`
	Elapsed   Duration `json:"-"`
}

// Step is one offered-load step.
type Step struct {
	Mode         Mode    `json:"mode"`
	TargetPPS    float64 `json:"target_pps"` // 0: unpaced
	OfferedPPS   float64 `json:"offered_pps"`
	DeliveredPPS float64 `json:"delivered_pps"`
	Loss         float64 `json:"loss"` // 0..1
	Sent         uint64  `json:"sent"`
	Delivered    uint64  `json:"delivered"`
	// Per direction (mixed has both).
	DecapSent, DecapDelivered uint64  `json:",omitempty"`
	EncapSent, EncapDelivered uint64  `json:",omitempty"`
	P50Micros                 float64 `json:"p50_us"`
	P99Micros                 float64 `json:"p99_us"`
	Probes                    uint64  `json:"probes"`
	// CPU of the system's processes in % of one core, and machine-wide busy %
	// (both cores, generator included).
	SystemCPU  float64 `json:"system_cpu_pct"`
	MachineCPU float64 `json:"machine_cpu_pct"`
	SoftirqCPU float64 `json:"softirq_cpu_pct"` // machine-wide softirq share (both cores)
	// CPU nanoseconds of the system under test per delivered packet: its
	// process tree's user+system time, and the softirq time of the step
	// beyond what the generator and the sinks cost by themselves (see
	// bench/README.md, "CPU per packet").
	ProcessNsPerPkt float64 `json:"process_ns_per_pkt"`
	SoftirqNsPerPkt float64 `json:"softirq_ns_per_pkt"`
	Other           uint64  `json:"other_pkts"` // unexpected packets at the sinks
	Seconds         float64 `json:"seconds"`
	// Peers the traffic cycled over and how many distinct ones got at
	// least one packet through (sweep steps).
	Peers        int `json:"peers,omitempty"`
	PeersReached int `json:"peers_reached,omitempty"`
}

// NsPerPkt is the upper bound of the system's CPU per delivered packet:
// process and attributed softirq time (ProcessNsPerPkt is the lower bound).
func (s *Step) NsPerPkt() float64 { return s.ProcessNsPerPkt + s.SoftirqNsPerPkt }

// SweepResult is the peer-count sweep: decapsulation and encapsulation as
// fast as the generator goes, with traffic cycling over N peers.
type SweepResult struct {
	Peers        []int          `json:"peers"`
	StepDuration Duration       `json:"step_duration"`
	WarmupCap    Duration       `json:"warmup_cap"`
	Systems      []*SweepSystem `json:"systems"`
	Elapsed      Duration       `json:"elapsed"`
}

// SweepSystem is one system's sweep.
type SweepSystem struct {
	Name   string       `json:"name"`
	Points []SweepPoint `json:"points"`
	Notes  []string     `json:"notes,omitempty"`
}

// SweepPoint is one system at one peer count: a fresh start, the warm-up,
// a decap step, a refresh and an encap step.
type SweepPoint struct {
	Peers   int          `json:"peers"`
	Warmup  *SweepWarmup `json:"warmup,omitempty"`
	Decap   *Step        `json:"decap,omitempty"`
	Refresh *Refresh     `json:"refresh,omitempty"`
	Encap   *Step        `json:"encap,omitempty"`
	Error   string       `json:"error,omitempty"`
	Seconds float64      `json:"seconds"`
}

// Step returns the point's step of mode m (decap or encap), or nil.
func (p *SweepPoint) Step(m Mode) *Step {
	switch m {
	case ModeDecap:
		return p.Decap
	case ModeEncap:
		return p.Encap
	}
	return nil
}

// Warm-up methods of a sweep point.
const (
	WarmupBubbles        = "bubble exchange"
	WarmupAcceptUnknown  = "accept_unknown_peers"
	WarmupNone           = "none (no peer state)"
	WarmupBubblesPartial = "bubble exchange, incomplete"
)

// SweepWarmup is how the peers of a sweep point became known to the system.
type SweepWarmup struct {
	// Method: bubble exchange (every peer reached through the real
	// exchange), accept_unknown_peers (the exchange did not finish within
	// the cap or stalled; teredo-relayd then learns clients from their
	// packets),
	// "bubble exchange, incomplete" (a system without that switch), or
	// none.
	Method  string  `json:"method"`
	Reached int     `json:"reached"` // peers whose encap packet came out after their bubble exchange
	Rounds  int     `json:"rounds"`  // one encap packet to every peer per round
	Bubbles uint64  `json:"bubbles_answered"`
	Seconds float64 `json:"seconds"`
	Capped  bool    `json:"capped"`  // stopped by the warm-up cap
	Stalled bool    `json:"stalled"` // stopped after two rounds that verified no new peer
}

// Refresh is the paced pass of one decap packet per peer before the encap
// step, so that every peer was heard from within the last 30 s (RFC 4380
// §5.2.4: a relay encapsulates directly only to such peers).
type Refresh struct {
	RatePPS float64 `json:"rate_pps"`
	Reached int     `json:"reached"` // distinct peers whose packet came through
	Seconds float64 `json:"seconds"`
}

// GarbageResult is the garbage-flood step.
type GarbageResult struct {
	LegitPPS     float64 `json:"legit_offered_pps"`
	GarbagePPS   float64 `json:"garbage_offered_pps"`
	LegitSent    uint64  `json:"legit_sent"`
	LegitGot     uint64  `json:"legit_delivered"`
	LegitLoss    float64 `json:"legit_loss"`
	GarbageSent  uint64  `json:"garbage_sent"`
	GarbageLeak  uint64  `json:"garbage_delivered"`
	P99Micros    float64 `json:"legit_p99_us"`
	SystemCPU    float64 `json:"system_cpu_pct"`
	RatioOffered int     `json:"ratio"`
}

// Ratio is one system's maximum delivered rate over another's in one mode.
type Ratio struct {
	Name  string  `json:"name"` // e.g. "teredo-relayd / miredo"
	Mode  Mode    `json:"mode"`
	Num   float64 `json:"num_pps"`
	Den   float64 `json:"den_pps"`
	Value float64 `json:"value"`
}

// Goal is one of the targets, reported (never asserted).
type Goal struct {
	Name   string `json:"name"`
	Target string `json:"target"`
	Value  string `json:"value"`
	Met    string `json:"met"` // "yes", "no", "n/a"
}

// System returns the named result, or nil.
func (r *Report) System(name string) *SystemResult {
	for _, s := range r.Systems {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// MaxDelivered is the highest delivered rate of a mode, and its step.
func (s *SystemResult) MaxDelivered(m Mode) (float64, *Step) {
	if s == nil {
		return 0, nil
	}
	var best *Step
	for i := range s.Steps {
		st := &s.Steps[i]
		if st.Mode == m && (best == nil || st.DeliveredPPS > best.DeliveredPPS) {
			best = st
		}
	}
	if best == nil {
		return 0, nil
	}
	return best.DeliveredPPS, best
}

// computeRatios fills Ratios and Goals from the systems' results.
func (r *Report) computeRatios(modes []Mode) {
	pairs := [][2]string{{SysRelayd, SysMiredo}, {SysRelayd, SysFloor}, {SysFloor, SysMiredo}, {SysAsavie, SysFloor}}
	r.Ratios = nil
	for _, p := range pairs {
		a, b := r.System(p[0]), r.System(p[1])
		if a == nil || b == nil || a.Skipped != "" || b.Skipped != "" {
			continue
		}
		for _, m := range modes {
			num, _ := a.MaxDelivered(m)
			den, _ := b.MaxDelivered(m)
			if num == 0 || den == 0 {
				continue
			}
			r.Ratios = append(r.Ratios, Ratio{Name: p[0] + " / " + p[1], Mode: m, Num: num, Den: den, Value: num / den})
		}
	}
	ratio := func(name string, m Mode) (float64, bool) {
		for _, x := range r.Ratios {
			if x.Name == name && x.Mode == m {
				return x.Value, true
			}
		}
		return 0, false
	}
	met := func(ok, have bool) string {
		switch {
		case !have:
			return "n/a"
		case ok:
			return "yes"
		}
		return "no"
	}
	r.Goals = nil
	for _, m := range []Mode{ModeDecap, ModeEncap} {
		v, ok := ratio(SysRelayd+" / "+SysMiredo, m)
		r.Goals = append(r.Goals, Goal{Name: "delivered pps vs Miredo, " + string(m), Target: "≥ 20×", Value: fmtRatio(v, ok), Met: met(v >= 20, ok)})
	}
	for _, m := range []Mode{ModeDecap, ModeEncap} {
		v, ok := ratio(SysRelayd+" / "+SysFloor, m)
		r.Goals = append(r.Goals, Goal{Name: "delivered pps vs bare forwarder, " + string(m), Target: "≥ 70 %", Value: fmtPct(v, ok), Met: met(v >= 0.7, ok)})
	}
	if s := r.System(SysRelayd); s != nil && s.Garbage != nil {
		g := s.Garbage
		r.Goals = append(r.Goals, Goal{Name: fmt.Sprintf("legitimate loss under a %d× garbage flood", g.RatioOffered), Target: "< 0.1 %",
			Value: fmt.Sprintf("%.3f %% (%d garbage delivered)", g.LegitLoss*100, g.GarbageLeak), Met: met(g.LegitLoss < 0.001 && g.GarbageLeak == 0, true)})
	} else {
		r.Goals = append(r.Goals, Goal{Name: "legitimate loss under a 5× garbage flood", Target: "< 0.1 %", Value: "not measured", Met: "n/a"})
	}
	allocs := "not measured"
	have, zero := false, true
	if r.Micro != nil {
		for _, b := range r.Micro.Benchmarks {
			if isPerPacket(b.Name) {
				have = true
				if b.AllocsPerOp != 0 {
					zero = false
				}
			}
		}
		if have {
			allocs = "0 allocs/op in every decap/encap/cache benchmark"
			if !zero {
				allocs = "some per-packet benchmark allocates (see micro)"
			}
		}
	}
	r.Goals = append(r.Goals, Goal{Name: "allocations per packet", Target: "0", Value: allocs, Met: met(zero, have)})
}

func isPerPacket(name string) bool {
	n := strings.ToLower(name)
	return strings.Contains(n, "decap") || strings.Contains(n, "encap") || strings.Contains(n, "lookup") || strings.Contains(n, "observe")
}

func fmtRatio(v float64, ok bool) string {
	if !ok {
		return "not measured"
	}
	return fmt.Sprintf("%.1f×", v)
}

func fmtPct(v float64, ok bool) string {
	if !ok {
		return "not measured"
	}
	return fmt.Sprintf("%.0f %%", v*100)
}

func kpps(v float64) string {
	if math.IsNaN(v) {
		return "-"
	}
	return fmt.Sprintf("%.0f k", v/1e3)
}

func micros(v float64) string {
	if math.IsNaN(v) || v == 0 {
		return "-"
	}
	if v >= 1000 {
		return fmt.Sprintf("%.1f ms", v/1000)
	}
	return fmt.Sprintf("%.0f µs", v)
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// Save writes the JSON report and the Markdown summary into dir with the
// given file stem and returns the paths.
func (r *Report) Save(dir, stem string, modes []Mode) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("results directory: %w", err)
	}
	jsonPath := filepath.Join(dir, stem+".json")
	mdPath := filepath.Join(dir, stem+".md")
	r.Files = append(r.Files, jsonPath, mdPath)
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode report: %w", err)
	}
	if err := os.WriteFile(jsonPath, append(b, '\n'), 0o644); err != nil {
		return nil, fmt.Errorf("write report: %w", err)
	}
	var md strings.Builder
	r.WriteMarkdown(&md, modes)
	if err := os.WriteFile(mdPath, []byte(md.String()), 0o644); err != nil {
		return nil, fmt.Errorf("write summary: %w", err)
	}
	return []string{jsonPath, mdPath}, nil
}
