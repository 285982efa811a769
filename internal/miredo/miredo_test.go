package miredo

import (
	"net/netip"
	"os/user"
	"slices"
	"testing"
)

func TestConfigs(t *testing.T) {
	tests := []struct {
		name, got, want string
	}{
		{"server", ServerConfig(netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")),
			"ServerBindAddress 192.0.2.1\nServerBindAddress2 192.0.2.2\n"},
		{"client", ClientConfig("teredo", netip.MustParseAddr("192.0.2.1")),
			"RelayType client\nInterfaceName teredo\nServerAddress 192.0.2.1\n"},
		{"relay", RelayConfig("bnchtun", netip.MustParseAddrPort("198.51.100.1:3544")),
			"RelayType cone\nInterfaceName bnchtun\nBindAddress 198.51.100.1\nBindPort 3544\n"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s config:\n%q\nwant\n%q", tt.name, tt.got, tt.want)
		}
	}
}

func TestArgv(t *testing.T) {
	want := "nobody"
	if _, err := user.Lookup("miredo"); err == nil {
		want = "miredo"
	}
	got := Argv("miredo-server", "/tmp/l/server.conf", "/tmp/l/server.pid")
	if !slices.Equal(got, []string{"miredo-server", "-f", "-c", "/tmp/l/server.conf", "-p", "/tmp/l/server.pid", "-u", want}) {
		t.Fatalf("Argv = %q", got)
	}
}
