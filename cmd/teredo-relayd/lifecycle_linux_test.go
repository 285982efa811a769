package main

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/teredorelay/teredorelay/control/api"
	"github.com/teredorelay/teredorelay/metrics"
)

// notifySink is a NOTIFY_SOCKET: it records every datagram the daemon sends.
type notifySink struct {
	path string
	conn *net.UnixConn
	mu   sync.Mutex
	msgs []string
}

func newNotifySink(t *testing.T) *notifySink {
	t.Helper()
	s := &notifySink{path: filepath.Join(t.TempDir(), "notify.sock")}
	var err error
	if s.conn, err = net.ListenUnixgram("unixgram", &net.UnixAddr{Name: s.path, Net: "unixgram"}); err != nil {
		t.Fatal(err)
	}
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := s.conn.Read(buf)
			if err != nil {
				return
			}
			s.mu.Lock()
			s.msgs = append(s.msgs, string(buf[:n]))
			s.mu.Unlock()
		}
	}()
	t.Cleanup(func() { s.conn.Close() })
	return s
}

func (s *notifySink) messages() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.msgs...)
}

// startRelayd starts the daemon on cfg with env added, waits until ready,
// and returns a stop function that sends SIGTERM and returns stderr.
func (e *relaydEnv) startRelayd(t *testing.T, cfg, ready string, env ...string) (stop func() string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	cmd := exec.CommandContext(ctx, e.bin, "-config", cfg, "-ready-file", ready)
	cmd.Env = append(os.Environ(), env...)
	cmd, exited, stderr := startUntilReady(t, ready, cmd)
	return func() string {
		defer cancel()
		if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("exit after SIGTERM: %v\n%s", err, stderr)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("still running 20 s after SIGTERM:\n%s", stderr)
		}
		return stderr.String()
	}
}

// TestStartedDrainedIsNotReady: a relay that starts drained (the drain state
// file exists) ends systemd's start job (READY=1) but says it is drained,
// never "relaying", and does not log that it is ready.
func TestStartedDrainedIsNotReady(t *testing.T) {
	e := setupRelayd(t)
	cfg, dir := e.config(t, "drained", "")
	drained := filepath.Join(dir, "drained")
	if err := os.WriteFile(drained, []byte("drained by the test\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	rewrite(t, cfg, `drain: {state_file: ""}`, "drain: {state_file: "+drained+"}")
	sink := newNotifySink(t)
	stop := e.startRelayd(t, cfg, filepath.Join(dir, "ready"), "NOTIFY_SOCKET="+sink.path)
	time.Sleep(200 * time.Millisecond) // the datagram follows the ready file
	stderr := stop()
	var readyMsg string
	for _, m := range sink.messages() {
		if strings.Contains(m, "READY=1") {
			readyMsg = m
			break
		}
	}
	if !strings.Contains(readyMsg, "STATUS=drained") || strings.Contains(strings.Join(sink.messages(), "\n"), "STATUS=relaying") {
		t.Errorf("notifications %q: want READY=1 with STATUS=drained… and never STATUS=relaying", sink.messages())
	}
	if strings.Contains(stderr, `msg="teredo-relayd ready"`) || !strings.Contains(stderr, "NOT ready for traffic") {
		t.Errorf("a drained start logged readiness:\n%s", stderr)
	}
}

// TestIdleRelayIsQuiet: an idle relay's AF_XDP ring counters stay still
// (tx_ring_empty_descs rose about 20 times a second while the workers slept
// in poll(2); now it stays at the 1 the socket's epoll registration counts),
// and with WATCHDOG_USEC set the daemon pings systemd's watchdog while its
// workers run.
func TestIdleRelayIsQuiet(t *testing.T) {
	e := setupRelayd(t)
	cfg, dir := e.config(t, "idle", "")
	sink := newNotifySink(t)
	stop := e.startRelayd(t, cfg, filepath.Join(dir, "ready"), "NOTIFY_SOCKET="+sink.path, "WATCHDOG_USEC=200000")
	c := api.NewClient(filepath.Join(dir, "run", "api.sock"), 5*time.Second)
	ringEvents := func() map[string]uint64 {
		t.Helper()
		st, _, err := c.Stats(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]uint64{}
		for _, r := range st.Rings {
			out[r.Event] += r.Total
		}
		return out
	}
	time.Sleep(300 * time.Millisecond) // past the workers' first sleeps
	before := ringEvents()
	readyAt := len(sink.messages())
	time.Sleep(1500 * time.Millisecond)
	after := ringEvents()
	stderr := stop()
	for _, ev := range []string{metrics.EventTxRingEmptyDescs, "rx_dropped", "rx_ring_full", "rx_fill_ring_empty_descs", "tx_invalid_descs", "rx_invalid_descs"} {
		if after[ev] != before[ev] {
			t.Errorf("idle relay: %s rose from %d to %d in 1.5 s", ev, before[ev], after[ev])
		}
	}
	t.Logf("ring events of the idle relay: %v", after)
	if _, ok := after[metrics.EventTxRingEmptyDescs]; !ok {
		t.Errorf("no %s in the stats: %v", metrics.EventTxRingEmptyDescs, after)
	}
	pings := 0
	for _, m := range sink.messages()[readyAt:] {
		if m == "WATCHDOG=1" {
			pings++
		}
	}
	// One every 100 ms for 1.5 s.
	if pings < 8 {
		t.Errorf("%d watchdog pings in 1.5 s, want about 15; notifications %q\n%s", pings, sink.messages(), stderr)
	}
	if !bytes.Contains([]byte(stderr), []byte("systemd watchdog on")) {
		t.Errorf("watchdog start not logged:\n%s", stderr)
	}
}

func rewrite(t *testing.T, path, from, to string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte(from)) {
		t.Fatalf("%s lacks %q", path, from)
	}
	if err := os.WriteFile(path, bytes.Replace(b, []byte(from), []byte(to), 1), 0o644); err != nil {
		t.Fatal(err)
	}
}
