//go:build linux

package lab

import (
	"bytes"
	"context"
	"encoding/json"
	"net/netip"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/teredorelay/teredorelay/control/api"
	"github.com/teredorelay/teredorelay/internal/testenv"
	"github.com/teredorelay/teredorelay/metrics/metricstest"
	"github.com/teredorelay/teredorelay/relayctl"
)

// Echo identifiers of the ops test's injected packets (distinct from
// exerciseInjection's).
const (
	idOpsSpoofedMapping = 0x7f01
	idOpsNonTeredoSrc   = 0x7f02
)

// relayctlRun runs relayctl in-process against the lab daemon's socket (a
// file in the lab's work directory, reachable from any namespace).
func relayctlRun(t *testing.T, l *Lab, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	code := relayctl.Main(ctx, append([]string{"--socket", l.RelaydEnv().APISocket}, args...),
		relayctl.Options{Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" }})
	return out.String(), errb.String(), code
}

func relayctlJSON(t *testing.T, l *Lab, v any, args ...string) {
	t.Helper()
	out, errs, code := relayctlRun(t, l, append(args, "-o", "json")...)
	if code != 0 {
		t.Fatalf("relayctl %v: exit %d: %s", args, code, errs)
	}
	if err := json.Unmarshal([]byte(out), v); err != nil {
		t.Fatalf("relayctl %v: %v\n%s", args, err, out)
	}
}

func relayDrops(st *api.Stats) map[string]uint64 {
	m := map[string]uint64{}
	for _, d := range st.Drops {
		m[d.Layer+"/"+d.Reason] = d.Total
	}
	return m
}

// TestOpsRelayctlAndMetrics is the operations proof in the namespace lab: a
// Miredo client talks through teredo-relayd; relayctl lists it as trusted
// with non-zero counters, stats shows injected negative cases under their
// reasons, a live scrape passes promtool, and every metric the dashboard and
// the alert rules use is in that scrape.
func TestOpsRelayctlAndMetrics(t *testing.T) {
	bin := relaydBinary(t)
	testenv.RequireBinary(t, "promtool", "curl")
	l := startLab(t, Options{Relay: RelayTeredod, Mode: OneArmed, RelaydBinary: bin})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	for _, dir := range []struct {
		from Node
		dst  netip.Addr
	}{{Client, l.NativeAddr()}, {Native, l.ClientAddr()}} {
		res, err := l.Ping6(ctx, dir.from, dir.dst, 3)
		if err != nil || res.Received() == 0 {
			t.Fatalf("ping %s -> %s: %v (%d received)", dir.from, dir.dst, err, res.Received())
		}
	}

	// relayctl status: ready, the relay interface bound with its modes.
	var st api.Status
	relayctlJSON(t, l, &st, "status")
	v4iface, _ := l.RelayIfaces()
	if !st.Ready || st.Draining || len(st.Interfaces) == 0 || st.Interfaces[0].Name != v4iface ||
		st.Interfaces[0].XDPMode == "" || len(st.Interfaces[0].Queues) == 0 {
		t.Errorf("status: %+v", st)
	}
	// Relay role only: no server object; the announcement is off in the lab.
	if len(st.Roles) != 1 || st.Roles[0] != "relay" || st.Server != nil || st.Announce.Enabled || st.Drain.Persisted {
		t.Errorf("status roles %v server %+v announce %+v drain %+v", st.Roles, st.Server, st.Announce, st.Drain)
	}

	// relayctl peers: the Miredo client, trusted, with traffic both ways.
	var ps api.Peers
	relayctlJSON(t, l, &ps, "peers", "--state", "trusted")
	var client *api.Peer
	for i := range ps.Peers {
		if ps.Peers[i].Address == l.ClientAddr() {
			client = &ps.Peers[i]
		}
	}
	if client == nil {
		t.Fatalf("client %s not among trusted peers: %+v", l.ClientAddr(), ps)
	}
	if client.RxPackets == 0 || client.TxPackets == 0 || client.LastRx.IsZero() || client.Server != ServerIPv4 {
		t.Errorf("client peer %+v: want rx and tx counters, a last rx time and server %s", client, ServerIPv4)
	}
	t.Logf("client peer: %+v", *client)
	if ps.Summary.Trusted == 0 || ps.Summary.Capacity == 0 {
		t.Errorf("summary %+v", ps.Summary)
	}
	out, errs, code := relayctlRun(t, l, "peers", "show", l.ClientAddr().String())
	if code != 0 || !strings.Contains(out, "state:") || !strings.Contains(out, client.Mapped.String()) {
		t.Errorf("peers show: exit %d %s\n%s", code, errs, out)
	}

	// relayctl stats: injected negative cases appear under their reasons.
	var before, after api.Stats
	relayctlJSON(t, l, &before, "stats")
	relay := netip.AddrPortFrom(RelayIPv4, TeredoPort)
	data := []byte("teredo-lab ops injection")
	spoofed := TeredoAddr(ServerIPv4, 0, netip.MustParseAddrPort("203.0.113.9:46240"))
	const n = 3
	for i := range n {
		if err := l.SendRawUDP(Attacker, netip.AddrPortFrom(AttackerIPv4, 46240), relay,
			EchoRequest(spoofed, l.NativeAddr(), 64, idOpsSpoofedMapping, uint16(i), data)); err != nil {
			t.Fatalf("inject spoofed mapping: %v", err)
		}
		if err := l.SendRawUDP(Attacker, netip.AddrPortFrom(AttackerIPv4, 40002), relay,
			EchoRequest(AttackerIPv6, l.NativeAddr(), 64, idOpsNonTeredoSrc, uint16(i), data)); err != nil {
			t.Fatalf("inject non-Teredo source: %v", err)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		relayctlJSON(t, l, &after, "stats")
		b, a := relayDrops(&before), relayDrops(&after)
		if a["relay/mapping_mismatch"]-b["relay/mapping_mismatch"] >= n && a["relay/src_not_teredo"]-b["relay/src_not_teredo"] >= n {
			t.Logf("drops: mapping_mismatch %d -> %d, src_not_teredo %d -> %d", b["relay/mapping_mismatch"], a["relay/mapping_mismatch"],
				b["relay/src_not_teredo"], a["relay/src_not_teredo"])
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("drops did not rise under their reasons: before %v\nafter %v", b, a)
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if out, _, code := relayctlRun(t, l, "stats", "--non-zero"); code != 0 || !strings.Contains(out, "mapping_mismatch") {
		t.Errorf("stats table lacks mapping_mismatch:\n%s", out)
	} else {
		t.Logf("relayctl stats --non-zero:\n%s", out)
	}
	if out, _, code := relayctlRun(t, l, "status"); code != 0 || !strings.Contains(out, "announce:") {
		t.Errorf("status table:\n%s", out)
	} else {
		t.Logf("relayctl status:\n%s", out)
	}

	// A live scrape passes promtool and holds every metric the dashboard
	// and the alert rules use.
	scrape, err := l.Exec(ctx, Relay, "curl", "-sf", "http://"+l.RelaydEnv().MetricsListen+"/metrics")
	if err != nil {
		t.Fatalf("scrape: %v\n%s", err, scrape)
	}
	check := exec.CommandContext(ctx, "promtool", "check", "metrics")
	check.Stdin = bytes.NewReader(scrape)
	if out, err := check.CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics on the live scrape: %v\n%s", err, out)
	}
	t.Logf("live scrape: %d bytes", len(scrape))
	families := map[string]bool{}
	for _, line := range strings.Split(string(scrape), "\n") {
		if f := strings.Fields(line); len(f) >= 3 && f[0] == "#" && f[1] == "TYPE" {
			families[f[2]] = true
		}
	}
	exprs, err := metricstest.DeployExprs("..")
	if err != nil {
		t.Fatal(err)
	}
	for e, origin := range exprs {
		for _, m := range metricstest.MetricNames(e) {
			if !families[m] {
				t.Errorf("%s (used by %s) is not in the live scrape", m, origin)
			}
		}
	}
	for _, want := range []string{
		`teredo_relay_ready 1`,
		`teredo_relay_drops_total{layer="relay",reason="mapping_mismatch"}`,
		`teredo_relay_peers{state="trusted"}`,
		`teredo_relay_drops_total{layer="relay",reason="routing_header_type0"} 0`,
		`teredo_relay_drops_total{layer="relay",reason="new_peer_rate_limited"}`,
		`teredo_relay_ratelimit_packets_per_second{limiter="bubble"}`,
		`teredo_relay_ratelimit_suppressed_total{limiter="client_slow_path"}`,
		`teredo_relay_role_enabled{role="relay"} 1`,
		`teredo_relay_role_enabled{role="server"} 0`,
		`teredo_relay_server_drops_total{reason="rate_limited"} 0`,
		`event="umem_frames_allocated"`,
	} {
		if !bytes.Contains(scrape, []byte(want)) {
			t.Errorf("live scrape lacks %s", want)
		}
	}

	// Drain and undrain flip readiness (and /readyz) without stopping traffic.
	if _, errs, code := relayctlRun(t, l, "drain"); code != 0 {
		t.Fatalf("drain: %s", errs)
	}
	if out, err := l.Exec(ctx, Relay, "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "http://"+l.RelaydEnv().MetricsListen+"/readyz"); err != nil || string(out) != "503" {
		t.Errorf("/readyz while drained: %s %v", out, err)
	}
	relayctlJSON(t, l, &st, "status")
	if !st.Draining || st.Drain.StateFile == "" || !st.Drain.Persisted {
		t.Errorf("drained: draining %v drain %+v (want persisted in the state file)", st.Draining, st.Drain)
	}
	if _, errs, code := relayctlRun(t, l, "undrain"); code != 0 {
		t.Fatalf("undrain: %s", errs)
	}
	relayctlJSON(t, l, &st, "status")
	if !st.Ready || st.Draining || st.Drain.Persisted {
		t.Errorf("after undrain: ready %v draining %v drain %+v", st.Ready, st.Draining, st.Drain)
	}
}
