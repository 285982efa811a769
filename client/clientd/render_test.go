package clientd

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/teredorelay/teredorelay/client"
)

func TestRenderState(t *testing.T) {
	s := client.Snapshot{
		Type: client.TypeClient, ServerName: "teredo.example.net", Primary: netip.MustParseAddr("192.0.2.1"),
		Secondary: netip.MustParseAddr("192.0.2.2"), Server: netip.MustParseAddr("192.0.2.1"),
		RefreshInterval: 30 * time.Second, NextRefresh: 12 * time.Second, ClientPort: 40000,
		State: client.StateQualified, Network: "unmanaged", NAT: client.NATPortRestricted, PortPreserving: true,
		LocalMapping: netip.MustParseAddrPort("198.51.100.130:40000"), ExternalMapping: netip.MustParseAddrPort("203.0.113.1:40000"),
		Address: netip.MustParseAddr("2001:0:c000:201:3cc4:bf3f:34ff:8efe"), Interface: "teredo", MTU: 1280,
		LastServerRx: 3 * time.Second,
		Relays:       []client.RelayInfo{{Relay: netip.MustParseAddrPort("198.51.100.1:3544"), Peers: 1}},
		Peers: []client.PeerInfo{{Address: netip.MustParseAddr("2001:db8:1::10"), Kind: client.PeerNative, Trusted: true,
			Mapping: netip.MustParseAddrPort("198.51.100.1:3544"), LastRxAgo: time.Second, ValidForSec: 29, RxPackets: 5, TxPackets: 6}},
	}
	var b strings.Builder
	if err := RenderState(&b, s); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"Type                    : client\n",
		"Server Name             : teredo.example.net (primary 192.0.2.1, secondary 192.0.2.2)\n",
		"Client Refresh Interval : 30 seconds\n",
		"Client Port             : 40000\n",
		"State                   : qualified\n",
		"Client Type             : teredo client\n",
		"Network                 : unmanaged\n",
		"NAT                     : port-restricted\n",
		"NAT Special Behaviour   : UPNP: No, PortPreserving: Yes\n",
		"Local Mapping           : 198.51.100.130:40000\n",
		"External NAT Mapping    : 203.0.113.1:40000\n",
		"Qualified With          : 192.0.2.1, last contact 3.0 s ago, next refresh in 12.0 s\n",
		"198.51.100.1:3544  1\n",
		"2001:db8:1::10  native  trusted  198.51.100.1:3544  1.0 s",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, b.String())
		}
	}
}

func TestResolveServers(t *testing.T) {
	ctx := context.Background()
	saved := lookupNetIP
	defer func() { lookupNetIP = saved }()
	lookupNetIP = func(ctx context.Context, network, host string) ([]netip.Addr, error) {
		switch host {
		case "teredo.example.net":
			return []netip.Addr{netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("198.51.100.7")}, nil
		case "localhost":
			return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
		}
		return nil, errors.New("no such host")
	}
	for _, tc := range []struct {
		server, secondary string
		p, s              string
		err               bool
	}{
		{"192.0.2.1", "", "192.0.2.1", "192.0.2.2", false},
		{"192.0.2.1", "none", "192.0.2.1", "invalid IP", false},
		{"192.0.2.1", "198.51.100.9", "192.0.2.1", "198.51.100.9", false},
		{"192.0.2.1", "192.0.2.1", "", "", true},
		{"2001:db8::1", "", "", "", true},
		{"localhost", "", "127.0.0.1", "127.0.0.2", false},
		// A name with two addresses: primary and secondary.
		{"teredo.example.net", "", "192.0.2.1", "198.51.100.7", false},
		{"teredo.example.net", "none", "192.0.2.1", "invalid IP", false},
		{"nowhere.example.net", "", "", "", true},
	} {
		p, s, err := ResolveServers(ctx, tc.server, tc.secondary)
		if (err != nil) != tc.err || (!tc.err && (p.String() != tc.p || s.String() != tc.s)) {
			t.Errorf("%s/%s: %v %v %v", tc.server, tc.secondary, p, s, err)
		}
	}
}
