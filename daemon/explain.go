package daemon

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/teredorelay/teredorelay/config"
)

// explain wraps err from step into one clear message: a permission error
// names the capability the step needs, an address error names the key.
func explain(err error, step string) error {
	switch {
	case errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES):
		return fmt.Errorf("missing capability %s: %s: %w", capabilityFor(step), step, err)
	case errors.Is(err, unix.EADDRNOTAVAIL):
		return fmt.Errorf("config: ipv4.address: not assigned to an interface on this host: %s: %w", step, err)
	case errors.Is(err, unix.EADDRINUSE):
		return fmt.Errorf("config: ipv4.port: in use by another socket (is miredo running?): %s: %w", step, err)
	case errors.Is(err, unix.ENOMEM) && containsAny(step, "UMEM"),
		errors.Is(err, unix.ENOBUFS) && containsAny(step, "AF_XDP socket"): // XDP_UMEM_REG over RLIMIT_MEMLOCK
		return fmt.Errorf("cannot lock packet memory (grant CAP_IPC_LOCK or LimitMEMLOCK=infinity, or lower umem.frames): %s: %w", step, err)
	}
	return fmt.Errorf("%s: %w", step, err)
}

func capabilityFor(step string) string {
	switch {
	case containsAny(step, "load XDP"):
		return "CAP_BPF and CAP_NET_ADMIN (or CAP_SYS_ADMIN)"
	case containsAny(step, "attach XDP", "routes", "XSKMAP"):
		return "CAP_NET_ADMIN"
	case containsAny(step, "AF_XDP", "raw", "kernel sockets"):
		return "CAP_NET_RAW"
	case containsAny(step, "UMEM"):
		return "CAP_IPC_LOCK"
	}
	return "CAP_NET_ADMIN"
}

func containsAny(s string, subs ...string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

func ifindexByName(name string) (int, error) {
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		return 0, errors.New("no such network interface")
	}
	return ifi.Index, nil
}

// warnUnassignedIPv6 logs a warning when ipv6.address is on no interface of
// this host: the relay still sends from it, but native hosts' answers to its
// ICMPv6 errors and bubbles, and neighbour discovery for it, reach nothing.
func (d *Daemon) warnUnassignedIPv6(cfg *config.Config) {
	if !addrAssigned(cfg.IPv6.Address) {
		d.log.Warn("ipv6.address is not assigned to any interface on this host; assign it to the IPv6-side interface",
			"ipv6_address", cfg.IPv6.Address)
	}
}

// addrAssigned reports whether a is configured on an interface of this host
// (true when the interfaces cannot be listed: the bind that follows tells).
func addrAssigned(a netip.Addr) bool {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return true
	}
	for _, ia := range addrs {
		if n, ok := ia.(*net.IPNet); ok {
			if ip, ok := netip.AddrFromSlice(n.IP); ok && ip.Unmap() == a.Unmap() {
				return true
			}
		}
	}
	return false
}
