package relayctl_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/teredorelay/teredorelay/control"
	"github.com/teredorelay/teredorelay/control/api"
	"github.com/teredorelay/teredorelay/control/controltest"
	"github.com/teredorelay/teredorelay/metrics/metricstest"
	"github.com/teredorelay/teredorelay/relayctl"
)

// daemon is a control server over a fake backend on a unix socket in a temp dir.
type daemon struct {
	socket string
	b      *controltest.Backend
	srv    *control.Server
	mu     sync.Mutex
	now    time.Time
}

func (d *daemon) clock() time.Time {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.now
}

func (d *daemon) advance(dt time.Duration) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.now = d.now.Add(dt)
}

func startDaemon(t *testing.T) *daemon {
	t.Helper()
	d := &daemon{socket: filepath.Join(t.TempDir(), "api.sock"), b: controltest.Sample(), now: controltest.Now}
	d.srv = control.NewServer(control.Config{Backend: d.b, Now: d.clock})
	ln, err := control.Listen(d.socket, "")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return d
}

type result struct {
	code           int
	stdout, stderr string
}

func run(t *testing.T, ctx context.Context, socket string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	code := relayctl.Main(ctx, append([]string{"--socket", socket}, args...), relayctl.Options{
		Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" },
	})
	return result{code, out.String(), errb.String()}
}

func (d *daemon) run(t *testing.T, args ...string) result {
	t.Helper()
	return run(t, context.Background(), d.socket, args...)
}

// apiBody fetches path straight from the API.
func (d *daemon) apiBody(t *testing.T, method, path, query string) string {
	t.Helper()
	c := api.NewClient(d.socket, 5*time.Second)
	var q map[string][]string
	if query != "" {
		q = map[string][]string{}
		for _, kv := range strings.Split(query, "&") {
			k, v, _ := strings.Cut(kv, "=")
			q[k] = append(q[k], v)
		}
	}
	raw, err := c.Do(context.Background(), method, path, q, nil)
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

func TestJSONOutputEqualsAPI(t *testing.T) {
	d := startDaemon(t)
	tests := []struct {
		args                []string
		method, path, query string
	}{
		{[]string{"status", "-o", "json"}, "GET", api.PathStatus, ""},
		{[]string{"stats", "-o", "json"}, "GET", api.PathStats, ""},
		{[]string{"peers", "-o", "json"}, "GET", api.PathPeers, ""},
		{[]string{"peers", "-o", "json", "--state", "trusted", "--v4", "192.0.2.0/24", "--sort", "rx-packets", "--limit", "2"},
			"GET", api.PathPeers, "state=trusted&v4=192.0.2.0/24&sort=rx-packets&limit=2"},
		{[]string{"peers", "count", "-o", "json", "--server", "203.0.113.120"}, "GET", api.PathPeerCount, "server=203.0.113.120"},
		{[]string{"peers", "show", controltest.PeerT8.String(), "-o", "json"}, "GET", api.PathPeer + controltest.PeerT8.String(), ""},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			r := d.run(t, tt.args...)
			if r.code != 0 {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			if want := d.apiBody(t, tt.method, tt.path, tt.query); r.stdout != want {
				t.Errorf("relayctl printed\n%s\nthe API answers\n%s", r.stdout, want)
			}
		})
	}
}

func TestPeersTable(t *testing.T) {
	d := startDaemon(t)
	r := d.run(t, "peers", "--state", "trusted", "--v4", "192.0.2.0/24", "--sort", "rx-packets", "--limit", "1")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	want := `TEREDO ADDRESS                        MAPPED             SERVER         FLAGS  STATE    LAST RX  LAST TX  BUBBLES  RX PKTS  TX PKTS  QUEUED
2001:0:4136:e378:8000:63bf:3fff:fdd2  192.0.2.45:40000*  65.54.227.120  cone   trusted  10s      20s      0        500      20       0 B
peers: 43 / 1000 (4.3%)  trusted 40  pending 3  queued 2.5 KiB  evictions 0.0/s (expired 20, lru 0, pending_timeout 2)
shown 1 of 2 matching (scanned 5, sort rx-packets, limit 1)  snapshot 2026-03-01T14:00:00Z, not atomic: the peer cache is walked while traffic runs
`
	if r.stdout != want {
		t.Errorf("got\n%s\nwant\n%s", r.stdout, want)
	}

	r = d.run(t, "peers", "-o", "wide", "--no-headers", "--state", "pending")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if r.code != 0 || len(lines) != 2 {
		t.Fatalf("exit %d, %d lines:\n%s%s", r.code, len(lines), r.stdout, r.stderr)
	}
	f := strings.Fields(lines[0])
	// T7 sorts first (both never received; address order), with r5991 flags,
	// 2 bubbles, 2560 bytes queued (exact and one field with --no-headers),
	// no observed mapping.
	wantF := []string{controltest.PeerT7.String(), "30.3.9.202:51380", "17.23.52.250", "r5991", "pending", "-", "0.5s", "2", "0", "0", "2560", "0", "0", "-"}
	if strings.Join(f, " ") != strings.Join(wantF, " ") {
		t.Errorf("wide row\n got %q\nwant %q", f, wantF)
	}
}

func TestPeersShowAndCount(t *testing.T) {
	d := startDaemon(t)
	r := d.run(t, "peers", "show", controltest.PeerT8.String())
	for _, want := range []string{
		"server:            192.0.2.1\n",
		"flags:             0x3cc4 (cone no, z no, u no, g no, random bits 0x3cc4)\n",
		"mapped:            203.0.113.1:46240 (obfuscated port 0x4b5f, address 0x34ff8efe)\n",
		"observed source:   203.0.113.1:46240\n",
		"last rx:           1.0s ago (2026-03-01T13:59:59Z)\n",
		"rx:                100 packets, 12000 bytes (11.7 KiB)\n",
	} {
		if !strings.Contains(norm(r.stdout), norm(want)) {
			t.Errorf("peers show lacks %q:\n%s", want, r.stdout)
		}
	}
	r = d.run(t, "peers", "show", "2001:0:c000:201::1")
	if r.code != relayctl.ExitNotFound || r.stderr != "relayctl: teredo-relayd: peer 2001:0:c000:201::1 is not in the peer cache (not_found)\n" {
		t.Errorf("unknown peer: exit %d %q", r.code, r.stderr)
	}
	r = d.run(t, "peers", "count", "--state", "pending")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "2 matching\npeers: 43 / 1000 (4.3%)  trusted 40  pending 3") {
		t.Errorf("count: %d %q", r.code, r.stdout)
	}
}

func TestStatusAndStatsTables(t *testing.T) {
	d := startDaemon(t)
	r := d.run(t, "status")
	for _, want := range []string{
		"teredo-relayd 1.2.3 (revision abc123,",
		"roles:      relay, server\n",
		"addresses:  192.0.2.1:3544, 2001:db8::1\n",
		"server:     192.0.2.10:3544, 192.0.2.11:3544\n",
		"server counts:  120 RS received, 118 RA sent (38 from the other address), 200 forwarded, 60 to the relay, 7 dropped\n",
		"state:      ready\n",
		"draining:   no (drains persist in /var/lib/teredo-relayd/drained)\n",
		"announce:   2001::/32: want announce, BIRD accepted the announcing config (last 2026-03-01T13:00:00Z); 4 announcements, 3 withdrawals, 2 errors; " +
			"last error 2026-03-01T12:30:00Z: birdc configure: timed out after 5s\n",
		"uptime:     2h0m0s (since 2026-03-01T12:00:00Z)\n",
		"eth0       native    0      zero_copy    1300     1200     ok\n",
		"eth0       native    1      copy         1150     700      ok\n",
		"eth1       -         -      -            -        -        -\n",
	} {
		if !strings.Contains(norm(r.stdout), norm(want)) {
			t.Errorf("status lacks %q:\n%s", want, r.stdout)
		}
	}

	d.srv.Sample()
	d.advance(5 * time.Second)
	d.b.Update(func(s *metricstest.Source) {
		s.Relay.Drops[1].Value += 50 // mapping_mismatch: 10/s
		s.Relay.V4ToV6Packets += 5000
	})
	r = d.run(t, "stats", "--non-zero")
	for _, want := range []string{
		"stats at 2026-03-01T14:00:05Z, rates over the last 5.0s\n",
		"v4_to_v6   6000     1000   120000  0\n",
		"relay  mapping_mismatch  53       10\n",
		"xdp    malformed_ipv4    8        0\n",
		"bubbles        indirect                 12     0\n",
		"eth0       1      rx_ring_full  10     0\n",
		"eth0       0      umem_frames_allocated  12     0\n",
		"server     mapping_mismatch  5        0\n",
		"server         ra_sent_other_address    38     0\n",
		"server         relay_handoffs           60     0\n",
	} {
		if !strings.Contains(norm(r.stdout), norm(want)) {
			t.Errorf("stats lacks %q:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "peer_table_full") {
		t.Error("--non-zero printed a zero drop reason")
	}
}

func TestDrainUndrainReload(t *testing.T) {
	d := startDaemon(t)
	r := d.run(t, "drain")
	if r.code != 0 || r.stdout != "drained: readiness is false, the route will be withdrawn (draining yes, ready no)\n" {
		t.Errorf("drain: %d %q %q", r.code, r.stdout, r.stderr)
	}
	if r := d.run(t, "status"); !strings.Contains(norm(r.stdout), "state:  NOT READY: draining\n") ||
		!strings.Contains(norm(r.stdout), "draining:  yes (persisted in /var/lib/teredo-relayd/drained)\n") {
		t.Errorf("status after drain:\n%s", r.stdout)
	}
	r = d.run(t, "undrain", "-o", "json")
	if r.code != 0 || !strings.Contains(r.stdout, `"draining": false`) || !strings.Contains(r.stdout, `"changed": true`) {
		t.Errorf("undrain: %d %q", r.code, r.stdout)
	}
	r = d.run(t, "reload")
	if r.code != 0 || r.stdout != "configuration reloaded; changed: log.level\n" {
		t.Errorf("reload: %d %q", r.code, r.stdout)
	}
	d.b.SetReload(api.ReloadResult{Error: "peers.capacity: cannot change on reload (restart the daemon)"}, nil)
	r = d.run(t, "reload")
	if r.code != relayctl.ExitFailed || r.stderr != "relayctl: configuration rejected, the previous one stays in force: peers.capacity: cannot change on reload (restart the daemon)\n" {
		t.Errorf("rejected reload: %d %q", r.code, r.stderr)
	}
}

func TestSocketMissing(t *testing.T) {
	socket := filepath.Join(t.TempDir(), "run", "teredo-relayd", "api.sock")
	for _, args := range [][]string{{"status"}, {"peers"}, {"stats", "-o", "json"}, {"drain"}} {
		r := run(t, context.Background(), socket, args...)
		want := fmt.Sprintf("relayctl: cannot reach teredo-relayd at %s: dial unix %s: connect: no such file or directory (is teredo-relayd running, with this api.socket?)\n", socket, socket)
		if r.code != relayctl.ExitUnreachable || r.stderr != want || r.stdout != "" {
			t.Errorf("%v: exit %d\n got %q\nwant %q", args, r.code, r.stderr, want)
		}
	}
}

func TestSocketFromEnvironment(t *testing.T) {
	d := startDaemon(t)
	var out bytes.Buffer
	code := relayctl.Main(context.Background(), []string{"peers", "count"}, relayctl.Options{
		Stdout: &out, Stderr: &out,
		Getenv: func(k string) string {
			if k == relayctl.EnvSocket {
				return d.socket
			}
			return ""
		},
	})
	if code != 0 || !strings.Contains(out.String(), "peers: 43 / 1000") {
		t.Errorf("exit %d: %s", code, out.String())
	}
}

func TestUsageErrors(t *testing.T) {
	d := startDaemon(t)
	tests := []struct {
		args []string
		msg  string
	}{
		{[]string{"peers", "--state", "happy"}, `state "happy" is not one of pending, trusted`},
		{[]string{"peers", "--sort", "age"}, `--sort "age" is not one of last-rx, last-tx, address`},
		{[]string{"peers", "--limit", "0"}, "--limit 0 is not from 1 to 10000"},
		{[]string{"peers", "--v4", "2001:db8::/32"}, `v4 "2001:db8::/32" is not an IPv4 prefix`},
		{[]string{"peers", "-o", "yaml"}, `output format "yaml" is not one of [table wide json]`},
		{[]string{"peers", "show"}, "accepts 1 arg(s), received 0"},
		{[]string{"peers", "show", "192.0.2.1"}, `"192.0.2.1" is not an IPv6 address`},
		{[]string{"status", "--bogus"}, "unknown flag: --bogus"},
	}
	for _, tt := range tests {
		r := d.run(t, tt.args...)
		if r.code != relayctl.ExitUsage || !strings.HasPrefix(r.stderr, "relayctl: "+tt.msg) {
			t.Errorf("%v: exit %d %q, want 2 and %q", tt.args, r.code, r.stderr, tt.msg)
		}
	}
}

// syncBuffer is a writer that cancels the watch after n snapshots.
type syncBuffer struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	marker string
	n      int
	cancel context.CancelFunc
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.buf.Write(p)
	if strings.Count(s.buf.String(), s.marker) >= s.n {
		s.cancel()
	}
	return len(p), nil
}

func TestPeersWatch(t *testing.T) {
	d := startDaemon(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out := &syncBuffer{marker: "\npeers: ", n: 3, cancel: cancel}
	code := relayctl.Main(ctx, []string{"--socket", d.socket, "peers", "--limit", "1", "--watch=10ms"},
		relayctl.Options{Stdout: out, Stderr: out, Getenv: func(string) string { return "" }})
	if code != 0 {
		t.Fatalf("exit %d: %s", code, out.buf.String())
	}
	if ctx.Err() == context.DeadlineExceeded {
		t.Fatal("watch did not repeat")
	}
	if n := strings.Count(out.buf.String(), "TEREDO ADDRESS"); n != 3 {
		t.Errorf("%d snapshots, want 3:\n%s", n, out.buf.String())
	}
}

// The API answers 405 with a JSON error on a wrong method; relayctl never
// sends one, but curl users do.
func TestAPIMethodErrorIsJSON(t *testing.T) {
	d := startDaemon(t)
	_, err := api.NewClient(d.socket, time.Second).Do(context.Background(), http.MethodGet, api.PathDrain, nil, nil)
	var ae *api.Error
	if !errorsAs(err, &ae) || ae.Status != 405 || ae.Message != "/v1/drain needs POST, not GET" {
		t.Errorf("err %v", err)
	}
}
