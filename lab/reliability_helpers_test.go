//go:build linux

package lab

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/teredorelay/teredorelay/control/api"
)

// Helpers of the reliability tests (docs/reliability-coverage.md): the fault
// and adversarial scenarios of reliability.md §3 C, D and E run against
// teredo-relayd in the namespace lab, with the real Miredo client and server.

// relLab starts a teredo-relayd lab whose configuration is the default one
// plus extra YAML (top-level keys the default does not set).
func relLab(t *testing.T, mode Mode, extra string) *Lab {
	t.Helper()
	bin := relaydBinary(t)
	return startLab(t, Options{Relay: RelayTeredod, Mode: mode, RelaydBinary: bin,
		RelaydConfig: func(env RelaydEnv) ([]byte, error) {
			b, err := DefaultRelaydConfig(env)
			return append(b, extra...), err
		}})
}

// Metric series the reliability tests read.
func relDrop(reason string) string {
	return `teredo_relay_drops_total{layer="relay",reason="` + reason + `"}`
}

func relXDP(action, reason string) string {
	return `teredo_relay_xdp_packets_total{action="` + action + `",reason="` + reason + `"}`
}

const (
	relTrusted      = `teredo_relay_peers{state="trusted"}`
	relPending      = `teredo_relay_peers{state="pending"}`
	relV4ToV6       = `teredo_relay_packets_total{direction="v4_to_v6"}`
	relV6ToV4       = `teredo_relay_packets_total{direction="v6_to_v4"}`
	relIndirect     = `teredo_relay_bubbles_sent_total{kind="indirect"}`
	relDirect       = `teredo_relay_bubbles_sent_total{kind="direct"}`
	relRetries      = `teredo_relay_bubble_retries_total`
	relExpiries     = `teredo_relay_bubble_expiries_total`
	relTimeExceeded = `teredo_relay_icmpv6_errors_sent_total{type="time_exceeded"}`
	relTooBig       = `teredo_relay_icmpv6_errors_sent_total{type="packet_too_big"}`
	relUnreachable  = `teredo_relay_icmpv6_errors_sent_total{type="destination_unreachable"}`
)

func relEviction(reason string) string {
	return `teredo_relay_peer_evictions_total{reason="` + reason + `"}`
}

func relLimited(limiter string) string {
	return `teredo_relay_ratelimit_suppressed_total{limiter="` + limiter + `"}`
}

// relWait polls the daemon's metrics every 100 ms until cond holds, failing
// the test after timeout. It returns the last scrape.
func relWait(t *testing.T, l *Lab, timeout time.Duration, what string, cond func(m map[string]float64) bool) map[string]float64 {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		m := relaydMetrics(t, l)
		if cond(m) {
			return m
		}
		if time.Now().After(deadline) {
			logNonZeroMetrics(t, m)
			t.Fatalf("%s: not within %v", what, timeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// relPing pings dst from node count times and fails unless at least want
// replies came back from dst.
func relPing(t *testing.T, l *Lab, from Node, dst netip.Addr, count, want int) PingResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	res, err := l.Ping6(ctx, from, dst, count)
	if err != nil {
		t.Fatalf("ping %s -> %v: %v", from, dst, err)
	}
	if res.Received() < want {
		t.Fatalf("ping %s -> %v: %d of %d answered, want at least %d\n%s", from, dst, res.Received(), res.Sent, want, res)
	}
	for _, r := range res.Replies {
		if r.From != dst {
			t.Fatalf("ping %s -> %v: reply from %v", from, dst, r.From)
		}
	}
	return res
}

// relPingAny pings dst from node count times and returns what came back,
// failing only when the ping cannot be sent.
func relPingAny(t *testing.T, l *Lab, from Node, dst netip.Addr, count int) PingResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	res, err := l.Ping6(ctx, from, dst, count)
	if err != nil {
		t.Fatalf("ping %s -> %v: %v", from, dst, err)
	}
	return res
}

// relPeer returns the relay's entry for addr (relayctl peers -o json), or
// nil when it has none.
func relPeer(t *testing.T, l *Lab, addr netip.Addr) *api.Peer {
	t.Helper()
	var ps api.Peers
	relayctlJSON(t, l, &ps, "peers", "--limit", "10000")
	for i := range ps.Peers {
		if ps.Peers[i].Address == addr {
			return &ps.Peers[i]
		}
	}
	return nil
}

// relRestartRelayd stops the running daemon with sig (SIGKILL: a crash;
// SIGTERM: an orderly stop), checks that the steering program went with
// it, and starts a new daemon with the configuration file as it is now. It
// returns how long the daemon was away: from the signal to the new one's
// ready file.
func relRestartRelayd(t *testing.T, l *Lab, sig syscall.Signal) time.Duration {
	t.Helper()
	env := l.RelaydEnv()
	old := l.relay
	begin := time.Now()
	if err := old.stop(sig, 5*time.Second); err != nil {
		t.Fatalf("stop teredo-relayd with %v: %v", sig, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// With the process gone its XDP link is gone: nothing may be steered
	// into a socket that no longer exists.
	v4, v6 := l.RelayIfaces()
	for _, iface := range []string{v4, v6} {
		out, err := l.Exec(ctx, Relay, "ip", "link", "show", iface)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(out), "xdp") {
			t.Fatalf("XDP still attached to %s after teredo-relayd died of %v:\n%s", iface, sig, out)
		}
	}
	// A killed daemon leaves its ready file; the new one must write its own.
	if err := os.Remove(env.ReadyFile); err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	// startRelayd writes the configuration again: keep the file's current
	// content (a test may have edited it).
	conf, err := os.ReadFile(env.ConfigPath)
	if err != nil {
		t.Fatal(err)
	}
	l.opts.RelaydConfig = func(RelaydEnv) ([]byte, error) { return conf, nil }
	if err := l.startRelayd(ctx); err != nil {
		t.Fatalf("restart teredo-relayd: %v", err)
	}
	return time.Since(begin)
}

// relFlooder sends many crafted packets from one raw socket in a namespace
// (SendRawIPv6 and SendRawIPv4 open a socket per packet).
type relFlooder struct {
	fd     int
	family int
}

func relNewFlooder(t *testing.T, l *Lab, node Node, family int) *relFlooder {
	t.Helper()
	f := &relFlooder{fd: -1, family: family}
	err := l.Do(node, func() error {
		fd, err := unix.Socket(family, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_RAW)
		f.fd = fd
		return err
	})
	if err != nil {
		t.Fatalf("raw socket in %s: %v", node, err)
	}
	// A larger send buffer so a burst is not cut short by ENOBUFS.
	unix.SetsockoptInt(f.fd, unix.SOL_SOCKET, unix.SO_SNDBUF, 4<<20)
	t.Cleanup(func() { unix.Close(f.fd) })
	return f
}

// send sends one complete IP packet (header included).
func (f *relFlooder) send(pkt []byte) error {
	var to unix.Sockaddr
	if f.family == unix.AF_INET6 {
		to = &unix.SockaddrInet6{Addr: [16]byte(pkt[24:40])}
	} else {
		to = &unix.SockaddrInet4{Addr: [4]byte(pkt[16:20])}
	}
	for {
		err := unix.Sendto(f.fd, pkt, 0, to)
		if err == unix.ENOBUFS || err == unix.EAGAIN {
			time.Sleep(time.Millisecond)
			continue
		}
		if err != nil {
			return fmt.Errorf("sendto: %w", err)
		}
		return nil
	}
}

// relTeredoDst is the i-th Teredo destination of a flood: server ServerIPv4
// (so indirect bubbles reach the lab's miredo-server, which relays them to
// the mapped address) and a mapped address on the attacker's host (where
// nothing listens), so every packet the relay emits stays in the lab.
func relTeredoDst(i int) netip.Addr {
	return TeredoAddr(ServerIPv4, 0, netip.AddrPortFrom(AttackerIPv4, uint16(20000+i%40000)))
}

// relCapture starts tcpdump in immediate mode: without it, packets wait in
// a ring block for up to a second and a capture stopped sooner loses them,
// which would make an absence check pass vacuously. (tcpdump's getopt
// takes the option from anywhere on its command line.)
func relCapture(t *testing.T, l *Lab, node Node, iface string, filter ...string) *Capture {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	c, err := l.StartCapture(ctx, node, iface, append([]string{"--immediate-mode"}, filter...)...)
	if err != nil {
		t.Fatalf("capture on %s %s: %v", node, iface, err)
	}
	return c
}

// relRSS is the daemon's resident set size in KiB.
func relRSS(t *testing.T, l *Lab) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", l.relay.cmd.Process.Pid))
	if err != nil {
		t.Fatalf("read daemon status: %v", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			var kb int
			fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), &kb)
			return kb
		}
	}
	t.Fatal("no VmRSS in the daemon's status")
	return 0
}
