//go:build linux

package lab

import (
	"context"
	"net/netip"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestReliabilityRelayLinkFlap (reliability.md E5, relay side): the relay's
// interface goes down for a second and comes back while the Miredo client
// is a trusted peer. The daemon must survive it without a restart (same
// process, XDP still attached, ready), and traffic must flow both ways
// again once the link and its addresses are back.
func TestReliabilityRelayLinkFlap(t *testing.T) {
	for _, mode := range []Mode{OneArmed, TwoArmed} {
		t.Run(mode.String(), func(t *testing.T) {
			l := relLab(t, mode, "")
			client, native := l.ClientAddr(), l.NativeAddr()
			relPing(t, l, Native, client, 2, 2)
			relPing(t, l, Client, native, 2, 2)
			pid := l.relay.cmd.Process.Pid
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			v4, v6 := l.RelayIfaces()
			ifaces := []string{v4}
			if v6 != v4 {
				ifaces = append(ifaces, v6)
			}
			for _, iface := range ifaces {
				if _, err := l.Exec(ctx, Relay, "ip", "link", "set", iface, "down"); err != nil {
					t.Fatal(err)
				}
			}
			time.Sleep(time.Second)
			for _, iface := range ifaces {
				if _, err := l.Exec(ctx, Relay, "ip", "link", "set", iface, "up"); err != nil {
					t.Fatal(err)
				}
			}
			if out, err := l.Exec(ctx, Relay, "ip", "-6", "route", "show", "default"); err == nil {
				t.Logf("IPv6 default route after the flap, before the host's configuration restores it: %q", strings.TrimSpace(string(out)))
			}
			relRestoreRelayAddressing(t, l)
			if !l.RelayRunning() || l.relay.cmd.Process.Pid != pid {
				t.Fatalf("teredo-relayd did not survive the link flap:\n%s", l.ProcessLog("relay"))
			}
			for _, iface := range ifaces {
				out, err := l.Exec(ctx, Relay, "ip", "link", "show", iface)
				if err != nil {
					t.Fatal(err)
				}
				if !strings.Contains(string(out), "xdp") {
					t.Fatalf("XDP no longer attached to %s after the flap:\n%s", iface, out)
				}
			}
			begin := time.Now()
			relPing(t, l, Native, client, 3, 3)
			relPing(t, l, Client, native, 3, 3)
			t.Logf("both directions answered %v after the link came back", time.Since(begin).Round(time.Millisecond))
			m := relaydMetrics(t, l)
			if m["teredo_relay_ready"] != 1 || m[relTrusted] != 1 {
				t.Fatalf("after the flap: ready %v trusted %v", m["teredo_relay_ready"], m[relTrusted])
			}
			if n := strings.Count(l.ProcessLog("relay"), "level=ERROR"); n > 0 {
				t.Logf("relay log after the flap:\n%s", l.ProcessLog("relay"))
			}
		})
	}
}

// relRestoreRelayAddressing puts back what a link going down removes in the
// relay namespace (IPv6 addresses and the routes through the link), as the
// host's network configuration would: it is idempotent.
func relRestoreRelayAddressing(t *testing.T, l *Lab) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	v4, v6 := l.RelayIfaces()
	for _, argv := range [][]string{
		{"ip", "addr", "replace", pfx(RelayIPv4, RelayIPv4Bits), "dev", v4},
		{"ip", "addr", "replace", pfx(RelayIPv6, 64), "dev", v6, "nodad"},
		{"ip", "route", "replace", "default", "via", RelayGatewayV4.String(), "dev", v4},
		{"ip", "-6", "route", "replace", "default", "via", RelayGatewayV6.String(), "dev", v6},
	} {
		if _, err := l.Exec(ctx, Relay, argv...); err != nil {
			t.Fatal(err)
		}
	}
}

// TestReliabilityIPv6NextHopChange (reliability.md §3 E, neighbour and route
// changes on the IPv6 side): the relay sends IPv6 frames itself, so it must
// follow the kernel's routes and neighbours (package nexthop) as they change:
//
//  1. the default IPv6 route moves to another gateway with another MAC
//     address (a macvlan on the core router); the old gateway is then
//     filtered, and traffic must keep flowing through the new one — the
//     filter's counter proves no packet went to the old MAC;
//  2. the new gateway's MAC address changes and it announces the change with
//     an unsolicited Neighbour Advertisement (ndisc_notify): the relay must
//     use the new MAC;
//  3. the gateway's MAC changes silently (no advertisement, as when a router
//     is replaced by one that does not send unsolicited advertisements):
//     the relay's neighbour entry is STALE with the old MAC, and since the
//     relay's frames bypass the kernel, nothing makes the kernel re-probe
//     it. A kernel router recovers by itself (STALE → DELAY → PROBE on use,
//     about 5 s + 3 × 1 s); the relay must recover within a similar bound
//     (12 s here).
func TestReliabilityIPv6NextHopChange(t *testing.T) {
	l := relLab(t, OneArmed, "")
	client, native := l.ClientAddr(), l.NativeAddr()
	relPing(t, l, Native, client, 2, 2)
	relPing(t, l, Client, native, 2, 2)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	_, coreV6 := l.CoreRelayIfaces()
	_, relayV6 := l.RelayIfaces()
	run := func(node Node, argv ...string) string {
		t.Helper()
		out, err := l.Exec(ctx, node, argv...)
		if err != nil {
			t.Fatal(err)
		}
		return string(out)
	}
	const gw2 = "gw2"
	newGW := RelayGatewayV6.Prev() // 2001:db8:2::fd
	run(Core, "ip", "link", "add", gw2, "link", coreV6, "address", "02:00:00:00:fd:01", "type", "macvlan", "mode", "bridge")
	run(Core, "ip", "addr", "add", pfx(newGW, 64), "dev", gw2, "nodad")
	run(Core, "ip", "link", "set", gw2, "up")
	// From now on IPv6 sent to the old gateway's MAC is not forwarded.
	run(Core, "ip6tables", "-w", "-A", "FORWARD", "-i", coreV6, "-j", "DROP")
	oldGatewayDrops := func() string {
		out := run(Core, "ip6tables", "-w", "-L", "FORWARD", "-v", "-x", "-n")
		for _, line := range strings.Split(out, "\n") {
			if f := strings.Fields(line); len(f) > 3 && f[2] == "DROP" {
				return f[0]
			}
		}
		t.Fatalf("no DROP rule in\n%s", out)
		return ""
	}
	// The filter bites while the relay still routes through the old gateway.
	short, cancelShort := context.WithTimeout(ctx, 1500*time.Millisecond)
	res, _ := l.Ping6(short, Client, native, 1)
	cancelShort()
	if res.Received() != 0 || oldGatewayDrops() == "0" {
		t.Fatalf("the old gateway's filter did not bite: %d replies, %s packets dropped", res.Received(), oldGatewayDrops())
	}

	t.Run("route to another gateway", func(t *testing.T) {
		before := oldGatewayDrops()
		m0 := relaydMetrics(t, l)
		run(Relay, "ip", "-6", "route", "replace", "default", "via", newGW.String(), "dev", relayV6)
		begin := time.Now()
		relPing(t, l, Client, native, 3, 3)
		relPing(t, l, Native, client, 3, 3)
		t.Logf("answered through the new gateway %v after the route change", time.Since(begin).Round(time.Millisecond))
		if after := oldGatewayDrops(); after != before {
			t.Fatalf("%s packets went to the old gateway after the route change (filter counter %s -> %s)", after, before, after)
		}
		m := relaydMetrics(t, l)
		if got := m[relV4ToV6] - m0[relV4ToV6]; got < 6 {
			t.Errorf("v4_to_v6 forwarded grew by %v through the new gateway, want at least the 6 packets of the pings", got)
		}
		if got := m[relDrop("no_route")] - m0[relDrop("no_route")]; got != 0 {
			t.Errorf("%v packets dropped as no_route across the route change", got)
		}
	})

	t.Run("gateway MAC change announced", func(t *testing.T) {
		run(Core, "sysctl", "-qw", "net.ipv6.conf."+gw2+".ndisc_notify=1")
		run(Core, "ip", "link", "set", gw2, "address", "02:00:00:00:fd:02")
		time.Sleep(200 * time.Millisecond)
		t.Logf("relay's neighbour entry: %s", strings.TrimSpace(run(Relay, "ip", "-6", "neigh", "show", newGW.String())))
		relPing(t, l, Client, native, 3, 3)
		relPing(t, l, Native, client, 3, 3)
	})

	t.Run("gateway MAC change silent", func(t *testing.T) {
		run(Core, "sysctl", "-qw", "net.ipv6.conf."+gw2+".ndisc_notify=0")
		run(Core, "ip", "link", "set", gw2, "address", "02:00:00:00:fd:03")
		t.Logf("relay's neighbour entry: %s", strings.TrimSpace(run(Relay, "ip", "-6", "neigh", "show", newGW.String())))
		begin := time.Now()
		deadline := begin.Add(12 * time.Second)
		for {
			short, cancelShort := context.WithTimeout(ctx, time.Second)
			res, _ := l.Ping6(short, Client, native, 1)
			cancelShort()
			if res.Received() == 1 {
				t.Logf("client -> native answered again %v after the silent MAC change", time.Since(begin).Round(time.Millisecond))
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("client -> native still black-holed %v after the gateway's MAC changed silently; relay's neighbour entry: %s",
					time.Since(begin).Round(time.Millisecond), strings.TrimSpace(run(Relay, "ip", "-6", "neigh", "show", newGW.String())))
			}
		}
		relPing(t, l, Native, client, 3, 3)
	})
}

// TestReliabilityNATMappingChange (reliability.md C3): the client's NAT
// changes its public mapping in the middle of a session (the NAT box starts
// using another public address and its connection tracking is flushed, as
// when a carrier-grade NAT reassigns a subscriber).
//
//   - Until the client re-qualifies, its packets arrive from a mapping that
//     its Teredo address does not encode: the relay drops them as
//     mapping_mismatch (RFC 4380 §5.4.2) and does not move the peer to the
//     new mapping on an unauthenticated packet's word.
//   - After re-qualification (Miredo does it on its 30 s refresh; the test
//     makes it happen at once with SIGHUP) the client has a new Teredo
//     address encoding the new mapping; the relay verifies it as a new peer
//     through a bubble and traffic flows both ways, none of it to the old
//     mapping.
func TestReliabilityNATMappingChange(t *testing.T) {
	l := relLab(t, OneArmed, "")
	oldAddr, native := l.ClientAddr(), l.NativeAddr()
	relPing(t, l, Native, oldAddr, 2, 2)
	relPing(t, l, Client, native, 2, 2)
	_, oldMapping, _ := TeredoMapping(oldAddr)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	newPublic := NATOutside.Next() // 203.0.113.2
	if _, err := l.Exec(ctx, NAT, "ip", "addr", "add", pfx(newPublic, NATOutsideBits), "dev", NATOutsideIface); err != nil {
		t.Fatal(err)
	}
	if err := l.SetNATSource(ctx, newPublic); err != nil {
		t.Fatal(err)
	}

	before := relaydMetrics(t, l)
	short, cancelShort := context.WithTimeout(ctx, 1500*time.Millisecond)
	res, _ := l.Ping6(short, Client, native, 2)
	cancelShort()
	m := relWait(t, l, 3*time.Second, "client's packets from the new mapping counted as mapping_mismatch", func(m map[string]float64) bool {
		return m[relDrop("mapping_mismatch")]-before[relDrop("mapping_mismatch")] >= 2
	})
	if res.Received() != 0 || m[relV4ToV6] != before[relV4ToV6] {
		t.Fatalf("packets from the changed mapping were forwarded: %d replies, v4_to_v6 %v -> %v", res.Received(), before[relV4ToV6], m[relV4ToV6])
	}
	if p := relPeer(t, l, oldAddr); p == nil || p.Mapped != oldMapping {
		t.Fatalf("the relay moved the peer on an unauthenticated packet: %+v, want mapping %v", p, oldMapping)
	}

	// Re-qualification.
	v4core, _ := l.CoreRelayIfaces()
	capture := relCapture(t, l, Core, v4core, "udp", "and", "host", oldMapping.Addr().String())
	if err := l.procNamed("client").cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	var newAddr netip.Addr
	err := waitFor(ctx, 15*time.Second, "the Miredo client's new Teredo address", func() (bool, error) {
		err := l.Do(Client, func() error {
			var err error
			newAddr, err = teredoAddrOn(ClientInterface)
			return err
		})
		return newAddr.IsValid() && newAddr != oldAddr, err
	})
	if err != nil {
		t.Fatal(err)
	}
	_, newMapping, _ := TeredoMapping(newAddr)
	t.Logf("client re-qualified: %v (mapping %v) -> %v (mapping %v)", oldAddr, oldMapping, newAddr, newMapping)
	if newMapping.Addr() != newPublic {
		t.Fatalf("new address %v encodes %v, want the new public address %v", newAddr, newMapping, newPublic)
	}
	relPing(t, l, Native, newAddr, 3, 3)
	relPing(t, l, Client, native, 3, 3)
	p := relPeer(t, l, newAddr)
	if p == nil || p.State != "trusted" || p.Mapped != newMapping || p.RxPackets == 0 || p.TxPackets == 0 {
		t.Fatalf("relay's entry for the re-qualified client: %+v, want trusted at %v with traffic", p, newMapping)
	}
	frames, err := capture.Stop()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range frames {
		if u, err := DecodeUDP4(f.Data); err == nil && u.Src.Addr() == RelayIPv4 && u.Dst.Addr() == oldMapping.Addr() {
			t.Errorf("relay sent %d bytes to the old public address %v after the client re-qualified", len(u.Payload), u.Dst)
		}
	}
}
