//go:build linux

package lab

import (
	"os"
	"syscall"
	"testing"
	"time"
)

// TestReliabilityRelaydCrashRestart (reliability.md E1/E2, in the lab): the
// daemon is killed with SIGKILL while the Miredo client is an active,
// trusted peer, then started again; later it is stopped with SIGTERM and
// started with accept_unknown_peers: true.
//
// This is the twin of TestPeerStateRestartUnderTraffic without a state
// file (peer_state.file ""), so the restarted daemon starts empty:
//   - XDP must be gone with the dead process (no packet steered into a
//     socket that no longer exists);
//   - with the default policy the client's own packets are dropped as
//     unknown_peer (counted, not forwarded) until native traffic makes the
//     relay bubble the client again; the first native ping re-establishes
//     the peer (pending → trusted through an indirect bubble) and then both
//     directions work;
//   - with accept_unknown_peers the client's first packet re-creates the
//     peer as trusted.
func TestReliabilityRelaydCrashRestart(t *testing.T) {
	l := relLab(t, OneArmed, "peer_state: {file: \"\"}\n")
	client, native := l.ClientAddr(), l.NativeAddr()
	relPing(t, l, Native, client, 2, 2)
	relPing(t, l, Client, native, 2, 2)
	if m := relaydMetrics(t, l); m[relTrusted] != 1 {
		t.Fatalf("trusted peers before the crash = %v, want 1", m[relTrusted])
	}

	gap := relRestartRelayd(t, l, syscall.SIGKILL)
	t.Logf("SIGKILL to ready again: %v", gap.Round(time.Millisecond))
	m := relaydMetrics(t, l)
	if m[relTrusted] != 0 || m[relPending] != 0 {
		t.Fatalf("restarted daemon has peers (trusted %v, pending %v): the table is not persisted, want none", m[relTrusted], m[relPending])
	}

	// The client speaks first: the relay does not know it any more.
	res := relPingAny(t, l, Client, native, 3)
	m = relWait(t, l, 3*time.Second, "client's packets counted as unknown_peer", func(m map[string]float64) bool {
		return m[relDrop("unknown_peer")] >= 3
	})
	if res.Received() != 0 || m[relV4ToV6] != 0 {
		t.Fatalf("client -> native after the restart: %d replies, %v forwarded; want the client's packets dropped as unknown_peer", res.Received(), m[relV4ToV6])
	}
	// Native traffic re-establishes the peer; then both directions work.
	begin := time.Now()
	relPing(t, l, Native, client, 3, 3)
	t.Logf("native -> client answered again %v after the first native packet", time.Since(begin).Round(time.Millisecond))
	relPing(t, l, Client, native, 3, 3)
	m = relaydMetrics(t, l)
	if m[relTrusted] != 1 || m[relIndirect] < 1 {
		t.Fatalf("after re-establishment: trusted %v, indirect bubbles %v; want the client trusted through a bubble", m[relTrusted], m[relIndirect])
	}
	if p := relPeer(t, l, client); p == nil || p.State != "trusted" || p.RxPackets == 0 || p.TxPackets == 0 {
		t.Fatalf("client's peer entry after re-establishment: %+v", p)
	}

	// Orderly stop, and a policy that re-learns clients from their own
	// packets: the client's first packet after the restart gets through.
	env := l.RelaydEnv()
	conf, err := os.ReadFile(env.ConfigPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(env.ConfigPath, append(conf, "accept_unknown_peers: true\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	gap = relRestartRelayd(t, l, syscall.SIGTERM)
	t.Logf("SIGTERM to ready again: %v", gap.Round(time.Millisecond))
	relPing(t, l, Client, native, 3, 3)
	m = relaydMetrics(t, l)
	if m[relTrusted] != 1 || m[relDrop("unknown_peer")] != 0 || m[relIndirect] != 0 {
		t.Fatalf("accept_unknown_peers restart: trusted %v, unknown_peer %v, indirect bubbles %v; want the client re-learned from its own packet",
			m[relTrusted], m[relDrop("unknown_peer")], m[relIndirect])
	}
	relPing(t, l, Native, client, 3, 3)
}
