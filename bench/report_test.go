package bench

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestParseBench(t *testing.T) {
	out := []byte(`goos: linux
goarch: amd64
pkg: github.com/teredorelay/teredorelay/relay
cpu: AMD EPYC
BenchmarkDecap-2         	 9012345	        24.10 ns/op	       0 B/op	       0 allocs/op
BenchmarkEncap/1280-2    	 5000000	        41.5 ns/op	 30843.37 MB/s	       0 B/op	       0 allocs/op
BenchmarkSlow 	     100	     1200 ns/op	      64 B/op	       2 allocs/op
PASS
ok  	github.com/teredorelay/teredorelay/relay	3.1s
`)
	got := parseBench(out)
	want := []Benchmark{
		{Package: "relay", Name: "Decap", N: 9012345, NsPerOp: 24.10},
		{Package: "relay", Name: "Encap/1280", N: 5000000, NsPerOp: 41.5, MBPerSec: 30843.37},
		{Package: "relay", Name: "Slow", N: 100, NsPerOp: 1200, BytesPerOp: 64, AllocsPerOp: 2},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d benchmarks, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("benchmark %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
}

func testReport() *Report {
	step := func(m Mode, off, del float64) Step {
		return Step{Mode: m, OfferedPPS: off, DeliveredPPS: del, Loss: 1 - del/off, ProcessNsPerPkt: 1e9 / del, SoftirqNsPerPkt: 100, MachineCPU: 90}
	}
	point := func(n int, w string, del float64, reached int) SweepPoint {
		d, e := step(ModeDecap, 2e6, del), step(ModeEncap, 2e6, del/2)
		d.Peers, d.PeersReached, e.Peers, e.PeersReached = n, reached, n, reached
		return SweepPoint{Peers: n, Warmup: &SweepWarmup{Method: w, Reached: reached}, Decap: &d, Encap: &e}
	}
	sweep := &SweepResult{Peers: []int{1000, 1000000}, Systems: []*SweepSystem{
		{Name: SysRelayd, Points: []SweepPoint{point(1000, WarmupBubbles, 5e5, 1000), point(1000000, WarmupAcceptUnknown, 4e5, 1000000)}},
		{Name: SysMiredo, Points: []SweepPoint{point(1000, WarmupBubbles, 1e5, 1000), point(1000000, WarmupBubblesPartial, 5e4, 350000)}},
	}}
	return &Report{Settings: Settings{Clients: 64}, Sweep: sweep, Systems: []*SystemResult{
		{Name: SysRelayd, Steps: []Step{step(ModeDecap, 1e6, 9e5), step(ModeDecap, 3e6, 1.2e6), step(ModeEncap, 1e6, 1e6)},
			Garbage: &GarbageResult{RatioOffered: 5, LegitLoss: 0.0004}},
		{Name: SysMiredo, Steps: []Step{step(ModeDecap, 1e5, 5e4), step(ModeEncap, 1e5, 1e5)}},
		{Name: SysFloor, Steps: []Step{step(ModeDecap, 3e6, 1.5e6), step(ModeEncap, 3e6, 2e6)}},
		{Name: SysAsavie, Skipped: "not wanted"},
	}, Micro: &MicroResult{Benchmarks: []Benchmark{{Name: "Decap"}, {Name: "CacheLookup", AllocsPerOp: 0}}}}
}

func TestRatiosAndGoals(t *testing.T) {
	r := testReport()
	r.computeRatios([]Mode{ModeDecap, ModeEncap})
	want := map[string]float64{
		"teredo-relayd / miredo decap": 24, "teredo-relayd / miredo encap": 10,
		"teredo-relayd / floor decap": 0.8, "teredo-relayd / floor encap": 0.5,
		"floor / miredo decap": 30, "floor / miredo encap": 20,
	}
	if len(r.Ratios) != len(want) {
		t.Fatalf("got %d ratios, want %d: %+v", len(r.Ratios), len(want), r.Ratios)
	}
	for _, x := range r.Ratios {
		w, ok := want[x.Name+" "+string(x.Mode)]
		if !ok || x.Value < w*0.999 || x.Value > w*1.001 {
			t.Errorf("%s %s = %v, want %v", x.Name, x.Mode, x.Value, w)
		}
	}
	met := map[string]string{}
	for _, g := range r.Goals {
		met[g.Name] = g.Met
	}
	for name, m := range map[string]string{
		"delivered pps vs Miredo, decap":           "yes",
		"delivered pps vs Miredo, encap":           "no",
		"delivered pps vs bare forwarder, decap":   "yes",
		"delivered pps vs bare forwarder, encap":   "no",
		"legitimate loss under a 5× garbage flood": "yes",
		"allocations per packet":                   "yes",
	} {
		if met[name] != m {
			t.Errorf("goal %q met = %q, want %q", name, met[name], m)
		}
	}
	var md, txt bytes.Buffer
	r.WriteMarkdown(&md, []Mode{ModeDecap, ModeEncap})
	r.WriteSummary(&txt, []Mode{ModeDecap, ModeEncap})
	for _, s := range []string{"| teredo-relayd | decap | 1200 kpps | 3000 kpps | 60.0 % |", "| teredo-relayd / miredo | decap | 24.00 |", "| asavie | – | not wanted |",
		// The README table: ratios, then delivered and CPU per packet at the sweep's ends.
		"| teredo-relayd / miredo (max delivered pps, 64 clients) | 24.00 (1200 k / 50 k) | 10.00 (1000 k / 100 k) |",
		"| teredo-relayd, 1 k peers: delivered, CPU / packet | 500 kpps, 2000–2100 ns | 250 kpps, 4000–4100 ns |",
		"| teredo-relayd, 1 M peers: delivered, CPU / packet ¹ | 400 kpps, 2500–2600 ns | 200 kpps, 5000–5100 ns |",
		"| miredo, 1 M peers: delivered, CPU / packet ¹ | 50 kpps, 20000–20100 ns (350 k peers reached) | 25 kpps, 40000–40100 ns (350 k peers reached) |",
		"| miredo | 1 M | bubble exchange, incomplete: 350000 of 1000000 verified in 0 s |",
	} {
		if !strings.Contains(md.String(), s) {
			t.Errorf("markdown lacks %q:\n%s", s, md.String())
		}
	}
	if !strings.Contains(txt.String(), "teredo-relayd / floor") {
		t.Errorf("summary lacks the floor ratio:\n%s", txt.String())
	}
}

func TestPlotWritesPNGs(t *testing.T) {
	r := testReport()
	r.Host = "test"
	modes := []Mode{ModeDecap, ModeEncap}
	r.computeRatios(modes)
	dir := t.TempDir()
	files, err := r.Plot(dir, "x", modes)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 4 {
		t.Fatalf("wrote %v, want decap, encap, ratio and sweep plots", files)
	}
	for _, f := range files {
		b, err := readFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")) {
			t.Errorf("%s is not a PNG", f)
		}
	}
}

// FuzzParseBench: arbitrary `go test` output never panics and every parsed
// benchmark has a name and a non-negative iteration count.
func FuzzParseBench(f *testing.F) {
	f.Add([]byte("pkg: x\nBenchmarkA-2 10 5 ns/op 0 B/op 0 allocs/op\n"))
	f.Add([]byte("BenchmarkB 1 ns/op\nBenchmark\n--- FAIL\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, x := range parseBench(b) {
			if x.N < 0 {
				t.Errorf("negative N in %+v", x)
			}
		}
	})
}

// A saved results file loads back into the same Report.
func TestReportJSONRoundTrip(t *testing.T) {
	r := testReport()
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatalf("load results JSON: %v", err)
	}
	again, err := json.Marshal(&back)
	if err != nil {
		t.Fatal(err)
	}
	if string(again) != string(b) {
		t.Errorf("round trip changed the report:\n got %s\nwant %s", again, b)
	}
}
