//go:build linux

package lab

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/teredorelay/teredorelay/internal/testenv"
	"github.com/teredorelay/teredorelay/relayctl"
)

// The fleet tests (issue 14): two teredo-relayd boxes announce 2001::/32
// over BGP to a BIRD IX router that spreads native traffic over them with
// ECMP (lab/fleet_linux.go). The native side is 4 hosts with 4 addresses
// each, the client side the real Miredo client behind a NAT; every flow is
// a stream of UDP datagrams from one native address to the client, which
// echoes each back, 25 per second each way.

const (
	fleetInterval = 40 * time.Millisecond
	// fleetHashFields is what the router hashes ECMP on: source and
	// destination address (deploy/bird/ix-peer.conf).
	fleetHashFields = 0x0003
)

// fleetFlow is a stream flow and the relay the router's ECMP sends it to.
type fleetFlow struct {
	StreamFlow
	relay int
}

func startFleet(t *testing.T, opts FleetOptions) *Fleet {
	t.Helper()
	opts.RelaydBinary = relaydBinary(t)
	testenv.RequireBinary(t, "bird", "birdc", "curl")
	opts.BirdRelayConf, opts.BirdRouterConf = "../deploy/bird/bird.conf", "../deploy/bird/ix-peer.conf"
	opts.WithdrawScript = "../deploy/bird/teredo-announce-withdraw"
	opts.Log = testLog{t}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	begin := time.Now()
	f, err := StartFleet(ctx, opts)
	if err != nil {
		t.Fatalf("start fleet: %v", err)
	}
	t.Logf("fleet %s up in %v: client %v, ECMP over %d relays", f.ID(), time.Since(begin).Round(time.Millisecond), f.ClientAddr(), FleetRelays)
	t.Cleanup(func() {
		if t.Failed() {
			for _, r := range f.Relays {
				t.Logf("--- relay %d log ---\n%s", r.Index, r.Log())
			}
			t.Logf("--- client log ---\n%s", f.ProcessLog("client"))
		}
		closeAndCheck(t, f.Lab, f.Close)
	})
	return f
}

// fleetFlows lists one flow per native address; the relay each takes is
// found by fleetSpread.
func fleetFlows(f *Fleet) []fleetFlow {
	var out []fleetFlow
	for h, addrs := range f.Natives() {
		for j, a := range addrs {
			out = append(out, fleetFlow{StreamFlow: StreamFlow{ID: uint32(h*16 + j), From: FleetNativeNode(h + 1), Src: a}})
		}
	}
	return out
}

func (f *Fleet) metrics(t *testing.T, i int) map[string]float64 {
	t.Helper()
	return scrapeMetrics(t, f.Lab, FleetRelayNode(i), "127.0.0.1:9542")
}

func (f *Fleet) relayctl(t *testing.T, i int, args ...string) string {
	t.Helper()
	var out, errb bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	code := relayctl.Main(ctx, append([]string{"--socket", f.Relays[i-1].APISocket}, args...),
		relayctl.Options{Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" }})
	if code != 0 {
		t.Fatalf("relayctl %v on relay %d: exit %d: %s", args, i, code, errb.String())
	}
	return out.String()
}

// startFleetStreams starts one stream per flow to the client on port and
// waits until every flow has been delivered both ways.
func startFleetStreams(t *testing.T, f *Fleet, flows []fleetFlow, port uint16, wait time.Duration) *Streams {
	t.Helper()
	sf := make([]StreamFlow, len(flows))
	for i, fl := range flows {
		sf[i] = fl.StreamFlow
	}
	begin := time.Now()
	s, err := f.StartStreams(Client, f.ClientAddr(), port, fleetInterval, sf)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := s.WaitDelivered(ctx, begin); err != nil {
		s.Stop(0)
		t.Fatal(err)
	}
	return s
}

// waitFlows waits until every flow has had a datagram sent at or after
// since delivered both ways.
func waitFlows(t *testing.T, s *Streams, since time.Time, timeout time.Duration, what string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := s.WaitDelivered(ctx, since); err != nil {
		for _, r := range s.Snapshot() {
			if fwd, back, ok := r.FirstAfter(since); !ok || back.IsZero() {
				t.Logf("flow %d (%v): first after: forward %v, back %v", r.ID, r.Src, fwd.Format("15:04:05.000"), back.Format("15:04:05.000"))
			}
		}
		t.Fatalf("%s: %v", what, err)
	}
}

func (f *Fleet) waitNextHops(t *testing.T, timeout time.Duration, relays ...int) time.Time {
	t.Helper()
	var want []netip.Addr
	for _, i := range relays {
		want = append(want, FleetRelayIPv6(i))
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout+time.Second)
	defer cancel()
	at, err := f.WaitNextHops(ctx, timeout, want)
	if err != nil {
		t.Fatal(err)
	}
	return at
}

// moveStats summarises, over the flows of one relay, a move to another
// relay that began at `at`: the time from `at` to the first datagram sent
// at or after it that was delivered (forward: at the client; back: its
// echo at the native host) and the datagrams lost.
type moveStats struct {
	flows                   int
	fwdMin, fwdMax, backMax time.Duration
	// gapFwd and gapBack are the longest silences any of the flows saw at
	// the client and at the native host (the send interval is 40 ms).
	gapFwd, gapBack time.Duration
	lost, lostBack  int
}

func (m moveStats) String() string {
	return fmt.Sprintf("%d flows: first datagram sent after it delivered native→client %v–%v after, its echo back by %v; longest silence %v at the client, %v at the native hosts; lost %d forward, %d back",
		m.flows, m.fwdMin.Round(time.Millisecond), m.fwdMax.Round(time.Millisecond), m.backMax.Round(time.Millisecond),
		m.gapFwd.Round(time.Millisecond), m.gapBack.Round(time.Millisecond), m.lost, m.lostBack)
}

// move measures the flows of relay `from` in reps for an event at `at`;
// losses are counted for datagrams sent in [at-lookback, until).
func move(t *testing.T, reps []StreamReport, flows []fleetFlow, from int, at, until time.Time) moveStats {
	t.Helper()
	var m moveStats
	for i, r := range reps {
		if flows[i].relay != from {
			continue
		}
		fwd, back, ok := r.FirstAfter(at)
		if !ok || back.IsZero() {
			t.Fatalf("flow %d (%v) of relay %d: nothing delivered both ways after the event", r.ID, r.Src, from)
		}
		d := fwd.Sub(at)
		if m.flows == 0 || d < m.fwdMin {
			m.fwdMin = d
		}
		m.fwdMax = max(m.fwdMax, d)
		m.backMax = max(m.backMax, back.Sub(at))
		m.flows++
		last, next := r.LongestGap(at.Add(-time.Second), until, false)
		m.gapFwd = max(m.gapFwd, next.Sub(last))
		last, next = r.LongestGap(at.Add(-time.Second), until, true)
		m.gapBack = max(m.gapBack, next.Sub(last))
		for s := range r.Sent {
			if r.SentAt[s].Before(at.Add(-time.Second)) || !r.SentAt[s].Before(until) {
				continue
			}
			if r.Fwd[s].IsZero() {
				m.lost++
			}
			if r.Back[s].IsZero() {
				m.lostBack++
			}
		}
	}
	return m
}

// routeGap is how long before the router's new route to 2001::/32 shows
// that datagrams may find no route at all: BIRD replaces a kernel IPv6
// multipath route by deleting it and adding the new one.
const routeGap = 200 * time.Millisecond

// checkIntact fails on corrupt datagrams, on losses of the flows of relay
// `other` (which the event did not concern) except in the router's
// route-replacement gap before one of changes, and on any loss of a
// datagram sent after the flows settled. It returns the losses in the
// route-replacement gaps.
func checkIntact(t *testing.T, reps []StreamReport, flows []fleetFlow, other int, changes ...time.Time) (gapLost int) {
	t.Helper()
	inGap := func(sent time.Time) bool {
		for _, c := range changes {
			if !sent.Before(c.Add(-routeGap)) && !sent.After(c.Add(50*time.Millisecond)) {
				return true
			}
		}
		return false
	}
	for i, r := range reps {
		if r.Corrupt != 0 {
			t.Errorf("flow %d: %d corrupt datagrams", r.ID, r.Corrupt)
		}
		last := r.SentAt[r.Sent-1]
		if n := r.LostFwdSentIn(last.Add(-time.Second), last); n != 0 {
			t.Errorf("flow %d: %d datagrams lost in the last second, after the flows settled", r.ID, n)
		}
		if flows[i].relay != other {
			continue
		}
		for s := range r.Sent {
			if !r.Fwd[s].IsZero() && !r.Back[s].IsZero() {
				continue
			}
			if !inGap(r.SentAt[s]) {
				t.Errorf("flow %d of relay %d, not concerned by the event: datagram %d sent at %s lost", r.ID, other, s, r.SentAt[s].Format("15:04:05.000"))
				continue
			}
			gapLost++
		}
	}
	return gapLost
}

// TestFleet runs the fleet scenarios in one lab (about 35 s, lab start
// included): both relays carry their share; a relay's daemon killed
// (SIGKILL) is withdrawn by the emulated teredo-announce.service and its
// flows move to the other relay, then come back to it (its peers restored
// from its state file); a relay box powered off is withdrawn by the
// router's BFD; a drained relay is withdrawn with no loss beyond packets in
// flight and returns after undrain; a packet for a Teredo address never
// goes from one relay to the other, whatever the routes say; and, as the
// twin without the router's address-only hash, the kernel's default hash
// black-holes exactly the flows whose data and connectivity test take
// different relays. Each scenario logs its measurements.
func TestFleet(t *testing.T) {
	begin := time.Now()
	f := startFleet(t, FleetOptions{HashFields: fleetHashFields})
	flows := fleetFlows(f)
	if !t.Run("spread", func(t *testing.T) { fleetSpread(t, f, flows) }) {
		t.FailNow()
	}
	t.Run("kill", func(t *testing.T) { fleetKill(t, f, flows) })
	t.Run("power-off", func(t *testing.T) { fleetPowerOff(t, f, flows) })
	t.Run("drain", func(t *testing.T) { fleetDrain(t, f, flows) })
	t.Run("no-loop", func(t *testing.T) { fleetNoLoop(t, f) })
	t.Run("kernel-default-hash", func(t *testing.T) { fleetDefaultHash(t, f, flows) })
	t.Logf("fleet scenarios took %v", time.Since(begin).Round(time.Second))
}

// fleetSpread: the router spreads the flows over both relays, each flow
// on one relay in both directions (seen on the router's ports to the
// relays), and each relay's counters match the datagrams of its flows. It
// records each flow's relay in flows.
func fleetSpread(t *testing.T, f *Fleet, flows []fleetFlow) {
	s := startFleetStreams(t, f, flows, 41000, 30*time.Second)
	time.Sleep(500 * time.Millisecond)
	captures := startPortCaptures(t, f, "ip6", "and", "udp")
	// Each relay's counters are read at some instant of its scrape: the
	// scrape's midpoint, give or take half its duration.
	type reading struct {
		at, slack time.Duration // since begin
		m         map[string]float64
	}
	begin := time.Now()
	scrape := func() (out [FleetRelays + 1]reading) {
		for i := 1; i <= FleetRelays; i++ {
			a := time.Since(begin)
			m := f.metrics(t, i)
			b := time.Since(begin)
			out[i] = reading{at: (a + b) / 2, slack: (b - a) / 2, m: m}
		}
		return out
	}
	r0 := scrape()
	time.Sleep(2 * time.Second)
	r1 := scrape()
	reps := s.Stop(time.Second)
	t0, t1 := begin.Add(r0[1].at), begin.Add(r1[FleetRelays].at)
	m0 := [FleetRelays + 1]map[string]float64{nil, r0[1].m, r0[2].m}
	m1 := [FleetRelays + 1]map[string]float64{nil, r1[1].m, r1[2].m}
	// Once established, nothing is lost or corrupted. At first contact each
	// relay queues the client's first packets while it verifies the client,
	// 1280 bytes at most (peers.queue_bytes_per_peer): with many flows
	// starting at once the first datagrams of some are dropped there
	// (peer_queue_full), as they would be by Miredo's relay.
	var early int
	for _, r := range reps {
		if r.Corrupt != 0 {
			t.Errorf("flow %d: %d corrupt datagrams", r.ID, r.Corrupt)
		}
		if n := r.LostFwdSentIn(t0.Add(-500*time.Millisecond), t1); n != 0 {
			t.Errorf("flow %d: %d datagrams lost after the flows were established", r.ID, n)
		}
		early += r.LostFwdSentIn(r.SentAt[0], t0.Add(-500*time.Millisecond))
	}
	var queueFull float64
	for i := 1; i <= FleetRelays; i++ {
		queueFull += m1[i][relDrop("peer_queue_full")]
	}
	t.Logf("first contact: %d datagrams lost while the relays verified the client (%v dropped as peer_queue_full)", early, queueFull)

	// Which relay each flow took, from the native packets on each port.
	client := f.ClientAddr()
	seen := map[uint32][FleetRelays + 1][2]int{} // flow -> relay -> [to client, from client]
	for i, frames := range captures.stop(t) {
		for _, fr := range frames {
			p, ok := DecodeIPv6(fr.Data)
			if !ok || p[6] != ProtoUDP || len(p) < 48+streamPayloadLen {
				continue
			}
			id, _, ok := streamCheck(p[48:])
			if !ok {
				continue
			}
			c := seen[id]
			switch {
			case IPv6Dst(p) == client:
				c[i][0]++
			case IPv6Src(p) == client:
				c[i][1]++
			}
			seen[id] = c
		}
	}
	per := map[int]int{}
	for k := range flows {
		c := seen[flows[k].ID]
		for i := 1; i <= FleetRelays; i++ {
			if c[i][0] == 0 && c[i][1] == 0 {
				continue
			}
			if flows[k].relay != 0 {
				t.Fatalf("flow %d (%v) seen through relay %d and relay %d: %v", flows[k].ID, flows[k].Src, flows[k].relay, i, c)
			}
			if c[i][0] == 0 || c[i][1] == 0 {
				t.Fatalf("flow %d (%v) through relay %d in one direction only: %v", flows[k].ID, flows[k].Src, i, c)
			}
			flows[k].relay = i
		}
		if flows[k].relay == 0 {
			t.Fatalf("flow %d (%v) not seen on any relay's port", flows[k].ID, flows[k].Src)
		}
		per[flows[k].relay]++
	}
	t.Logf("router ECMP (hash on source and destination address): %d flows via relay 1, %d via relay 2, each in both directions", per[1], per[2])
	if per[1] == 0 || per[2] == 0 {
		t.Fatalf("all %d flows took one relay (probability 2^-15 with a working ECMP): %v", len(flows), per)
	}

	var total float64
	for i := 1; i <= FleetRelays; i++ {
		total += m1[i][relV6ToV4] - m0[i][relV6ToV4]
	}
	for i := 1; i <= FleetRelays; i++ {
		var fwd, back int
		from, to := begin.Add(r0[i].at), begin.Add(r1[i].at)
		for k, r := range reps {
			if flows[k].relay != i {
				continue
			}
			for s := range r.Sent {
				if a := r.Fwd[s]; a.After(from) && !a.After(to) {
					fwd++
				}
				if a := r.Back[s]; a.After(from) && !a.After(to) {
					back++
				}
			}
		}
		dFwd := m1[i][relV6ToV4] - m0[i][relV6ToV4]
		dBack := m1[i][relV4ToV6] - m0[i][relV4ToV6]
		// Its flows' packets per second times the reading uncertainty, and
		// a packet per flow in flight at each end.
		pps := float64(per[i]) * float64(time.Second) / float64(fleetInterval)
		tol := pps*(r0[i].slack+r1[i].slack).Seconds() + float64(2*per[i]) + 2
		t.Logf("relay %d: %d flows; its counters: %v packets native→client, %v client→native in %v (%.0f%% of the native→client traffic); its flows' datagrams: %d and %d",
			i, per[i], dFwd, dBack, to.Sub(from).Round(time.Millisecond), 100*dFwd/total, fwd, back)
		if d := dFwd - float64(fwd); d < -tol || d > tol {
			t.Errorf("relay %d forwarded %v native→client packets, its flows delivered %d (tolerance %.0f)", i, dFwd, fwd, tol)
		}
		if d := dBack - float64(back); d < -tol || d > tol {
			t.Errorf("relay %d forwarded %v client→native packets, its flows' echoes %d (tolerance %.0f)", i, dBack, back, tol)
		}
		if m1[i][relTrusted] != 1 {
			t.Errorf("relay %d: %v trusted peers, want the client", i, m1[i][relTrusted])
		}
	}
}

// failover is one round trip of a relay's flows: away from the victim and
// back to it.
type failover struct {
	reps []StreamReport
	// left: the event; withdrawn: the router's route lost the victim;
	// moved: the flows were delivered through the other relay (and a
	// second passed); returned: the victim's return began; back: the route
	// has both relays again.
	left, withdrawn, moved, returned, back time.Time
	// gapLost: datagrams of the other relay's flows lost in the router's
	// route-replacement gaps (checkIntact).
	gapLost int
}

// runFailover streams every flow on port, waits (with waitSave) for a
// periodic save holding the client on the victim, runs leave (which
// returns the event's time), waits for the router to drop the victim's
// path (then runs afterWithdraw, if any), for every flow to be delivered
// again, runs come, waits for both paths and for every flow again, and
// checks the flows' integrity.
func runFailover(t *testing.T, f *Fleet, flows []fleetFlow, victim *FleetRelay, port uint16, waitSave bool,
	leave func() time.Time, afterWithdraw func(), come func(ctx context.Context) error) failover {
	t.Helper()
	other := 3 - victim.Index
	st := startFleetStreams(t, f, flows, port, 10*time.Second)
	if waitSave {
		relWaitFleet(t, f, victim.Index, "a periodic save holding the client", func(m map[string]float64) bool {
			return m[relSavedPeers] == 1
		})
	}
	time.Sleep(500 * time.Millisecond)
	var r failover
	r.left = leave()
	r.withdrawn = f.waitNextHops(t, 10*time.Second, other)
	if afterWithdraw != nil {
		afterWithdraw()
	}
	waitFlows(t, st, r.left, 15*time.Second, "flows after the event")
	time.Sleep(time.Second)
	r.moved = time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	r.returned = time.Now()
	if err := come(ctx); err != nil {
		st.Stop(0)
		t.Fatal(err)
	}
	r.back = f.waitNextHops(t, 20*time.Second, 1, 2)
	waitFlows(t, st, r.back, 15*time.Second, "flows after the victim came back")
	time.Sleep(1500 * time.Millisecond)
	r.reps = st.Stop(time.Second)
	r.gapLost = checkIntact(t, r.reps, flows, other, r.withdrawn, r.back)
	return r
}

// fleetKill: relay 1's daemon is killed with SIGKILL. As on a systemd box,
// teredo-announce.service (BindsTo) runs teredo-announce-withdraw, BIRD
// withdraws, and the router moves relay 1's flows to relay 2. Relay 1 is
// started again: it restores its peers from its state file, is announced
// after the rise time, and its flows come back.
func fleetKill(t *testing.T, f *Fleet, flows []fleetFlow) {
	v := f.Relays[0]
	var ready time.Time
	r := runFailover(t, f, flows, v, 41001, true, v.KillRelayd, nil, func(ctx context.Context) error {
		err := v.StartRelayd(ctx)
		ready = time.Now()
		return err
	})
	out := move(t, r.reps, flows, v.Index, r.left, r.moved)
	ret := move(t, r.reps, flows, v.Index, r.back, r.back.Add(3*time.Second))
	t.Logf("SIGKILL relay 1's daemon: route withdrawn at the router %v after the kill (teredo-announce-withdraw, BIRD, BGP); %v",
		r.withdrawn.Sub(r.left).Round(time.Millisecond), out)
	t.Logf("relay 1 started again: ready %v after the start, route back %v after ready (rise %v); moving back: %v",
		ready.Sub(r.returned).Round(time.Millisecond), r.back.Sub(ready).Round(time.Millisecond), f.fopts.Rise, ret)
	t.Logf("relay 2's own flows lost %d datagrams, all sent in the router's route-replacement gaps", r.gapLost)
	m := f.metrics(t, v.Index)
	if m[relLoadedTrusted] != 1 || m[relIndirect] != 0 {
		t.Errorf("restarted relay 1: restored trusted %v, indirect bubbles %v; want the client back from the state file, no bubble", m[relLoadedTrusted], m[relIndirect])
	}
	if ret.lost > ret.flows || ret.lostBack > ret.flows {
		t.Errorf("moving back to relay 1 lost %d forward, %d back over %d flows: more than one in flight per flow", ret.lost, ret.lostBack, ret.flows)
	}
}

// fleetPowerOff: relay 2's box dies at once (IX port silent, every process
// killed, nothing withdraws): the router's BFD (100 ms × 3) drops the BGP
// session and the route, and relay 2's flows move to relay 1. Then the box
// comes back.
func fleetPowerOff(t *testing.T, f *Fleet, flows []fleetFlow) {
	v, s := f.Relays[1], f.Relays[0]
	// What reaches the survivor's port until the route is withdrawn: the
	// bridge forgets the dead port's MAC addresses and floods frames for
	// them to every other port.
	mac, err := f.relayMAC(v)
	if err != nil {
		t.Fatal(err)
	}
	capCtx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var flood *Capture
	var flooded []Frame
	r := runFailover(t, f, flows, v, 41002, true, func() time.Time {
		var err error
		if flood, err = f.StartCapture(capCtx, Core, fleetCoreRelayIf(s.Index), "--immediate-mode", "ether", "dst", mac.String()); err != nil {
			t.Fatal(err)
		}
		off, err := v.PowerOff()
		if err != nil {
			t.Fatal(err)
		}
		return off
	}, func() {
		var err error
		if flooded, err = flood.Stop(); err != nil {
			t.Fatal(err)
		}
	}, v.PowerOn)
	out := move(t, r.reps, flows, v.Index, r.left, r.moved)
	var early int
	for k, rep := range r.reps {
		if flows[k].relay != v.Index {
			continue
		}
		for i := range rep.Sent {
			if !rep.SentAt[i].Before(r.left) && rep.SentAt[i].Before(r.withdrawn) && !rep.Fwd[i].IsZero() {
				early++
			}
		}
	}
	t.Logf("relay 2 powered off: BFD withdrew the route at the router %v after; %v", r.withdrawn.Sub(r.left).Round(time.Millisecond), out)
	t.Logf("before the withdrawal, %d frames for relay 2's MAC were flooded to relay 1's port and relay 1 delivered %d of relay 2's datagrams from them (the data plane does not check the destination MAC)",
		len(flooded), early)
	if d := r.withdrawn.Sub(r.left); d > 2*time.Second {
		t.Errorf("the router withdrew a dead relay after %v: BFD (100 ms × 3) should take about 0.3 s", d)
	}
	ret := move(t, r.reps, flows, v.Index, r.back, r.back.Add(3*time.Second))
	t.Logf("relay 2 powered on: route back %v after power-on; moving back: %v", r.back.Sub(r.returned).Round(time.Millisecond), ret)
	t.Logf("relay 1's own flows lost %d datagrams, all sent in the router's route-replacement gaps", r.gapLost)
}

// fleetDrain: relayctl drain withdraws relay 1's route at once; its flows
// move to relay 2 while relay 1 keeps forwarding what still reaches it, so
// nothing is lost beyond packets in flight; undrain brings them back after
// the rise time.
func fleetDrain(t *testing.T, f *Fleet, flows []fleetFlow) {
	v := f.Relays[0]
	r := runFailover(t, f, flows, v, 41003, false, func() time.Time {
		at := time.Now()
		f.relayctl(t, v.Index, "drain")
		return at
	}, nil, func(context.Context) error {
		f.relayctl(t, v.Index, "undrain")
		return nil
	})
	out := move(t, r.reps, flows, v.Index, r.left, r.returned)
	ret := move(t, r.reps, flows, v.Index, r.back, r.back.Add(3*time.Second))
	t.Logf("drain relay 1: route withdrawn at the router %v after relayctl drain; %v", r.withdrawn.Sub(r.left).Round(time.Millisecond), out)
	t.Logf("undrain relay 1: route back %v after relayctl undrain (rise %v); %v", r.back.Sub(r.returned).Round(time.Millisecond), f.fopts.Rise, ret)
	t.Logf("relay 2's own flows lost %d datagrams, all sent in the router's route-replacement gaps", r.gapLost)
	for _, m := range []moveStats{out, ret} {
		if m.lost > m.flows || m.lostBack > m.flows {
			t.Errorf("a drain move lost %d forward, %d back over %d flows: more than one in flight per flow", m.lost, m.lostBack, m.flows)
		}
	}
	if since := r.back.Sub(r.returned); since < f.fopts.Rise {
		t.Errorf("route back %v after undrain, before the rise time", since)
	}
}

// portCaptures are captures on the router's bridge port to each relay
// (index = relay): what reaches the relay and what it sends.
type portCaptures [FleetRelays + 1]*Capture

// startPortCaptures starts a capture (immediate mode, filter) on each
// relay's port of the router.
func startPortCaptures(t *testing.T, f *Fleet, filter ...string) portCaptures {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	var c portCaptures
	for i := 1; i <= FleetRelays; i++ {
		var err error
		if c[i], err = f.StartCapture(ctx, Core, fleetCoreRelayIf(i), append([]string{"--immediate-mode"}, filter...)...); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// stop ends the captures and returns the frames of each relay's port
// (index 0 is empty).
func (c portCaptures) stop(t *testing.T) [FleetRelays + 1][]Frame {
	t.Helper()
	var out [FleetRelays + 1][]Frame
	for i := 1; i <= FleetRelays; i++ {
		fr, err := c[i].Stop()
		if err != nil {
			t.Fatal(err)
		}
		out[i] = fr
	}
	return out
}

// relayMAC returns the MAC address of a relay's IX port.
func (f *Fleet) relayMAC(r *FleetRelay) (net.HardwareAddr, error) {
	var mac net.HardwareAddr
	err := f.Do(r.Node, func() error {
		ifc, err := net.InterfaceByName(fleetRelayIf)
		if err != nil {
			return err
		}
		mac = ifc.HardwareAddr
		return nil
	})
	return mac, err
}

// relWaitFleet polls relay i's metrics until cond holds (5 s at most).
func relWaitFleet(t *testing.T, f *Fleet, i int, what string, cond func(map[string]float64) bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond(f.metrics(t, i)) {
		if time.Now().After(deadline) {
			t.Fatalf("relay %d: %s: not within 5 s", i, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// fleetNoLoop: with each relay's kernel routing 2001::/32 to the other
// relay (and forwarding on), packets for Teredo addresses are injected at
// relay 1 from both sides. A capture of the whole IX LAN shows each one
// arriving at relay 1 once and nothing leaving it towards relay 2; relay 1
// counts each under its drop reason. A control packet for a non-Teredo
// prefix routed the same way loops between the relays' kernels, so the
// captures would catch a forwarded Teredo packet.
func fleetNoLoop(t *testing.T, f *Fleet) {
	a, b := f.Relays[0], f.Relays[1]
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	control := netip.MustParsePrefix("2001:db8:77::/48")
	controlDst := netip.MustParseAddr("2001:db8:77::1")
	// D: a Teredo address (server 192.0.2.1) whose mapping is relay 2's
	// address and port; L: one whose mapping is elsewhere in the lab.
	d := TeredoAddr(ServerIPv4, 0, netip.AddrPortFrom(b.IPv4, TeredoPort))
	lAddr := TeredoAddr(ServerIPv4, 0, netip.MustParseAddrPort("203.0.113.77:40000"))
	src := FleetNativeAddr(1, 0)
	for _, r := range []struct{ from, to *FleetRelay }{{a, b}, {b, a}} {
		must(f.sysctl(r.from.Node, "ipv6/conf/all/forwarding", "1"))
		must(f.ipIn(r.from.Node, "-6", "route", "add", TeredoPrefix.String(), "via", r.to.IPv6.String(), "dev", fleetRelayIf))
		must(f.ipIn(r.from.Node, "-6", "route", "add", control.String(), "via", r.to.IPv6.String(), "dev", fleetRelayIf))
	}
	// The router sends the injected destinations to relay 1 whatever its
	// ECMP hash says.
	for _, dst := range []netip.Addr{d, lAddr, controlDst} {
		must(f.ipIn(Core, "-6", "route", "add", dst.String()+"/128", "via", a.IPv6.String(), "dev", fleetBridge))
	}
	defer func() {
		for _, dst := range []netip.Addr{d, lAddr, controlDst} {
			f.ipIn(Core, "-6", "route", "del", dst.String()+"/128")
		}
		for _, r := range []*FleetRelay{a, b} {
			f.ipIn(r.Node, "-6", "route", "del", TeredoPrefix.String())
			f.ipIn(r.Node, "-6", "route", "del", control.String())
			f.sysctl(r.Node, "ipv6/conf/all/forwarding", "0")
		}
	}()
	m0 := [FleetRelays + 1]map[string]float64{nil, f.metrics(t, 1), f.metrics(t, 2)}
	// Captures on the router's bridge ports to each relay: rly1 sees what
	// reaches relay 1 and what relay 1 sends, rly2 what reaches relay 2.
	captures := startPortCaptures(t, f, "ip6", "or", "udp", "port", "3544")

	marker := []byte("fleet-loop-test-0123456789abcdef")
	// 1. Native side, Teredo destination whose mapping is relay 2: relay 1
	// drops it (the other relays are in extra_bogons), no bubble, nothing
	// to relay 2.
	must(f.SendRawIPv6(FleetNativeNode(1), EchoRequest(src, d, 64, 0x7001, 1, marker)))
	// 2. Native side, Teredo source and destination: src_teredo_loop.
	teredoSrc := TeredoAddr(ServerIPv4, 0, netip.MustParseAddrPort("203.0.113.78:40001"))
	must(f.SendRawIPv6(FleetNativeNode(1), EchoRequest(teredoSrc, lAddr, 64, 0x7002, 1, marker)))
	// 3. Client side: a Teredo datagram to relay 1 from the NAT's address,
	// source a matching Teredo address, destination a Teredo address:
	// dst_teredo_loop (never decapsulated towards the route to relay 2).
	natSrc := netip.AddrPortFrom(NATOutside, 40002)
	inner := EchoRequest(TeredoAddr(ServerIPv4, 0, natSrc), lAddr, 64, 0x7003, 1, marker)
	must(f.SendRawUDP(NAT, natSrc, netip.AddrPortFrom(a.IPv4, TeredoPort), inner))
	// 4. Control: a non-Teredo destination routed the same way.
	must(f.SendRawIPv6(FleetNativeNode(1), EchoRequest(src, controlDst, 64, 0x7004, 1, marker)))
	time.Sleep(2 * time.Second)
	frames := captures.stop(t)

	for _, c := range []struct {
		name string
		id   uint16
	}{
		{"native packet to a Teredo address mapped to relay 2", 0x7001},
		{"native packet with a Teredo source", 0x7002},
		{"Teredo datagram for a Teredo destination", 0x7003},
	} {
		p1, p2 := carrying(frames[1], c.id), carrying(frames[2], c.id)
		t.Logf("%s: %d frame on relay 1's port, %d on relay 2's", c.name, p1, p2)
		if p1 != 1 || p2 != 0 {
			t.Errorf("%s: %d frames on relay 1's port and %d on relay 2's, want 1 (the injection) and 0", c.name, p1, p2)
		}
	}
	// The control loops between the relays' kernels until its hop limit
	// runs out: what a relay forwarding Teredo packets along these routes
	// would do, and proof that the captures would see it.
	p1, p2 := carrying(frames[1], 0x7004), carrying(frames[2], 0x7004)
	t.Logf("control, a non-Teredo destination routed the same way: %d frames on relay 1's port, %d on relay 2's (a loop between the relays' kernels until the hop limit runs out)", p1, p2)
	if p1 < 2 || p2 < 1 {
		t.Errorf("control: %d frames on relay 1's port and %d on relay 2's: the captures did not see a forwarded packet", p1, p2)
	}
	m1 := [FleetRelays + 1]map[string]float64{nil, f.metrics(t, 1), f.metrics(t, 2)}
	for _, reason := range []string{"dst_mapped_bogon", "src_teredo_loop", "dst_teredo_loop"} {
		if got := m1[1][relDrop(reason)] - m0[1][relDrop(reason)]; got != 1 {
			t.Errorf("relay 1: %v %s drops, want 1", got, reason)
		}
		if got := m1[2][relDrop(reason)] - m0[2][relDrop(reason)]; got != 0 {
			t.Errorf("relay 2: %v %s drops, want 0 (it must see none of them)", got, reason)
		}
	}
	for _, k := range []string{relIndirect, relDirect} {
		if m1[1][k] != m0[1][k] {
			t.Errorf("relay 1 sent bubbles (%s %v -> %v) for the injected packets", k, m0[1][k], m1[1][k])
		}
	}
}

// carrying counts the frames that carry the ICMPv6 echo request with
// identifier id, natively or in a Teredo datagram.
func carrying(frames []Frame, id uint16) int {
	n := 0
	for _, fr := range frames {
		if p, ok := DecodeIPv6(fr.Data); ok && isEcho(p, id) {
			n++
		} else if u, err := DecodeUDP4(fr.Data); err == nil {
			if tp, err := ParseTeredo(u.Payload); err == nil && isEcho(tp.IPv6, id) {
				n++
			}
		}
	}
	return n
}

// isEcho reports whether an IPv6 packet is an ICMPv6 echo request with
// identifier id.
func isEcho(p []byte, id uint16) bool {
	return len(p) >= 48 && p[6] == ProtoICMPv6 && p[40] == 128 && uint16(p[44])<<8|uint16(p[45]) == id
}

// fleetDefaultHash is the twin of the scenarios above without the
// router's address-only ECMP hash: with the kernel's default IPv6 hash
// (addresses, flow label, next header) a flow's UDP datagrams and the echo
// replies of the Miredo client's connectivity test for the same native host
// may take different relays. Miredo 1.2.6 then queues every datagram that
// arrives from the "wrong" relay, re-runs the test, and discards the queue
// when the reply comes back through the other relay: the flow is black-
// holed although both relays forward it. The test finds each flow's two
// paths on the router's ports and checks that exactly the flows whose
// paths differ lose data; the others lose nothing.
func fleetDefaultHash(t *testing.T, f *Fleet, flows []fleetFlow) {
	if err := f.sysctl(Core, "ipv6/fib_multipath_hash_policy", "0"); err != nil {
		t.Fatal(err)
	}
	defer f.sysctl(Core, "ipv6/fib_multipath_hash_policy", "3")
	captures := startPortCaptures(t, f, "ip6")
	sf := make([]StreamFlow, len(flows))
	for i, fl := range flows {
		sf[i] = fl.StreamFlow
	}
	st, err := f.StartStreams(Client, f.ClientAddr(), 41005, fleetInterval, sf)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(4 * time.Second)
	reps := st.Stop(time.Second)

	// Per native address: the relays its datagrams to the client took, and
	// those the echo replies to the client's connectivity test took.
	client := f.ClientAddr()
	data := map[netip.Addr]map[int]bool{}
	test := map[netip.Addr]map[int]bool{}
	note := func(m map[netip.Addr]map[int]bool, a netip.Addr, relay int) {
		if m[a] == nil {
			m[a] = map[int]bool{}
		}
		m[a][relay] = true
	}
	for i, frames := range captures.stop(t) {
		for _, fr := range frames {
			p, ok := DecodeIPv6(fr.Data)
			if !ok || IPv6Dst(p) != client || len(p) < 48 {
				continue
			}
			switch {
			case p[6] == ProtoUDP:
				note(data, IPv6Src(p), i)
			case p[6] == ProtoICMPv6 && p[40] == 129:
				note(test, IPv6Src(p), i)
			}
		}
	}
	var asym, black int
	for _, r := range reps {
		if r.Corrupt != 0 || r.Dup != 0 {
			t.Errorf("flow %d: %d corrupt, %d duplicate datagrams", r.ID, r.Corrupt, r.Dup)
		}
		// Datagrams sent after the first second: the paths have settled.
		lost := r.LostFwdSentIn(r.SentAt[0].Add(time.Second), r.SentAt[r.Sent-1].Add(-500*time.Millisecond))
		d, p := data[r.Src], test[r.Src]
		differ := false
		for relay := range p {
			differ = differ || !d[relay]
		}
		if len(d) != 1 {
			t.Errorf("flow %d (%v): datagrams through relays %v, want one", r.ID, r.Src, d)
		}
		switch {
		case differ:
			asym++
			if lost > 0 {
				black++
			}
			t.Logf("flow %d (%v): datagrams through relay %v, the client's connectivity test through relay %v: lost %d of %d", r.ID, r.Src, keys(d), keys(p), lost, r.Sent)
		case lost != 0:
			t.Errorf("flow %d (%v): one path (relay %v) but %d datagrams lost", r.ID, r.Src, keys(d), lost)
		}
	}
	t.Logf("kernel-default ECMP hash: %d of %d flows take different relays for their data and for the client's connectivity test; %d of them are black-holed by the Miredo client, the others lose nothing", asym, len(reps), black)
}

func keys(m map[int]bool) []int {
	var out []int
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
