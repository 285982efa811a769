//go:build linux

package sink_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/teredorelay/teredorelay/bench/loadgen"
	"github.com/teredorelay/teredorelay/bench/sink"
	"github.com/teredorelay/teredorelay/bench/topo"
	"github.com/teredorelay/teredorelay/internal/testenv"
)

// TestGeneratorIntoSink sends every traffic kind straight from the generator
// namespace into a sink on the relay-side veth (no system in between) and
// checks that the sink counted exactly what was sent, per kind, and got the
// probes' latencies.
func TestGeneratorIntoSink(t *testing.T) {
	testenv.RequireRoot(t)
	tp, err := topo.Up(fmt.Sprintf("bs%d", os.Getpid()%100000))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tp.Down() })

	// Sinks where the relay would be: r0 gets the Teredo side's frames, r1
	// the native side's (redirected out of g1 by the same generator).
	var sk4, sk6 *sink.Sink
	if err := topo.Do(tp.RelayNS, func() error {
		var err error
		if sk4, err = sink.Attach(tp.RelayV4.Index); err != nil {
			return err
		}
		sk6, err = sink.Attach(tp.RelayV6.Index)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sk4.Close(); sk6.Close() })
	read := func() sink.Counts {
		t.Helper()
		a, err := sk4.Read()
		if err != nil {
			t.Fatal(err)
		}
		b, err := sk6.Read()
		if err != nil {
			t.Fatal(err)
		}
		return a.Add(b)
	}

	ep := loadgen.Endpoints{
		Relay: netipRelay(), Server: topo.ServerIPv4,
		GenMAC: tp.Gen.MAC, RelayV4MAC: tp.RelayV4.MAC, RelayV6MAC: tp.RelayV6.MAC, NativeMAC: tp.Native.MAC,
	}
	clients := loadgen.Clients(8, topo.ServerIPv4)
	decap, err := loadgen.Decap(ep, clients, 0)
	if err != nil {
		t.Fatal(err)
	}
	encap, err := loadgen.Encap(ep, clients, 0)
	if err != nil {
		t.Fatal(err)
	}
	garbage, err := loadgen.Garbage(ep, clients, 0, 5)
	if err != nil {
		t.Fatal(err)
	}
	mixed, err := loadgen.Mixed(ep, clients, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		traffic loadgen.Traffic
		pace    loadgen.Pace
	}{
		{decap, loadgen.Pace{Count: 100_000}},
		{encap, loadgen.Pace{Count: 50_000, Rate: 200_000}},
		{garbage, loadgen.Pace{Count: 60_000}},
		{mixed, loadgen.Pace{Duration: 300 * time.Millisecond, Rate: 500_000}},
	} {
		t.Run(tc.traffic.Name, func(t *testing.T) {
			g, err := loadgen.New(tc.traffic, tp.Gen.Index, tp.Native.Index, 64)
			if err != nil {
				t.Fatal(err)
			}
			defer g.Close()
			before := read()
			var st loadgen.Stats
			err = topo.Do(tp.GenNS, func() error {
				var err error
				st, err = g.Send(context.Background(), tc.pace)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			if tc.pace.Count != 0 && st.Sent != tc.pace.Count {
				t.Fatalf("sent %d, want %d", st.Sent, tc.pace.Count)
			}
			// The pacer must never run ahead of its target; how close it
			// gets from below depends on the machine's load, so that is
			// logged, not asserted.
			if tc.pace.Rate > 0 && st.Rate() > tc.pace.Rate*1.05 {
				t.Errorf("paced at %.0f pps, achieved %.0f pps: the pacer ran ahead", tc.pace.Rate, st.Rate())
			}
			time.Sleep(100 * time.Millisecond)
			d := read().Sub(before)
			// Malformed frames the sink cannot parse itself (IPv6 version
			// 4, an authentication header in front) count as "other".
			malformed := tc.traffic.SentOf(loadgen.KindMalformed, st.Sent)
			if got := d.Pkts[loadgen.KindMalformed] + d.Other; got != malformed {
				t.Errorf("malformed: sink counted %d + %d other, sent %d", d.Pkts[loadgen.KindMalformed], d.Other, malformed)
			}
			for _, k := range []loadgen.Kind{loadgen.KindDecap, loadgen.KindEncap, loadgen.KindSpoofed} {
				want := tc.traffic.SentOf(k, st.Sent)
				if d.Pkts[k] != want {
					t.Errorf("kind %v: sink counted %d, sent %d", k, d.Pkts[k], want)
				}
				if want > 0 && d.Bytes[k] != want*uint64(len(tc.traffic.Frame)) {
					t.Errorf("kind %v: sink counted %d bytes, want %d", k, d.Bytes[k], want*uint64(len(tc.traffic.Frame)))
				}
			}
			if malformed == 0 && (d.Probes != st.Probes || st.Probes < st.Sent/64 || st.Probes > st.Sent/64+1) {
				t.Errorf("probes: sink %d, generator %d, want %d", d.Probes, st.Probes, st.Sent/64)
			}
			var h sink.Histogram
			for k := range d.Latency {
				for b := range h {
					h[b] += d.Latency[k][b]
				}
			}
			if h.Total() != d.Probes {
				t.Errorf("latency histogram holds %d probes, want %d", h.Total(), d.Probes)
			}
			t.Logf("%s: %d frames in %v (%.2f Mpps offered), latency p50 %.0f ns p99 %.0f ns",
				tc.traffic.Name, st.Sent, st.Elapsed, st.Rate()/1e6, h.Percentile(0.5), h.Percentile(0.99))
		})
	}
}
