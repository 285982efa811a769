//go:build linux

package lab

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/teredorelay/teredorelay/client"
	"github.com/teredorelay/teredorelay/client/clientd"
	"github.com/teredorelay/teredorelay/internal/testenv"
)

// The proofs of teredo-client, this project's Teredo client daemon, in the
// namespace lab: it replaces the lab's Miredo client behind the lab's
// iptables NAT and qualifies with Miredo's server or ours, reaches the native
// host through Miredo's relay or ours, and a second NAT with a second client
// shows two of our clients talking directly. Every veth runs at its default
// offloads (TX checksum offload, TSO and GSO on), as users' veths do: each
// test checks that before it starts a client.

var clientBuild struct {
	once     sync.Once
	dir, bin string
	err      error
}

func clientBinary(t *testing.T) string {
	t.Helper()
	requireLab(t)
	testenv.RequireBinary(t, "iperf3", "promtool", "curl")
	clientBuild.once.Do(func() {
		clientBuild.dir, clientBuild.err = os.MkdirTemp("", "tlab-client-")
		if clientBuild.err != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		clientBuild.bin, clientBuild.err = BuildCommand(ctx, "..", "./cmd/teredo-client", clientBuild.dir)
	})
	if clientBuild.err != nil {
		t.Fatalf("build teredo-client: %v", clientBuild.err)
	}
	return clientBuild.bin
}

// requireDefaultOffloads fails the test unless every veth of the lab's
// namespaces (and of nodes) runs with TX checksum offload on, the default a
// user's veths have: the client's data then crosses as GSO super-frames with
// partial checksums, which a relay must complete.
func requireDefaultOffloads(t *testing.T, l *Lab, nodes ...Node) {
	t.Helper()
	for _, n := range append(append([]Node{}, Nodes...), nodes...) {
		err := l.Do(n, func() error {
			links, err := netlink.LinkList()
			if err != nil {
				return err
			}
			for _, link := range links {
				if link.Type() != "veth" {
					continue
				}
				if on, err := ethtoolValueIoctl(link.Attrs().Name, ethtoolGTXCSUM, 0); err != nil || on == 0 {
					return fmt.Errorf("%s: tx checksum offload is %d, want on (%v)", link.Attrs().Name, on, err)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatalf("offloads in %s: %v", n, err)
		}
	}
}

// tclient is one running teredo-client.
type tclient struct {
	node   Node
	p      *process
	socket string
}

// startOurClient stops the Miredo client of node (if any) and starts
// teredo-client there with the lab's server; extra flags are appended.
func startOurClient(t *testing.T, l *Lab, node Node, name string, extra ...string) *tclient {
	t.Helper()
	if p := l.procNamed("client"); p != nil && node == Client {
		if err := p.stop(syscall.SIGTERM, 3*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	c := &tclient{node: node, socket: l.dir + "/" + name + ".sock"}
	argv := append([]string{clientBinary(t), "run", "--server", ServerIPv4.String(), "--interface", ClientInterface,
		"--control-socket", c.socket, "--metrics-listen", "127.0.0.1:9543", "--log-level", "debug"}, extra...)
	p, err := startProcess(l.dir, name, l.Namespace(node), argv)
	if err != nil {
		t.Fatal(err)
	}
	l.addProcess(p)
	c.p = p
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("--- %s log ---\n%s", name, p.logTail(8000))
		}
	})
	return c
}

func (c *tclient) state(t *testing.T) client.Snapshot {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	s, err := clientd.FetchState(ctx, c.socket)
	if err != nil {
		t.Fatalf("show state of %s: %v", c.node, err)
	}
	return s
}

// waitState polls the client until cond holds.
func (c *tclient) waitState(t *testing.T, timeout time.Duration, what string, cond func(s client.Snapshot) bool) client.Snapshot {
	t.Helper()
	var s client.Snapshot
	err := waitFor(context.Background(), timeout, what, func() (bool, error) {
		if c.p.exited() {
			return false, fmt.Errorf("teredo-client exited: %v\n%s", c.p.err, c.p.logTail(3000))
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		var err error
		s, err = clientd.FetchState(ctx, c.socket)
		return err == nil && cond(s), nil
	})
	if err != nil {
		t.Fatalf("%v (last state %+v)", err, s)
	}
	return s
}

// addressOnInterface is the Teredo address the kernel has on the client's
// TUN device.
func (c *tclient) addressOnInterface(t *testing.T, l *Lab) netip.Addr {
	t.Helper()
	var a netip.Addr
	if err := l.Do(c.node, func() error {
		var err error
		a, err = teredoAddrOn(ClientInterface)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return a
}

// qualifiedDormant waits for the first qualification: dormant, with the
// address on the interface, behind the lab's NAT.
func qualifiedDormant(t *testing.T, l *Lab, c *tclient, natOutside netip.Addr) client.Snapshot {
	t.Helper()
	s := c.waitState(t, 20*time.Second, "teredo-client dormant", func(s client.Snapshot) bool { return s.State == client.StateDormant })
	if !ClientPrefix.Contains(s.Address) || s.ExternalMapping.Addr() != natOutside || s.Server != ServerIPv4 ||
		s.Network != "unknown" || s.Type != client.TypeClient || s.MTU != 1280 {
		t.Fatalf("state %+v", s)
	}
	if got := c.addressOnInterface(t, l); got != s.Address {
		t.Fatalf("interface has %v, state says %v", got, s.Address)
	}
	if _, mapped, _ := TeredoMapping(s.Address); mapped != s.ExternalMapping {
		t.Errorf("address %v embeds %v, external mapping %v", s.Address, mapped, s.ExternalMapping)
	}
	return s
}

// firstPacket: dormant -> qualified on the host's first IPv6 packet, which
// arrives.
func firstPacket(t *testing.T, l *Lab, c *tclient) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	res, err := l.Ping6(ctx, c.node, l.NativeAddr(), 1)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("first packet from dormant:\n%s", res)
	if res.Received() != 1 {
		t.Fatalf("the first packet from a dormant client was not answered: %v", res)
	}
	s := c.state(t)
	if s.State != client.StateQualified || len(s.Relays) != 1 || s.Relays[0].Relay != netip.AddrPortFrom(RelayIPv4, TeredoPort) {
		t.Errorf("after the first packet: state %v relays %v", s.State, s.Relays)
	}
}

// dataPlane: pings both ways and 10 MiB of TCP both ways with SHA-256.
func dataPlane(t *testing.T, l *Lab, node Node, addr netip.Addr, tcp bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	for _, dir := range []struct {
		from Node
		dst  netip.Addr
	}{{node, l.NativeAddr()}, {Native, addr}} {
		res, err := l.Ping6(ctx, dir.from, dir.dst, 5)
		if err != nil {
			t.Fatalf("ping %s -> %v: %v", dir.from, dir.dst, err)
		}
		t.Logf("%s -> %v:\n%s", dir.from, dir.dst, res)
		assertPing(t, res, dir.dst)
	}
	if !tcp {
		return
	}
	for _, dir := range []struct {
		from, to Node
		dst      netip.Addr
	}{{node, Native, l.NativeAddr()}, {Native, node, addr}} {
		tr, err := l.TCPTransfer(ctx, dir.from, dir.to, dir.dst, transferSize)
		if err != nil {
			t.Fatalf("tcp %s -> %s: %v (%v)", dir.from, dir.to, err, tr)
		}
		t.Logf("tcp %v", tr)
		if tr.Received != transferSize || !tr.Intact() {
			t.Errorf("tcp %s -> %s not intact: %v", dir.from, dir.to, tr)
		}
	}
}

// showStateText runs `teredo-client show state` and checks its netsh-like
// lines, and the JSON form.
func showStateText(t *testing.T, l *Lab, c *tclient) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := l.Exec(ctx, c.node, clientBinary(t), "show", "state", "--socket", c.socket)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("teredo-client show state:\n%s", out)
	for _, want := range []string{"Type                    : client", "State                   : qualified",
		"Network                 : unknown", "NAT                     : port-restricted", "External NAT Mapping    : " + NATOutside.String() + ":",
		"Local Mapping           : " + ClientIPv4.String() + ":", netip.AddrPortFrom(RelayIPv4, TeredoPort).String(), l.NativeAddr().String()} {
		if !strings.Contains(string(out), want) {
			t.Errorf("show state lacks %q", want)
		}
	}
	out, err = l.Exec(ctx, c.node, clientBinary(t), "show", "state", "--socket", c.socket, "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var s struct {
		State, NAT string
		Peers      []json.RawMessage
	}
	if err := json.Unmarshal(out, &s); err != nil || s.State != "qualified" || s.NAT != "port-restricted" || len(s.Peers) == 0 {
		t.Errorf("show state -o json: %v %+v\n%s", err, s, out)
	}
}

// scrapeClient checks the client's metrics with promtool and returns them.
func scrapeClient(t *testing.T, l *Lab, node Node) map[string]float64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := l.Exec(ctx, node, "curl", "-sf", "http://127.0.0.1:9543/metrics")
	if err != nil {
		t.Fatal(err)
	}
	check := l.Command(ctx, node, "promtool", "check", "metrics")
	check.Stdin = strings.NewReader(string(out))
	if msg, err := check.CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, msg)
	}
	return parseMetrics(string(out))
}

// iperf3Run measures TCP throughput from node to the native host for 3 s,
// and back with -R, and returns the receivers' rates in Mbit/s.
func iperf3Run(t *testing.T, l *Lab, node Node) (up, down float64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	for i, rev := range []bool{false, true} {
		srv := l.Command(ctx, Native, "iperf3", "-s", "-1", "-B", l.NativeAddr().String(), "-p", "5201")
		if err := srv.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(300 * time.Millisecond)
		args := []string{"iperf3", "-c", l.NativeAddr().String(), "-p", "5201", "-t", "3", "-J"}
		if rev {
			args = append(args, "-R")
		}
		out, err := l.Command(ctx, node, args...).Output()
		srv.Wait()
		if err != nil {
			t.Fatalf("iperf3 %v: %v\n%s", args, err, out)
		}
		var r struct {
			End struct {
				SumReceived struct {
					BitsPerSecond float64 `json:"bits_per_second"`
				} `json:"sum_received"`
			} `json:"end"`
		}
		if err := json.Unmarshal(out, &r); err != nil {
			t.Fatalf("iperf3 JSON: %v", err)
		}
		if i == 0 {
			up = r.End.SumReceived.BitsPerSecond / 1e6
		} else {
			down = r.End.SumReceived.BitsPerSecond / 1e6
		}
	}
	return up, down
}

// TestClientDaemonMiredo: teredo-client with Miredo's server and relay.
// It qualifies, goes dormant -> qualified on its first packet, pings and
// moves 10 MiB of TCP each way; show state and the metrics tell the truth;
// iperf3 compares it with Miredo's client in the same lab.
func TestClientDaemonMiredo(t *testing.T) {
	clientBinary(t)
	l := startLab(t, Options{Relay: RelayMiredo})
	requireDefaultOffloads(t, l)
	miredoUp, miredoDown := iperf3Run(t, l, Client)
	c := startOurClient(t, l, Client, "tclient")
	qualifiedDormant(t, l, c, NATOutside)
	firstPacket(t, l, c)
	s := c.waitState(t, 30*time.Second, "NAT type from the filtering probe", func(s client.Snapshot) bool { return s.NAT == client.NATPortRestricted })
	dataPlane(t, l, Client, s.Address, true)
	showStateText(t, l, c)
	m := scrapeClient(t, l, Client)
	for _, k := range []string{`teredo_client_state{state="qualified"}`, `teredo_client_activations_total`, `teredo_client_nat{type="port-restricted"}`,
		`teredo_client_connectivity_tests_total{result="relay_found"}`, `teredo_client_bubbles_sent_total{kind="reply"}`} {
		if m[k] < 1 {
			t.Errorf("metric %s = %v", k, m[k])
		}
	}
	if m[`teredo_client_packets_total{direction="to_host"}`] < 1000 || m[`teredo_client_packets_total{direction="from_host"}`] < 1000 {
		t.Errorf("packet counters %v %v", m[`teredo_client_packets_total{direction="to_host"}`], m[`teredo_client_packets_total{direction="from_host"}`])
	}
	up, down := iperf3Run(t, l, Client)
	t.Logf("iperf3 through Miredo's relay, 3 s TCP each way (Mbit/s, receiver side): Miredo client up %.0f down %.0f; teredo-client up %.0f down %.0f",
		miredoUp, miredoDown, up, down)
	if os.Getenv("TEREDO_CLIENT_IPERF_REPORT") != "" {
		os.WriteFile(os.Getenv("TEREDO_CLIENT_IPERF_REPORT"), []byte(fmt.Sprintf("miredo_up %.1f\nmiredo_down %.1f\nours_up %.1f\nours_down %.1f\n",
			miredoUp, miredoDown, up, down)), 0o644)
	}
}

// TestClientDaemonMaintenance: refreshes keep the mapping, a new NAT public
// address gives a new Teredo address, cutting the server off sends the
// client offline (address and routes gone) and it comes back; then behind
// SNAT --random-fully (a symmetric NAT) it still reaches the native host
// through Miredo's relay, which accepts its cookie-bubble from any mapping.
func TestClientDaemonMaintenance(t *testing.T) {
	clientBinary(t)
	l := startLab(t, Options{Relay: RelayMiredo})
	requireDefaultOffloads(t, l)
	c := startOurClient(t, l, Client, "tclient", "--idle-timeout", "0", "--refresh-interval", "4s",
		"--qualify-timeout", "1s", "--qualify-retries", "2", "--offline-retry", "2s")
	s := c.waitState(t, 20*time.Second, "qualified at once (--idle-timeout 0)", func(s client.Snapshot) bool { return s.State == client.StateQualified })
	dataPlane(t, l, Client, s.Address, false)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	t.Run("mapping change", func(t *testing.T) {
		old := c.state(t).Address
		newPublic := NATOutside.Next()
		if _, err := l.Exec(ctx, NAT, "ip", "addr", "add", pfx(newPublic, NATOutsideBits), "dev", NATOutsideIface); err != nil {
			t.Fatal(err)
		}
		if err := l.SetNATSource(ctx, newPublic); err != nil {
			t.Fatal(err)
		}
		s := c.waitState(t, 20*time.Second, "a new address after the refresh", func(s client.Snapshot) bool {
			return s.Address.IsValid() && s.Address != old
		})
		if s.ExternalMapping.Addr() != newPublic || c.addressOnInterface(t, l) != s.Address || s.State != client.StateQualified {
			t.Fatalf("after the NAT's address changed: %+v", s)
		}
		t.Logf("new address %v (was %v)", s.Address, old)
		dataPlane(t, l, Client, s.Address, false)
		if m := scrapeClient(t, l, Client); m["teredo_client_address_changes_total"] != 1 {
			t.Errorf("address changes %v", m["teredo_client_address_changes_total"])
		}
	})

	t.Run("offline and back", func(t *testing.T) {
		block := []string{"iptables", "-w", "-I", "FORWARD", "-d", "192.0.2.0/24", "-j", "DROP"}
		if _, err := l.Exec(ctx, NAT, block...); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		s := c.waitState(t, 30*time.Second, "offline after the server is cut off", func(s client.Snapshot) bool { return s.State == client.StateOffline })
		t.Logf("offline after %v: %s", time.Since(start).Round(time.Millisecond), s.Error)
		if a := c.addressOnInterface(t, l); a.IsValid() || s.Address.IsValid() {
			t.Errorf("offline client keeps %v / %v", a, s.Address)
		}
		out, _ := l.Exec(ctx, Client, "ip", "-6", "route", "show", "default")
		if strings.Contains(string(out), ClientInterface) {
			t.Errorf("default route through the tunnel while offline: %s", out)
		}
		if m := scrapeClient(t, l, Client); m[`teredo_client_state{state="offline"}`] != 1 || m["teredo_client_server_failovers_total"] < 1 {
			t.Errorf("offline metrics: state %v failovers %v", m[`teredo_client_state{state="offline"}`], m["teredo_client_server_failovers_total"])
		}
		block[2] = "-D"
		if _, err := l.Exec(ctx, NAT, block...); err != nil {
			t.Fatal(err)
		}
		s = c.waitState(t, 20*time.Second, "qualified again", func(s client.Snapshot) bool { return s.State == client.StateQualified })
		dataPlane(t, l, Client, s.Address, false)
	})

	t.Run("random-fully", func(t *testing.T) {
		randomFully(t, l)
		// Restart the client: it qualifies behind the symmetric NAT.
		if err := c.p.stop(syscall.SIGTERM, 3*time.Second); err != nil {
			t.Fatal(err)
		}
		c = startOurClient(t, l, Client, "tclient-sym", "--idle-timeout", "0")
		s := c.waitState(t, 40*time.Second, "symmetric NAT detected", func(s client.Snapshot) bool {
			return s.State == client.StateQualified && s.NAT == client.NATSymmetric
		})
		if s.ExternalMapping.Addr() != NATOutside {
			t.Errorf("state %+v", s)
		}
		dataPlane(t, l, Client, s.Address, true)
	})
}

// parseMetrics reads a Prometheus text exposition into "name{labels}" ->
// value.
func parseMetrics(text string) map[string]float64 {
	m := map[string]float64{}
	for _, line := range strings.Split(text, "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		var v float64
		if _, err := fmt.Sscan(line[i+1:], &v); err == nil {
			m[line[:i]] = v
		}
	}
	return m
}

// TestClientDaemonOurServerAndRelay: teredo-client qualifies against
// teredo-relayd's server role and reaches the native host through
// teredo-relayd's relay at default veth offloads: pings both ways and 10 MiB
// of TCP each way with identical SHA-256 (the relay completes the partial
// checksums of the GSO frames the client's veth hands over).
func TestClientDaemonOurServerAndRelay(t *testing.T) {
	bin := relaydBinary(t)
	clientBinary(t)
	l := startLab(t, Options{Relay: RelayTeredod, RelaydBinary: bin})
	useOurServer(t, l, bin, false) // restarts the Miredo client against our server
	requireDefaultOffloads(t, l)
	c := startOurClient(t, l, Client, "tclient")
	qualifiedDormant(t, l, c, NATOutside)
	firstPacket(t, l, c)
	dataPlane(t, l, Client, c.state(t).Address, true)
	relayCompletedChecksums(t, l)
	if !l.RelayRunning() {
		t.Errorf("teredo-relayd (relay) exited:\n%s", l.ProcessLog("relay"))
	}
}

// relayCompletedChecksums checks that teredo-relayd completed the partial
// checksums of the native host's TCP segments to the client (10 MiB at
// default offloads: thousands of segments).
func relayCompletedChecksums(t *testing.T, l *Lab) {
	t.Helper()
	if n := relaydMetrics(t, l)["teredo_relay_encap_checksums_completed_total"]; n < 1000 {
		t.Errorf("teredo-relayd completed %v checksums, want the native host's TCP segments to the client (>= 1000)", n)
	} else {
		t.Logf("teredo-relayd completed %v partial checksums", n)
	}
}

// randomFully makes the lab's NAT a symmetric one: SNAT --random-fully picks
// a new port for every destination.
func randomFully(t *testing.T, l *Lab) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := l.SetNATSource(ctx, NATOutside, "--random-fully"); err != nil {
		t.Fatal(err)
	}
}

// TestClientDaemonSymmetricNATOurRelay: behind SNAT --random-fully the
// client (RFC 6081 symmetric-NAT mode) reaches the native host through
// teredo-relayd in its default configuration, which accepts the client's
// cookie bubble from another mapping than its address embeds
// (accept_symmetric_nat defaults to true): pings both ways and 10 MiB of TCP
// each way at default veth offloads.
func TestClientDaemonSymmetricNATOurRelay(t *testing.T) {
	bin := relaydBinary(t)
	clientBinary(t)
	l := startLab(t, Options{Relay: RelayTeredod, RelaydBinary: bin})
	requireDefaultOffloads(t, l)
	randomFully(t, l)
	c := startOurClient(t, l, Client, "tclient", "--idle-timeout", "0")
	s := c.waitState(t, 40*time.Second, "qualified behind a symmetric NAT", func(s client.Snapshot) bool {
		return s.State == client.StateQualified && s.NAT == client.NATSymmetric
	})
	dataPlane(t, l, Client, s.Address, true)
	relayCompletedChecksums(t, l)
	// The relay serves the client at the mapping its NAT chose towards the
	// relay, not the one the address embeds (towards the server).
	_, embedded, _ := TeredoMapping(s.Address)
	if p := relPeer(t, l, s.Address); p == nil || p.State != "trusted" || !p.MappingDiffers || p.ObservedMapping == embedded || p.ObservedMapping.Addr() != NATOutside {
		t.Errorf("relay's entry for %v: %+v; want trusted at another port of %v than %v", s.Address, p, NATOutside, embedded)
	}
}

// A second home network: NAT box Nat2 (outside 203.0.113.200/31, a more
// specific route on the core than the attacker's /25) and behind it Client2
// on the same private LAN numbers as Client, as two homes would have.
const (
	Nat2    Node = "nat2"
	Client2 Node = "client2"
)

var (
	nat2Outside = netip.MustParseAddr("203.0.113.200")
	nat2Gateway = netip.MustParseAddr("203.0.113.201")
)

// addSecondSite builds Nat2 and Client2 in the lab's namespace space (named
// after the lab's id, so the lab's stale-namespace sweep covers them) and
// deletes them when t ends.
func addSecondSite(t *testing.T, l *Lab) {
	t.Helper()
	for _, n := range []Node{Nat2, Client2} {
		if err := l.ip("netns", "add", l.Namespace(n)); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			killNamespace(l.Namespace(n))
			l.ip("netns", "del", l.Namespace(n))
		})
		if err := l.sysctl(n, "ipv4/conf/all/rp_filter", "0", "ipv4/conf/default/rp_filter", "0",
			"ipv6/conf/all/accept_dad", "0", "ipv6/conf/default/accept_dad", "0",
			"ipv6/conf/all/accept_ra", "0", "ipv6/conf/default/accept_ra", "0"); err != nil {
			t.Fatal(err)
		}
		if err := l.ipIn(n, "link", "set", "lo", "up"); err != nil {
			t.Fatal(err)
		}
	}
	// veths at default offloads: nothing turned off.
	for _, v := range []struct {
		a     Node
		aName string
		b     Node
		bName string
	}{{Core, "nat20", Nat2, NATOutsideIface}, {Nat2, NATInsideIface, Client2, HostIface}} {
		if err := l.ip("link", "add", v.aName, "netns", l.Namespace(v.a), "type", "veth", "peer", "name", v.bName, "netns", l.Namespace(v.b)); err != nil {
			t.Fatal(err)
		}
		for _, end := range [][2]string{{string(v.a), v.aName}, {string(v.b), v.bName}} {
			if err := l.ipIn(Node(end[0]), "link", "set", end[1], "up"); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, c := range []struct {
		node Node
		args []string
	}{
		{Core, []string{"addr", "add", pfx(nat2Gateway, 31), "dev", "nat20"}},
		{Nat2, []string{"addr", "add", pfx(nat2Outside, 31), "dev", NATOutsideIface}},
		{Nat2, []string{"addr", "add", pfx(NATInside, ClientLAN.Bits()), "dev", NATInsideIface}},
		{Nat2, []string{"route", "add", "default", "via", nat2Gateway.String()}},
		{Client2, []string{"addr", "add", pfx(ClientIPv4, ClientLAN.Bits()), "dev", HostIface}},
		{Client2, []string{"route", "add", "default", "via", NATInside.String()}},
	} {
		if err := l.ipIn(c.node, c.args...); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.sysctl(Nat2, "ipv4/ip_forward", "1"); err != nil {
		t.Fatal(err)
	}
	if err := l.sysctl(Client2, "ipv6/conf/"+HostIface+"/disable_ipv6", "1"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := l.Exec(ctx, Nat2, "iptables", "-w", "-t", "nat", "-A", "POSTROUTING", "-o", NATOutsideIface, "-j", "MASQUERADE"); err != nil {
		t.Fatal(err)
	}
}

// TestClientDaemonPeerToPeer: two teredo-clients behind two MASQUERADE NATs
// reach each other directly: pings both ways and 10 MiB of TCP, with
// nothing on the relay's link (captured) and the data on the wire between
// the two NATs' outside addresses.
func TestClientDaemonPeerToPeer(t *testing.T) {
	clientBinary(t)
	l := startLab(t, Options{Relay: RelayMiredo})
	addSecondSite(t, l)
	requireDefaultOffloads(t, l, Nat2, Client2)
	a := startOurClient(t, l, Client, "tclient-a", "--idle-timeout", "0")
	b := startOurClient(t, l, Client2, "tclient-b", "--idle-timeout", "0")
	sa := a.waitState(t, 30*time.Second, "client A qualified", func(s client.Snapshot) bool { return s.State == client.StateQualified })
	sb := b.waitState(t, 30*time.Second, "client B qualified", func(s client.Snapshot) bool { return s.State == client.StateQualified })
	if sa.ExternalMapping.Addr() != NATOutside || sb.ExternalMapping.Addr() != nat2Outside {
		t.Fatalf("mappings %v and %v", sa.ExternalMapping, sb.ExternalMapping)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	v4relay, _ := l.CoreRelayIfaces()
	relayCap, err := l.StartCapture(ctx, Core, v4relay, "udp")
	if err != nil {
		t.Fatal(err)
	}
	natCap, err := l.StartCapture(ctx, Core, "nat20", "udp")
	if err != nil {
		t.Fatal(err)
	}
	for _, dir := range []struct {
		from Node
		dst  netip.Addr
	}{{Client, sb.Address}, {Client2, sa.Address}} {
		res, err := l.Ping6(ctx, dir.from, dir.dst, 5)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s -> %v:\n%s", dir.from, dir.dst, res)
		assertPing(t, res, dir.dst)
	}
	tr, err := l.TCPTransfer(ctx, Client, Client2, sb.Address, transferSize)
	if err != nil || !tr.Intact() || tr.Received != transferSize {
		t.Fatalf("tcp A -> B: %v %v", err, tr)
	}
	t.Logf("tcp %v", tr)
	relayFrames, err := relayCap.Stop()
	if err != nil {
		t.Fatal(err)
	}
	natFrames, err := natCap.Stop()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range relayFrames {
		if u, err := DecodeUDP4(f.Data); err == nil {
			t.Errorf("relay link carried %v -> %v (%d bytes): the peers' traffic must not cross a relay", u.Src, u.Dst, len(u.Payload))
		}
	}
	direct := 0
	for _, f := range natFrames {
		u, err := DecodeUDP4(f.Data)
		if err != nil {
			continue
		}
		if (u.Src.Addr() == NATOutside && u.Dst.Addr() == nat2Outside) || (u.Src.Addr() == nat2Outside && u.Dst.Addr() == NATOutside) {
			direct++
		}
	}
	if direct < 100 {
		t.Errorf("%d datagrams directly between the NATs, want the pings and the transfer", direct)
	}
	for _, c := range []struct {
		cl   *tclient
		peer netip.Addr
		nat  netip.Addr
	}{{a, sb.Address, nat2Outside}, {b, sa.Address, NATOutside}} {
		s := c.cl.state(t)
		found := false
		for _, p := range s.Peers {
			if p.Address == c.peer {
				found = p.Kind == client.PeerTeredo && p.Trusted && p.Mapping.Addr() == c.nat
			}
		}
		if !found || len(s.Relays) != 0 {
			t.Errorf("%s's peers %+v relays %v: want %v trusted directly at %v", c.cl.node, s.Peers, s.Relays, c.peer, c.nat)
		}
	}
}
