//go:build linux

package lab

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/teredorelay/teredorelay/internal/netnsutil"
)

// Lab is a running namespace topology. Its methods are safe for concurrent
// use once Start has returned.
type Lab struct {
	opts Options
	id   string // "tlab-" + 6 hex digits, the prefix of every namespace name
	dir  string // configs, logs, pid files, captures

	mu      sync.Mutex
	procs   []*process // in start order
	created []Node     // namespaces created so far

	relay      *process
	relayEnv   RelaydEnv
	clientAddr netip.Addr

	closeOnce sync.Once
	closeErr  error
}

// Start builds the topology, starts miredo-server, the relay and the Miredo
// client, and waits until the client has qualified. On error everything
// already built is torn down. Cancelling ctx aborts the waits.
func Start(ctx context.Context, opts Options) (*Lab, error) {
	l, err := newLab(opts)
	if err != nil {
		return nil, err
	}
	if err := l.build(ctx); err != nil {
		if cerr := l.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("tear down after failed start: %w", cerr))
		}
		return nil, err
	}
	return l, nil
}

// newLab checks opts, sweeps the labs of dead test processes and returns
// a lab with its id and work directory, nothing built yet.
func newLab(opts Options) (*Lab, error) {
	if err := checkOptions(&opts); err != nil {
		return nil, err
	}
	if err := sweepStale(); err != nil {
		return nil, fmt.Errorf("sweep stale labs: %w", err)
	}
	var suffix [3]byte
	if _, err := rand.Read(suffix[:]); err != nil {
		return nil, fmt.Errorf("random lab id: %w", err)
	}
	l := &Lab{opts: opts, id: labPrefix + hex.EncodeToString(suffix[:])}
	dir, err := os.MkdirTemp("", l.id+"-")
	if err != nil {
		return nil, fmt.Errorf("create work dir: %w", err)
	}
	// Miredo reads its configuration as root but the relay daemon may drop
	// privileges: keep the directory readable.
	if err := os.Chmod(dir, 0o755); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("chmod work dir: %w", err)
	}
	l.dir = dir
	return l, nil
}

func checkOptions(o *Options) error {
	switch o.Relay {
	case RelayMiredo:
	case RelayTeredod:
		if o.RelaydBinary == "" {
			return errors.New("lab options: Relay teredo-relayd needs RelaydBinary")
		}
	default:
		return fmt.Errorf("lab options: unknown Relay %q (want %q or %q)", o.Relay, RelayMiredo, RelayTeredod)
	}
	if o.Mode != OneArmed && o.Mode != TwoArmed {
		return fmt.Errorf("lab options: unknown %v", o.Mode)
	}
	if o.Queues == 0 {
		o.Queues = 1
	}
	if o.Queues != 1 && o.Queues != 2 {
		return fmt.Errorf("lab options: Queues %d (want 1 or 2)", o.Queues)
	}
	if o.QualifyTimeout <= 0 {
		o.QualifyTimeout = 20 * time.Second
	}
	if o.RelaydReadyTimeout <= 0 {
		o.RelaydReadyTimeout = 30 * time.Second
	}
	if o.RelaydConfig == nil {
		o.RelaydConfig = DefaultRelaydConfig
	}
	if o.RelaydArgs == nil {
		o.RelaydArgs = DefaultRelaydArgs
	}
	return nil
}

func (l *Lab) logf(format string, args ...any) {
	if l.opts.Log != nil {
		fmt.Fprintf(l.opts.Log, "lab %s: %s\n", l.id, fmt.Sprintf(format, args...))
	}
}

// ID is the run's unique tag; every namespace name starts with it.
func (l *Lab) ID() string { return l.id }

// WorkDir holds the generated configurations, process logs and captures.
func (l *Lab) WorkDir() string { return l.dir }

// Namespace is the name of node's network namespace ("ip netns exec NAME").
func (l *Lab) Namespace(node Node) string { return l.id + "-" + string(node) }

// Namespaces lists the names of every namespace the lab created.
func (l *Lab) Namespaces() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]string, 0, len(l.created))
	for _, n := range l.created {
		out = append(out, l.Namespace(n))
	}
	return out
}

// Options returns the options the lab runs with, defaults filled in.
func (l *Lab) Options() Options { return l.opts }

// ClientAddr is the Miredo client's Teredo address (2001:0:c000:201::/64).
func (l *Lab) ClientAddr() netip.Addr { return l.clientAddr }

// NativeAddr is the native IPv6 host's address.
func (l *Lab) NativeAddr() netip.Addr { return NativeIPv6 }

// RelayIfaces names the relay namespace's IPv4-side and IPv6-side
// interfaces (the same name in OneArmed mode).
func (l *Lab) RelayIfaces() (ipv4, ipv6 string) {
	if l.opts.Mode == TwoArmed {
		return RelayIPv4Iface, RelayIPv6Iface
	}
	return RelayOneArmedIface, RelayOneArmedIface
}

// CoreRelayIfaces names the core router's interfaces facing the relay's
// IPv4 and IPv6 sides (the same name in OneArmed mode). Capture relay
// traffic here: with XDP on the relay's own interface, received frames it
// redirects and frames sent from AF_XDP sockets bypass packet taps there.
func (l *Lab) CoreRelayIfaces() (ipv4, ipv6 string) {
	if l.opts.Mode == TwoArmed {
		return coreRelayV4, coreRelayV6
	}
	return coreRelay, coreRelay
}

// RelaydEnv is what the relay daemon was (or would be) configured from.
func (l *Lab) RelaydEnv() RelaydEnv { return l.relayEnv }

// Command prepares argv to run inside node's namespace.
func (l *Lab) Command(ctx context.Context, node Node, argv ...string) *exec.Cmd {
	return netnsutil.Command(ctx, l.Namespace(node), argv...)
}

// Exec runs argv inside node's namespace and returns its combined output.
func (l *Lab) Exec(ctx context.Context, node Node, argv ...string) ([]byte, error) {
	out, err := l.Command(ctx, node, argv...).CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("exec in %s: %s: %w: %s", node, strings.Join(argv, " "), err, strings.TrimSpace(string(out)))
	}
	return out, nil
}

// Do runs fn on a thread inside node's namespace (see netnsutil.Do): sockets
// fn opens belong to that namespace and keep working after Do returns.
func (l *Lab) Do(node Node, fn func() error) error { return netnsutil.Do(l.Namespace(node), fn) }

// ProcessLog returns the log of a process the lab started ("server",
// "relay", "client", or a capture name), or "" when there is none.
func (l *Lab) ProcessLog(name string) string {
	b, err := os.ReadFile(l.dir + "/" + name + ".log")
	if err != nil {
		return ""
	}
	return string(b)
}

// RelayRunning reports whether the relay process is still alive.
func (l *Lab) RelayRunning() bool { return l.relay != nil && !l.relay.exited() }

// ip runs one iproute2 command (in the root namespace; the commands name
// their target namespace themselves).
func (l *Lab) ip(args ...string) error { return runIP(args...) }

func runIP(args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// ipIn runs an iproute2 command inside node's namespace ("ip -n").
func (l *Lab) ipIn(node Node, args ...string) error {
	return l.ip(append([]string{"-n", l.Namespace(node)}, args...)...)
}

// sysctl writes net sysctls inside node's namespace. Keys are paths below
// /proc/sys/net/, e.g. "ipv4/ip_forward".
func (l *Lab) sysctl(node Node, kv ...string) error {
	return l.Do(node, func() error {
		for i := 0; i+1 < len(kv); i += 2 {
			if err := os.WriteFile("/proc/sys/net/"+kv[i], []byte(kv[i+1]), 0o644); err != nil {
				return fmt.Errorf("sysctl %s in %s: %w", kv[i], node, err)
			}
		}
		return nil
	})
}

// build creates the namespaces, links, addresses and routes, then starts the
// processes.
func (l *Lab) build(ctx context.Context) error {
	if err := writeOwner(l.id, l.dir); err != nil {
		return err
	}
	l.logf("creating namespaces %s-{%s}", l.id, joinNodes(Nodes))
	for _, n := range Nodes {
		if err := l.addNamespace(n); err != nil {
			return err
		}
	}
	if err := l.wire(); err != nil {
		return err
	}
	if err := l.addressAndRoute(); err != nil {
		return err
	}
	if err := l.startServer(ctx); err != nil {
		return err
	}
	if err := l.startRelay(ctx); err != nil {
		return err
	}
	return l.startClient(ctx)
}

// addNamespace creates node's namespace (recorded for Close), with the
// lab's defaults: no reverse-path filter, no DAD, no router advertisements,
// loopback up.
func (l *Lab) addNamespace(n Node) error {
	if err := l.ip("netns", "add", l.Namespace(n)); err != nil {
		return fmt.Errorf("create namespace %s: %w", n, err)
	}
	l.mu.Lock()
	l.created = append(l.created, n)
	l.mu.Unlock()
	// Before any interface exists, so the "default" values apply to all.
	if err := l.sysctl(n,
		"ipv4/conf/all/rp_filter", "0", "ipv4/conf/default/rp_filter", "0",
		"ipv6/conf/all/accept_dad", "0", "ipv6/conf/default/accept_dad", "0",
		"ipv6/conf/all/accept_ra", "0", "ipv6/conf/default/accept_ra", "0",
	); err != nil {
		return err
	}
	return l.ipIn(n, "link", "set", "lo", "up")
}

// veth creates a veth pair between two namespaces, both ends up.
func (l *Lab) veth(a Node, aName string, b Node, bName string, queues int) error {
	// Always explicit: a veth's default queue count is the number of
	// possible CPUs, not 1.
	q := []string{"numtxqueues", fmt.Sprint(queues), "numrxqueues", fmt.Sprint(queues)}
	args := append([]string{"link", "add", aName, "netns", l.Namespace(a)}, q...)
	args = append(args, "type", "veth", "peer", "name", bName, "netns", l.Namespace(b))
	args = append(args, q...)
	if err := l.ip(args...); err != nil {
		return fmt.Errorf("link %s:%s <-> %s:%s: %w", a, aName, b, bName, err)
	}
	for _, end := range []struct {
		node Node
		name string
	}{{a, aName}, {b, bName}} {
		if l.opts.NoTxChecksumOffload {
			if err := l.disableTxChecksum(end.node, end.name); err != nil {
				return err
			}
		}
		if err := l.ipIn(end.node, "link", "set", end.name, "up"); err != nil {
			return err
		}
	}
	return nil
}

// Core-side interface names.
const (
	coreServer   = "srv0"
	coreNAT      = "nat0"
	coreNative   = "host0"
	coreAttacker = "atk0"
	coreRelay    = "rly0" // OneArmed
	coreRelayV4  = "rly4" // TwoArmed
	coreRelayV6  = "rly6" // TwoArmed
)

func (l *Lab) wire() error {
	l.logf("wiring veths (relay %v, %d queue(s))", l.opts.Mode, l.opts.Queues)
	links := []struct {
		a      Node
		aName  string
		b      Node
		bName  string
		queues int
	}{
		{Core, coreServer, Server, HostIface, 1},
		{Core, coreNAT, NAT, NATOutsideIface, 1},
		{NAT, NATInsideIface, Client, HostIface, 1},
		{Core, coreNative, Native, HostIface, 1},
		{Core, coreAttacker, Attacker, HostIface, 1},
	}
	for _, k := range links {
		if err := l.veth(k.a, k.aName, k.b, k.bName, k.queues); err != nil {
			return err
		}
	}
	if l.opts.Mode == TwoArmed {
		if err := l.veth(Core, coreRelayV4, Relay, RelayIPv4Iface, l.opts.Queues); err != nil {
			return err
		}
		return l.veth(Core, coreRelayV6, Relay, RelayIPv6Iface, l.opts.Queues)
	}
	return l.veth(Core, coreRelay, Relay, RelayOneArmedIface, l.opts.Queues)
}

func pfx(a netip.Addr, bits int) string { return netip.PrefixFrom(a, bits).String() }

func (l *Lab) addressAndRoute() error {
	l.logf("addressing and routing")
	relayV4Core, relayV6Core := coreRelay, coreRelay
	relayV4, relayV6 := l.RelayIfaces()
	if l.opts.Mode == TwoArmed {
		relayV4Core, relayV6Core = coreRelayV4, coreRelayV6
	}
	type cmd struct {
		node Node
		args []string
	}
	addr := func(n Node, dev string, p string) cmd {
		return cmd{n, []string{"addr", "add", p, "dev", dev, "nodad"}}
	}
	addr4 := func(n Node, dev string, p string) cmd { return cmd{n, []string{"addr", "add", p, "dev", dev}} }
	route := func(n Node, args ...string) cmd { return cmd{n, append([]string{"route", "add"}, args...)} }
	route6 := func(n Node, args ...string) cmd { return cmd{n, append([]string{"-6", "route", "add"}, args...)} }
	cmds := []cmd{
		// Core router.
		addr4(Core, coreServer, pfx(ServerGatewayV4, 24)),
		addr(Core, coreServer, pfx(ServerGatewayV6, 64)),
		addr4(Core, coreNAT, pfx(NATOutsideGWV4, NATOutsideBits)),
		addr(Core, coreNative, pfx(NativeGatewayV6, 64)),
		addr4(Core, coreAttacker, pfx(AttackerGatewayV4, 25)),
		addr(Core, coreAttacker, pfx(AttackerGatewayV6, 64)),
		addr4(Core, relayV4Core, pfx(RelayGatewayV4, RelayIPv4Bits)),
		addr(Core, relayV6Core, pfx(RelayGatewayV6, 64)),
		route6(Core, TeredoPrefix.String(), "via", RelayIPv6.String(), "dev", relayV6Core),
		// Teredo server: two consecutive IPv4 addresses, IPv6 to emit
		// the clients' connectivity-test echoes natively.
		addr4(Server, HostIface, pfx(ServerIPv4, 24)),
		addr4(Server, HostIface, pfx(ServerIPv4Second, 24)),
		addr(Server, HostIface, pfx(ServerIPv6, 64)),
		route(Server, "default", "via", ServerGatewayV4.String()),
		route6(Server, "default", "via", ServerGatewayV6.String()),
		// NAT box.
		addr4(NAT, NATOutsideIface, pfx(NATOutside, NATOutsideBits)),
		addr4(NAT, NATInsideIface, pfx(NATInside, ClientLAN.Bits())),
		route(NAT, "default", "via", NATOutsideGWV4.String()),
		// Teredo client: IPv4 only.
		addr4(Client, HostIface, pfx(ClientIPv4, ClientLAN.Bits())),
		route(Client, "default", "via", NATInside.String()),
		// Native IPv6 host: IPv6 only.
		addr(Native, HostIface, pfx(NativeIPv6, 64)),
		route6(Native, "default", "via", NativeGatewayV6.String()),
		// Relay.
		addr4(Relay, relayV4, pfx(RelayIPv4, RelayIPv4Bits)),
		addr(Relay, relayV6, pfx(RelayIPv6, 64)),
		route(Relay, "default", "via", RelayGatewayV4.String(), "dev", relayV4),
		route6(Relay, "default", "via", RelayGatewayV6.String(), "dev", relayV6),
		// Attacker: both families, no filtering on the way.
		addr4(Attacker, HostIface, pfx(AttackerIPv4, 25)),
		addr(Attacker, HostIface, pfx(AttackerIPv6, 64)),
		route(Attacker, "default", "via", AttackerGatewayV4.String()),
		route6(Attacker, "default", "via", AttackerGatewayV6.String()),
	}
	for _, c := range cmds {
		if err := l.ipIn(c.node, c.args...); err != nil {
			return fmt.Errorf("%s: %w", c.node, err)
		}
	}
	if err := l.sysctl(Core, "ipv4/ip_forward", "1", "ipv6/conf/all/forwarding", "1"); err != nil {
		return err
	}
	if err := l.sysctl(NAT, "ipv4/ip_forward", "1"); err != nil {
		return err
	}
	// The client must have no native IPv6: only its Teredo tunnel carries
	// IPv6 (the tunnel itself needs IPv6 enabled in the namespace).
	if err := l.sysctl(Client, "ipv6/conf/"+HostIface+"/disable_ipv6", "1"); err != nil {
		return err
	}
	if l.opts.Relay == RelayMiredo {
		// Miredo's relay lets the kernel forward between its TUN device and
		// the IPv6 side.
		if err := l.sysctl(Relay, "ipv6/conf/all/forwarding", "1"); err != nil {
			return err
		}
	}
	if l.opts.NATRandomFully {
		return l.SetNATSource(context.Background(), NATOutside, "--random-fully")
	}
	if _, err := l.Exec(context.Background(), NAT, "iptables", "-w", "-t", "nat", "-A", "POSTROUTING",
		"-o", NATOutsideIface, "-j", "MASQUERADE"); err != nil {
		return fmt.Errorf("NAT MASQUERADE: %w", err)
	}
	return nil
}

// SetNATSource makes the NAT translate to src (SNAT, with extra iptables
// arguments such as "--random-fully") instead of its current rule, and
// flushes its connection tracking so that every flow gets a new mapping:
// what a client sees when its NAT changes address or behaviour. src must be
// on the NAT's outside interface.
func (l *Lab) SetNATSource(ctx context.Context, src netip.Addr, extra ...string) error {
	for _, argv := range [][]string{
		{"iptables", "-w", "-t", "nat", "-F", "POSTROUTING"},
		append([]string{"iptables", "-w", "-t", "nat", "-A", "POSTROUTING", "-o", NATOutsideIface, "-j", "SNAT", "--to-source", src.String()}, extra...),
	} {
		if out, err := l.Exec(ctx, NAT, argv...); err != nil {
			return fmt.Errorf("NAT source %v: %w (%s)", src, err, out)
		}
	}
	if err := l.Do(NAT, func() error { return netlink.ConntrackTableFlush(netlink.ConntrackTable) }); err != nil {
		return fmt.Errorf("NAT source %v: flush connection tracking: %w", src, err)
	}
	return nil
}

// gatewayMAC reads the MAC address of a core-side interface.
func (l *Lab) gatewayMAC(iface string) (net.HardwareAddr, error) {
	var mac net.HardwareAddr
	err := l.Do(Core, func() error {
		ifc, err := net.InterfaceByName(iface)
		if err != nil {
			return fmt.Errorf("core interface %s: %w", iface, err)
		}
		mac = ifc.HardwareAddr
		return nil
	})
	return mac, err
}

// addProcess records a started process for Close.
func (l *Lab) addProcess(p *process) {
	l.mu.Lock()
	l.procs = append(l.procs, p)
	l.mu.Unlock()
}

// Close stops every process the lab started and deletes its namespaces and,
// unless KeepWorkDir, its work directory. It is idempotent.
func (l *Lab) Close() error {
	l.closeOnce.Do(func() { l.closeErr = l.teardown() })
	return l.closeErr
}

func (l *Lab) teardown() error {
	l.logf("tearing down")
	var errs []error
	l.mu.Lock()
	procs := append([]*process(nil), l.procs...)
	created := append([]Node(nil), l.created...)
	l.mu.Unlock()
	for i := len(procs) - 1; i >= 0; i-- {
		if err := procs[i].stop(syscall.SIGTERM, 3*time.Second); err != nil {
			errs = append(errs, err)
		}
	}
	for i := len(created) - 1; i >= 0; i-- {
		ns := l.Namespace(created[i])
		if err := killNamespace(ns); err != nil {
			errs = append(errs, err)
		}
		if err := l.ip("netns", "del", ns); err != nil {
			errs = append(errs, fmt.Errorf("delete namespace %s: %w", created[i], err))
		}
	}
	if err := removeOwner(l.id); err != nil {
		errs = append(errs, err)
	}
	if !l.opts.KeepWorkDir && l.dir != "" {
		if err := os.RemoveAll(l.dir); err != nil {
			errs = append(errs, fmt.Errorf("remove work dir: %w", err))
		}
	}
	return errors.Join(errs...)
}

func joinNodes(ns []Node) string {
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = string(n)
	}
	return strings.Join(s, ",")
}

// waitFor polls cond every 50 ms until it returns true, an error, ctx ends
// or timeout passes.
func waitFor(ctx context.Context, timeout time.Duration, what string, cond func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	for {
		ok, err := cond()
		if err != nil {
			return fmt.Errorf("wait for %s: %w", what, err)
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("wait for %s: timed out after %v", what, timeout)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for %s: %w", what, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}
