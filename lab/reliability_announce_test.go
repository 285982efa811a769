//go:build linux

package lab

import (
	"encoding/json"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/teredorelay/teredorelay/control/api"
)

// TestReliabilityAnnounceFaults (reliability.md E6, E7) in the announcement
// lab (teredo-relayd driving the shipped BIRD configuration, a BIRD IX
// peer):
//   - E6, silent loss of the IX path (every packet from the relay dropped at
//     the IX, as a dead transceiver or a filter would): BFD (100 ms × 3 in
//     deploy/bird) makes the IX withdraw 2001::/32 within a second, without
//     waiting for the BGP hold time;
//   - E7, the relay's BIRD killed: teredo-relayd keeps forwarding and
//     serving its API, a drain it cannot push to BIRD is counted as an
//     announcement error, reported with its reason in relayctl status and
//     retried with backoff; once BIRD is back the next change of target
//     (an undrain) is confirmed at once.
func TestReliabilityAnnounceFaults(t *testing.T) {
	a := startAnnounceLab(t)
	a.startRelayd()
	took := a.waitRoute(true, 30*time.Second, "announce after start")
	t.Logf("announced at the IX %v after the daemon was ready", took)

	// E6.
	for _, tool := range []string{"iptables", "ip6tables"} {
		if out, err := exec.Command("ip", "netns", "exec", a.ixNS, tool, "-w", "-A", "INPUT", "-i", annIXIface, "-j", "DROP").CombinedOutput(); err != nil {
			t.Fatalf("%s: %v: %s", tool, err, out)
		}
	}
	took = a.waitRoute(false, 3*time.Second, "withdraw on silent loss of the IX path")
	t.Logf("silent loss of the IX path → route gone at the IX in %v (BFD 100 ms × 3)", took)
	if took > time.Second {
		t.Errorf("withdrawal on silent loss took %v, want within 1 s (BFD detection 0.3 s)", took)
	}
	if v := a.metric("teredo_relay_ready"); v != "1" {
		t.Errorf("teredo_relay_ready = %q during the IX path loss, want 1 (the data plane is fine)", v)
	}

	// E7.
	var bird *process
	for _, p := range a.procs {
		if p.name == "relay-bird" {
			bird = p
		}
	}
	if bird == nil {
		t.Fatal("no relay-bird process")
	}
	if err := bird.stop(syscall.SIGKILL, 3*time.Second); err != nil {
		t.Fatal(err)
	}
	status := func() api.Status {
		t.Helper()
		var st api.Status
		if err := json.Unmarshal([]byte(a.relayctl("status", "-o", "json")), &st); err != nil {
			t.Fatal(err)
		}
		return st
	}
	errs0 := status().Announce.Errors
	a.relayctl("drain")
	deadline := time.Now().Add(8 * time.Second)
	var st api.Status
	for {
		st = status()
		if st.Announce.Errors >= errs0+2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("announcement errors %d -> %d within 8 s of a drain with BIRD dead: want a failure and a retry", errs0, st.Announce.Errors)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("BIRD dead: %d failed attempts, last error %q", st.Announce.Errors-errs0, st.Announce.LastError)
	if st.Announce.LastError == "" || !st.Draining || st.Announce.Desired {
		t.Errorf("status with BIRD dead: %+v draining %v", st.Announce, st.Draining)
	}
	if v := a.metric("teredo_relay_announce_errors_total"); v == "" || v == "0" {
		t.Errorf("teredo_relay_announce_errors_total = %q", v)
	}
	if a.relayd.exited() {
		t.Fatalf("teredo-relayd exited with BIRD dead:\n%s", a.relayd.logTail(3000))
	}
	// Backoff: no more than one attempt per second in the first seconds.
	n1 := status().Announce.Errors
	time.Sleep(1500 * time.Millisecond)
	if n2 := status().Announce.Errors; n2-n1 > 2 {
		t.Errorf("%d attempts in 1.5 s: not backing off", n2-n1)
	}

	// BIRD back: a change of target is applied at once, whatever the
	// backoff: undrain, and the announcement is confirmed after the rise.
	a.startBird("relay-bird", a.relayNS, a.dir+"/relay-bird.conf", a.relayBird, nil)
	back := time.Now()
	a.relayctl("undrain")
	deadline = time.Now().Add(10 * time.Second)
	for {
		st = status()
		if st.Announce.Confirmed && st.Announce.Announced && st.Announce.LastSuccess.After(back) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("BIRD back and undrained for 10 s, announcement state still %+v", st.Announce)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("BIRD back: announcement confirmed %v after the undrain, %d failed attempts in all", time.Since(back).Round(time.Millisecond), st.Announce.Errors-errs0)
}
