//go:build linux

package lab

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/teredorelay/teredorelay/announce"
	"github.com/teredorelay/teredorelay/config"
	"github.com/teredorelay/teredorelay/control/api"
	"github.com/teredorelay/teredorelay/internal/testenv"
	"github.com/teredorelay/teredorelay/relayctl"
)

// The announcement lab: two namespaces joined by one veth pair,
//
//	relay ns: ix0 198.51.100.1/24, 2001:db8:99::1/64 — teredo-relayd (announce
//	          enabled) + BIRD with deploy/bird/bird.conf
//	IX ns:    rs0 198.51.100.254/24, 2001:db8:99::fe/64 — BIRD with
//	          deploy/bird/ix-peer.conf, installing what it learns in its kernel
//
// The addresses are the ones the example configurations use, so BIRD runs
// the shipped files unchanged apart from the include path and logging.
// Namespace names start with "tann-<pid>-": a later run deletes those whose
// test process is gone.
const (
	annPrefix       = "tann-"
	annRelayIface   = "ix0"
	annIXIface      = "rs0"
	annRelayIPv4    = "198.51.100.1"
	annRelayIPv6    = "2001:db8:99::1"
	annIXIPv6       = "2001:db8:99::fe"
	annRise         = time.Second
	annWithdrawWait = 5 * time.Second // bound on drain/stop → route gone at the IX
)

type announceLab struct {
	t               *testing.T
	dir             string
	relayNS, ixNS   string
	relayBird       string // control sockets
	ixBird          string
	include         string
	relaydConf      string
	readyFile       string
	apiSocket       string
	drainFile       string
	relayd          *process
	bin             string
	procs           []*process
	relaydStarts    int
	lastRelaydStart time.Time
}

// sweepStaleAnnounceLabs deletes namespaces of earlier runs whose test
// process no longer exists.
func sweepStaleAnnounceLabs(t *testing.T) {
	ents, err := os.ReadDir(netnsPath)
	if err != nil {
		return
	}
	for _, e := range ents {
		rest, ok := strings.CutPrefix(e.Name(), annPrefix)
		if !ok {
			continue
		}
		pidStr, _, _ := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidStr)
		if err != nil || processStart(pid) != "" {
			continue
		}
		if err := killNamespace(e.Name()); err != nil {
			t.Logf("sweep %s: %v", e.Name(), err)
		}
		if err := runIP("netns", "del", e.Name()); err != nil {
			t.Logf("sweep %s: %v", e.Name(), err)
		}
	}
}

func startAnnounceLab(t *testing.T) *announceLab {
	t.Helper()
	bin := relaydBinary(t)
	testenv.RequireBinary(t, "bird", "birdc", "curl")
	sweepStaleAnnounceLabs(t)
	var suffix [3]byte
	if _, err := rand.Read(suffix[:]); err != nil {
		t.Fatal(err)
	}
	id := fmt.Sprintf("%s%d-%s", annPrefix, os.Getpid(), hex.EncodeToString(suffix[:]))
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	a := &announceLab{
		t: t, dir: dir, bin: bin, relayNS: id + "-relay", ixNS: id + "-ix",
		relayBird: dir + "/relay-bird.ctl", ixBird: dir + "/ix-bird.ctl",
		include: dir + "/bird/announce.conf", relaydConf: dir + "/relayd.yaml", readyFile: dir + "/relayd.ready",
		apiSocket: dir + "/relayd.sock", drainFile: dir + "/drained",
	}
	t.Cleanup(a.close)
	for _, ns := range []string{a.relayNS, a.ixNS} {
		a.must(runIP("netns", "add", ns))
	}
	a.must(runIP("link", "add", annRelayIface, "netns", a.relayNS, "type", "veth", "peer", "name", annIXIface, "netns", a.ixNS))
	for _, c := range [][]string{
		{"-n", a.relayNS, "addr", "add", annRelayIPv4 + "/24", "dev", annRelayIface},
		{"-n", a.relayNS, "addr", "add", annRelayIPv6 + "/64", "dev", annRelayIface, "nodad"},
		{"-n", a.ixNS, "addr", "add", "198.51.100.254/24", "dev", annIXIface},
		{"-n", a.ixNS, "addr", "add", annIXIPv6 + "/64", "dev", annIXIface, "nodad"},
		{"-n", a.relayNS, "link", "set", "lo", "up"},
		{"-n", a.ixNS, "link", "set", "lo", "up"},
		{"-n", a.relayNS, "link", "set", annRelayIface, "up"},
		{"-n", a.ixNS, "link", "set", annIXIface, "up"},
	} {
		a.must(runIP(c...))
	}

	// BIRD needs the include file before it starts (at boot the tmpfiles
	// entry creates it withdrawn).
	a.must(os.MkdirAll(filepath.Dir(a.include), 0o755))
	a.must(os.WriteFile(a.include, announce.Render(announce.DefaultSetName, announce.DefaultPrefixes, false), 0o644))
	a.startBird("relay-bird", a.relayNS, "../deploy/bird/bird.conf", a.relayBird, map[string]string{
		config.DefaultAnnounceInclude: a.include,
	})
	a.startBird("ix-bird", a.ixNS, "../deploy/bird/ix-peer.conf", a.ixBird, nil)

	conf := announcingRelayd{Iface: annRelayIface, IPv4: annRelayIPv4, IPv6: annRelayIPv6, Dir: dir, APISocket: a.apiSocket,
		Include: a.include, BirdSocket: a.relayBird, DrainFile: a.drainFile, Rise: annRise}.yaml()
	a.must(os.WriteFile(a.relaydConf, []byte(conf), 0o644))
	return a
}

func (a *announceLab) must(err error) {
	a.t.Helper()
	if err != nil {
		a.t.Fatal(err)
	}
}

// startBird runs BIRD in the foreground in ns on a copy of the example
// configuration conf with replacements, logging to the work directory.
func (a *announceLab) startBird(name, ns, conf, socket string, replace map[string]string) {
	a.t.Helper()
	p, err := startBird(a.dir, name, ns, conf, socket, replace)
	a.must(err)
	a.procs = append(a.procs, p)
}

// startRelayd starts teredo-relayd in the relay namespace and waits for its
// ready file.
func (a *announceLab) startRelayd() {
	a.t.Helper()
	a.relaydStarts++
	name := fmt.Sprintf("relayd-%d", a.relaydStarts)
	p, err := startProcess(a.dir, name, a.relayNS, []string{a.bin, "--config", a.relaydConf, "--ready-file", a.readyFile})
	a.must(err)
	a.procs = append(a.procs, p)
	a.relayd = p
	a.lastRelaydStart = time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := waitFor(ctx, 30*time.Second, "teredo-relayd ready file", func() (bool, error) {
		if p.exited() {
			return false, fmt.Errorf("teredo-relayd exited: %v", p.err)
		}
		return fileExists(a.readyFile)
	}); err != nil {
		a.t.Fatalf("%v\n%s", err, p.logTail(4000))
	}
}

// stopRelayd sends SIGTERM and waits for a clean exit.
func (a *announceLab) stopRelayd() {
	a.t.Helper()
	p := a.relayd
	a.must(p.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		a.t.Fatalf("teredo-relayd did not exit within 15 s of SIGTERM\n%s", p.logTail(4000))
	}
	if p.err != nil {
		a.t.Fatalf("teredo-relayd exit: %v\n%s", p.err, p.logTail(4000))
	}
}

// ixRoute returns the IX namespace's kernel route for 2001::/32 ("" if none).
func (a *announceLab) ixRoute() string {
	out, err := exec.Command("ip", "-n", a.ixNS, "-6", "route", "show", "2001::/32").CombinedOutput()
	if err != nil {
		a.t.Fatalf("ip route in the IX namespace: %v: %s", err, out)
	}
	return strings.TrimSpace(string(out))
}

// waitRoute polls (every 10 ms, up to limit) until the IX kernel has (or
// lacks) the Teredo route via the relay, and returns how long that took.
func (a *announceLab) waitRoute(present bool, limit time.Duration, what string) time.Duration {
	a.t.Helper()
	begin := time.Now()
	for {
		r := a.ixRoute()
		has := strings.Contains(r, "via "+annRelayIPv6) && strings.Contains(r, "proto bird")
		if has == present {
			return time.Since(begin)
		}
		if time.Since(begin) > limit {
			out, _ := exec.Command("birdc", "-s", a.ixBird, "show", "protocols", "all").CombinedOutput()
			a.t.Fatalf("%s: after %v the IX route is %q (want present=%v)\nIX bird:\n%s\nrelay log:\n%s", what, limit, r, present, out,
				a.relayd.logTail(3000))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (a *announceLab) relayctl(args ...string) string {
	a.t.Helper()
	var out, errb bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	code := relayctl.Main(ctx, append([]string{"--socket", a.apiSocket}, args...),
		relayctl.Options{Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" }})
	if code != 0 {
		a.t.Fatalf("relayctl %v: exit %d: %s", args, code, errb.String())
	}
	return out.String()
}

// waitExported waits (15 s at most) until relayctl status says the prefix
// is (or is not) exported on the Established session rs1.
func (a *announceLab) waitExported(want bool) {
	a.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		var st api.Status
		if err := json.Unmarshal([]byte(a.relayctl("status", "-o", "json")), &st); err != nil {
			a.t.Fatal(err)
		}
		s := st.Announce.Sessions
		if len(s) == 1 && s[0].Name == "rs1" && s[0].Established && s[0].Exported == want && st.Announce.SessionsError == "" {
			return
		}
		if time.Now().After(deadline) {
			a.t.Fatalf("relayctl status: sessions %+v (error %q), want rs1 Established with exported=%v", s, st.Announce.SessionsError, want)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// metric returns one sample of teredo-relayd's scrape ("" when absent).
func (a *announceLab) metric(series string) string {
	a.t.Helper()
	out, err := exec.Command("ip", "netns", "exec", a.relayNS, "curl", "-sf", "http://127.0.0.1:9542/metrics").CombinedOutput()
	if err != nil {
		a.t.Fatalf("scrape: %v: %s", err, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			return v
		}
	}
	return ""
}

func (a *announceLab) close() {
	for i := len(a.procs) - 1; i >= 0; i-- {
		if err := a.procs[i].stop(syscall.SIGTERM, 5*time.Second); err != nil {
			a.t.Errorf("cleanup: %v", err)
		}
	}
	if a.t.Failed() {
		for _, p := range a.procs {
			a.t.Logf("--- %s log ---\n%s", p.name, p.logTail(3000))
		}
	}
	for _, ns := range []string{a.relayNS, a.ixNS} {
		if _, err := os.Stat(netnsPath + ns); err != nil {
			continue
		}
		if err := killNamespace(ns); err != nil {
			a.t.Errorf("cleanup: %v", err)
		}
		if err := runIP("netns", "del", ns); err != nil {
			a.t.Errorf("cleanup: %v", err)
		}
	}
	for _, ns := range []string{a.relayNS, a.ixNS} {
		if _, err := os.Stat(netnsPath + ns); err == nil {
			a.t.Errorf("namespace %s survived cleanup", ns)
		}
	}
}

// TestAnnounceBIRD is the announcement proof with real BIRD 2 peers: the
// IX learns 2001::/32 only while teredo-relayd is ready and not drained;
// relayctl drain withdraws it within a bound and the drain survives a
// restart; undrain re-announces after the rise time; SIGTERM withdraws; and
// the systemd ExecStop script withdraws what a killed daemon left announced.
func TestAnnounceBIRD(t *testing.T) {
	a := startAnnounceLab(t)
	begin := time.Now()

	// 1. Ready → announced, not before the rise time.
	a.startRelayd()
	if r := a.ixRoute(); r != "" {
		t.Fatalf("route at the IX right after start, before the rise time: %q", r)
	}
	took := a.waitRoute(true, 30*time.Second, "announce after start")
	if since := time.Since(a.lastRelaydStart); since < annRise {
		t.Fatalf("announced %v after start, before the rise time %v", since, annRise)
	}
	t.Logf("IX learned 2001::/32 %v after the daemon was ready (rise %v, BGP session set-up included)", took, annRise)
	if v := a.metric(`teredo_relay_announce_state{prefix="2001::/32"}`); v != "1" {
		t.Errorf("announce_state after announce = %q, want 1", v)
	}
	// relayctl status tells BIRD accepting the config from the prefix
	// leaving on the Established session (birdc show route … export rs1).
	a.waitExported(true)
	if out := a.relayctl("status"); !strings.Contains(out, "BIRD accepted the announcing config") ||
		!strings.Contains(out, "bgp:        exported on rs1 (up Established)") {
		t.Errorf("status after announce:\n%s", out)
	}

	// 2. relayctl drain → withdrawn within the bound, persisted.
	out := a.relayctl("drain")
	if !strings.Contains(out, "draining yes") {
		t.Errorf("drain output %q", out)
	}
	took = a.waitRoute(false, annWithdrawWait, "withdraw on drain")
	t.Logf("drain → route gone at the IX in %v", took)
	if _, err := os.Stat(a.drainFile); err != nil {
		t.Fatalf("drain state file: %v", err)
	}
	if v := a.metric(`teredo_relay_announce_transitions_total{to="withdrawn"}`); v != "1" {
		t.Errorf("withdrawn transitions = %q, want 1", v)
	}
	if v := a.metric(`teredo_relay_announce_state{prefix="2001::/32"}`); v != "0" {
		t.Errorf("announce_state after drain = %q, want 0", v)
	}
	a.waitExported(false)

	// 3. Restart while drained: the daemon starts drained and announces
	// nothing, even after several rise times.
	a.stopRelayd()
	a.startRelayd()
	var st api.Status
	if err := json.Unmarshal([]byte(a.relayctl("status", "-o", "json")), &st); err != nil || !st.Draining || st.Ready {
		t.Errorf("status after a restart while drained: %+v %v (want draining, not ready)", st, err)
	}
	if !strings.Contains(a.relayd.logTail(4000), "starting drained") {
		t.Errorf("log lacks \"starting drained\"")
	}
	time.Sleep(3 * annRise)
	if r := a.ixRoute(); r != "" {
		t.Fatalf("a drained daemon announced after restart: %q", r)
	}
	if v := a.metric("teredo_relay_draining"); v != "1" {
		t.Errorf("draining after restart = %q, want 1", v)
	}

	// 4. Undrain → announced again after the rise time.
	undrainAt := time.Now()
	a.relayctl("undrain")
	took = a.waitRoute(true, 10*time.Second, "announce after undrain")
	if since := time.Since(undrainAt); since < annRise {
		t.Fatalf("re-announced %v after undrain, before the rise time %v", since, annRise)
	}
	t.Logf("undrain → route back at the IX in %v (rise %v)", took, annRise)
	if _, err := os.Stat(a.drainFile); !os.IsNotExist(err) {
		t.Errorf("drain state file after undrain: %v", err)
	}

	// 5. SIGTERM → the daemon withdraws before it exits.
	termAt := time.Now()
	a.stopRelayd()
	a.waitRoute(false, annWithdrawWait, "withdraw on SIGTERM")
	t.Logf("SIGTERM → daemon exited and route gone at the IX %v after the signal", time.Since(termAt))
	if !strings.Contains(a.relayd.logTail(8000), `msg="announcement confirmed by bird" component=announce state=withdrawn`) {
		t.Errorf("no confirmed withdrawal in the daemon's log")
	}

	// 6. A daemon killed with the route up (here: the include file put back
	// by hand) is withdrawn by teredo-announce.service's ExecStop script.
	a.must(os.WriteFile(a.include, announce.Render(announce.DefaultSetName, announce.DefaultPrefixes, true), 0o644))
	if out, err := exec.Command("birdc", "-s", a.relayBird, "configure").CombinedOutput(); err != nil {
		t.Fatalf("birdc configure: %v: %s", err, out)
	}
	a.waitRoute(true, 10*time.Second, "announce by hand")
	script := exec.Command("../deploy/bird/teredo-announce-withdraw")
	script.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "INCLUDE_FILE=" + a.include, "BIRD_SOCKET=" + a.relayBird}
	if out, err := script.CombinedOutput(); err != nil {
		t.Fatalf("teredo-announce-withdraw: %v: %s", err, out)
	}
	took = a.waitRoute(false, annWithdrawWait, "withdraw by teredo-announce-withdraw")
	t.Logf("teredo-announce-withdraw → route gone at the IX in %v", took)
	t.Logf("scenario took %v", time.Since(begin).Round(time.Millisecond))
}
