//go:build linux

package lab

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/teredorelay/teredorelay/client"
	"github.com/teredorelay/teredorelay/client/clientd"
)

// startFleetOurClient is FleetOptions.StartClient for teredo-client: it runs
// the daemon in the Client namespace (qualified at once: --idle-timeout 0)
// and returns its Teredo address once it is on the interface. It returns
// errors rather than failing t, so that StartFleet tears down what it built.
func startFleetOurClient(bin string, c *tclient) func(ctx context.Context, f *Fleet) (netip.Addr, error) {
	return func(ctx context.Context, f *Fleet) (netip.Addr, error) {
		l := f.Lab
		c.node, c.socket = Client, l.dir+"/tclient.sock"
		p, err := startProcess(l.dir, "client", l.Namespace(Client), []string{bin, "run", "--server", ServerIPv4.String(),
			"--interface", ClientInterface, "--control-socket", c.socket, "--metrics-listen", "127.0.0.1:9543", "--idle-timeout", "0"})
		if err != nil {
			return netip.Addr{}, err
		}
		l.addProcess(p)
		c.p = p
		var addr netip.Addr
		err = waitFor(ctx, 20*time.Second, "teredo-client qualified", func() (bool, error) {
			if p.exited() {
				return false, fmt.Errorf("teredo-client exited: %v\n%s", p.err, p.logTail(3000))
			}
			sctx, cancel := context.WithTimeout(ctx, time.Second)
			defer cancel()
			s, err := clientd.FetchState(sctx, c.socket)
			if err != nil || s.State != client.StateQualified {
				return false, nil
			}
			var onIface netip.Addr
			if err := l.Do(Client, func() error {
				var err error
				onIface, err = teredoAddrOn(ClientInterface)
				return err
			}); err != nil || onIface != s.Address {
				return false, err
			}
			addr = s.Address
			return true, nil
		})
		return addr, err
	}
}

// TestFleetOurClient: the fleet of two teredo-relayd boxes behind the BIRD
// IX router (TestFleet) with teredo-client in place of Miredo's client. The
// router spreads the 16 native flows over both relays, each flow on one
// relay both ways, with nothing lost once established; the client learns
// both relays, each for the native hosts the router sends through it (show
// state); when relay 1's daemon is killed its flows move to relay 2 (the
// client verifies relay 2 for them with the connectivity test, holding
// their packets meanwhile) and come back when it restarts.
func TestFleetOurClient(t *testing.T) {
	bin := clientBinary(t)
	c := &tclient{}
	f := startFleet(t, FleetOptions{HashFields: fleetHashFields, StartClient: startFleetOurClient(bin, c)})
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("--- teredo-client state ---\n%+v", c.state(t))
		}
	})
	flows := fleetFlows(f)
	if !t.Run("spread", func(t *testing.T) {
		fleetSpread(t, f, flows)
		per := map[netip.AddrPort]int{}
		for _, fl := range flows {
			per[netip.AddrPortFrom(FleetRelayIPv4(fl.relay), TeredoPort)]++
		}
		s := c.state(t)
		got := map[netip.AddrPort]int{}
		for _, r := range s.Relays {
			got[r.Relay] = r.Peers
		}
		if len(got) != FleetRelays || fmt.Sprint(got) != fmt.Sprint(per) {
			t.Errorf("teredo-client's relays in use %v, want the router's spread %v", got, per)
		}
		t.Logf("teredo-client's relays in use: %v", got)
	}) {
		t.FailNow()
	}
	t.Run("kill", func(t *testing.T) { fleetKill(t, f, flows) })
	// One connectivity test per flow at first, and one per moved flow each
	// way: relay 1's flows to relay 2 and back.
	moved := 0
	for _, fl := range flows {
		if fl.relay == 1 {
			moved++
		}
	}
	m := scrapeClient(t, f.Lab, Client)
	if got := m[`teredo_client_connectivity_tests_total{result="relay_found"}`]; got < float64(len(flows)+2*moved) {
		t.Errorf("connectivity tests that found a relay: %v, want at least %d (%d flows, %d moved there and back)", got, len(flows)+2*moved, len(flows), moved)
	}
	t.Logf("teredo-client: %v connectivity tests found a relay, %v packets to the host, drops %v",
		m[`teredo_client_connectivity_tests_total{result="relay_found"}`], m[`teredo_client_packets_total{direction="to_host"}`], nonZero(m, "teredo_client_drops_total"))
}
