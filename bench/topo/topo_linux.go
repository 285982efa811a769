//go:build linux

package topo

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/teredorelay/teredorelay/internal/netnsutil"
)

// Up creates the namespaces, links, addresses, routes and static neighbours
// for tag (at most 8 characters: interface names are tag + "g0" and must stay
// under 16 bytes). On failure everything created so far is deleted.
func Up(tag string) (t *Topology, err error) {
	if tag == "" || len(tag) > 8 || strings.ContainsAny(tag, " /-") {
		return nil, fmt.Errorf("topology: tag %q must be 1-8 characters without spaces, '/' or '-'", tag)
	}
	t = &Topology{Tag: tag, GenNS: tag + "-gen", RelayNS: tag + "-relay"}
	t.Gen = Side{NS: t.GenNS, Name: tag + "g0"}
	t.RelayV4 = Side{NS: t.RelayNS, Name: tag + "r0"}
	t.RelayV6 = Side{NS: t.RelayNS, Name: tag + "r1"}
	t.Native = Side{NS: t.GenNS, Name: tag + "g1"}
	t.deleteAll() // leftovers of a killed run with the same tag
	defer func() {
		if err != nil {
			t.deleteAll()
		}
	}()
	t.up = true
	for _, ns := range t.Namespaces() {
		if err := ip("netns", "add", ns); err != nil {
			return nil, err
		}
		if err := ip("-n", ns, "link", "set", "lo", "up"); err != nil {
			return nil, err
		}
	}
	for _, p := range [][2]*Side{{&t.Gen, &t.RelayV4}, {&t.Native, &t.RelayV6}} {
		if err := ip("link", "add", p[0].Name, "netns", p[0].NS, "type", "veth", "peer", "name", p[1].Name, "netns", p[1].NS); err != nil {
			return nil, err
		}
	}
	// IPv4-only link: no IPv6 (no ND/MLD noise on the Teredo side).
	for _, s := range []*Side{&t.Gen, &t.RelayV4} {
		if err := sysctl(s.NS, "net.ipv6.conf."+s.Name+".disable_ipv6", "1"); err != nil {
			return nil, err
		}
	}
	for _, s := range []*Side{&t.Gen, &t.RelayV4, &t.RelayV6, &t.Native} {
		if err := ip("-n", s.NS, "link", "set", s.Name, "up"); err != nil {
			return nil, err
		}
		if err := t.resolve(s); err != nil {
			return nil, err
		}
	}
	steps := [][]string{
		{"-n", t.GenNS, "addr", "add", GenIPv4.String() + "/24", "dev", t.Gen.Name},
		{"-n", t.GenNS, "addr", "add", ServerIPv4.String() + "/32", "dev", t.Gen.Name},
		{"-n", t.GenNS, "neigh", "replace", RelayIPv4.String(), "lladdr", t.RelayV4.MAC.String(), "dev", t.Gen.Name, "nud", "permanent"},
		{"-n", t.RelayNS, "addr", "add", RelayIPv4.String() + "/24", "dev", t.RelayV4.Name},
		{"-n", t.RelayNS, "addr", "add", RelayIPv6.String() + "/64", "dev", t.RelayV6.Name, "nodad"},
		{"-n", t.RelayNS, "neigh", "replace", GenIPv4.String(), "lladdr", t.Gen.MAC.String(), "dev", t.RelayV4.Name, "nud", "permanent"},
		{"-n", t.RelayNS, "neigh", "replace", NativeIPv6.String(), "lladdr", t.Native.MAC.String(), "dev", t.RelayV6.Name, "nud", "permanent"},
		{"-n", t.RelayNS, "route", "add", "192.0.2.0/24", "via", GenIPv4.String(), "dev", t.RelayV4.Name},
		{"-n", t.RelayNS, "route", "add", ClientNet.String(), "via", GenIPv4.String(), "dev", t.RelayV4.Name},
		{"-n", t.RelayNS, "-6", "route", "add", NativeNet.String(), "via", NativeIPv6.String(), "dev", t.RelayV6.Name},
		{"-n", t.GenNS, "addr", "add", NativeIPv6.String() + "/64", "dev", t.Native.Name, "nodad"},
		{"-n", t.GenNS, "neigh", "replace", RelayIPv6.String(), "lladdr", t.RelayV6.MAC.String(), "dev", t.Native.Name, "nud", "permanent"},
		{"-n", t.GenNS, "-6", "route", "add", "2001::/32", "via", RelayIPv6.String(), "dev", t.Native.Name},
	}
	for _, s := range steps {
		if err := ip(s...); err != nil {
			return nil, err
		}
	}
	for _, kv := range [][2]string{
		{"net.ipv4.ip_forward", "1"},
		{"net.ipv6.conf.all.forwarding", "1"},
		{"net.ipv4.conf.all.rp_filter", "0"},
		{"net.ipv4.conf.default.rp_filter", "0"},
	} {
		if err := sysctl(t.RelayNS, kv[0], kv[1]); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// Down deletes the namespaces (and so the veths). It is safe to call twice.
func (t *Topology) Down() error {
	if t == nil || !t.up {
		return nil
	}
	t.up = false
	return t.deleteAll()
}

func (t *Topology) deleteAll() error {
	var errs []error
	for _, ns := range t.Namespaces() {
		if _, err := os.Stat("/run/netns/" + ns); err != nil {
			continue
		}
		killNamespace(ns)
		if err := ip("netns", "del", ns); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (t *Topology) resolve(s *Side) error {
	return Do(s.NS, func() error {
		ifc, err := net.InterfaceByName(s.Name)
		if err != nil {
			return fmt.Errorf("topology: interface %s in %s: %w", s.Name, s.NS, err)
		}
		s.Index, s.MAC = ifc.Index, ifc.HardwareAddr
		return nil
	})
}

// killNamespace SIGKILLs processes left inside ns (a system under test that
// did not stop), so that the namespace can go.
func killNamespace(ns string) {
	out, err := exec.Command("ip", "netns", "pids", ns).Output()
	if err != nil {
		return
	}
	for _, f := range strings.Fields(string(out)) {
		var pid int
		if _, err := fmt.Sscan(f, &pid); err == nil && pid > 1 && pid != os.Getpid() {
			unix.Kill(pid, unix.SIGKILL)
		}
	}
}

func ip(args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("topology: ip %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

func sysctl(ns, key, val string) error {
	out, err := exec.Command("ip", "netns", "exec", ns, "sysctl", "-qw", key+"="+val).CombinedOutput()
	if err != nil {
		return fmt.Errorf("topology: sysctl %s=%s in %s: %w: %s", key, val, ns, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// Do runs fn on an OS thread switched into network namespace ns (see
// netnsutil.Do). Sockets, BPF test runs and links fn creates or uses belong
// to that namespace.
func Do(ns string, fn func() error) error { return netnsutil.Do(ns, fn) }
