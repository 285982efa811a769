//go:build linux

package lab

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/teredorelay/teredorelay/client"
)

// intranetHost is a TCP listener on the NAT box's inside address: a host
// reachable only inside the organisation (the client's LAN), never from the
// Teredo server's side of the NAT. It counts the connections it accepts.
type intranetHost struct {
	l        *Lab
	addr     netip.AddrPort
	ln       net.Listener // nil while closed
	accepted atomic.Int64
}

// newIntranetHost starts the listener; it is closed when t ends.
func newIntranetHost(t *testing.T, l *Lab, addr netip.AddrPort) *intranetHost {
	h := &intranetHost{l: l, addr: addr}
	t.Cleanup(func() {
		if h.ln != nil {
			h.ln.Close()
		}
	})
	h.open(t)
	return h
}

func (h *intranetHost) open(t *testing.T) {
	t.Helper()
	var ln net.Listener
	err := h.l.Do(NAT, func() error {
		var err error
		ln, err = net.Listen("tcp", h.addr.String())
		return err
	})
	if err != nil {
		t.Fatalf("intranet host %v: %v", h.addr, err)
	}
	h.ln = ln
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			h.accepted.Add(1)
			c.Close()
		}
	}()
}

func (h *intranetHost) close(t *testing.T) {
	t.Helper()
	if err := h.ln.Close(); err != nil {
		t.Fatal(err)
	}
	h.ln = nil
}

// assertManagedOffline checks that a plain client on the managed network is
// disabled everywhere an operator looks: the state, `show state`, the
// metrics (qualifications as many as before: qualified), the interface and
// the default route.
func assertManagedOffline(t *testing.T, l *Lab, c *tclient, qualified float64) {
	t.Helper()
	s := c.state(t)
	if s.State != client.StateOffline || s.Network != "managed" || s.Error != "client is in a managed network" ||
		s.Type != client.TypeClient || s.Address.IsValid() {
		t.Errorf("plain client on a managed network: %+v", s)
	}
	if a := c.addressOnInterface(t, l); a.IsValid() {
		t.Errorf("disabled client has %v on its interface", a)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := l.Exec(ctx, c.node, "ip", "-6", "route", "show", "default")
	if err != nil || strings.Contains(string(out), ClientInterface) {
		t.Errorf("default route through the tunnel of a disabled client: %q %v", out, err)
	}
	out, err = l.Exec(ctx, c.node, clientBinary(t), "show", "state", "--socket", c.socket)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Type                    : client\n", "State                   : offline\n",
		"Error                   : client is in a managed network\n", "Network                 : managed\n", "Teredo Address          : -\n"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("show state lacks %q:\n%s", want, out)
		}
	}
	m := scrapeClient(t, l, c.node)
	if m["teredo_client_network_managed"] != 1 || m[`teredo_client_state{state="offline"}`] != 1 ||
		m[`teredo_client_qualifications_total{result="success"}`] != qualified {
		t.Errorf("metrics of a disabled client: network_managed %v, offline %v, qualifications %v", m["teredo_client_network_managed"],
			m[`teredo_client_state{state="offline"}`], m[`teredo_client_qualifications_total{result="success"}`])
	}
}

// TestClientDaemonManagedNetwork: the managed-network detection. The
// client's LAN has an intranet host (a TCP listener on the NAT box's inside
// address), configured with --managed-probe. A plain client there disables
// itself (offline, no address, no route, not one datagram to the Teredo
// server) and says so in its state, `show state` and metrics; when the
// intranet host stops answering (the laptop left the organisation) the
// network is unmanaged and it qualifies and carries traffic, until the host
// answers again. An enterprise client on the managed network qualifies and
// carries traffic.
func TestClientDaemonManagedNetwork(t *testing.T) {
	clientBinary(t)
	l := startLab(t, Options{Relay: RelayMiredo})
	requireDefaultOffloads(t, l)
	intranet := newIntranetHost(t, l, netip.AddrPortFrom(NATInside, 8443))
	managed := []string{"--managed-probe", intranet.addr.String(), "--managed-interval", "2s", "--managed-timeout", "500ms", "--idle-timeout", "0"}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// Watch the NAT's outside for the client's Teredo traffic while it is
	// disabled (the lab's Miredo client is stopped first).
	if p := l.procNamed("client"); p != nil {
		if err := p.stop(syscall.SIGTERM, 3*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	capt, err := l.StartCapture(ctx, Core, coreNAT, "udp")
	if err != nil {
		t.Fatal(err)
	}
	c := startOurClient(t, l, Client, "tclient-managed", managed...)
	c.waitState(t, 10*time.Second, "network managed", func(s client.Snapshot) bool { return s.Network == "managed" })
	// Two more detection rounds: it stays disabled.
	time.Sleep(4500 * time.Millisecond)
	assertManagedOffline(t, l, c, 0)
	frames, err := capt.Stop()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range frames {
		if u, err := DecodeUDP4(f.Data); err == nil && u.Src.Addr() == NATOutside {
			t.Errorf("a disabled client sent %v -> %v (%d bytes)", u.Src, u.Dst, len(u.Payload))
		}
	}
	if n := intranet.accepted.Load(); n < 3 {
		t.Errorf("the intranet host saw %d probes in 3 detection rounds", n)
	}

	t.Run("unmanaged", func(t *testing.T) {
		// The intranet host goes away (the probe is refused): unmanaged.
		intranet.close(t)
		s := c.waitState(t, 10*time.Second, "qualified on the unmanaged network", func(s client.Snapshot) bool {
			return s.State == client.StateQualified
		})
		if s.Network != "unmanaged" || s.Error != "" || c.addressOnInterface(t, l) != s.Address {
			t.Errorf("after leaving the organisation: %+v", s)
		}
		dataPlane(t, l, Client, s.Address, false)
		out, err := l.Exec(ctx, Client, clientBinary(t), "show", "state", "--socket", c.socket)
		if err != nil || !strings.Contains(string(out), "Network                 : unmanaged\n") || !strings.Contains(string(out), "State                   : qualified\n") {
			t.Errorf("show state on the unmanaged network (%v):\n%s", err, out)
		}
		if m := scrapeClient(t, l, Client); m["teredo_client_network_managed"] != 0 || m[`teredo_client_state{state="qualified"}`] != 1 {
			t.Errorf("metrics on the unmanaged network: network_managed %v, qualified %v", m["teredo_client_network_managed"], m[`teredo_client_state{state="qualified"}`])
		}
		// Back inside: the next detection round disables it again.
		intranet.open(t)
		c.waitState(t, 10*time.Second, "disabled again on the managed network", func(s client.Snapshot) bool {
			return s.State == client.StateOffline && s.Network == "managed"
		})
		assertManagedOffline(t, l, c, 1)
	})

	t.Run("enterprise-client", func(t *testing.T) {
		if intranet.ln == nil { // the subtest before failed while it was closed
			intranet.open(t)
		}
		if err := c.p.stop(syscall.SIGTERM, 3*time.Second); err != nil {
			t.Fatal(err)
		}
		e := startOurClient(t, l, Client, "tclient-enterprise", append([]string{"--type", "enterprise-client"}, managed...)...)
		s := e.waitState(t, 20*time.Second, "enterprise client qualified on the managed network", func(s client.Snapshot) bool {
			return s.State == client.StateQualified
		})
		if s.Network != "managed" || s.Type != client.TypeEnterpriseClient || s.ExternalMapping.Addr() != NATOutside || e.addressOnInterface(t, l) != s.Address {
			t.Errorf("enterprise client: %+v", s)
		}
		dataPlane(t, l, Client, s.Address, false)
		out, err := l.Exec(ctx, Client, clientBinary(t), "show", "state", "--socket", e.socket)
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"Type                    : enterprise-client\n", "State                   : qualified\n", "Network                 : managed\n"} {
			if !strings.Contains(string(out), want) {
				t.Errorf("show state lacks %q:\n%s", want, out)
			}
		}
		if m := scrapeClient(t, l, Client); m["teredo_client_network_managed"] != 1 || m[`teredo_client_state{state="qualified"}`] != 1 {
			t.Errorf("metrics of the enterprise client: network_managed %v, qualified %v", m["teredo_client_network_managed"], m[`teredo_client_state{state="qualified"}`])
		}
	})
}
