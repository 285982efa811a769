package lab

import (
	"context"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestRelaydReloadAndTerminate: SIGHUP applies a reloadable change and
// refuses a change of interfaces with a message naming the key (the daemon
// keeps forwarding); SIGTERM makes it detach XDP, remove its ready file and
// exit 0.
func TestRelaydReloadAndTerminate(t *testing.T) {
	bin := relaydBinary(t)
	l := startLab(t, Options{Relay: RelayTeredod, Mode: OneArmed, RelaydBinary: bin})
	env := l.RelaydEnv()
	orig, err := os.ReadFile(env.ConfigPath)
	if err != nil {
		t.Fatal(err)
	}
	pid := l.relay.cmd.Process
	waitLog := func(what string) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) {
			if strings.Contains(l.ProcessLog("relay"), what) {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Fatalf("relay log lacks %q:\n%s", what, l.ProcessLog("relay"))
	}

	// Reloadable: log.level.
	if err := os.WriteFile(env.ConfigPath, append(append([]byte{}, orig...), "log:\n  level: debug\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := pid.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitLog(`msg="configuration reloaded" changed=[log.level]`)

	// Not reloadable: the interface.
	bad := strings.Replace(string(orig), "one_armed: "+env.IPv4Iface, "one_armed: lo", 1)
	if err := os.WriteFile(env.ConfigPath, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := pid.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitLog("interfaces.one_armed cannot change on reload (" + env.IPv4Iface + " → lo); restart the daemon")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if res, err := l.Ping6(ctx, Native, l.ClientAddr(), 2); err != nil || res.Received() != 2 {
		t.Fatalf("ping after a refused reload: %v (%d received)", err, res.Received())
	}

	if err := pid.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-l.relay.done:
	case <-time.After(10 * time.Second):
		t.Fatal("teredo-relayd did not exit within 10 s of SIGTERM")
	}
	if l.relay.err != nil {
		t.Fatalf("teredo-relayd exit: %v\n%s", l.relay.err, l.ProcessLog("relay"))
	}
	if _, err := os.Stat(env.ReadyFile); !os.IsNotExist(err) {
		t.Errorf("ready file still there after exit (stat: %v)", err)
	}
	out, err := l.Exec(ctx, Relay, "ip", "link", "show", env.IPv4Iface)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), "xdp") {
		t.Errorf("XDP still attached after exit:\n%s", out)
	}
	if !strings.Contains(l.ProcessLog("relay"), "stopped: XDP detached, sockets closed") {
		t.Errorf("no clean-stop line in the log:\n%s", l.ProcessLog("relay"))
	}
}
