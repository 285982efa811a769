//go:build linux

package lab

import (
	"context"
	"strings"
	"testing"
	"time"
)

// genericXDPConfig is the default configuration with the steering program
// attached in generic (SKB) mode, as xdp.mode auto falls back to on a
// driver without native XDP.
func genericXDPConfig(env RelaydEnv) ([]byte, error) {
	b, err := DefaultRelaydConfig(env)
	return append(b, "xdp:\n  mode: generic\n"...), err
}

// TestRelaydGenericXDP (issue 10, section 1): generic XDP runs after GRO
// and on GSO super-frames, which no AF_XDP frame can hold.
//
//   - On NIC-like veths (no TSO/GSO from the peers, GRO off on the relay's
//     interface) everything works in generic mode too, and the start-up
//     warning says what would not.
//   - With the veths' default offloads the native host's TCP leaves as GSO
//     super-frames; in native mode the relay's veth splits them before XDP
//     (TestRelaydPingOneArmed), in generic mode they reach the program whole:
//     it drops them under drop_oversize, counted, instead of redirecting
//     them to a socket that would drop them uncounted, and the warning named
//     the limit at start-up.
func TestRelaydGenericXDP(t *testing.T) {
	bin := relaydBinary(t)
	t.Run("nic-like", func(t *testing.T) {
		l := startLab(t, Options{Relay: RelayTeredod, Mode: OneArmed, RelaydBinary: bin, NoTxChecksumOffload: true, RelaydConfig: genericXDPConfig})
		assertGenericWarning(t, l)
		exerciseDataPlane(t, l)
		if m := relaydMetrics(t, l); m[relXDP("drop", "drop_oversize")] != 0 {
			t.Errorf("drop_oversize %v on NIC-like veths", m[relXDP("drop", "drop_oversize")])
		}
	})
	t.Run("default offloads", func(t *testing.T) {
		l := startLab(t, Options{Relay: RelayTeredod, Mode: OneArmed, RelaydBinary: bin, RelaydConfig: genericXDPConfig})
		assertGenericWarning(t, l)
		relPing(t, l, Client, l.NativeAddr(), 3, 3)
		relPing(t, l, Native, l.ClientAddr(), 3, 3)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		// Client to native: Miredo sends one datagram per packet, MTU-sized.
		if tr, err := l.TCPTransfer(ctx, Client, Native, l.NativeAddr(), 1<<20); err != nil || !tr.Intact() {
			t.Errorf("tcp client -> native in generic mode: %v (%v)", err, tr)
		}
		// Native to client: GSO super-frames. Whatever becomes of the
		// transfer, the relay must count them and not redirect them.
		before := relaydMetrics(t, l)
		tctx, tcancel := context.WithTimeout(ctx, 5*time.Second)
		tr, err := l.TCPTransfer(tctx, Native, Client, l.ClientAddr(), 1<<20)
		tcancel()
		t.Logf("tcp native -> client in generic mode with default offloads: %v (%v)", tr, err)
		m := relaydMetrics(t, l)
		drops := m[relXDP("drop", "drop_oversize")] - before[relXDP("drop", "drop_oversize")]
		if drops == 0 {
			logNonZeroMetrics(t, m)
			t.Fatal("no drop_oversize: the native host's GSO super-frames were not seen by the XDP program")
		}
		t.Logf("%v GSO super-frames dropped as drop_oversize", drops)
	})
}

// assertGenericWarning checks the daemon's start-up warning about generic
// XDP.
func assertGenericWarning(t *testing.T, l *Lab) {
	t.Helper()
	log := l.ProcessLog("relay")
	if !strings.Contains(log, "generic XDP runs after GRO") || !strings.Contains(log, "drop_oversize") ||
		!strings.Contains(log, "max_frame_bytes=1728") {
		t.Errorf("no generic XDP warning with the frame limit in the relay's log:\n%s", log)
	}
}
