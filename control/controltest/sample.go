package controltest

import (
	"net/netip"
	"time"

	"github.com/teredorelay/teredorelay/control"
	"github.com/teredorelay/teredorelay/control/api"
	"github.com/teredorelay/teredorelay/metrics/metricstest"
)

// Now is the clock of Sample's server: two hours after metricstest.Start.
var Now = metricstest.Start.Add(2 * time.Hour)

// Peer addresses of Sample, Teredo vectors from shared/reference/teredo-spec.md §8.
var (
	PeerT8 = netip.MustParseAddr("2001:0:c000:201:3cc4:4b5f:34ff:8efe")  // server 192.0.2.1, 203.0.113.1:46240, testbed capture
	PeerT6 = netip.MustParseAddr("2001:0:4136:e378:8000:63bf:3fff:fdd2") // server 65.54.227.120, cone, 192.0.2.45:40000
	PeerT7 = netip.MustParseAddr("2001:0:1117:34fa:1027:374b:e1fc:f635") // server 17.23.52.250, flags 0x1027, 30.3.9.202:51380
	PeerT2 = netip.MustParseAddr("2001:0:cb00:7178:0:efff:3fff:fdfe")    // server 203.0.113.120, 192.0.2.1:4096
	PeerT3 = netip.MustParseAddr("2001:0:c633:6476:0:dfff:3fff:fdf5")    // server 198.51.100.118, 192.0.2.10:8192
)

// SampleInfo is the Info of Sample.
var SampleInfo = control.Info{
	Version: "1.2.3", Revision: "abc123",
	Addresses:       []string{"192.0.2.1:3544", "2001:db8::1"},
	ServerAddresses: []string{"192.0.2.10:3544", "192.0.2.11:3544"},
	Interfaces:      []string{"eth0", "eth1"},
	DrainStateFile:  "/var/lib/teredo-relayd/drained",
}

// SamplePeers returns five peers as the daemon would fill them (decoded
// fields left empty).
func SamplePeers() []api.Peer {
	ago := func(d time.Duration) time.Time { return Now.Add(-d) }
	return []api.Peer{
		{Address: PeerT8, State: api.StateTrusted, ObservedMapping: netip.MustParseAddrPort("203.0.113.1:46240"),
			LastRx: ago(time.Second), LastTx: ago(2 * time.Second), RxPackets: 100, RxBytes: 12000, TxPackets: 90, TxBytes: 11000},
		{Address: PeerT6, State: api.StateTrusted, ObservedMapping: netip.MustParseAddrPort("192.0.2.99:40000"),
			LastRx: ago(10 * time.Second), LastTx: ago(20 * time.Second), RxPackets: 500, RxBytes: 64000, TxPackets: 20, TxBytes: 2000},
		{Address: PeerT7, State: api.StatePending, LastTx: ago(500 * time.Millisecond), Bubbles: 2,
			QueuedPackets: 2, QueuedBytes: 2560},
		{Address: PeerT2, State: api.StateTrusted, ObservedMapping: netip.MustParseAddrPort("192.0.2.1:4096"),
			LastRx: ago(30 * time.Second), LastTx: ago(3 * time.Minute), RxPackets: 5, RxBytes: 600, TxPackets: 700, TxBytes: 90000},
		{Address: PeerT3, State: api.StatePending, LastTx: ago(3 * time.Second), Bubbles: 1,
			QueuedPackets: 1, QueuedBytes: 1280},
	}
}

// Sample returns a backend over metricstest.Sample() holding SamplePeers.
func Sample() *Backend {
	return New(metricstest.Sample(), SampleInfo, SamplePeers())
}
