//go:build linux

package lab

import (
	"context"
	"net/netip"
	"syscall"
	"testing"
	"time"
)

// Metric series of the peer persistence.
const (
	relLoadedTrusted = `teredo_relay_peer_state_loaded_peers{state="trusted"}`
	relLoadedStale   = `teredo_relay_peer_state_loaded_peers{state="stale"}`
	relSaves         = `teredo_relay_peer_state_saves_total{result="success"}`
	relSavedPeers    = `teredo_relay_peer_state_saved_peers`
	relFileRejected  = `teredo_relay_peer_state_file_rejected`
)

// bubblesFrom counts the bubbles a capture saw leaving src (the relay's
// address and port), to any destination.
func bubblesFrom(t *testing.T, frames []Frame, src netip.AddrPort) int {
	t.Helper()
	n := 0
	for _, f := range frames {
		u, err := DecodeUDP4(f.Data)
		if err != nil || u.Src != src {
			continue
		}
		if tp, err := ParseTeredo(u.Payload); err == nil && IsBubble(tp.IPv6) {
			n++
		}
	}
	return n
}

// restartUnderTraffic restarts teredo-relayd with sig while a stream runs
// between the native host and the Miredo client, and returns the stream's
// report, the signal time and when the new daemon was ready.
func restartUnderTraffic(t *testing.T, l *Lab, sig syscall.Signal, port uint16) (StreamReport, time.Time, time.Time) {
	t.Helper()
	s, err := l.StartStreams(Client, l.ClientAddr(), port, 20*time.Millisecond,
		[]StreamFlow{{ID: 1, From: Native, Src: l.NativeAddr()}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	begin := time.Now()
	if err := s.WaitDelivered(ctx, begin); err != nil {
		s.Stop(0)
		t.Fatalf("stream before the restart: %v", err)
	}
	time.Sleep(300 * time.Millisecond)
	at := time.Now()
	away := relRestartRelayd(t, l, sig)
	ready := at.Add(away)
	if err := s.WaitDelivered(ctx, ready); err != nil {
		rep := s.Stop(time.Second)
		t.Fatalf("stream after the restart: %v (sent %d)", err, rep[0].Sent)
	}
	time.Sleep(time.Second)
	return s.Stop(time.Second)[0], at, ready
}

// TestPeerStateRestartUnderTraffic (issue 14, part 2; reliability.md E1/E2
// with state): teredo-relayd is restarted while a stream runs between a
// native host and the Miredo client, the way `systemctl restart` does it
// (SIGTERM, then a new process), and later killed with SIGKILL and
// started again. Each time the new process restores the client from the
// state file and forwards the stream's next datagrams in both directions
// at once: it sends no bubble (counters of the new process and a capture
// on the wire), drops nothing as unknown_peer, and every datagram sent
// after it was ready arrives, intact, both ways. The gap is measured and
// logged. TestReliabilityRelaydCrashRestart is the twin without a state
// file: there the client's packets are dropped until a bubble exchange.
func TestPeerStateRestartUnderTraffic(t *testing.T) {
	l := relLab(t, OneArmed, "peer_state: {save_interval: 1s}\n")
	client, native := l.ClientAddr(), l.NativeAddr()
	relPing(t, l, Client, native, 2, 2)
	relPing(t, l, Native, client, 2, 2)
	if m := relaydMetrics(t, l); m[relTrusted] != 1 || m[relIndirect] < 1 || m[relLoadedTrusted] != 0 {
		t.Fatalf("before the restart: trusted %v, indirect bubbles %v, restored %v; want the client verified by a bubble, nothing restored",
			m[relTrusted], m[relIndirect], m[relLoadedTrusted])
	}
	relayAP := netip.AddrPortFrom(RelayIPv4, TeredoPort)
	v4, _ := l.CoreRelayIfaces()

	for i, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL} {
		name := map[syscall.Signal]string{syscall.SIGTERM: "SIGTERM", syscall.SIGKILL: "SIGKILL"}[sig]
		if sig == syscall.SIGKILL {
			// A crash keeps only the last periodic save (every second here):
			// wait for one that holds the client.
			relWait(t, l, 5*time.Second, "a periodic save holding the client", func(m map[string]float64) bool {
				return m[relSaves] >= 1 && m[relSavedPeers] == 1
			})
		}
		capture := relCapture(t, l, Core, v4, "udp", "and", "src", "host", RelayIPv4.String(), "and", "src", "port", "3544")
		rep, at, ready := restartUnderTraffic(t, l, sig, uint16(40000+i))
		frames, err := capture.Stop()
		if err != nil {
			t.Fatal(err)
		}

		m := relaydMetrics(t, l)
		if m[relLoadedTrusted] != 1 || m[relLoadedStale] != 0 || m[relFileRejected] != 0 {
			t.Fatalf("%s: restored trusted %v, stale %v, file rejected %v; want the client restored trusted", name,
				m[relLoadedTrusted], m[relLoadedStale], m[relFileRejected])
		}
		if m[relIndirect] != 0 || m[relDirect] != 0 || m[relRetries] != 0 || m[relDrop("unknown_peer")] != 0 {
			t.Fatalf("%s: the new process sent bubbles (indirect %v, direct %v, retries %v) or dropped the client as unknown (%v): not kept",
				name, m[relIndirect], m[relDirect], m[relRetries], m[relDrop("unknown_peer")])
		}
		if n := bubblesFrom(t, frames, relayAP); n != 0 {
			t.Fatalf("%s: %d bubbles from the relay on the wire across the restart", name, n)
		}
		if m[relV4ToV6] == 0 || m[relV6ToV4] == 0 || m[relTrusted] != 1 {
			t.Fatalf("%s: new process forwarded v4_to_v6 %v, v6_to_v4 %v, trusted %v", name, m[relV4ToV6], m[relV6ToV4], m[relTrusted])
		}

		// The outage is the longest silence of the stream around the
		// restart: from the last datagram the old process forwarded to the
		// first the new one did.
		end := rep.SentAt[rep.Sent-1]
		lastF, nextF := rep.LongestGap(at.Add(-time.Second), end, false)
		lastB, nextB := rep.LongestGap(at.Add(-time.Second), end, true)
		lostF, lostB := rep.Lost()
		if _, back, ok := rep.FirstAfter(at); !ok || back.IsZero() {
			t.Fatalf("%s: nothing delivered after the signal", name)
		}
		if n := rep.LostFwdSentIn(ready, rep.SentAt[rep.Sent-1].Add(-time.Second)); n != 0 {
			t.Errorf("%s: %d datagrams sent after the new process was ready were lost", name, n)
		}
		if rep.Corrupt != 0 || rep.Dup != 0 {
			t.Errorf("%s: %d corrupt, %d duplicate datagrams", name, rep.Corrupt, rep.Dup)
		}
		t.Logf("%s, then start, under traffic (one datagram each way every 20 ms): signal → ready file %v; outage native→client %v (%v before to %v after the signal), client→native %v (to %v after); lost %d forward, %d back of %d; no bubble, nothing dropped as unknown_peer",
			name, ready.Sub(at).Round(time.Millisecond), nextF.Sub(lastF).Round(time.Millisecond), at.Sub(lastF).Round(time.Millisecond),
			nextF.Sub(at).Round(time.Millisecond), nextB.Sub(lastB).Round(time.Millisecond), nextB.Sub(at).Round(time.Millisecond),
			lostF, lostB, rep.Sent)
	}
}
