//go:build linux

package lab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/teredorelay/teredorelay/announce"
)

// The fleet lab: two teredo-relayd boxes on an IX peering LAN behind one IX
// router that learns 2001::/32 from both over BGP and spreads native
// traffic over them with ECMP. BIRD runs the shipped deploy/bird files on
// every box (relay: bird.conf, router: ix-peer.conf); the relays announce
// through teredo-relayd's announcement driver, and a SIGKILLed daemon is
// withdrawn by the shipped teredo-announce-withdraw script, run when the
// daemon's process ends as systemd runs it for teredo-announce.service
// (BindsTo=).
//
//	  server 192.0.2.1/.2            NAT 203.0.113.1 ── client (Miredo)
//	        │ srv0                     │ nat0
//	  ┌─────┴─── core: the IX router (BIRD, kernel ECMP) ─────┴──────┐
//	  │  bridge ixlan 198.51.100.126/25, 2001:db8:99::fe/64    nh1..nh4
//	  │     │ rly1                  │ rly2               native1..native4
//	relay1 ix0                   relay2 ix0              2001:db8:1:H::10-13
//	198.51.100.1                 198.51.100.2            (4 hosts, 4 addresses each)
//	2001:db8:99::1               2001:db8:99::2
//	teredo-relayd + BIRD         teredo-relayd + BIRD
//
// The server, NAT and client namespaces and addresses are those of the
// single-relay lab (Server, NAT, Client); Core is the IX router.

// FleetRelays is the number of relays of the fleet lab (the shipped
// ix-peer.conf has a session for each).
const FleetRelays = 2

// Fleet addressing (documentation ranges).
var (
	FleetLANGatewayV4 = RelayGatewayV4                         // the router on the IX LAN, 198.51.100.126/25
	FleetLANGatewayV6 = netip.MustParseAddr("2001:db8:99::fe") // ix-peer.conf's local address
)

// FleetRelayNode is relay i's namespace (i from 1).
func FleetRelayNode(i int) Node { return Node(fmt.Sprintf("relay%d", i)) }

// FleetRelayIPv4 is relay i's IPv4 service address on the IX LAN, 198.51.100.i.
func FleetRelayIPv4(i int) netip.Addr { return netip.AddrFrom4([4]byte{198, 51, 100, byte(i)}) }

// FleetRelayIPv6 is relay i's IPv6 address on the IX LAN, 2001:db8:99::i
// (bird.conf's local address for relay 1).
func FleetRelayIPv6(i int) netip.Addr {
	a := FleetLANGatewayV6.As16()
	a[15] = byte(i)
	return netip.AddrFrom16(a)
}

// FleetNativeNode is native host h's namespace (h from 1).
func FleetNativeNode(h int) Node { return Node(fmt.Sprintf("native%d", h)) }

// FleetNativeAddr is address j (from 0) of native host h: 2001:db8:1:h::1j.
func FleetNativeAddr(h, j int) netip.Addr {
	return netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, byte(h), 14: 0, 15: byte(0x10 + j)})
}

func fleetNativeGateway(h int) netip.Addr {
	return netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, byte(h), 15: 0xfe})
}

// Interface names of the fleet lab.
const (
	fleetBridge   = "ixlan" // the IX LAN, a bridge in Core
	fleetRelayIf  = "ix0"   // a relay's IX port (bird.conf's BFD interface)
	fleetWithdraw = "teredo-announce-withdraw"
)

// withdrawnInclude is BIRD's include file in the withdrawn state, as the
// tmpfiles entry creates it at boot.
var withdrawnInclude = announce.Render(announce.DefaultSetName, announce.DefaultPrefixes, false)

func fleetCoreRelayIf(i int) string  { return fmt.Sprintf("rly%d", i) }
func fleetCoreNativeIf(h int) string { return fmt.Sprintf("nh%d", h) }

// FleetOptions configures StartFleet.
type FleetOptions struct {
	RelaydBinary string
	// BirdRelayConf, BirdRouterConf and WithdrawScript are the shipped
	// deploy/bird/bird.conf, ix-peer.conf and teredo-announce-withdraw.
	BirdRelayConf, BirdRouterConf, WithdrawScript string
	// NativeHosts and AddrsPerHost size the native side (default 4 × 4).
	NativeHosts, AddrsPerHost int
	// Rise is the relays' announce.rise (default 1 s).
	Rise time.Duration
	// PeerStateInterval is the relays' peer_state.save_interval (default 2 s).
	PeerStateInterval time.Duration
	// RelaydExtra is appended to relay i's configuration (YAML).
	RelaydExtra func(i int) string
	// HashFields, when not zero, makes the router hash IPv6 ECMP on these
	// fields (net.ipv6.fib_multipath_hash_policy 3 with
	// fib_multipath_hash_fields); zero keeps the kernel's default hash.
	HashFields uint32
	// StartClient starts the Teredo client in the Client namespace (behind
	// the NAT, qualifying with ServerIPv4) and returns its Teredo address;
	// it must give the namespace a TUN interface carrying that address, as
	// the tests open their sockets on it. nil: the Miredo client. This is
	// the hook for another client implementation.
	StartClient func(ctx context.Context, f *Fleet) (netip.Addr, error)
	// QualifyTimeout bounds the client's qualification (default 20 s).
	QualifyTimeout time.Duration
	// Log receives one line per set-up and tear-down step.
	Log io.Writer
}

// FleetRelay is one relay box: its namespace, addresses, files and the
// processes running in it.
type FleetRelay struct {
	Index      int
	Node       Node
	IPv4, IPv6 netip.Addr
	// Files in the relay's directory.
	Dir, ConfigPath, ReadyFile, APISocket, BirdSocket, Include, DrainFile, PeerStateFile string

	f      *Fleet
	mu     sync.Mutex
	relayd *process
	bird   *process
	// unitStopped is closed once the emulated teredo-announce.service has
	// stopped after the current daemon ended (its ExecStop ran).
	unitStopped chan struct{}
	// boxDown set: the box is "powered off", nothing runs when the daemon
	// ends.
	boxDown atomic.Bool
	starts  int
}

// Fleet is a running fleet lab.
type Fleet struct {
	*Lab
	fopts   FleetOptions
	Relays  []*FleetRelay
	closing atomic.Bool
	units   sync.WaitGroup
}

// StartFleet builds the fleet lab, starts the routers, the relays, the
// Teredo server and the client, and waits until the router has a path
// through every relay and the client has qualified.
func StartFleet(ctx context.Context, opts FleetOptions) (*Fleet, error) {
	if opts.RelaydBinary == "" || opts.BirdRelayConf == "" || opts.BirdRouterConf == "" || opts.WithdrawScript == "" {
		return nil, errors.New("fleet options: RelaydBinary, BirdRelayConf, BirdRouterConf and WithdrawScript are required")
	}
	if opts.NativeHosts <= 0 {
		opts.NativeHosts = 4
	}
	if opts.AddrsPerHost <= 0 {
		opts.AddrsPerHost = 4
	}
	if opts.NativeHosts > 16 || opts.AddrsPerHost > 16 {
		return nil, errors.New("fleet options: at most 16 native hosts of 16 addresses")
	}
	if opts.Rise <= 0 {
		opts.Rise = time.Second
	}
	if opts.PeerStateInterval <= 0 {
		opts.PeerStateInterval = 2 * time.Second
	}
	if opts.QualifyTimeout <= 0 {
		opts.QualifyTimeout = 20 * time.Second
	}
	l, err := newLab(Options{Relay: RelayTeredod, RelaydBinary: opts.RelaydBinary, QualifyTimeout: opts.QualifyTimeout, Log: opts.Log})
	if err != nil {
		return nil, err
	}
	f := &Fleet{Lab: l, fopts: opts}
	if err := f.build(ctx); err != nil {
		if cerr := f.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("tear down after failed start: %w", cerr))
		}
		return nil, err
	}
	return f, nil
}

// Close stops the emulated units first (nothing is withdrawn while the lab
// is torn down), then every process and namespace (Lab.Close).
func (f *Fleet) Close() error {
	f.closing.Store(true)
	err := f.Lab.Close()
	f.units.Wait()
	return err
}

// Natives lists the native addresses: host h's addresses are
// Natives()[h-1].
func (f *Fleet) Natives() [][]netip.Addr {
	out := make([][]netip.Addr, f.fopts.NativeHosts)
	for h := range out {
		for j := range f.fopts.AddrsPerHost {
			out[h] = append(out[h], FleetNativeAddr(h+1, j))
		}
	}
	return out
}

func (f *Fleet) build(ctx context.Context) error {
	nodes := []Node{Core, Server, NAT, Client}
	for i := 1; i <= FleetRelays; i++ {
		nodes = append(nodes, FleetRelayNode(i))
	}
	for h := 1; h <= f.fopts.NativeHosts; h++ {
		nodes = append(nodes, FleetNativeNode(h))
	}
	if err := writeOwner(f.id, f.dir); err != nil {
		return err
	}
	f.logf("creating fleet namespaces %s-{%s}", f.id, joinNodes(nodes))
	for _, n := range nodes {
		if err := f.addNamespace(n); err != nil {
			return err
		}
	}
	if err := f.wireFleet(); err != nil {
		return err
	}
	if err := f.startServer(ctx); err != nil {
		return err
	}
	if err := f.startRouterBird(); err != nil {
		return err
	}
	for i := 1; i <= FleetRelays; i++ {
		r, err := f.newRelay(i)
		if err != nil {
			return err
		}
		f.Relays = append(f.Relays, r)
		if err := r.StartBird(); err != nil {
			return err
		}
		if err := r.StartRelayd(ctx); err != nil {
			return err
		}
	}
	start := f.fopts.StartClient
	if start == nil {
		start = func(ctx context.Context, f *Fleet) (netip.Addr, error) {
			err := f.startClient(ctx)
			return f.clientAddr, err
		}
	}
	addr, err := start(ctx, f)
	if err != nil {
		return fmt.Errorf("start the Teredo client: %w", err)
	}
	f.clientAddr = addr
	all := make([]netip.Addr, 0, FleetRelays)
	for _, r := range f.Relays {
		all = append(all, r.IPv6)
	}
	_, err = f.WaitNextHops(ctx, 60*time.Second, all)
	return err
}

// wireFleet creates the links, addresses, routes and the NAT.
func (f *Fleet) wireFleet() error {
	f.logf("wiring the fleet")
	type cmd struct {
		node Node
		args []string
	}
	var cmds []cmd
	add := func(n Node, args ...string) { cmds = append(cmds, cmd{n, args}) }
	addr6 := func(n Node, dev string, a netip.Addr, bits int) {
		add(n, "addr", "add", pfx(a, bits), "dev", dev, "nodad")
	}
	addr4 := func(n Node, dev string, a netip.Addr, bits int) { add(n, "addr", "add", pfx(a, bits), "dev", dev) }

	for _, k := range []struct {
		a     Node
		aName string
		b     Node
		bName string
	}{
		{Core, coreServer, Server, HostIface},
		{Core, coreNAT, NAT, NATOutsideIface},
		{NAT, NATInsideIface, Client, HostIface},
	} {
		if err := f.veth(k.a, k.aName, k.b, k.bName, 1); err != nil {
			return err
		}
	}
	// The IX LAN: a bridge on the router, one port per relay.
	add(Core, "link", "add", fleetBridge, "type", "bridge", "stp_state", "0")
	add(Core, "link", "set", fleetBridge, "up")
	addr4(Core, fleetBridge, FleetLANGatewayV4, RelayIPv4Bits)
	addr6(Core, fleetBridge, FleetLANGatewayV6, 64)
	for i := 1; i <= FleetRelays; i++ {
		if err := f.veth(Core, fleetCoreRelayIf(i), FleetRelayNode(i), fleetRelayIf, 1); err != nil {
			return err
		}
		add(Core, "link", "set", fleetCoreRelayIf(i), "master", fleetBridge)
		n := FleetRelayNode(i)
		addr4(n, fleetRelayIf, FleetRelayIPv4(i), RelayIPv4Bits)
		addr6(n, fleetRelayIf, FleetRelayIPv6(i), 64)
		add(n, "route", "add", "default", "via", FleetLANGatewayV4.String(), "dev", fleetRelayIf)
		add(n, "-6", "route", "add", "default", "via", FleetLANGatewayV6.String(), "dev", fleetRelayIf)
	}
	for h := 1; h <= f.fopts.NativeHosts; h++ {
		n := FleetNativeNode(h)
		if err := f.veth(Core, fleetCoreNativeIf(h), n, HostIface, 1); err != nil {
			return err
		}
		addr6(Core, fleetCoreNativeIf(h), fleetNativeGateway(h), 64)
		for j := range f.fopts.AddrsPerHost {
			addr6(n, HostIface, FleetNativeAddr(h, j), 64)
		}
		add(n, "-6", "route", "add", "default", "via", fleetNativeGateway(h).String())
	}
	// Server, NAT and client as in the single-relay lab.
	addr4(Core, coreServer, ServerGatewayV4, 24)
	addr6(Core, coreServer, ServerGatewayV6, 64)
	addr4(Core, coreNAT, NATOutsideGWV4, NATOutsideBits)
	addr4(Server, HostIface, ServerIPv4, 24)
	addr4(Server, HostIface, ServerIPv4Second, 24)
	addr6(Server, HostIface, ServerIPv6, 64)
	add(Server, "route", "add", "default", "via", ServerGatewayV4.String())
	add(Server, "-6", "route", "add", "default", "via", ServerGatewayV6.String())
	addr4(NAT, NATOutsideIface, NATOutside, NATOutsideBits)
	addr4(NAT, NATInsideIface, NATInside, ClientLAN.Bits())
	add(NAT, "route", "add", "default", "via", NATOutsideGWV4.String())
	addr4(Client, HostIface, ClientIPv4, ClientLAN.Bits())
	add(Client, "route", "add", "default", "via", NATInside.String())
	for _, c := range cmds {
		if err := f.ipIn(c.node, c.args...); err != nil {
			return fmt.Errorf("%s: %w", c.node, err)
		}
	}
	kv := []string{"ipv4/ip_forward", "1", "ipv6/conf/all/forwarding", "1"}
	if h := f.fopts.HashFields; h != 0 {
		kv = append(kv, "ipv6/fib_multipath_hash_policy", "3", "ipv6/fib_multipath_hash_fields", fmt.Sprint(h))
	}
	if err := f.sysctl(Core, kv...); err != nil {
		return err
	}
	if err := f.sysctl(NAT, "ipv4/ip_forward", "1"); err != nil {
		return err
	}
	if err := f.sysctl(Client, "ipv6/conf/"+HostIface+"/disable_ipv6", "1"); err != nil {
		return err
	}
	if _, err := f.Exec(context.Background(), NAT, "iptables", "-w", "-t", "nat", "-A", "POSTROUTING",
		"-o", NATOutsideIface, "-j", "MASQUERADE"); err != nil {
		return fmt.Errorf("NAT masquerade: %w", err)
	}
	return nil
}

// labBGPTimers shortens BIRD's BGP (re)connection delays for the lab (the
// defaults wait 5 s before the first connection and 60 s after a session
// failure). Detection and withdrawal are unchanged: BFD 100 ms × 3 and the
// shipped filters.
const labBGPTimers = "  bfd on;\n  connect delay time 1;\n  connect retry time 1;\n  error wait time 1, 2;\n"

func (f *Fleet) startRouterBird() error {
	p, err := startBird(f.dir, "router-bird", f.Namespace(Core), f.fopts.BirdRouterConf, f.dir+"/router-bird.ctl",
		map[string]string{"  bfd on;\n": labBGPTimers})
	if err != nil {
		return err
	}
	f.addProcess(p)
	return nil
}

func (f *Fleet) newRelay(i int) (*FleetRelay, error) {
	dir := filepath.Join(f.dir, fmt.Sprintf("relay%d", i))
	if err := os.MkdirAll(filepath.Join(dir, "bird"), 0o755); err != nil {
		return nil, err
	}
	r := &FleetRelay{
		Index: i, Node: FleetRelayNode(i), IPv4: FleetRelayIPv4(i), IPv6: FleetRelayIPv6(i), f: f,
		Dir: dir, ConfigPath: dir + "/relayd.yaml", ReadyFile: dir + "/relayd.ready", APISocket: dir + "/relayd.sock",
		BirdSocket: dir + "/bird.ctl", Include: dir + "/bird/announce.conf", DrainFile: dir + "/drained",
		PeerStateFile: dir + "/peers.state",
	}
	// BIRD needs the include file before it starts (tmpfiles creates it
	// withdrawn at boot).
	if err := os.WriteFile(r.Include, withdrawnInclude, 0o644); err != nil {
		return nil, err
	}
	var bogons []string
	for j := 1; j <= FleetRelays; j++ {
		if j != i {
			bogons = append(bogons, FleetRelayIPv4(j).String()+"/32")
		}
	}
	conf := fmt.Sprintf("# teredo-relayd %d of the fleet lab %s\n", i, f.id) +
		announcingRelayd{Iface: fleetRelayIf, IPv4: r.IPv4.String(), IPv6: r.IPv6.String(), Dir: dir, APISocket: r.APISocket,
			Include: r.Include, BirdSocket: r.BirdSocket, DrainFile: r.DrainFile, Rise: f.fopts.Rise}.yaml() +
		fmt.Sprintf("# The other relays of the fleet: never a peer's mapping or server.\nextra_bogons: [%s]\npeer_state: {file: %s, save_interval: %s}\n",
			strings.Join(bogons, ", "), r.PeerStateFile, f.fopts.PeerStateInterval)
	if f.fopts.RelaydExtra != nil {
		conf += f.fopts.RelaydExtra(i)
	}
	if err := os.WriteFile(r.ConfigPath, []byte(conf), 0o644); err != nil {
		return nil, err
	}
	return r, nil
}

// StartBird starts the relay's BIRD on the shipped bird.conf with this
// relay's router id, local address and include file.
func (r *FleetRelay) StartBird() error {
	f := r.f
	p, err := startBird(r.Dir, "bird", f.Namespace(r.Node), f.fopts.BirdRelayConf, r.BirdSocket, map[string]string{
		"router id 192.0.2.1;":                  "router id " + r.IPv4.String() + ";",
		"local 2001:db8:99::1 as 65001;":        "local " + r.IPv6.String() + " as 65001;",
		"/run/teredo-relayd-bird/announce.conf": r.Include,
		"  bfd on;\n":                           labBGPTimers,
	})
	if err != nil {
		return fmt.Errorf("relay %d: %w", r.Index, err)
	}
	f.addProcess(p)
	r.mu.Lock()
	r.bird = p
	r.mu.Unlock()
	return nil
}

// StartRelayd starts the relay's teredo-relayd and waits for its ready
// file. A previous daemon must have ended and its emulated
// teredo-announce.service stopped (as systemd orders a restart).
func (r *FleetRelay) StartRelayd(ctx context.Context) error {
	f := r.f
	r.mu.Lock()
	prev := r.unitStopped
	r.mu.Unlock()
	if prev != nil {
		select {
		case <-prev:
		case <-ctx.Done():
			return fmt.Errorf("relay %d: the previous daemon's unit did not stop: %w", r.Index, ctx.Err())
		}
	}
	if err := os.Remove(r.ReadyFile); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	r.starts++
	name := fmt.Sprintf("relayd-%d", r.starts)
	p, err := startProcess(r.Dir, name, f.Namespace(r.Node), []string{f.fopts.RelaydBinary, "--config", r.ConfigPath, "--ready-file", r.ReadyFile})
	if err != nil {
		return err
	}
	f.addProcess(p)
	stopped := make(chan struct{})
	r.mu.Lock()
	r.relayd, r.unitStopped = p, stopped
	r.mu.Unlock()
	f.units.Go(func() { r.announceUnit(p, stopped) })
	f.logf("started teredo-relayd %d in %s (pid %d)", r.Index, f.Namespace(r.Node), p.cmd.Process.Pid)
	err = waitFor(ctx, 30*time.Second, fmt.Sprintf("teredo-relayd %d ready", r.Index), func() (bool, error) {
		if p.exited() {
			return false, fmt.Errorf("teredo-relayd %d exited: %v\n%s", r.Index, p.err, p.logTail(3000))
		}
		return fileExists(r.ReadyFile)
	})
	return err
}

// announceUnit emulates teredo-announce.service (BindsTo=teredo-relayd):
// when the daemon's process ends, for whatever reason, its ExecStop=, the
// shipped teredo-announce-withdraw, runs against this relay's BIRD.
// Nothing runs while the box is "down" or the lab is torn down.
func (r *FleetRelay) announceUnit(p *process, stopped chan struct{}) {
	defer close(stopped)
	<-p.done
	if r.boxDown.Load() || r.f.closing.Load() {
		return
	}
	cmd := exec.Command(r.f.fopts.WithdrawScript)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "INCLUDE_FILE=" + r.Include, "BIRD_SOCKET=" + r.BirdSocket}
	out, err := cmd.CombinedOutput()
	logf := filepath.Join(r.Dir, fleetWithdraw+".log")
	if lf, ferr := os.OpenFile(logf, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644); ferr == nil {
		fmt.Fprintf(lf, "%s: exit %v: %s\n", time.Now().Format(time.RFC3339Nano), err, out)
		lf.Close()
	}
}

// KillRelayd sends SIGKILL to the daemon (a crash) and returns when it
// was sent; the emulated unit then withdraws the route.
func (r *FleetRelay) KillRelayd() time.Time {
	r.mu.Lock()
	p := r.relayd
	r.mu.Unlock()
	at := time.Now()
	syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	<-p.done
	return at
}

// UnitStopped returns a channel closed once the emulated
// teredo-announce.service of the current daemon has stopped.
func (r *FleetRelay) UnitStopped() <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.unitStopped
}

// PowerOff emulates a box that dies at once: its IX port goes silent (the
// router's bridge port to it goes down, so no TCP reset or BFD "down"
// leaves the box; the relay's own interface stays up with its addresses,
// which Linux would flush on an administrative down) and every process in
// it is killed. Nothing withdraws the route: the router must notice (BFD).
// It returns when the port went down.
func (r *FleetRelay) PowerOff() (time.Time, error) {
	r.boxDown.Store(true)
	at := time.Now()
	if err := r.f.ipIn(Core, "link", "set", fleetCoreRelayIf(r.Index), "down"); err != nil {
		return at, err
	}
	r.mu.Lock()
	procs := []*process{r.relayd, r.bird}
	r.mu.Unlock()
	for _, p := range procs {
		if p != nil {
			syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
			<-p.done
		}
	}
	return at, nil
}

// PowerOn brings a powered-off box back: link up, BIRD, then the daemon.
func (r *FleetRelay) PowerOn(ctx context.Context) error {
	<-r.UnitStopped()
	r.boxDown.Store(false)
	if err := r.f.ipIn(Core, "link", "set", fleetCoreRelayIf(r.Index), "up"); err != nil {
		return err
	}
	// The daemon's last announcement is still in the include file: BIRD
	// must boot withdrawn (the tmpfiles entry does this at boot).
	if err := os.WriteFile(r.Include, withdrawnInclude, 0o644); err != nil {
		return err
	}
	if err := r.StartBird(); err != nil {
		return err
	}
	return r.StartRelayd(ctx)
}

// Log returns the log of the relay's current daemon.
func (r *FleetRelay) Log() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.relayd == nil {
		return ""
	}
	return r.relayd.logTail(6000)
}

// NextHops returns the gateways of the router's kernel route to
// 2001::/32 (none when it has no such route).
func (f *Fleet) NextHops() ([]netip.Addr, error) {
	ns, err := netns.GetFromName(f.Namespace(Core))
	if err != nil {
		return nil, fmt.Errorf("open router namespace: %w", err)
	}
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("netlink in the router namespace: %w", err)
	}
	defer h.Close()
	return nextHops(h)
}

func nextHops(h *netlink.Handle) ([]netip.Addr, error) {
	dst := TeredoPrefix
	routes, err := h.RouteListFiltered(netlink.FAMILY_V6, &netlink.Route{Dst: prefixIPNet(dst)}, netlink.RT_FILTER_DST)
	if err != nil {
		return nil, fmt.Errorf("list routes: %w", err)
	}
	var out []netip.Addr
	for _, rt := range routes {
		if rt.Gw != nil {
			if a, ok := netip.AddrFromSlice(rt.Gw); ok {
				out = append(out, a)
			}
		}
		for _, nh := range rt.MultiPath {
			if a, ok := netip.AddrFromSlice(nh.Gw); ok {
				out = append(out, a)
			}
		}
	}
	slices.SortFunc(out, func(a, b netip.Addr) int { return a.Compare(b) })
	return out, nil
}

// prefixIPNet converts p for netlink.
func prefixIPNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

// WaitNextHops polls the router's route to 2001::/32 (every 2 ms) until its
// gateways are exactly want, and returns when that was first seen.
func (f *Fleet) WaitNextHops(ctx context.Context, timeout time.Duration, want []netip.Addr) (time.Time, error) {
	want = slices.Clone(want)
	slices.SortFunc(want, func(a, b netip.Addr) int { return a.Compare(b) })
	ns, err := netns.GetFromName(f.Namespace(Core))
	if err != nil {
		return time.Time{}, fmt.Errorf("open router namespace: %w", err)
	}
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
	if err != nil {
		return time.Time{}, fmt.Errorf("netlink in the router namespace: %w", err)
	}
	defer h.Close()
	deadline := time.Now().Add(timeout)
	var got []netip.Addr
	for {
		got, err = nextHops(h)
		now := time.Now()
		if err == nil && slices.Equal(got, want) {
			return now, nil
		}
		if now.After(deadline) {
			out, _ := exec.Command("birdc", "-s", f.dir+"/router-bird.ctl", "show", "protocols").CombinedOutput()
			return time.Time{}, fmt.Errorf("router's next hops for 2001::/32 are %v after %v, want %v (%v)\nrouter BIRD:\n%s", got, timeout, want, err, out)
		}
		select {
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		case <-time.After(2 * time.Millisecond):
		}
	}
}
