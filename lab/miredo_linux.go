//go:build linux

package lab

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/teredorelay/teredorelay/internal/miredo"
	"github.com/teredorelay/teredorelay/internal/netnsutil"
)

// MiredoServerConfig is the miredo-server.conf the lab uses.
func MiredoServerConfig() string {
	return miredo.ServerConfig(ServerIPv4, ServerIPv4Second)
}

// MiredoClientConfig is the miredo.conf of the lab's Teredo client.
func MiredoClientConfig() string {
	return miredo.ClientConfig(ClientInterface, ServerIPv4)
}

// MiredoRelayConfig is the miredo.conf of Miredo as the relay under test:
// cone mode (indirect bubbles only), bound to the relay address and port.
func MiredoRelayConfig() string {
	return miredo.RelayConfig("teredo", netip.AddrPortFrom(RelayIPv4, TeredoPort))
}

// startMiredo writes conf and starts prog in the foreground inside node,
// with its own PID file (see miredo.Argv).
func (l *Lab) startMiredo(name string, node Node, prog, conf string) (*process, error) {
	confPath := l.dir + "/" + name + ".conf"
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		return nil, fmt.Errorf("write %s config: %w", name, err)
	}
	argv := miredo.Argv(prog, confPath, l.dir+"/"+name+".pid")
	p, err := startProcess(l.dir, name, l.Namespace(node), argv)
	if err != nil {
		return nil, err
	}
	l.addProcess(p)
	l.logf("started %s in %s (pid %d)", name, l.Namespace(node), p.cmd.Process.Pid)
	return p, nil
}

// waitBound waits until a UDP socket is bound to ap inside node, failing
// early if p exits.
func (l *Lab) waitBound(ctx context.Context, p *process, node Node, ap netip.AddrPort, timeout time.Duration) error {
	err := waitFor(ctx, timeout, fmt.Sprintf("%s bound to udp %v", p.name, ap), func() (bool, error) {
		if p.exited() {
			return false, fmt.Errorf("%s exited: %v", p.name, p.err)
		}
		var bound bool
		err := l.Do(node, func() error {
			var err error
			bound, err = netnsutil.UDPBound(ap)
			return err
		})
		return bound, err
	})
	if err != nil {
		return fmt.Errorf("%w\n%s log:\n%s", err, p.name, p.logTail(2000))
	}
	return nil
}

func (l *Lab) startServer(ctx context.Context) error {
	p, err := l.startMiredo("server", Server, "miredo-server", MiredoServerConfig())
	if err != nil {
		return err
	}
	for _, a := range []netip.Addr{ServerIPv4, ServerIPv4Second} {
		if err := l.waitBound(ctx, p, Server, netip.AddrPortFrom(a, TeredoPort), 10*time.Second); err != nil {
			return fmt.Errorf("miredo-server: %w", err)
		}
	}
	return nil
}

func (l *Lab) startRelay(ctx context.Context) error {
	if err := l.fillRelaydEnv(); err != nil {
		return err
	}
	if l.opts.Relay == RelayTeredod {
		return l.startRelayd(ctx)
	}
	p, err := l.startMiredo("relay", Relay, "miredo", MiredoRelayConfig())
	if err != nil {
		return err
	}
	l.relay = p
	// Miredo binds its UDP socket after it has set up the TUN device and its
	// 2001::/32 route, so a bound socket means the relay is ready.
	if err := l.waitBound(ctx, p, Relay, netip.AddrPortFrom(RelayIPv4, TeredoPort), 10*time.Second); err != nil {
		return fmt.Errorf("miredo relay: %w", err)
	}
	return nil
}

func (l *Lab) startClient(ctx context.Context) error {
	p, err := l.startMiredo("client", Client, "miredo", MiredoClientConfig())
	if err != nil {
		return err
	}
	start := time.Now()
	err = waitFor(ctx, l.opts.QualifyTimeout, "Miredo client qualification", func() (bool, error) {
		if p.exited() {
			return false, fmt.Errorf("miredo client exited: %v", p.err)
		}
		var got netip.Addr
		var routed bool
		err := l.Do(Client, func() error {
			var err error
			if got, err = teredoAddrOn(ClientInterface); err != nil || !got.IsValid() {
				return err
			}
			// Miredo's hook adds the address, then the default route:
			// until both are there the client cannot send.
			routed, err = defaultRoute6On(ClientInterface)
			return err
		})
		if err != nil || !got.IsValid() || !routed {
			return false, err
		}
		// Miredo adds its default route just after the address: a test
		// that pings at once must not find the network unreachable.
		routes, err := l.Exec(ctx, Client, "ip", "-6", "route", "show", "default", "dev", ClientInterface)
		if err != nil || len(strings.TrimSpace(string(routes))) == 0 {
			return false, err
		}
		l.clientAddr = got
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("%w\nclient log:\n%s\nserver log:\n%s", err, p.logTail(2000), l.ProcessLog("server"))
	}
	l.logf("client qualified as %v in %v", l.clientAddr, time.Since(start).Round(time.Millisecond))
	return nil
}

// teredoAddrOn returns the address in ClientPrefix on iface, if any.
func teredoAddrOn(iface string) (netip.Addr, error) {
	ifc, err := net.InterfaceByName(iface)
	if err != nil {
		var nerr *net.OpError
		if errors.As(err, &nerr) || strings.Contains(err.Error(), "no such network interface") {
			return netip.Addr{}, nil // not created yet
		}
		return netip.Addr{}, fmt.Errorf("interface %s: %w", iface, err)
	}
	addrs, err := ifc.Addrs()
	if err != nil {
		return netip.Addr{}, fmt.Errorf("addresses of %s: %w", iface, err)
	}
	for _, a := range addrs {
		ipn, ok := a.(*net.IPNet)
		if !ok {
			continue
		}
		ip, ok := netip.AddrFromSlice(ipn.IP)
		if ok && ClientPrefix.Contains(ip) {
			return ip, nil
		}
	}
	return netip.Addr{}, nil
}

// defaultRoute6On reports whether the calling thread's namespace has an
// IPv6 default route through iface (/proc/thread-self/net/ipv6_route:
// destination, prefix length, ..., interface name last).
func defaultRoute6On(iface string) (bool, error) {
	b, err := os.ReadFile("/proc/thread-self/net/ipv6_route")
	if err != nil {
		return false, fmt.Errorf("read ipv6 routes: %w", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) == 10 && f[0] == strings.Repeat("0", 32) && f[1] == "00" && f[9] == iface {
			return true, nil
		}
	}
	return false, nil
}

// fileExists reports whether path exists.
func fileExists(path string) (bool, error) {
	_, err := os.Stat(path)
	if err == nil {
		return true, nil
	}
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return false, err
}
