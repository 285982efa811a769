package bench_test

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/teredorelay/teredorelay/bench"
	"github.com/teredorelay/teredorelay/bench/loadgen"
	"github.com/teredorelay/teredorelay/internal/testenv"
)

// TestSmoke runs every system for about a second of mixed traffic at a rate
// each of them handles on any machine (20 kpps), after the peers' warm-up,
// and checks that each one forwarded both directions. It runs with the
// generator the kernel allows (or the one loadgen.MethodEnv names), then,
// when that was not the AF_XDP generator, once more with AF_XDP, so that
// the generator of machines that refuse live frames is tested everywhere.
// teredo-relayd is skipped only while cmd/teredo-relayd does not exist;
// once it does, it must build, start and forward. Miredo must be installed
// in CI.
func TestSmoke(t *testing.T) {
	testenv.RequireRoot(t)
	if runtime.GOOS != "linux" {
		t.Skip("needs Linux")
	}
	testenv.RequireBinary(t, "miredo", "ip")
	rep := smoke(t, "")
	if rep == nil || rep.Generator.Method == loadgen.AFXDP {
		return
	}
	t.Run(string(loadgen.AFXDP), func(t *testing.T) {
		if rep := smoke(t, loadgen.AFXDP); rep != nil && rep.Generator.Method != loadgen.AFXDP {
			t.Errorf("asked for the AF_XDP generator, ran %s", rep.Generator.Method)
		}
	})
}

// smoke runs the smoke benchmark with generator method m and checks every
// system's step.
func smoke(t *testing.T, m loadgen.Method) *bench.Report {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	rep, err := bench.Run(ctx, bench.Options{
		Modes:        []bench.Mode{bench.ModeMixed},
		Rates:        []float64{20e3},
		StepDuration: time.Second,
		Clients:      16,
		GarbageRatio: -1,
		Generator:    m,
		NoSweep:      true,
		Tag:          fmt.Sprintf("bk%d", os.Getpid()%100000),
		Log:          testWriter{t},

		CalibrationDuration: 200 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("generator: %s", rep.Generator)
	if len(rep.Generator.Calibration) != 1 || rep.Generator.Calibration[0].Sent == 0 ||
		rep.Generator.Calibration[0].Delivered != rep.Generator.Calibration[0].Sent {
		t.Errorf("calibration of the mixed traffic: %+v; want every frame sent into the sinks counted", rep.Generator.Calibration)
	}
	for _, s := range rep.Systems {
		if s.Skipped != "" {
			if s.Name != bench.SysRelayd {
				t.Errorf("%s skipped: %s", s.Name, s.Skipped)
			}
			t.Logf("%s skipped: %s", s.Name, s.Skipped)
			continue
		}
		if s.Error != "" {
			t.Errorf("%s: %s", s.Name, s.Error)
			continue
		}
		if len(s.Steps) != 1 {
			t.Errorf("%s: %d steps, want 1", s.Name, len(s.Steps))
			continue
		}
		st := s.Steps[0]
		for _, w := range s.Warmup {
			if w.Reached != w.Clients {
				t.Errorf("%s: warm-up reached %d of %d clients", s.Name, w.Reached, w.Clients)
			}
		}
		// Generous bounds: this proves the path works, not its speed.
		if st.DecapSent == 0 || st.DecapDelivered < st.DecapSent/2 {
			t.Errorf("%s: decap delivered %d of %d", s.Name, st.DecapDelivered, st.DecapSent)
		}
		if st.EncapSent == 0 || st.EncapDelivered < st.EncapSent/2 {
			t.Errorf("%s: encap delivered %d of %d", s.Name, st.EncapDelivered, st.EncapSent)
		}
		if st.Delivered > st.Sent {
			t.Errorf("%s: delivered %d > sent %d (duplicates?)", s.Name, st.Delivered, st.Sent)
		}
		if st.Probes == 0 || st.P50Micros <= 0 {
			t.Errorf("%s: no latency probes came through", s.Name)
		}
		if st.Other != 0 {
			t.Errorf("%s: %d unexpected packets at the sinks", s.Name, st.Other)
		}
		if st.ProcessNsPerPkt <= 0 || st.MachineCPU <= 0 {
			t.Errorf("%s: no CPU cost measured (process %.0f ns/packet, machine %.0f %%)", s.Name, st.ProcessNsPerPkt, st.MachineCPU)
		}
		t.Logf("%s: offered %.0f pps, delivered %.0f pps (decap %d/%d, encap %d/%d), p50 %.0f µs, p99 %.0f µs, CPU %.0f %%",
			s.Name, st.OfferedPPS, st.DeliveredPPS, st.DecapDelivered, st.DecapSent, st.EncapDelivered, st.EncapSent, st.P50Micros, st.P99Micros, st.SystemCPU)
	}
	return rep
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

// TestSweepSmoke runs the peer-count sweep at one small peer count for the
// two relays and the floor, paced at a rate they all keep up with, and
// checks that the relays verified every peer through the real bubble
// exchange and that every peer's traffic came through both ways.
func TestSweepSmoke(t *testing.T) {
	testenv.RequireRoot(t)
	if runtime.GOOS != "linux" {
		t.Skip("needs Linux")
	}
	testenv.RequireBinary(t, "miredo", "ip")
	const peers = 1000
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	rep, err := bench.Run(ctx, bench.Options{
		Systems:    []string{bench.SysRelayd, bench.SysMiredo, bench.SysFloor},
		NoLadder:   true,
		SweepPeers: []int{peers},
		SweepStep:  500 * time.Millisecond,
		SweepRate:  20e3,
		WarmupCap:  time.Minute,
		Tag:        fmt.Sprintf("bw%d", os.Getpid()%100000),
		Log:        testWriter{t},

		CalibrationDuration: 200 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Sweep == nil || len(rep.Sweep.Systems) != 3 {
		t.Fatalf("sweep: %+v", rep.Sweep)
	}
	for _, s := range rep.Sweep.Systems {
		if len(s.Points) != 1 {
			t.Errorf("%s: %d points, want 1", s.Name, len(s.Points))
			continue
		}
		pt := s.Points[0]
		if pt.Error != "" {
			t.Errorf("%s: %s", s.Name, pt.Error)
			continue
		}
		if s.Name != bench.SysFloor && (pt.Warmup == nil || pt.Warmup.Method != bench.WarmupBubbles || pt.Warmup.Reached != peers) {
			t.Errorf("%s: warm-up %+v; want all %d peers verified by bubbles", s.Name, pt.Warmup, peers)
		}
		for _, st := range []*bench.Step{pt.Decap, pt.Encap} {
			if st == nil {
				t.Errorf("%s: a step is missing", s.Name)
				continue
			}
			if st.PeersReached != peers || st.Delivered < st.Sent/2 || st.NsPerPkt() <= 0 {
				t.Errorf("%s %s: %d of %d peers reached, delivered %d of %d, %.0f ns/packet", s.Name, st.Mode, st.PeersReached, peers, st.Delivered, st.Sent, st.NsPerPkt())
			}
			t.Logf("%s %s: %d peers, delivered %.0f pps of %.0f, %.0f ns/packet (process %.0f + softirq %.0f)",
				s.Name, st.Mode, st.PeersReached, st.DeliveredPPS, st.OfferedPPS, st.NsPerPkt(), st.ProcessNsPerPkt, st.SoftirqNsPerPkt)
		}
	}
}
