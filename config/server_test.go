package config

import (
	"net/netip"
	"strings"
	"testing"
)

const serverBase = `
interfaces:
  one_armed: eth0
ipv6:
  address: 2001:db8::1
`

func TestServerRoles(t *testing.T) {
	for _, c := range []struct {
		name       string
		yaml       string
		relay, srv bool
		primary    string
		secondary  string
		relayAddr  string
		ipv4       string
	}{
		{"default relay", "ipv4:\n  address: 192.0.2.9\n", true, false, "", "", "", "192.0.2.9"},
		{"server only", "roles: [server]\nserver:\n  primary: 192.0.2.1\n", false, true, "192.0.2.1", "192.0.2.2", "", "192.0.2.1"},
		{"both, shared address", "roles: [relay, server]\nipv4:\n  address: 192.0.2.1\nserver:\n  primary: 192.0.2.1\n  secondary: 192.0.2.7\n",
			true, true, "192.0.2.1", "192.0.2.7", "192.0.2.1", "192.0.2.1"},
		{"both, own relay address", "roles: [server, relay]\nipv4:\n  address: 198.51.100.1\nserver:\n  primary: 192.0.2.1\n",
			true, true, "192.0.2.1", "192.0.2.2", "198.51.100.1", "198.51.100.1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := Parse([]byte(serverBase + c.yaml))
			if err != nil {
				t.Fatal(err)
			}
			if cfg.RelayRole() != c.relay || cfg.ServerRole() != c.srv {
				t.Fatalf("roles relay=%v server=%v", cfg.RelayRole(), cfg.ServerRole())
			}
			if cfg.IPv4.Addresses[0].String() != c.ipv4 {
				t.Fatalf("ipv4.address %v", cfg.IPv4.Addresses)
			}
			if !c.srv {
				return
			}
			s := cfg.Server
			if s.Primary.String() != c.primary || s.Secondary.String() != c.secondary || s.MTU != 1280 ||
				s.ICMPv6PayloadMax != 88 || s.RatePerSource != DefaultServerRatePerSource || s.RateBurst != DefaultServerRateBurst {
				t.Fatalf("server %+v", s)
			}
			want := netip.Addr{}
			if c.relayAddr != "" {
				want = netip.MustParseAddr(c.relayAddr)
			}
			if got := cfg.ServerRelayAddr(); got != want {
				t.Fatalf("ServerRelayAddr %v, want %v", got, want)
			}
		})
	}
}

func TestServerConfigErrors(t *testing.T) {
	for _, c := range []struct{ yaml, want string }{
		{"roles: [dns]\nipv4:\n  address: 192.0.2.9\n", "roles[0]"},
		{"ipv4:\n  address: 192.0.2.9\nserver:\n  primary: 192.0.2.1\n", "roles does not include"},
		{"roles: [server]\n", "server.primary: missing"},
		{"roles: [server]\nipv4:\n  address: 192.0.2.9\nserver:\n  primary: 192.0.2.1\n", "ipv4.address"},
		{"roles: [server]\nserver:\n  primary: 2001:db8::5\n", "server.primary"},
		{"roles: [server]\nserver:\n  primary: 192.0.2.1\n  secondary: 192.0.2.1\n", "server.secondary"},
		{"roles: [server]\nserver:\n  primary: 192.0.2.1\n  mtu: 1000\n", "server.mtu"},
		{"roles: [server]\nserver:\n  primary: 192.0.2.1\n  rate_per_source: -1\n", "server.rate_per_source"},
		{"roles: [server]\nserver:\n  primary: 192.0.2.1\n  bogus: 1\n", "server.bogus"},
		{"roles: [server, relay]\nipv4:\n  address: 192.0.2.1\n  port: 3545\nserver:\n  primary: 192.0.2.1\n", "ipv4.port"},
	} {
		_, err := Parse([]byte(serverBase + c.yaml))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %v, want one naming %s", c.yaml, err, c.want)
		}
	}
}

func TestServerReloadIsFixed(t *testing.T) {
	a, err := Parse([]byte(serverBase + "roles: [server]\nserver:\n  primary: 192.0.2.1\n"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := Parse([]byte(serverBase + "roles: [server]\nserver:\n  primary: 192.0.2.1\n  rate_burst: 10\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := a.CheckReload(b); err == nil || !strings.Contains(err.Error(), "server") {
		t.Fatalf("CheckReload: %v", err)
	}
}
