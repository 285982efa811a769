package clientmetrics

import (
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/teredorelay/teredorelay/client"
	"github.com/teredorelay/teredorelay/metrics"
	"github.com/teredorelay/teredorelay/metrics/metricstest"
)

type sample struct{ c client.Counters }

func (s *sample) Counters() *client.Counters { return &s.c }
func (s *sample) Snapshot() (client.Snapshot, error) {
	return client.Snapshot{
		State: client.StateQualified, NAT: client.NATPortRestricted, Network: "unmanaged",
		Peers: []client.PeerInfo{
			{Kind: client.PeerNative, Trusted: true, QueuedOut: 100},
			{Kind: client.PeerTeredo, QueuedIn: 20},
		},
		Relays:       []client.RelayInfo{{Relay: netip.MustParseAddrPort("198.51.100.1:3544"), Peers: 1}},
		LastServerRx: 1500e6,
	}, nil
}

func TestPromlint(t *testing.T) {
	mfs := metricstest.Lint(t, NewRegistry(&sample{}, BuildInfo{Version: "test"}))
	names := map[string]bool{}
	for _, mf := range mfs {
		names[mf.GetName()] = true
	}
	for _, d := range Defs {
		if !names[d.Name] || !strings.HasPrefix(d.Name, Namespace+"_") {
			t.Errorf("%s not exported or without the prefix", d.Name)
		}
		if (d.Kind == metrics.Counter) != strings.HasSuffix(d.Name, "_total") {
			t.Errorf("%s: counters and only counters end in _total", d.Name)
		}
	}
}

func TestValues(t *testing.T) {
	s := &sample{}
	s.c.Drops[client.DropQueueFull].Add(3)
	s.c.BubblesReply.Add(2)
	c := NewCollector(s, BuildInfo{})
	want := `
# HELP teredo_client_state 1 for the client's current state (offline, probe: qualifying, dormant: address known but no traffic yet, qualified), 0 for the others.
# TYPE teredo_client_state gauge
teredo_client_state{state="dormant"} 0
teredo_client_state{state="offline"} 0
teredo_client_state{state="probe"} 0
teredo_client_state{state="qualified"} 1
# HELP teredo_client_peers Peers in the peer table, by kind (teredo: another Teredo client; native: a native IPv6 host through a relay) and state.
# TYPE teredo_client_peers gauge
teredo_client_peers{kind="native",state="pending"} 0
teredo_client_peers{kind="native",state="trusted"} 1
teredo_client_peers{kind="teredo",state="pending"} 1
teredo_client_peers{kind="teredo",state="trusted"} 0
# HELP teredo_client_peer_queued_bytes Bytes queued for peers whose path is being opened, both directions.
# TYPE teredo_client_peer_queued_bytes gauge
teredo_client_peer_queued_bytes 120
# HELP teredo_client_server_last_contact_seconds Seconds since the last packet from the Teredo server (-1: never).
# TYPE teredo_client_server_last_contact_seconds gauge
teredo_client_server_last_contact_seconds 1.5
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), "teredo_client_state", "teredo_client_peers",
		"teredo_client_peer_queued_bytes", "teredo_client_server_last_contact_seconds"); err != nil {
		t.Error(err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.Metric {
			key := mf.GetName()
			for _, l := range m.Label {
				key += "/" + l.GetValue()
			}
			got[key] = m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	if got["teredo_client_drops_total/queue_full"] != 3 || got["teredo_client_bubbles_sent_total/reply"] != 2 ||
		got["teredo_client_nat/port-restricted"] != 1 || got["teredo_client_relays"] != 1 {
		t.Errorf("samples %v", got)
	}
}

func TestMarkdownUpToDate(t *testing.T) {
	b, err := os.ReadFile("../../docs/client-metrics.md")
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != Markdown() {
		t.Error(`docs/client-metrics.md is stale: go run ./client/clientmetrics/cmd/clientmetricsdoc > docs/client-metrics.md`)
	}
}
