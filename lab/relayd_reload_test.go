//go:build linux

package lab

import (
	"context"
	"net/netip"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/teredorelay/teredorelay/control/api"
)

// Echo identifiers of the reload test's injected packets.
const (
	idReloadUnknownPeer = 0x7e01
	idReloadHopLimit    = 0x7e02
)

// TestRelaydReloadPolicy: SIGHUP changes the relay policy of the running
// daemon, end to end and without a restart. With the defaults, packets from
// a Teredo peer the relay never bubbled are dropped (unknown_peer) and a
// native packet whose hop limit runs out at the relay gets Time Exceeded.
// After a SIGHUP with accept_unknown_peers: true and icmpv6.enabled: false,
// the next unknown peer is forwarded and learned (relayctl lists it
// trusted) and the Time Exceeded is suppressed (counted rate limited); a
// SIGHUP back to the original file restores both. The Miredo client keeps
// working throughout and the daemon's PID never changes.
func TestRelaydReloadPolicy(t *testing.T) {
	bin := relaydBinary(t)
	l := startLab(t, Options{Relay: RelayTeredod, Mode: OneArmed, RelaydBinary: bin})
	env := l.RelaydEnv()
	orig, err := os.ReadFile(env.ConfigPath)
	if err != nil {
		t.Fatal(err)
	}
	pid := l.relay.cmd.Process
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if res, err := l.Ping6(ctx, Native, l.ClientAddr(), 2); err != nil || res.Received() == 0 {
		t.Fatalf("ping native -> client before any reload: %v (%d received)", err, res.Received())
	}

	relayAP := netip.AddrPortFrom(RelayIPv4, TeredoPort)
	data := []byte("teredo-lab reload")
	// unknownPeer sends 3 echo requests to the native host from a Teredo
	// peer whose address embeds the attacker's own mapping (so it passes
	// the mapping check) and that the relay has never bubbled.
	unknownPeer := func(port uint16) netip.Addr {
		t.Helper()
		m := netip.AddrPortFrom(AttackerIPv4, port)
		peer := TeredoAddr(ServerIPv4, 0, m)
		for i := range 3 {
			if err := l.SendRawUDP(Attacker, m, relayAP, EchoRequest(peer, l.NativeAddr(), 64, idReloadUnknownPeer, uint16(i), data)); err != nil {
				t.Fatalf("inject from unknown peer: %v", err)
			}
		}
		return peer
	}
	// hopLimitAtRelay sends a native echo request to the client with hop
	// limit 2: the core router forwards it with 1, so it expires at the
	// relay.
	hopLimitAtRelay := func(seq uint16) {
		t.Helper()
		if err := l.SendRawIPv6(Native, EchoRequest(l.NativeAddr(), l.ClientAddr(), 2, idReloadHopLimit, seq, data)); err != nil {
			t.Fatalf("inject native packet with hop limit 2: %v", err)
		}
	}
	stats := func() api.Stats {
		t.Helper()
		var st api.Stats
		relayctlJSON(t, l, &st, "stats")
		return st
	}
	named := func(cs []api.Counter, name string) uint64 {
		for _, c := range cs {
			if c.Name == name {
				return c.Total
			}
		}
		return 0
	}
	type deltas struct{ unknownPeer, hopLimit, timeExceeded, icmpLimited uint64 }
	diff := func(b, a api.Stats) deltas {
		bd, ad := relayDrops(&b), relayDrops(&a)
		return deltas{
			unknownPeer:  ad["relay/unknown_peer"] - bd["relay/unknown_peer"],
			hopLimit:     ad["relay/hop_limit"] - bd["relay/hop_limit"],
			timeExceeded: named(a.ICMPv6Errors, "time_exceeded") - named(b.ICMPv6Errors, "time_exceeded"),
			icmpLimited:  named(a.RateLimited, "icmpv6") - named(b.RateLimited, "icmpv6"),
		}
	}
	// expect polls the counters until they moved by exactly want (the
	// counters are asynchronous: the slow path sends the errors).
	expect := func(phase string, before api.Stats, want deltas) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			got := diff(before, stats())
			if got == want {
				t.Logf("%s: %+v", phase, got)
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: counters moved by %+v, want %+v\n%s", phase, got, want, l.ProcessLog("relay"))
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	peerState := func(peer netip.Addr) string {
		t.Helper()
		var ps api.Peers
		relayctlJSON(t, l, &ps, "peers")
		for _, p := range ps.Peers {
			if p.Address == peer {
				return p.State
			}
		}
		return "absent"
	}
	reloads := 0
	reload := func(file []byte, wantChanged string) {
		t.Helper()
		if err := os.WriteFile(env.ConfigPath, file, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := pid.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		reloads++
		deadline := time.Now().Add(5 * time.Second)
		for strings.Count(l.ProcessLog("relay"), `msg="configuration reloaded"`) < reloads {
			if time.Now().After(deadline) {
				t.Fatalf("reload %d not applied:\n%s", reloads, l.ProcessLog("relay"))
			}
			time.Sleep(50 * time.Millisecond)
		}
		if want := `msg="configuration reloaded" changed="[` + wantChanged + `]"`; !strings.Contains(l.ProcessLog("relay"), want) {
			want = `msg="configuration reloaded" changed=[` + wantChanged + `]`
			if !strings.Contains(l.ProcessLog("relay"), want) {
				t.Fatalf("reload %d: log lacks %s:\n%s", reloads, want, l.ProcessLog("relay"))
			}
		}
	}

	// Defaults: dropped, and Time Exceeded sent.
	before := stats()
	peerA := unknownPeer(40101)
	hopLimitAtRelay(1)
	expect("defaults", before, deltas{unknownPeer: 3, hopLimit: 1, timeExceeded: 1})
	if s := peerState(peerA); s != "absent" {
		t.Fatalf("unknown peer %v is %s, want absent", peerA, s)
	}

	// Reload: accept unknown peers, no ICMPv6 errors.
	reload(append(append([]byte{}, orig...), "accept_unknown_peers: true\nicmpv6:\n  enabled: false\n"...),
		"accept_unknown_peers icmpv6.enabled")
	before = stats()
	peerB := unknownPeer(40102)
	hopLimitAtRelay(2)
	expect("accept_unknown_peers on, icmpv6 off", before, deltas{hopLimit: 1, icmpLimited: 1})
	if s := peerState(peerB); s != "trusted" {
		t.Fatalf("peer %v after accept_unknown_peers: %s, want trusted (learned)", peerB, s)
	}

	// Reload back: both restored.
	reload(orig, "accept_unknown_peers icmpv6.enabled")
	before = stats()
	peerC := unknownPeer(40103)
	hopLimitAtRelay(3)
	expect("back to the original file", before, deltas{unknownPeer: 3, hopLimit: 1, timeExceeded: 1})
	if s := peerState(peerC); s != "absent" {
		t.Fatalf("unknown peer %v after reverting is %s, want absent", peerC, s)
	}

	if res, err := l.Ping6(ctx, Native, l.ClientAddr(), 2); err != nil || res.Received() == 0 {
		t.Fatalf("ping native -> client after the reloads: %v (%d received)", err, res.Received())
	}
	if n := strings.Count(l.ProcessLog("relay"), "teredo-relayd ready"); n != 1 || l.relay.cmd.Process.Pid != pid.Pid {
		t.Fatalf("the daemon restarted (%d ready lines)", n)
	}
}
