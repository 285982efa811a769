package daemon

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/teredorelay/teredorelay/config"
)

// testDaemon is a Daemon with only what the drain and announcement code
// touches.
func testDaemon(t *testing.T, cfg *config.Config) *Daemon {
	t.Helper()
	return &Daemon{cfg: cfg, log: slog.New(slog.NewTextHandler(io.Discard, nil)), fatal: make(chan error, 8)}
}

func parseConfig(t *testing.T, extra string) *config.Config {
	t.Helper()
	c, err := config.Parse([]byte("interfaces: {one_armed: eth0}\nipv4: {address: 192.0.2.1}\nipv6: {address: \"2001:db8::1\"}\n" + extra))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// relayctl drain survives a restart: the state file is written on drain,
// read at start, and removed on undrain.
func TestDrainPersistsAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	cfg := parseConfig(t, "bubbles: {key_file: "+dir+"/bubble.key}\n")
	if cfg.Drain.StateFile != dir+"/drained" {
		t.Fatalf("default drain file %q", cfg.Drain.StateFile)
	}
	d := testDaemon(t, cfg)
	if err := d.loadDrain(cfg); err != nil || d.draining.Load() {
		t.Fatalf("fresh start: draining %v, %v", d.draining.Load(), err)
	}
	d.ready.Store(true)
	if changed, err := d.Drain(context.Background()); !changed || err != nil {
		t.Fatalf("drain: %v %v", changed, err)
	}
	b, err := os.ReadFile(cfg.Drain.StateFile)
	if err != nil || !strings.HasPrefix(string(b), "drained at ") {
		t.Fatalf("state file %q %v", b, err)
	}
	if changed, err := d.Drain(context.Background()); changed || err != nil {
		t.Fatalf("second drain: %v %v", changed, err)
	}

	// "Restart": a new daemon on the same configuration starts drained.
	d2 := testDaemon(t, cfg)
	if err := d2.loadDrain(cfg); err != nil {
		t.Fatal(err)
	}
	if a := d2.State().Announce; a.Enabled || len(a.Prefixes) != 1 || a.Prefixes[0] != "2001::/32" || a.Announced {
		t.Fatalf("announce state with the driver off: %+v", a)
	}
	d2.ready.Store(true)
	if st := d2.State(); !st.Draining || st.Ready || len(st.NotReady) != 1 || st.NotReady[0] != "draining" {
		t.Fatalf("after restart: %+v", st)
	}
	if changed, err := d2.Undrain(context.Background()); !changed || err != nil {
		t.Fatalf("undrain: %v %v", changed, err)
	}
	if _, err := os.Stat(cfg.Drain.StateFile); !os.IsNotExist(err) {
		t.Fatalf("state file still there after undrain: %v", err)
	}
	d3 := testDaemon(t, cfg)
	if err := d3.loadDrain(cfg); err != nil || d3.draining.Load() {
		t.Fatalf("restart after undrain: draining %v, %v", d3.draining.Load(), err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("left files behind: %v", entries)
	}
}

func TestDrainPersistenceFailures(t *testing.T) {
	dir := t.TempDir()
	// Unwritable: the drain still takes effect, the error says it is not persisted.
	cfg := parseConfig(t, "drain: {state_file: "+dir+"/missing/drained}\n")
	d := testDaemon(t, cfg)
	changed, err := d.Drain(context.Background())
	if !changed || !d.draining.Load() || err == nil || !strings.HasPrefix(err.Error(), "drained, but a restart would undrain: write drain state file: ") {
		t.Fatalf("drain into a missing directory: changed %v draining %v err %v", changed, d.draining.Load(), err)
	}
	// Not removable (a non-empty directory stands there): undrain refuses.
	block := filepath.Join(dir, "block")
	if err := os.MkdirAll(filepath.Join(block, "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	cfg = parseConfig(t, "drain: {state_file: "+block+"}\n")
	d = testDaemon(t, cfg)
	d.draining.Store(true)
	changed, err = d.Undrain(context.Background())
	if changed || !d.draining.Load() || err == nil || !strings.HasPrefix(err.Error(), "still drained: remove drain state file: ") {
		t.Fatalf("undrain with an unremovable file: changed %v draining %v err %v", changed, d.draining.Load(), err)
	}
	// Unreadable state at start (a path through a file): refuse to start.
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg = parseConfig(t, "drain: {state_file: "+file+"/drained}\n")
	if err := testDaemon(t, cfg).loadDrain(cfg); err == nil || !strings.HasPrefix(err.Error(), "config: drain.state_file: ") {
		t.Fatalf("unreadable drain file: %v", err)
	}
	// Disabled persistence.
	cfg = parseConfig(t, "drain: {state_file: \"\"}\n")
	d = testDaemon(t, cfg)
	if err := d.loadDrain(cfg); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Drain(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Undrain(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// The daemon's hooks drive the announcement: withdrawn while starting,
// announced once ready, withdrawn on drain, announced on undrain, withdrawn
// for good at shutdown. birdc is a script that records the include file.
func TestAnnounceFollowsReadinessAndDrain(t *testing.T) {
	dir := t.TempDir()
	inc := filepath.Join(dir, "bird", "announce.conf")
	birdc := filepath.Join(dir, "birdc")
	script := "#!/bin/sh\ncat " + inc + " | grep define >> " + dir + "/seen\nprintf '0001 BIRD 2.0.12 ready.\\n0003 Reconfigured\\n'\n"
	if err := os.WriteFile(birdc, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := parseConfig(t, "bubbles: {key_file: "+dir+"/key}\nannounce: {enabled: true, include_file: "+inc+
		", birdc: "+birdc+", socket: "+dir+"/bird.ctl, rise: 0s}\n")
	d := testDaemon(t, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := d.startAnnounce(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	waitAnnounce := func(what string, announced bool, transitions uint64) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			a := d.State().Announce
			if a.Enabled && d.announce.drv.Status().Confirmed && a.Announced == announced && a.Announcements+a.Withdrawals == transitions {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: announce state %+v", what, a)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitAnnounce("start", false, 0)
	if err := d.markReady(); err != nil {
		t.Fatal(err)
	}
	waitAnnounce("ready", true, 1)
	if _, err := d.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	waitAnnounce("drained", false, 2)
	if _, err := d.Undrain(ctx); err != nil {
		t.Fatal(err)
	}
	waitAnnounce("undrained", true, 3)
	d.ready.Store(false)
	d.withdrawAnnounce()
	a := d.State().Announce
	if a.Announced || a.Withdrawals != 2 || a.Announcements != 2 || a.Errors != 0 || a.Prefixes[0] != "2001::/32" {
		t.Fatalf("after shutdown withdrawal: %+v", a)
	}
	d.background.Wait()
	seen, err := os.ReadFile(dir + "/seen")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(seen)), "\n")
	if len(lines) < 5 || lines[len(lines)-1] != "define TEREDO_ANNOUNCE = [ ::/128 ];" {
		t.Fatalf("includes seen by birdc:\n%s", seen)
	}
}
