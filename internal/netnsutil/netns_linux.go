//go:build linux

package netnsutil

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// Dir is where "ip netns add" bind-mounts named namespaces.
const Dir = "/run/netns/"

// Do runs fn on a fresh goroutine whose OS thread is switched into the named
// network namespace, and returns fn's error. Sockets, links and BPF test runs
// fn creates or uses belong to that namespace, and sockets stay there after
// the thread switches back. If the thread cannot be switched back it stays
// locked, so the runtime retires it when the goroutine ends. fn must not call
// t.Fatal (it does not run on the test's goroutine).
func Do(ns string, fn func() error) error {
	done := make(chan error, 1)
	go func() { done <- doLocked(ns, fn) }()
	return <-done
}

func doLocked(ns string, fn func() error) error {
	runtime.LockOSThread()
	orig, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("open current netns: %w", err)
	}
	defer unix.Close(orig)
	target, err := unix.Open(Dir+ns, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("open netns %s: %w", ns, err)
	}
	defer unix.Close(target)
	if err := unix.Setns(target, unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("enter netns %s: %w", ns, err)
	}
	ferr := fn()
	if err := unix.Setns(orig, unix.CLONE_NEWNET); err != nil {
		return errors.Join(ferr, fmt.Errorf("return from netns %s: %w", ns, err)) // thread stays locked
	}
	runtime.UnlockOSThread()
	return ferr
}

// Command returns the command that runs argv inside namespace ns
// ("ip netns exec ns argv..."), killed when ctx is done.
func Command(ctx context.Context, ns string, argv ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", ns}, argv...)...)
}

// UDPBound reports whether the calling thread's namespace has a UDP socket
// bound to the IPv4 address and port ap (/proc/thread-self/net/udp, which
// lists addresses in host byte order). Call it inside Do for another
// namespace.
func UDPBound(ap netip.AddrPort) (bool, error) {
	bound, err := udpBound([]netip.AddrPort{ap})
	return bound[0], err
}

// UDPBoundIn reports whether namespace ns has a UDP socket bound to every one
// of aps (IPv4 addresses and ports).
func UDPBoundIn(ns string, aps ...netip.AddrPort) (bool, error) {
	var bound []bool
	err := Do(ns, func() error {
		var err error
		bound, err = udpBound(aps)
		return err
	})
	if err != nil {
		return false, err
	}
	for _, b := range bound {
		if !b {
			return false, nil
		}
	}
	return true, nil
}

// udpBound reports, for each of aps, whether /proc/thread-self/net/udp has a
// socket bound to it.
func udpBound(aps []netip.AddrPort) ([]bool, error) {
	bound := make([]bool, len(aps))
	keys := make(map[string]int, len(aps))
	for i, ap := range aps {
		if !ap.Addr().Is4() {
			return bound, fmt.Errorf("udp socket table: %v is not an IPv4 address", ap)
		}
		keys[procUDPKey(ap)] = i
	}
	f, err := os.Open("/proc/thread-self/net/udp")
	if err != nil {
		return bound, fmt.Errorf("read udp sockets: %w", err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if fields := strings.Fields(s.Text()); len(fields) > 1 {
			if i, ok := keys[fields[1]]; ok {
				bound[i] = true
			}
		}
	}
	if err := s.Err(); err != nil {
		return bound, fmt.Errorf("read udp sockets: %w", err)
	}
	return bound, nil
}

// procUDPKey is ap as the local_address column of /proc/net/udp shows it:
// the address as a host-order 32-bit word and the port, both in hex.
func procUDPKey(ap netip.AddrPort) string {
	a := ap.Addr().As4()
	var host [4]byte
	binary.NativeEndian.PutUint32(host[:], binary.BigEndian.Uint32(a[:]))
	return fmt.Sprintf("%s:%04X", strings.ToUpper(hex.EncodeToString(host[:])), ap.Port())
}

// AddForTest creates network namespace name with its loopback up for the
// test t (deleting a leftover of a killed run first) and deletes it, with
// everything inside, when t ends. It fails t when the namespace cannot be
// made; the caller checks privileges first (testenv.RequireRoot).
func AddForTest(t testing.TB, name string) {
	t.Helper()
	exec.Command("ip", "netns", "del", name).Run() // leftovers of a killed run
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add %s: %v: %s", name, err, strings.TrimSpace(string(out)))
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", name).Run() })
	if out, err := exec.Command("ip", "-n", name, "link", "set", "lo", "up").CombinedOutput(); err != nil {
		t.Fatalf("loopback up in %s: %v: %s", name, err, strings.TrimSpace(string(out)))
	}
}
