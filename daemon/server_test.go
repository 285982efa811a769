package daemon

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/teredorelay/teredorelay/config"
)

// TestCheckServerAddrs (issue 10, section 6): the server role does not
// start (so never reports ready) when one of its addresses is configured on
// no interface, as miredo-server refuses to; the error names the key.
func TestCheckServerAddrs(t *testing.T) {
	cfg, err := config.Parse([]byte(`
interfaces: {one_armed: eth0}
roles: [relay, server]
ipv4: {address: 192.0.2.1}
ipv6: {address: "2001:db8::1"}
server: {primary: 192.0.2.1, secondary: 192.0.2.2}
`))
	if err != nil {
		t.Fatal(err)
	}
	only := func(have ...string) func(netip.Addr) bool {
		return func(a netip.Addr) bool {
			for _, h := range have {
				if a == netip.MustParseAddr(h) {
					return true
				}
			}
			return false
		}
	}
	if err := checkServerAddrs(cfg, only("192.0.2.1", "192.0.2.2")); err != nil {
		t.Fatalf("both assigned: %v", err)
	}
	for _, c := range []struct{ have, key string }{
		{"192.0.2.1", "config: server.secondary: 192.0.2.2 is not assigned"},
		{"192.0.2.2", "config: server.primary: 192.0.2.1 is not assigned"},
	} {
		if err := checkServerAddrs(cfg, only(c.have)); err == nil || !strings.HasPrefix(err.Error(), c.key) {
			t.Errorf("with only %s assigned: %v, want %q", c.have, err, c.key)
		}
	}
	relayOnly, err := config.Parse([]byte("interfaces: {one_armed: eth0}\nipv4: {address: 192.0.2.1}\nipv6: {address: \"2001:db8::1\"}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := checkServerAddrs(relayOnly, only()); err != nil {
		t.Errorf("relay role alone: %v", err)
	}
}
