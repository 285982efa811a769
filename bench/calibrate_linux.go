//go:build linux

package bench

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/teredorelay/teredorelay/bench/loadgen"
	"github.com/teredorelay/teredorelay/bench/sink"
	"github.com/teredorelay/teredorelay/bench/topo"
)

// Calibration keys of the sweep's traffics (the ladder's are the mode names).
const (
	calSweepDecap = "sweep-decap"
	calSweepEncap = "sweep-encap"
)

// calibrate sends each traffic the run uses, unpaced, straight into sinks
// on the relay veths (no system under test is running) and records the
// rate the generator achieves, its own one-way latency, and the machine's
// CPU and softirq time per frame; the softirq baseline is what step costs
// subtract (env.cost).
func (e *env) calibrate(ctx context.Context) ([]Calibration, error) {
	type job struct {
		key string
		gen func() (loadgen.Generator, error)
	}
	var jobs []job
	if !e.opts.NoLadder {
		for _, m := range e.opts.Modes {
			jobs = append(jobs, job{string(m), func() (loadgen.Generator, error) { return e.gens[string(m)], nil }})
		}
	}
	if !e.opts.NoSweep {
		n := slices.Max(e.opts.SweepPeers)
		l := ipv6Len(e.opts.IPv6Len)
		jobs = append(jobs,
			job{calSweepDecap, func() (loadgen.Generator, error) { return e.sweepGen(loadgen.DecapPeers(e.ep, n, l)) }},
			job{calSweepEncap, func() (loadgen.Generator, error) { return e.sweepGen(loadgen.EncapPeers(e.ep, n, l)) }})
	}
	var s4, s6 *sink.Sink
	err := topo.Do(e.topo.RelayNS, func() error {
		var err error
		if s4, err = sink.Attach(e.topo.RelayV4.Index); err != nil {
			return err
		}
		s6, err = sink.Attach(e.topo.RelayV6.Index)
		return err
	})
	defer func() {
		for _, s := range []*sink.Sink{s4, s6} {
			if s != nil {
				s.Close()
			}
		}
	}()
	if err != nil {
		return nil, fmt.Errorf("calibration sinks: %w", err)
	}
	read := func() (sink.Counts, error) {
		a, err := s4.Read()
		if err != nil {
			return a, err
		}
		b, err := s6.Read()
		return a.Add(b), err
	}
	var out []Calibration
	for _, j := range jobs {
		g, err := j.gen()
		if err != nil {
			return out, err
		}
		c, err := e.calibrateOne(ctx, j.key, g, read)
		if j.key == calSweepDecap || j.key == calSweepEncap {
			err = errors.Join(err, g.Close())
		}
		if err != nil {
			return out, fmt.Errorf("calibrate %s: %w", j.key, err)
		}
		e.softirqPerSent[j.key] = c.SoftirqNsPerSent
		e.logf("calibration %-11s %s: %s into sinks, p50 %s p99 %s, machine %.0f ns/frame (softirq %.0f)",
			j.key, e.sender.Method(), kpps(c.RatePPS)+"pps", micros(c.P50Micros), micros(c.P99Micros), c.MachineNsPerSent, c.SoftirqNsPerSent)
		out = append(out, c)
	}
	return out, nil
}

func (e *env) calibrateOne(ctx context.Context, key string, g loadgen.Generator, read func() (sink.Counts, error)) (Calibration, error) {
	c := Calibration{Traffic: key}
	before, err := read()
	if err != nil {
		return c, err
	}
	m0 := readCPUTimes()
	gs, err := e.sendStats(ctx, g, loadgen.Pace{Duration: e.opts.CalibrationDuration})
	if err != nil {
		return c, err
	}
	time.Sleep(100 * time.Millisecond)
	m1 := readCPUTimes()
	after, err := read()
	if err != nil {
		return c, err
	}
	d := after.Sub(before)
	c.Seconds, c.Sent = gs.Elapsed.Seconds(), gs.Sent
	c.Delivered = d.Pkts[loadgen.KindDecap] + d.Pkts[loadgen.KindEncap]
	c.RatePPS = gs.Rate()
	var h sink.Histogram
	addHist(&h, &d.Latency[loadgen.KindDecap])
	addHist(&h, &d.Latency[loadgen.KindEncap])
	c.P50Micros, c.P99Micros = nanToZero(h.Percentile(0.5)/1e3), nanToZero(h.Percentile(0.99)/1e3)
	if gs.Sent > 0 {
		c.MachineNsPerSent = float64(ticks(m1.busy-m0.busy).Nanoseconds()) / float64(gs.Sent)
		c.SoftirqNsPerSent = float64(ticks(m1.softirq-m0.softirq).Nanoseconds()) / float64(gs.Sent)
	}
	return c, nil
}

// sweepGen is a generator of a sweep traffic.
func (e *env) sweepGen(t loadgen.Traffic, err error) (loadgen.Generator, error) {
	if err != nil {
		return nil, err
	}
	return e.sender.New(t, probeEvery)
}
