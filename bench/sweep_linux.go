//go:build linux

package bench

import (
	"context"
	"errors"
	"fmt"
	"math/bits"
	"slices"
	"time"

	"github.com/teredorelay/teredorelay/bench/loadgen"
)

// Sweep warm-up pacing. The first round sends one encap packet to every
// peer in chunks of half a second of traffic, starting at warmRate; after
// each chunk the rate follows what the system verified meanwhile (down by a
// fifth when it verified less than 90 % of the chunk, up by a tenth above
// 97 %, within minWarmRate … maxWarmRate), so it settles at the system's
// verification rate. Later rounds repeat the pass for the peers still
// missing, sent at the verification rate divided by the share of peers
// missing (the verified ones pass on the fast path), at most maxWarmRate,
// each after a keep-alive pass (one decap packet per
// peer, keepAliveFactor times faster, at most maxKeepAlive) that refreshes
// the verified ones: relays re-verify a peer not heard from for 30 s and
// forget one idle for longer (teredo-relayd 120 s, Miredo 30–60 s), which
// would turn a mop-up round into a million new verifications. After a round
// the warm-up waits until the count of verified peers has not grown for
// warmSettle (longer than the relays' 2 s bubble retry interval), at most
// warmRoundWait.
const (
	warmRate        = 50e3
	minWarmRate     = 5e3
	maxWarmRate     = 100e3
	keepAliveFactor = 4
	maxKeepAlive    = 200e3
	warmSettle      = 2500 * time.Millisecond
	warmRoundWait   = 10 * time.Second
)

// maxSweepStep bounds a paced sweep step that is lengthened so that every
// peer is offered at least once.
const maxSweepStep = 10 * time.Second

// settleQuiet and settleMax: after an unpaced step, the sweep waits until
// the sinks have counted nothing new for settleQuiet (a kernel-stack system
// may still be draining its socket queues), at most settleMax.
const (
	settleQuiet = 300 * time.Millisecond
	settleMax   = 5 * time.Second
)

// Refresh pacing: half the rate the system delivered in the decap step,
// but fast enough to cover every peer within refreshMax, and at most
// maxRefreshRate.
const (
	refreshMax     = 30 * time.Second
	maxRefreshRate = 1e6
)

// sweep runs the peer-count sweep: for each peer count, each system of the
// sweep in turn (side by side in one run) is started afresh, warmed up, and
// measured in a decap step and an encap step with traffic cycling over all
// the peers. Each step offers the load of the system's best ladder step in
// that direction (the one that delivered most; unpaced when the ladder did
// not run it) unless Options.SweepRate sets one: an unpaced flood drives a
// kernel-stack relay into receive livelock, which would measure the flood
// rather than the peers.
func (e *env) sweep(ctx context.Context, systems []*system, ladder []*SystemResult) (*SweepResult, error) {
	e.sweepRates = map[string]map[Mode]float64{}
	for _, r := range ladder {
		e.sweepRates[r.Name] = map[Mode]float64{}
		for _, m := range []Mode{ModeDecap, ModeEncap} {
			if e.opts.SweepRate > 0 {
				e.sweepRates[r.Name][m] = e.opts.SweepRate
			} else if _, st := r.MaxDelivered(m); st != nil {
				e.sweepRates[r.Name][m] = st.TargetPPS
			}
		}
	}
	start := time.Now()
	res := &SweepResult{Peers: e.opts.SweepPeers, StepDuration: Duration(e.opts.SweepStep), WarmupCap: Duration(e.opts.WarmupCap)}
	var run []*system
	for _, s := range systems {
		if s != nil && s.sweep {
			run = append(run, s)
			res.Systems = append(res.Systems, &SweepSystem{Name: s.name})
		}
	}
	for _, n := range e.opts.SweepPeers {
		for i, s := range run {
			pt := e.sweepPoint(ctx, s, n, res.Systems[i])
			res.Systems[i].Points = append(res.Systems[i].Points, pt)
			e.progress(1)
			if ctx.Err() != nil {
				res.Elapsed = Duration(time.Since(start))
				return res, ctx.Err()
			}
		}
	}
	res.Elapsed = Duration(time.Since(start))
	return res, nil
}

// sweepCapacity is teredo-relayd's peers.capacity in the sweep: a power of
// two with room for a quarter more than the largest peer count (the cache
// stays below 80 % full), the same for every point so that only the number
// of peers changes.
func (e *env) sweepCapacity() int {
	most := slices.Max(e.opts.SweepPeers)
	return max(1<<16, 1<<bits.Len(uint(most+most/4)))
}

// sweepPoint measures system s with n peers.
func (e *env) sweepPoint(ctx context.Context, s *system, n int, ss *SweepSystem) (pt SweepPoint) {
	start := time.Now()
	pt.Peers = n
	defer func() { pt.Seconds = time.Since(start).Seconds() }()
	fail := func(err error) SweepPoint {
		pt.Error = err.Error()
		e.logf("%s, %d peers: %v", s.name, n, err)
		return pt
	}
	l := ipv6Len(e.opts.IPv6Len)
	dec, err := e.sweepGen(loadgen.DecapPeers(e.ep, n, l))
	if err != nil {
		return fail(err)
	}
	defer dec.Close()
	enc, err := e.sweepGen(loadgen.EncapPeers(e.ep, n, l))
	if err != nil {
		return fail(err)
	}
	defer enc.Close()

	e.relayd = relaydSettings{capacity: e.sweepCapacity(), liftLimits: true}
	p, _, notes, stop, err := e.launch(ctx, s)
	if err != nil {
		return fail(err)
	}
	defer func() {
		if err := stop(); err != nil && pt.Error == "" {
			pt.Error = err.Error()
		}
	}()
	if len(ss.Notes) == 0 {
		ss.Notes = append(ss.Notes, notes...)
		if s.name == SysRelayd {
			ss.Notes = append(ss.Notes, fmt.Sprintf("peers.capacity %d; rate_limits lifted (new peers per /64, bubbles, per-client-address slow path): every peer is verified for one native /64 and 250 client addresses", e.sweepCapacity()))
		}
	}

	if s.teredo {
		if pt.Warmup, err = e.warmPeers(ctx, p, enc, dec, n); err != nil {
			return fail(err)
		}
		if pt.Warmup.Reached < n && s.name == SysRelayd {
			// The exchange did not finish (cap or stall): learn the
			// remaining clients from their packets instead.
			e.relayd.acceptUnknown = true
			if err := e.reloadRelayd(ctx); err != nil {
				return fail(err)
			}
			pt.Warmup.Method = WarmupAcceptUnknown
		}
	} else {
		pt.Warmup = &SweepWarmup{Method: WarmupNone}
	}

	if pt.Decap, err = e.sweepStep(ctx, p, dec, ModeDecap, n, e.sweepRates[s.name][ModeDecap], calSweepDecap); err != nil {
		return fail(err)
	}
	e.logSweepStep(s.name, pt.Decap)
	if s.teredo {
		if err := e.settle(ctx); err != nil {
			return fail(err)
		}
		if pt.Refresh, err = e.refreshPeers(ctx, dec, n, pt.Decap.DeliveredPPS); err != nil {
			return fail(err)
		}
	}
	if pt.Encap, err = e.sweepStep(ctx, p, enc, ModeEncap, n, e.sweepRates[s.name][ModeEncap], calSweepEncap); err != nil {
		return fail(err)
	}
	e.logSweepStep(s.name, pt.Encap)
	if p.exited() {
		return fail(fmt.Errorf("%s exited during the sweep: %v\nlog:\n%s", s.name, p.err, p.tail(3000)))
	}
	return pt
}

func (e *env) logSweepStep(name string, st *Step) {
	e.logf("%-14s %-5s %8d peers: target %8s offered %8s delivered %8s (%d peers reached) loss %5.1f%% cpu %3.0f%% %5.0f ns/pkt (process %.0f + softirq %.0f) machine %3.0f%%",
		name, st.Mode, st.Peers, targetStr(st.TargetPPS), kpps(st.OfferedPPS), kpps(st.DeliveredPPS), st.PeersReached, st.Loss*100, st.SystemCPU,
		st.NsPerPkt(), st.ProcessNsPerPkt, st.SoftirqNsPerPkt, st.MachineCPU)
}

// resetPeers clears the sinks' per-peer bitmaps.
func (e *env) resetPeers() error {
	return errors.Join(e.sinkV4.ResetPeers(), e.sinkV6.ResetPeers())
}

// reached returns how many distinct peers got a packet of direction m
// through since the last resetPeers.
func (e *env) reached(m Mode) (int, error) {
	if m == ModeDecap {
		return e.sinkV6.Peers(int(loadgen.KindDecap))
	}
	return e.sinkV4.Peers(int(loadgen.KindEncap))
}

// sweepStep is one step of the sweep at rate (0: unpaced). A paced step
// lasts long enough to offer every peer once (at most maxSweepStep).
func (e *env) sweepStep(ctx context.Context, p *proc, g loadgen.Generator, m Mode, n int, rate float64, calKey string) (*Step, error) {
	if err := e.resetPeers(); err != nil {
		return nil, err
	}
	d := e.opts.SweepStep
	if rate > 0 {
		d = max(d, min(time.Duration(1.05*float64(n)/rate*float64(time.Second)), maxSweepStep))
	}
	diag := e.diagStart(ctx, p, p.name, fmt.Sprintf("sweep-%s-%d", m, n), true)
	st, err := e.stepFor(ctx, p, g, m, loadgen.Pace{Rate: rate, Duration: d}, calKey)
	if err != nil {
		return nil, err
	}
	diag.finish(ctx)
	st.Peers = n
	if st.PeersReached, err = e.reached(m); err != nil {
		return nil, err
	}
	return &st, nil
}

// warmPeers makes the system verify n peers through the real bubble
// exchange: rounds of one encap packet to every peer (the relay queues it,
// sends an indirect bubble to the server, the handshake responder answers
// with the client's direct bubble, the relay trusts the peer and releases
// the packet), until every peer's packet came out, two rounds verify nobody
// new, or WarmupCap passes (pacing: see warmRate).
func (e *env) warmPeers(ctx context.Context, p *proc, enc, dec loadgen.Generator, n int) (*SweepWarmup, error) {
	start := time.Now()
	deadline := start.Add(e.opts.WarmupCap)
	w := &SweepWarmup{Method: WarmupBubbles}
	b0 := e.resp.Stats().Bubbles
	if err := e.resetPeers(); err != nil {
		return nil, err
	}
	rate := warmRate
	stalled := 0
	for ctx.Err() == nil && time.Now().Before(deadline) {
		before := w.Reached
		if w.Rounds > 0 {
			ka := min(keepAliveFactor*rate, maxKeepAlive)
			if _, err := e.sendStats(ctx, dec, loadgen.Pace{Count: uint64(n), Rate: ka, Duration: time.Until(deadline)}); err != nil {
				return nil, err
			}
		}
		send := rate
		if w.Rounds > 0 {
			send = min(rate*float64(n)/float64(max(n-w.Reached, 1)), maxWarmRate)
		}
		got, err := e.warmRound(ctx, enc, n, send, w.Rounds == 0, deadline)
		if err != nil {
			return nil, err
		}
		if w.Rounds == 0 {
			rate = got
		}
		w.Rounds++
		// Wait until the count stops growing (bubble retries included).
		last, lastGrowth := -1, time.Now()
		for time.Since(lastGrowth) < warmSettle && time.Now().Before(deadline) && ctx.Err() == nil {
			got, err := e.reached(ModeEncap)
			if err != nil {
				return nil, err
			}
			if got != last {
				last, lastGrowth = got, time.Now()
			}
			if got >= n || time.Since(lastGrowth) > warmRoundWait {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		w.Reached = max(last, before)
		e.logf("  warm-up round %d (%s at the end): %d of %d peers verified (%.1f s)", w.Rounds, kpps(got)+"pps", w.Reached, n, time.Since(start).Seconds())
		if w.Reached >= n {
			break
		}
		if p.exited() {
			return nil, fmt.Errorf("exited during the warm-up: %v\nlog:\n%s", p.err, p.tail(3000))
		}
		if w.Reached == before {
			// Two rounds without progress: the system will not verify the
			// rest (a relay whose bubble budget for a peer is spent waits
			// minutes before bubbling it again).
			if stalled++; stalled == 2 {
				w.Stalled = true
				break
			}
		} else {
			stalled = 0
		}
	}
	if w.Reached < n {
		w.Capped = !w.Stalled && !time.Now().Before(deadline)
		w.Method = WarmupBubblesPartial
	}
	w.Bubbles = e.resp.Stats().Bubbles - b0
	w.Seconds = time.Since(start).Seconds()
	return w, ctx.Err()
}

// warmRound sends one encap packet to each of the n peers in chunks of half
// a second at rate; in the first round (adapt) the rate follows the
// system's verification rate after each chunk. It returns the final rate.
func (e *env) warmRound(ctx context.Context, enc loadgen.Generator, n int, rate float64, adapt bool, deadline time.Time) (float64, error) {
	prev, err := e.reached(ModeEncap)
	if err != nil {
		return rate, err
	}
	for sent := 0; sent < n && ctx.Err() == nil; {
		left := time.Until(deadline)
		if left <= 0 {
			break
		}
		c := min(n-sent, max(1000, int(rate/2)))
		st, err := e.sendStats(ctx, enc, loadgen.Pace{Count: uint64(c), Rate: rate, Duration: left})
		if err != nil {
			return rate, err
		}
		sent += int(st.Sent)
		if !adapt || st.Sent == 0 {
			continue
		}
		got, err := e.reached(ModeEncap)
		if err != nil {
			return rate, err
		}
		switch ratio := float64(got-prev) / float64(st.Sent); {
		case ratio < 0.9:
			rate = max(rate*0.8, minWarmRate)
		case ratio > 0.97:
			rate = min(rate*1.1, maxWarmRate)
		}
		prev = got
	}
	return rate, ctx.Err()
}

// settle waits until the sinks count nothing new for settleQuiet (at most
// settleMax).
func (e *env) settle(ctx context.Context) error {
	var last uint64
	quiet := time.Now()
	for start := time.Now(); time.Since(start) < settleMax && ctx.Err() == nil; time.Sleep(50 * time.Millisecond) {
		v4, v6, err := e.read()
		if err != nil {
			return err
		}
		var total uint64
		for k := range v4.Pkts {
			total += v4.Pkts[k] + v6.Pkts[k]
		}
		if total != last {
			last, quiet = total, time.Now()
		} else if time.Since(quiet) >= settleQuiet {
			return nil
		}
	}
	return ctx.Err()
}

// refreshPeers sends one decap packet from every peer at a rate the system
// takes (half what it delivered unpaced), so that each was heard from
// recently before the encap step: relays encapsulate directly only to
// peers heard from within the last 30 s (RFC 4380 §5.2.4; teredo-relayd
// and Miredo alike), and with accept_unknown_peers this pass is also what
// makes teredo-relayd learn every client.
func (e *env) refreshPeers(ctx context.Context, dec loadgen.Generator, n int, decapPPS float64) (*Refresh, error) {
	start := time.Now()
	rate := min(max(decapPPS/2, float64(n)/refreshMax.Seconds()), maxRefreshRate)
	if err := e.resetPeers(); err != nil {
		return nil, err
	}
	if _, err := e.sendStats(ctx, dec, loadgen.Pace{Count: uint64(n), Rate: rate, Duration: refreshMax + 5*time.Second}); err != nil {
		return nil, err
	}
	time.Sleep(drainTime)
	got, err := e.reached(ModeDecap)
	if err != nil {
		return nil, err
	}
	return &Refresh{RatePPS: rate, Reached: got, Seconds: time.Since(start).Seconds()}, nil
}
