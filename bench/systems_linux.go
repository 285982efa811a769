//go:build linux

package bench

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/teredorelay/teredorelay/bench/topo"
	"github.com/teredorelay/teredorelay/control/api"
	"github.com/teredorelay/teredorelay/internal/miredo"
	"github.com/teredorelay/teredorelay/internal/netnsutil"
)

// system is one relay under test: how to get its binary and start it.
type system struct {
	name string
	// kernel systems forward through the kernel stack: with the live-frames
	// generator a native XDP_PASS program on both relay veths lets the
	// frames reach it (the AF_XDP generator's frames are skbs already).
	kernel bool
	// teredo systems do Teredo checks (they get the garbage step) and keep
	// per-peer state (they get the sweep's warm-up).
	teredo bool
	// sweep: the system runs in the peer-count sweep.
	sweep bool
	// prepare finds or builds the binary; a non-empty skip means it is not
	// available (e.g. not installed).
	prepare func(ctx context.Context, e *env) (skip string, err error)
	// start starts it and waits until it forwards.
	start func(ctx context.Context, e *env) (*proc, string, error)
}

func systemByName(name string) *system {
	switch name {
	case SysRelayd:
		return &system{name: name, teredo: true, sweep: true, prepare: prepareRelayd, start: startRelayd}
	case SysMiredo:
		return &system{name: name, kernel: true, teredo: true, sweep: true, prepare: prepareMiredo, start: startMiredo}
	case SysFloor:
		return &system{name: name, sweep: true, prepare: prepareFwd, start: startFwd("xsk")}
	case SysAsavie:
		return &system{name: name, prepare: prepareFwd, start: startFwd("asavie")}
	}
	return nil
}

// goBuild compiles pkg (relative to the module) into the work directory.
func (e *env) goBuild(ctx context.Context, pkg string) (string, error) {
	out := filepath.Join(e.dir, filepath.Base(pkg))
	if _, err := os.Stat(out); err == nil {
		return out, nil
	}
	cmd := exec.CommandContext(ctx, e.goTool, "build", "-o", out, pkg)
	cmd.Dir = e.moduleDir
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s: %w: %s", pkg, err, strings.TrimSpace(string(b)))
	}
	return out, nil
}

func prepareRelayd(ctx context.Context, e *env) (string, error) {
	if e.opts.RelaydBinary != "" {
		e.bins[SysRelayd] = e.opts.RelaydBinary
		return "", nil
	}
	// Until the daemon exists the benchmark skips it; once cmd/teredo-relayd
	// has Go files it must build.
	matches, _ := filepath.Glob(filepath.Join(e.moduleDir, "cmd", "teredo-relayd", "*.go"))
	if len(matches) == 0 {
		return "cmd/teredo-relayd does not exist yet", nil
	}
	bin, err := e.goBuild(ctx, "./cmd/teredo-relayd")
	if err != nil {
		return "", err
	}
	e.bins[SysRelayd] = bin
	return "", nil
}

// relaydSettings are the parts of teredo-relayd's configuration the sweep
// changes; the zero value is the ladder's configuration.
type relaydSettings struct {
	// capacity is peers.capacity (0: 65536).
	capacity int
	// liftLimits raises the per-source /64, per-client-address and global
	// bubble rate limits out of the way: the sweep verifies up to a million
	// peers behind 250 IPv4 addresses, all for one native /64, which the
	// defaults (50 new peers per second per /64) would take hours to admit.
	liftLimits bool
	// acceptUnknown sets accept_unknown_peers.
	acceptUnknown bool
}

// liftedLimits is the rate_limits section of a sweep run (the largest
// bursts the configuration accepts).
const liftedLimits = `rate_limits:
  new_peer_rate: 1000000
  new_peer_burst: 1000000
  bubble_rate: 1000000
  bubble_burst: 1000000
  client_slow_path_rate: 1000000
  client_slow_path_burst: 1000000
`

// relaydConfig is teredo-relayd's configuration for the topology: two-armed,
// one queue, native XDP, copy-mode AF_XDP (veth has no zero-copy), known
// peers only (the relay forwards from a client only after a bubble exchange,
// as Miredo's relay does) unless the sweep had to turn on
// accept_unknown_peers, no metrics listener.
func relaydConfig(e *env) string {
	t := e.topo
	rs := e.relayd
	capacity := rs.capacity
	if capacity == 0 {
		capacity = 65536
	}
	limits := ""
	if rs.liftLimits {
		limits = liftedLimits
	}
	return fmt.Sprintf(`# teredo-relayd configuration written by bench for %s
interfaces:
  ipv4_side: %s
  ipv6_side: %s
queues: 1
xdp:
  mode: native
socket:
  mode: copy
ipv4:
  address: %s
  port: 3544
ipv6:
  address: %s
peers:
  capacity: %d
bubbles:
  key_file: %s
  direct: false
accept_unknown_peers: %t
%sapi:
  socket: %s
metrics:
  listen: ""
log:
  level: warn
`, t.RelayNS, t.RelayV4.Name, t.RelayV6.Name, topo.RelayIPv4, topo.RelayIPv6, capacity,
		filepath.Join(e.dir, "relayd-bubble.key"), rs.acceptUnknown, limits, e.relaydSocket())
}

func (e *env) relaydSocket() string { return filepath.Join(e.dir, "relayd.sock") }

func (e *env) relaydConfigPath() string { return filepath.Join(e.dir, "relayd.yaml") }

// reloadRelayd rewrites teredo-relayd's configuration from e.relayd and
// reloads it through the control API, so the change is in force when it
// returns.
func (e *env) reloadRelayd(ctx context.Context) error {
	if err := os.WriteFile(e.relaydConfigPath(), []byte(relaydConfig(e)), 0o644); err != nil {
		return fmt.Errorf("write teredo-relayd config: %w", err)
	}
	res, _, err := api.NewClient(e.relaydSocket(), 10*time.Second).Reload(ctx)
	if err != nil {
		return fmt.Errorf("reload teredo-relayd: %w", err)
	}
	if !res.Successful {
		return fmt.Errorf("reload teredo-relayd: %s", res.Error)
	}
	return nil
}

func startRelayd(ctx context.Context, e *env) (*proc, string, error) {
	conf := e.relaydConfigPath()
	ready := filepath.Join(e.dir, "relayd.ready")
	os.Remove(ready)
	if err := os.WriteFile(conf, []byte(relaydConfig(e)), 0o644); err != nil {
		return nil, "", fmt.Errorf("write teredo-relayd config: %w", err)
	}
	argv := e.pinArgv(append(e.diagEnv(), e.bins[SysRelayd], "-config", conf, "-ready-file", ready))
	p, err := startProc(e.dir, SysRelayd, e.topo.RelayNS, argv)
	if err != nil {
		return nil, "", err
	}
	err = waitFor(ctx, 30*time.Second, func() (bool, error) {
		if p.exited() {
			return false, fmt.Errorf("teredo-relayd exited: %v", p.err)
		}
		_, err := os.Stat(ready)
		return err == nil, nil
	})
	if err != nil {
		p.stop(5 * time.Second)
		return nil, "", fmt.Errorf("teredo-relayd not ready: %w\nlog:\n%s", err, p.tail(3000))
	}
	return p, strings.Join(argv, " "), nil
}

func prepareMiredo(ctx context.Context, e *env) (string, error) {
	bin, err := exec.LookPath("miredo")
	if err != nil {
		return "miredo is not installed (apt-get install miredo)", nil
	}
	e.bins[SysMiredo] = bin
	return "", nil
}

func startMiredo(ctx context.Context, e *env) (*proc, string, error) {
	tun := e.topo.Tag + "tun"
	conf := filepath.Join(e.dir, "miredo.conf")
	bound := netip.AddrPortFrom(topo.RelayIPv4, 3544)
	// Relay mode "cone": indirect bubbles only (miredo.md §2.5, §5.1).
	body := miredo.RelayConfig(tun, bound)
	if err := os.WriteFile(conf, []byte(body), 0o644); err != nil {
		return nil, "", fmt.Errorf("write miredo config: %w", err)
	}
	argv := e.pinArgv(miredo.Argv(e.bins[SysMiredo], conf, filepath.Join(e.dir, "miredo.pid")))
	p, err := startProc(e.dir, SysMiredo, e.topo.RelayNS, argv)
	if err != nil {
		return nil, "", err
	}
	err = waitFor(ctx, 15*time.Second, func() (bool, error) {
		if p.exited() {
			return false, fmt.Errorf("miredo exited: %v", p.err)
		}
		var ok bool
		err := topo.Do(e.topo.RelayNS, func() error {
			var err error
			if ok, err = netnsutil.UDPBound(bound); err != nil || !ok {
				return err
			}
			// The TUN device is up and routes 2001::/32.
			out, err := exec.Command("ip", "-6", "route", "show", "2001::/32").Output()
			ok = err == nil && strings.Contains(string(out), tun)
			return nil
		})
		return ok, err
	})
	if err != nil {
		p.stop(5 * time.Second)
		return nil, "", fmt.Errorf("miredo not ready: %w\nlog:\n%s", err, p.tail(3000))
	}
	return p, strings.Join(argv, " ") + "  # " + strings.ReplaceAll(strings.TrimSpace(body), "\n", "; "), nil
}

func prepareFwd(ctx context.Context, e *env) (string, error) {
	bin, err := e.goBuild(ctx, "./bench/cmd/benchfwd")
	if err != nil {
		return "", err
	}
	e.bins["benchfwd"] = bin
	return "", nil
}

func startFwd(impl string) func(ctx context.Context, e *env) (*proc, string, error) {
	return func(ctx context.Context, e *env) (*proc, string, error) {
		ready := filepath.Join(e.dir, "benchfwd-"+impl+".ready")
		os.Remove(ready)
		t := e.topo
		argv := []string{e.bins["benchfwd"], "-impl", impl, "-ipv4-if", t.RelayV4.Name, "-ipv6-if", t.RelayV6.Name,
			"-relay", topo.RelayIPv4.String(), "-ipv4-nexthop", t.Gen.MAC.String(), "-ipv6-nexthop", t.Native.MAC.String(),
			"-ready-file", ready}
		argv = e.pinArgv(argv)
		p, err := startProc(e.dir, "benchfwd-"+impl, t.RelayNS, argv)
		if err != nil {
			return nil, "", err
		}
		err = waitFor(ctx, 15*time.Second, func() (bool, error) {
			if p.exited() {
				return false, fmt.Errorf("benchfwd exited: %v", p.err)
			}
			_, err := os.Stat(ready)
			return err == nil, nil
		})
		if err != nil {
			p.stop(5 * time.Second)
			return nil, "", fmt.Errorf("forwarder (%s) not ready: %w\nlog:\n%s", impl, err, p.tail(3000))
		}
		return p, strings.Join(argv, " "), nil
	}
}

// waitFor polls cond every 20 ms until it is true, fails, or timeout passes.
func waitFor(ctx context.Context, timeout time.Duration, cond func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	for {
		ok, err := cond()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %v", timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}
