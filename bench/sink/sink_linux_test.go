//go:build linux

package sink_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/teredorelay/teredorelay/bench/loadgen"
	"github.com/teredorelay/teredorelay/bench/sink"
	"github.com/teredorelay/teredorelay/bench/topo"
	"github.com/teredorelay/teredorelay/internal/testenv"
)

// TestGeneratorIntoSink sends every traffic kind with each generator method
// straight from the generator namespace into a sink on the relay-side veth
// (no system in between) and checks that the sink counted exactly what was
// sent, per kind, and got the probes' latencies. The AF_XDP generator runs
// on every machine; live frames run where the kernel permits them (a kernel
// that refuses them skips that subtest: the benchmark then uses AF_XDP).
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
	decapPeers, err := loadgen.DecapPeers(ep, 5000, 0)
	if err != nil {
		t.Fatal(err)
	}
	encapPeers, err := loadgen.EncapPeers(ep, 3000, 0)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		traffic loadgen.Traffic
		pace    loadgen.Pace
	}{
		{decap, loadgen.Pace{Count: 100_000}},
		{encap, loadgen.Pace{Count: 50_000, Rate: 200_000}},
		{garbage, loadgen.Pace{Count: 60_000}},
		{mixed, loadgen.Pace{Duration: 300 * time.Millisecond, Rate: 500_000}},
		{decapPeers, loadgen.Pace{Count: 12_000}},
		{encapPeers, loadgen.Pace{Count: 2500, Rate: 5000}}, // below one frame per pacing burst
	}
	for _, m := range []loadgen.Method{loadgen.AFXDP, loadgen.LiveFrames} {
		t.Run(string(m), func(t *testing.T) {
			var snd *loadgen.Sender
			err := topo.Do(tp.GenNS, func() error {
				if m == loadgen.LiveFrames {
					if err := loadgen.ProbeLiveFrames(tp.Gen.Index); err != nil {
						return errRefused{err}
					}
				}
				var err error
				snd, err = loadgen.Open(m, loadgen.Devices{TX: tp.Gen.Index, Redirect: tp.Native.Index})
				return err
			})
			var refused errRefused
			if errors.As(err, &refused) {
				t.Skipf("this kernel refuses live frames (%v); the afxdp subtest covers the generator the benchmark uses here", refused.err)
			}
			if err != nil {
				t.Fatal(err)
			}
			defer snd.Close()
			if snd.Method() != m {
				t.Fatalf("asked for %s, got %s", m, snd.Method())
			}
			for _, tc := range cases {
				t.Run(tc.traffic.Name, func(t *testing.T) {
					g, err := snd.New(tc.traffic, 64)
					if err != nil {
						t.Fatal(err)
					}
					defer g.Close()
					for _, sk := range []*sink.Sink{sk4, sk6} {
						if err := sk.ResetPeers(); err != nil {
							t.Fatal(err)
						}
					}
					st := checkIntoSink(t, tp, g, tc.pace, read)
					checkPeers(t, g.Traffic(), st, sk4, sk6)
				})
			}
		})
	}
}

// checkPeers compares the sinks' per-peer bitmaps with the peers of the
// frames of st (sent since the bitmaps were cleared).
func checkPeers(t *testing.T, tr *loadgen.Traffic, st loadgen.Stats, sk4, sk6 *sink.Sink) {
	t.Helper()
	for _, k := range []loadgen.Kind{loadgen.KindDecap, loadgen.KindEncap} {
		want := map[uint32]bool{}
		for seq := st.First; seq < st.First+st.Sent; seq++ {
			if kind, peer := tr.PeerOf(seq); kind == k {
				want[peer] = true
			}
		}
		n4, err := sk4.Peers(int(k))
		if err != nil {
			t.Fatal(err)
		}
		n6, err := sk6.Peers(int(k))
		if err != nil {
			t.Fatal(err)
		}
		if n4+n6 != len(want) {
			t.Errorf("kind %v: sinks saw %d + %d distinct peers, sent to %d", k, n4, n6, len(want))
		}
	}
}

type errRefused struct{ err error }

func (e errRefused) Error() string { return e.err.Error() }

// checkIntoSink sends with g and checks what the sinks counted.
func checkIntoSink(t *testing.T, tp *topo.Topology, g loadgen.Generator, pace loadgen.Pace, read func() sink.Counts) loadgen.Stats {
	t.Helper()
	tr := g.Traffic()
	before := read()
	var st loadgen.Stats
	err := topo.Do(tp.GenNS, func() error {
		var err error
		st, err = g.Send(context.Background(), pace)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if pace.Count != 0 && st.Sent != pace.Count {
		t.Fatalf("sent %d, want %d", st.Sent, pace.Count)
	}
	if st.Sent == 0 {
		t.Fatal("sent nothing")
	}
	// The pacer must never run ahead of its target; how close it gets from
	// below depends on the machine's load, so that is logged, not asserted.
	if pace.Rate > 0 && st.Rate() > pace.Rate*1.05 {
		t.Errorf("paced at %.0f pps, achieved %.0f pps: the pacer ran ahead", pace.Rate, st.Rate())
	}
	time.Sleep(100 * time.Millisecond)
	d := read().Sub(before)
	// Malformed frames the sink cannot parse itself (IPv6 version 4, an
	// authentication header in front) count as "other".
	malformed := tr.SentIn(loadgen.KindMalformed, st.First, st.Sent)
	if got := d.Pkts[loadgen.KindMalformed] + d.Other; got != malformed {
		t.Errorf("malformed: sink counted %d + %d other, sent %d", d.Pkts[loadgen.KindMalformed], d.Other, malformed)
	}
	for _, k := range []loadgen.Kind{loadgen.KindDecap, loadgen.KindEncap, loadgen.KindSpoofed} {
		want := tr.SentIn(k, st.First, st.Sent)
		if d.Pkts[k] != want {
			t.Errorf("kind %v: sink counted %d, sent %d", k, d.Pkts[k], want)
		}
		if want > 0 && d.Bytes[k] != want*uint64(len(tr.Frame)) {
			t.Errorf("kind %v: sink counted %d bytes, want %d", k, d.Bytes[k], want*uint64(len(tr.Frame)))
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
	t.Logf("%s %s: %d frames in %v (%.2f Mpps offered), latency p50 %.0f ns p99 %.0f ns",
		st.Method, tr.Name, st.Sent, st.Elapsed, st.Rate()/1e6, h.Percentile(0.5), h.Percentile(0.99))
	return st
}
