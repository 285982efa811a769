package main

// These tests run the built teredo-relayd the way an operator does: in a
// network namespace on a veth, as root or as nobody with capabilities
// dropped (setpriv), and check what the operator sees: one clear error line
// and exit status 1, or a clean start and stop that leaves no XDP program,
// socket or ready file behind.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/teredorelay/teredorelay/internal/netnsutil"
	"github.com/teredorelay/teredorelay/internal/testenv"
)

const (
	testNS  = "tdrd-ops"
	testDev = "tdrd0"
)

// relaydEnv is one namespace with a veth pair, the relay's addresses on
// testDev, a built binary and directories nobody can use.
type relaydEnv struct {
	bin, dir string
	uid, gid string // nobody's
}

func setupRelayd(t *testing.T) *relaydEnv {
	t.Helper()
	testenv.RequireRoot(t)
	testenv.RequireBinary(t, "ip", "setpriv", "prlimit")
	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Fatalf("look up user nobody: %v", err)
	}
	dir := t.TempDir()
	// nobody must reach the binary, the config and its own directories.
	for d := dir; d != filepath.Dir(d) && strings.HasPrefix(d, os.TempDir()) && d != os.TempDir(); d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(os.Getenv("GOROOT"), "bin", "go")
		if _, serr := os.Stat(goTool); serr != nil {
			goTool = "/usr/local/go/bin/go"
		}
	}
	bin := filepath.Join(dir, "teredo-relayd")
	if out, err := exec.Command(goTool, "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	netnsutil.AddForTest(t, testNS)
	for _, args := range [][]string{
		{"link", "add", testDev, "type", "veth", "peer", "name", testDev + "p"},
		{"link", "set", testDev, "up"},
		{"link", "set", testDev + "p", "up"},
		{"addr", "add", "192.0.2.1/24", "dev", testDev},
		{"addr", "add", "2001:db8::1/64", "dev", testDev, "nodad"},
	} {
		if out, err := exec.Command("ip", append([]string{"-n", testNS}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v: %s", args, err, out)
		}
	}
	return &relaydEnv{bin: bin, dir: dir, uid: nobody.Uid, gid: nobody.Gid}
}

// config writes a configuration for testDev into a fresh directory owned by
// nobody and returns its path and the directory; extra is appended.
func (e *relaydEnv) config(t *testing.T, name, extra string) (path, dir string) {
	t.Helper()
	dir = filepath.Join(e.dir, name)
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var uid, gid int
	fmt.Sscan(e.uid, &uid)
	fmt.Sscan(e.gid, &gid)
	if err := os.Chown(dir, uid, gid); err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf(`interfaces: {one_armed: %s}
ipv4: {address: 192.0.2.1}
ipv6: {address: 2001:db8::1}
peers: {capacity: 1024, queue_bytes_total: 65536}
umem: {frames: 4096}
bubbles: {key_file: %[2]s/bubble.key}
api: {socket: %[2]s/run/api.sock}
drain: {state_file: ""}
%s`, testDev, dir, extra)
	if !strings.Contains(extra, "metrics:") {
		conf += "metrics: {listen: \"\"}\n"
	}
	path = filepath.Join(dir, "relayd.yaml")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	return path, dir
}

// runToExit runs argv in the namespace and returns its exit code and stderr;
// it fails t when the process runs for 20 s (a start that should fail must
// not hang).
func runToExit(t *testing.T, argv ...string) (int, string) {
	t.Helper()
	return runToExitEnv(t, nil, argv...)
}

// runToExitEnv is runToExit with env added to the environment.
func runToExitEnv(t *testing.T, env []string, argv ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := netnsutil.Command(ctx, testNS, argv...)
	cmd.Env = append(os.Environ(), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("%v still running after 20 s; stderr:\n%s", argv, stderr.String())
	}
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("run %v: %v", argv, err)
	}
	return cmd.ProcessState.ExitCode(), stderr.String()
}

// TestMissingPrivilegeIsOneLine starts the daemon as nobody holding the
// systemd unit's capability set less one, and expects exit 1 with a single
// line naming what is missing.
func TestMissingPrivilegeIsOneLine(t *testing.T) {
	e := setupRelayd(t)
	cfg, _ := e.config(t, "priv", "")
	all := []string{"net_admin", "net_raw", "bpf", "ipc_lock"}
	tests := []struct {
		drop    string // capability left out
		memlock string // RLIMIT_MEMLOCK set with prlimit (lowering needs no privilege); "" leaves it
		want    string
	}{
		{"net_admin", "", "teredo-relayd: missing capability CAP_NET_ADMIN (attach XDP"},
		{"net_raw", "", "teredo-relayd: missing capability CAP_NET_RAW (open AF_XDP"},
		{"bpf", "", "teredo-relayd: missing capability CAP_BPF (load the XDP program"},
		{"ipc_lock", "4194304:4194304", "teredo-relayd: missing capability CAP_IPC_LOCK (the UMEMs lock 8 MiB but RLIMIT_MEMLOCK is 4 MiB"},
		{"", "", "teredo-relayd: missing capabilities CAP_NET_ADMIN (attach XDP"},
	}
	for _, tt := range tests {
		name := "without_" + tt.drop
		var caps []string
		if tt.drop == "" {
			name = "without_any"
		} else {
			for _, c := range all {
				if c != tt.drop {
					caps = append(caps, "+"+c)
				}
			}
		}
		t.Run(name, func(t *testing.T) {
			set := strings.Join(append([]string{"-all"}, caps...), ",")
			var argv []string
			if tt.memlock != "" {
				argv = []string{"prlimit", "--memlock=" + tt.memlock, "--"}
			}
			code, stderr := runToExit(t, append(argv, "setpriv", "--reuid="+e.uid, "--regid="+e.gid, "--clear-groups",
				"--inh-caps="+set, "--ambient-caps="+set, "--bounding-set="+set,
				e.bin, "-config", cfg)...)
			lines := strings.Split(strings.TrimRight(stderr, "\n"), "\n")
			if code != 1 || len(lines) != 1 || !strings.HasPrefix(lines[0], tt.want) {
				t.Fatalf("exit %d, stderr (%d lines):\n%s\nwant exit 1 and one line starting %q", code, len(lines), stderr, tt.want)
			}
		})
	}
}

// TestStartsWithUnitCapabilities starts the daemon as nobody holding exactly
// the capabilities deploy/teredo-relayd.service grants (read from the unit,
// so the two cannot drift) and expects it to get ready with XDP attached and
// to exit 0 on SIGTERM: the XDP program passes the verifier without
// CAP_PERFMON, and no other start step needs more.
func TestStartsWithUnitCapabilities(t *testing.T) {
	e := setupRelayd(t)
	cfg, dir := e.config(t, "unitcaps", "")
	ready := filepath.Join(dir, "ready")
	unit, err := os.ReadFile("../../deploy/teredo-relayd.service")
	if err != nil {
		t.Fatal(err)
	}
	set := []string{"-all"}
	for line := range strings.Lines(string(unit)) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "AmbientCapabilities="); ok {
			for _, c := range strings.Fields(v) {
				set = append(set, "+"+strings.ToLower(strings.TrimPrefix(c, "CAP_")))
			}
		}
	}
	if len(set) == 1 {
		t.Fatal("deploy/teredo-relayd.service has no AmbientCapabilities=")
	}
	caps := strings.Join(set, ",")

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// setpriv execs the daemon in place, so signals reach it directly.
	cmd, exited, stderr := startUntilReady(t, ready, exec.CommandContext(ctx, "setpriv", "--reuid="+e.uid, "--regid="+e.gid, "--clear-groups",
		"--inh-caps="+caps, "--ambient-caps="+caps, "--bounding-set="+caps,
		e.bin, "-config", cfg, "-ready-file", ready))
	if !hasXDP(t) {
		t.Errorf("ready, but no XDP program on %s", testDev)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err = <-exited:
	case <-time.After(20 * time.Second):
		t.Fatalf("still running 20 s after SIGTERM:\n%s", stderr.String())
	}
	if err != nil {
		t.Fatalf("exit after SIGTERM: %v, want status 0\n%s", err, stderr.String())
	}
	assertNoXDP(t)
}

// TestStartupErrorsExit checks that a resource the daemon cannot have fails
// the start with one error naming the key, before readiness, instead of a
// relay that runs without it.
func TestStartupErrorsExit(t *testing.T) {
	e := setupRelayd(t)
	// A listener holding the metrics port inside the namespace.
	var ln *os.File
	if err := netnsutil.Do(testNS, func() error {
		fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
		if err != nil {
			return err
		}
		ln = os.NewFile(uintptr(fd), "metrics-squatter")
		if err := syscall.Bind(fd, &syscall.SockaddrInet4{Port: 9542, Addr: [4]byte{127, 0, 0, 1}}); err != nil {
			return err
		}
		return syscall.Listen(fd, 1)
	}); err != nil {
		t.Fatalf("hold the metrics port: %v", err)
	}
	t.Cleanup(func() { ln.Close() })
	notDir := filepath.Join(e.dir, "plain-file")
	if err := os.WriteFile(notDir, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, extra, want string
		env               []string
	}{
		{"metrics_port_in_use", "metrics: {listen: \"127.0.0.1:9542\"}\n", "teredo-relayd: config: metrics.listen: listen tcp 127.0.0.1:9542: bind: address already in use", nil},
		{"api_socket_dir_is_a_file", "", "teredo-relayd: config: api.socket: create control socket directory: ", nil},
		{"interface_missing", "", "teredo-relayd: config: interfaces.one_armed: tdrd9: no such network interface", nil},
		{"ipv4_address_not_assigned", "", "teredo-relayd: config: ipv4.address: not assigned to an interface on this host", nil},
		// The server role needs both its addresses on this host (issue 10).
		{"server_secondary_not_assigned", "roles: [relay, server]\nserver: {primary: 192.0.2.1, secondary: 192.0.2.3}\n",
			"teredo-relayd: config: server.secondary: 192.0.2.3 is not assigned to an interface on this host", nil},
		// Refused after the background tasks started: they must stop too.
		{"debug_listener_refused", "", "teredo-relayd: TEREDO_RELAYD_DEBUG_LISTEN: \"192.0.2.1\" is not a loopback address",
			[]string{"TEREDO_RELAYD_DEBUG_LISTEN=192.0.2.1:6060"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, dir := e.config(t, tt.name, tt.extra)
			b, err := os.ReadFile(cfg)
			if err != nil {
				t.Fatal(err)
			}
			switch tt.name {
			case "api_socket_dir_is_a_file":
				b = bytes.Replace(b, []byte(dir+"/run/api.sock"), []byte(notDir+"/api.sock"), 1)
			case "interface_missing":
				b = bytes.Replace(b, []byte("one_armed: "+testDev), []byte("one_armed: tdrd9"), 1)
			case "ipv4_address_not_assigned":
				b = bytes.Replace(b, []byte("address: 192.0.2.1"), []byte("address: 192.0.2.99"), 1)
			}
			if err := os.WriteFile(cfg, b, 0o644); err != nil {
				t.Fatal(err)
			}
			ready := filepath.Join(dir, "ready")
			code, stderr := runToExitEnv(t, tt.env, e.bin, "-config", cfg, "-ready-file", ready)
			lines := strings.Split(strings.TrimRight(stderr, "\n"), "\n")
			if last := lines[len(lines)-1]; code != 1 || !strings.HasPrefix(last, tt.want) {
				t.Fatalf("exit %d, stderr:\n%s\nwant exit 1 and a last line starting %q", code, stderr, tt.want)
			}
			if strings.Contains(stderr, "teredo-relayd ready") {
				t.Errorf("the daemon reported ready before failing:\n%s", stderr)
			}
			assertNoXDP(t)
			assertGone(t, ready, filepath.Join(dir, "run", "api.sock"))
		})
	}
}

// TestStopLeavesNothing starts the relay, stops it with SIGTERM (exit 0) and
// with SIGKILL, and checks that XDP is detached both times (a bpf_link goes
// with its process) and that SIGTERM removes the ready file and the control
// socket. A stale ready file from a killed run is replaced at start.
func TestStopLeavesNothing(t *testing.T) {
	e := setupRelayd(t)
	cfg, dir := e.config(t, "stop", "")
	ready := filepath.Join(dir, "ready")
	sock := filepath.Join(dir, "run", "api.sock")
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL} {
		t.Run(sig.String(), func(t *testing.T) {
			if err := os.WriteFile(ready, []byte("stale\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			// Not through "ip netns exec": the signal must reach the daemon itself.
			cmd, exited, stderr := startUntilReady(t, ready, exec.CommandContext(ctx, e.bin, "-config", cfg, "-ready-file", ready))
			if !hasXDP(t) {
				t.Fatalf("ready, but no XDP program on %s", testDev)
			}
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			var err error
			select {
			case err = <-exited:
			case <-time.After(20 * time.Second):
				t.Fatalf("still running 20 s after %v:\n%s", sig, stderr.String())
			}
			if sig == syscall.SIGTERM {
				if err != nil {
					t.Fatalf("exit after SIGTERM: %v, want status 0\n%s", err, stderr.String())
				}
				assertGone(t, ready, sock)
			}
			assertNoXDP(t)
		})
	}
}

func hasXDP(t *testing.T) bool {
	t.Helper()
	out, err := exec.Command("ip", "-n", testNS, "link", "show", "dev", testDev).CombinedOutput()
	if err != nil {
		t.Fatalf("ip link show: %v: %s", err, out)
	}
	return bytes.Contains(out, []byte("prog/xdp"))
}

func assertNoXDP(t *testing.T) {
	t.Helper()
	// The kernel releases a killed process's bpf_link as its files close.
	for i := 0; i < 40 && hasXDP(t); i++ {
		time.Sleep(50 * time.Millisecond)
	}
	if hasXDP(t) {
		t.Errorf("an XDP program is still attached to %s", testDev)
	}
}

func assertGone(t *testing.T, paths ...string) {
	t.Helper()
	for _, p := range paths {
		if _, err := os.Lstat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s still exists after the daemon stopped (%v)", p, err)
		}
	}
}

// startUntilReady starts cmd in the test namespace and waits until it has
// written its PID to the ready file; it fails t if cmd exits first or is not
// ready within 30 s. exited receives cmd.Wait's result.
func startUntilReady(t *testing.T, ready string, cmd *exec.Cmd) (_ *exec.Cmd, exited chan error, stderr *bytes.Buffer) {
	t.Helper()
	stderr = new(bytes.Buffer)
	cmd.Stderr = stderr
	if err := netnsutil.Do(testNS, cmd.Start); err != nil {
		t.Fatal(err)
	}
	exited = make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if b, err := os.ReadFile(ready); err == nil && strings.TrimSpace(string(b)) == fmt.Sprint(cmd.Process.Pid) {
			return cmd, exited, stderr
		}
		select {
		case err := <-exited:
			t.Fatalf("%s exited before ready: %v\n%s", cmd.Args[0], err, stderr)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready after 30 s:\n%s", cmd.Args[0], stderr)
		}
	}
}
