//go:build linux

package lab

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/teredorelay/teredorelay/control/api"
)

// TestReliabilityTeredoServerKilled (reliability.md §3 E, the client's
// Teredo server dies mid-session): miredo-server is killed while the
// Miredo client is a trusted peer of the relay. The established session
// does not need the server and keeps working both ways. A new peer behind
// the dead server cannot be verified: the relay retries its bubbles on
// schedule (0, 2, 4, 6 s), forwards nothing to the unverified mapping, then
// gives up (counted as an expiry) and tells the native sender with
// Destination Unreachable.
func TestReliabilityTeredoServerKilled(t *testing.T) {
	l := relLab(t, OneArmed, "")
	client, native := l.ClientAddr(), l.NativeAddr()
	relPing(t, l, Native, client, 2, 2)
	relPing(t, l, Client, native, 2, 2)
	if err := l.procNamed("server").stop(syscall.SIGKILL, 3*time.Second); err != nil {
		t.Fatal(err)
	}
	attackerCap := relCapture(t, l, Attacker, HostIface, "udp")
	before := relaydMetrics(t, l)
	newPeer := relTeredoDst(7)
	verifyStart := time.Now()
	if err := l.SendRawIPv6(Native, EchoRequest(native, newPeer, 64, 0x7c01, 1, []byte("behind a dead server"))); err != nil {
		t.Fatal(err)
	}
	// The established session meanwhile.
	relPing(t, l, Native, client, 5, 5)
	relPing(t, l, Client, native, 5, 5)
	m := relWait(t, l, 10*time.Second, "the unverifiable peer given up", func(m map[string]float64) bool {
		return m[relExpiries]-before[relExpiries] >= 1
	})
	t.Logf("given up %v after the first packet: %v bubble rounds retried, %v indirect bubbles, %v Destination Unreachable",
		time.Since(verifyStart).Round(100*time.Millisecond), m[relRetries]-before[relRetries], m[relIndirect]-before[relIndirect], m[relUnreachable]-before[relUnreachable])
	if got := m[relRetries] - before[relRetries]; got != 3 {
		t.Errorf("bubble retries = %v, want 3 (rounds at 2, 4 and 6 s)", got)
	}
	if got := m[relIndirect] - before[relIndirect]; got != 4 {
		t.Errorf("indirect bubbles = %v, want 4", got)
	}
	if got := m[relUnreachable] - before[relUnreachable]; got != 1 {
		t.Errorf("Destination Unreachable sent = %v, want 1 (to the native sender)", got)
	}
	if got := m[relV6ToV4] - before[relV6ToV4]; got != 10 {
		t.Errorf("v6_to_v4 forwarded grew by %v, want exactly the 10 pings to the client", got)
	}
	if m[relPending] != 0 || m[relTrusted] != 1 {
		t.Errorf("after the expiry: pending %v trusted %v, want 0 and 1", m[relPending], m[relTrusted])
	}
	frames, err := attackerCap.Stop()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range frames {
		if u, err := DecodeUDP4(f.Data); err == nil && u.Src.Addr() == RelayIPv4 {
			t.Errorf("relay sent %d bytes to the unverified mapping %v", len(u.Payload), u.Dst)
		}
	}
}

// TestReliabilityRelaydPaused (reliability.md E9): the daemon is frozen
// with SIGSTOP for 300 ms while a burst of 4000 native packets for the
// trusted client arrives. The AF_XDP rings fill up; every packet the XDP
// program redirected is either forwarded after SIGCONT or counted as a
// ring drop (rx_ring_full / rx_dropped); the daemon recovers without a
// restart and the client keeps working.
func TestReliabilityRelaydPaused(t *testing.T) {
	l := relLab(t, OneArmed, "")
	client, native := l.ClientAddr(), l.NativeAddr()
	relPing(t, l, Native, client, 2, 2)
	relPing(t, l, Client, native, 2, 2)
	ringDrops := func(m map[string]float64) float64 {
		var n float64
		for _, ev := range []string{"rx_ring_full", "rx_dropped"} {
			n += m[`teredo_relay_afxdp_ring_events_total{event="`+ev+`",interface="`+RelayOneArmedIface+`",queue="0"}`]
		}
		return n
	}
	redirected := func(m map[string]float64) float64 { return m[relXDP("redirect", "steer_ipv6_teredo")] }
	flooder := relNewFlooder(t, l, Attacker, unix.AF_INET6)
	before := relaydMetrics(t, l)
	pid := l.relay.cmd.Process.Pid
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	stopped := time.Now()
	const n = 4000
	var sendErr error
	for i := range n {
		// Hop limit 3: it reaches the client (core and relay decrement)
		// whose echo reply then goes back through the relay.
		if sendErr = flooder.send(EchoRequest(AttackerIPv6, client, 3, 0x7d01, uint16(i), []byte("paused"))); sendErr != nil {
			break
		}
	}
	time.Sleep(300*time.Millisecond - time.Since(stopped))
	if err := syscall.Kill(pid, syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	if sendErr != nil {
		t.Fatalf("flood: %v", sendErr)
	}
	accounted := func(m map[string]float64) float64 {
		return m[relV6ToV4] - before[relV6ToV4] + ringDrops(m) - ringDrops(before)
	}
	m := relWait(t, l, 5*time.Second, "every redirected packet forwarded or counted as a ring drop", func(m map[string]float64) bool {
		return accounted(m) >= redirected(m)-redirected(before)
	})
	t.Logf("paused 300 ms: %v of %d packets redirected to the socket, %v forwarded, %v ring drops",
		redirected(m)-redirected(before), n, m[relV6ToV4]-before[relV6ToV4], ringDrops(m)-ringDrops(before))
	if ringDrops(m) == ringDrops(before) {
		t.Errorf("no ring drop counted although %v packets arrived while the daemon was stopped (rx ring 2048)", redirected(m)-redirected(before))
	}
	if got, want := accounted(m), redirected(m)-redirected(before); got != want {
		t.Errorf("forwarded + ring drops = %v, want the %v redirected packets", got, want)
	}
	if !l.RelayRunning() || l.relay.cmd.Process.Pid != pid {
		t.Fatal("teredo-relayd did not survive the pause")
	}
	relPing(t, l, Native, client, 3, 3)
	relPing(t, l, Client, native, 3, 3)
}

// TestReliabilityReloadUnderTraffic (reliability.md E3/E4): while a TCP
// transfer and a ping run both ways through the relay, the configuration is
// reloaded three times with changed limits (SIGHUP), then twice with an
// invalid file (once by SIGHUP, once by relayctl reload, which must report
// the error), then once more with a valid file by relayctl. No ping is
// lost, the transfer arrives intact, the success gauge and the reload
// counters say exactly what happened, and the daemon never restarts.
func TestReliabilityReloadUnderTraffic(t *testing.T) {
	l := relLab(t, OneArmed, "")
	client, native := l.ClientAddr(), l.NativeAddr()
	relPing(t, l, Native, client, 2, 2)
	env := l.RelaydEnv()
	orig, err := os.ReadFile(env.ConfigPath)
	if err != nil {
		t.Fatal(err)
	}
	pid := l.relay.cmd.Process.Pid
	before := relaydMetrics(t, l)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	var wg sync.WaitGroup
	var pings [2]PingResult
	var pingErrs [2]error
	// TCP transfers one after the other, in alternating directions, until
	// the reloads are over: each must arrive intact.
	var transfers []Transfer
	var trErr error
	reloadsDone := make(chan struct{})
	wg.Add(3)
	go func() { defer wg.Done(); pings[0], pingErrs[0] = l.Ping6(ctx, Native, client, 15) }()
	go func() { defer wg.Done(); pings[1], pingErrs[1] = l.Ping6(ctx, Client, native, 15) }()
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-reloadsDone:
				return
			default:
			}
			from, to, dst := Native, Client, client
			if i%2 == 1 {
				from, to, dst = Client, Native, native
			}
			tr, err := l.TCPTransfer(ctx, from, to, dst, 1<<20)
			transfers = append(transfers, tr)
			if err != nil || !tr.Intact() || tr.Received != 1<<20 {
				trErr = fmt.Errorf("transfer %d: %v %v", i+1, err, tr)
				return
			}
		}
	}()

	write := func(b []byte) {
		t.Helper()
		if err := os.WriteFile(env.ConfigPath, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	waitReloads := func(success, failure float64) map[string]float64 {
		t.Helper()
		return relWait(t, l, 5*time.Second, "reload counted", func(m map[string]float64) bool {
			return m[`teredo_relay_config_reloads_total{result="success"}`]-before[`teredo_relay_config_reloads_total{result="success"}`] == success &&
				m[`teredo_relay_config_reloads_total{result="failure"}`]-before[`teredo_relay_config_reloads_total{result="failure"}`] == failure
		})
	}
	for i, rate := range []string{"40", "60", "80"} {
		write(append(append([]byte{}, orig...), "rate_limits:\n  new_peer_rate: "+rate+"\nicmpv6:\n  rate: "+rate+"\n"...))
		if err := syscall.Kill(pid, syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		m := waitReloads(float64(i+1), 0)
		if m["teredo_relay_config_last_reload_successful"] != 1 || m[`teredo_relay_ratelimit_packets_per_second{limiter="icmpv6"}`] != float64(40+20*i) {
			t.Fatalf("reload %d: success gauge %v, icmpv6 rate %v, want 1 and %s", i+1,
				m["teredo_relay_config_last_reload_successful"], m[`teredo_relay_ratelimit_packets_per_second{limiter="icmpv6"}`], rate)
		}
		time.Sleep(300 * time.Millisecond)
	}
	// Invalid: by signal, then through the API.
	write(append(append([]byte{}, orig...), "rate_limits:\n  new_peer_rate: -1\n"...))
	if err := syscall.Kill(pid, syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	m := waitReloads(3, 1)
	if m["teredo_relay_config_last_reload_successful"] != 0 {
		t.Fatalf("success gauge after an invalid file: %v, want 0", m["teredo_relay_config_last_reload_successful"])
	}
	out, errOut, code := relayctlRun(t, l, "reload")
	if code == 0 || !strings.Contains(errOut, "new_peer_rate") {
		t.Fatalf("relayctl reload of an invalid file: exit %d, stdout %q, stderr %q; want a failure naming rate_limits.new_peer_rate", code, out, errOut)
	}
	t.Logf("relayctl reload of the invalid file: exit %d: %s", code, strings.TrimSpace(errOut))
	var st api.Status
	relayctlJSON(t, l, &st, "status")
	if st.Reload.LastReloadSuccessful || !strings.Contains(st.Reload.LastError, "new_peer_rate") || !st.Ready {
		t.Fatalf("status after the failed reloads: %+v ready %v", st.Reload, st.Ready)
	}
	m = waitReloads(3, 2)
	if m[`teredo_relay_ratelimit_packets_per_second{limiter="icmpv6"}`] != 80 {
		t.Fatalf("icmpv6 rate after the refused reloads = %v, want the last good 80", m[`teredo_relay_ratelimit_packets_per_second{limiter="icmpv6"}`])
	}
	write(orig)
	if out, errOut, code := relayctlRun(t, l, "reload"); code != 0 {
		t.Fatalf("relayctl reload of the original file: exit %d: %s %s", code, out, errOut)
	}
	m = waitReloads(4, 2)
	if m["teredo_relay_config_last_reload_successful"] != 1 {
		t.Fatalf("success gauge after a good reload: %v", m["teredo_relay_config_last_reload_successful"])
	}
	close(reloadsDone)
	wg.Wait()
	// The pings share the single relay worker with back-to-back TCP
	// transfers that fill the rings on this 2-core machine: an echo lost
	// to a full ring is congestion, not the reload (the TCP bytes are
	// checked intact below). A reload that stalled forwarding loses many.
	for i, p := range pings {
		if pingErrs[i] != nil || p.Sent != 15 || p.Received() < 13 {
			t.Errorf("ping during the reloads: %v\n%s", pingErrs[i], p)
		}
	}
	if trErr != nil || len(transfers) < 2 {
		t.Errorf("TCP transfers during the reloads (%d done): %v", len(transfers), trErr)
	} else {
		t.Logf("during the reloads: %d TCP transfers of 1 MiB intact, alternating directions", len(transfers))
	}
	if !l.RelayRunning() || l.relay.cmd.Process.Pid != pid || strings.Count(l.ProcessLog("relay"), "teredo-relayd ready") != 1 {
		t.Fatalf("the daemon restarted during the reloads:\n%s", l.ProcessLog("relay"))
	}
}
