//go:build linux

package lab

import (
	"testing"
	"time"
)

// TestRelaydPingTwoArmedSeparateUMEM is TestRelaydPingTwoArmed with
// umem.sharing: separate: each side has its own UMEM, so every forwarded
// packet is copied into a frame the other UMEM hands out (xsk.Umem.Alloc).
// Besides the data-plane exercise (pings both ways, TCP transfers intact,
// bubbles), the daemon must have transmitted on both interfaces through
// AF_XDP (only a copy can get a packet received on one side onto the other)
// without a single copy_no_frame or copy_too_big drop.
func TestRelaydPingTwoArmedSeparateUMEM(t *testing.T) {
	bin := relaydBinary(t)
	begin := time.Now()
	l := startLab(t, Options{Relay: RelayTeredod, Mode: TwoArmed, RelaydBinary: bin,
		RelaydConfig: func(env RelaydEnv) ([]byte, error) {
			b, err := DefaultRelaydConfig(env)
			return append(b, "umem:\n  sharing: separate\n"...), err
		}})
	exerciseDataPlane(t, l)
	if !l.RelayRunning() {
		t.Fatalf("teredo-relayd exited during the test:\n%s", l.ProcessLog("relay"))
	}
	m := relaydMetrics(t, l)
	for _, reason := range []string{"copy_no_frame", "copy_too_big", "tx_ring_full"} {
		key := `teredo_relay_drops_total{layer="relay",reason="` + reason + `"}`
		v, ok := m[key]
		if !ok {
			t.Errorf("metric %s missing", key)
		} else if v != 0 {
			t.Errorf("%s = %v, want 0", key, v)
		}
	}
	v4, v6 := l.RelayIfaces()
	for _, iface := range []string{v4, v6} {
		key := `teredo_relay_queue_tx_packets_total{interface="` + iface + `",queue="0"}`
		if m[key] == 0 {
			t.Errorf("%s = %v: nothing was copied onto %s", key, m[key], iface)
		}
	}
	if t.Failed() {
		logNonZeroMetrics(t, m)
	}
	t.Logf("scenario took %v before teardown", time.Since(begin).Round(time.Millisecond))
}
