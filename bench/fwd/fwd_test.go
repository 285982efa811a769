package fwd

import (
	"bytes"
	"net"
	"net/netip"
	"testing"
)

func TestConfigDefaults(t *testing.T) {
	mac := net.HardwareAddr{2, 0, 0, 0, 0, 1}
	c := Config{IPv4If: "a", IPv6If: "b", RelayAddr: netip.MustParseAddr("198.51.100.1"), IPv4NextHop: mac, IPv6NextHop: mac}
	if err := c.defaults(); err != nil {
		t.Fatal(err)
	}
	if c.Impl != ImplXSK || c.Frames != 8192 || c.Ring != 2048 || c.Batch != 64 || c.Port != 3544 {
		t.Errorf("defaults: %+v", c)
	}
	for name, bad := range map[string]Config{
		"unknown impl":   {Impl: "dpdk", IPv4If: "a", IPv6If: "b", RelayAddr: c.RelayAddr, IPv4NextHop: mac, IPv6NextHop: mac},
		"no interface":   {IPv4If: "a", RelayAddr: c.RelayAddr, IPv4NextHop: mac, IPv6NextHop: mac},
		"IPv6 relay":     {IPv4If: "a", IPv6If: "b", RelayAddr: netip.MustParseAddr("2001:db8::1"), IPv4NextHop: mac, IPv6NextHop: mac},
		"no next hop":    {IPv4If: "a", IPv6If: "b", RelayAddr: c.RelayAddr, IPv4NextHop: mac},
		"too few frames": {IPv4If: "a", IPv6If: "b", RelayAddr: c.RelayAddr, IPv4NextHop: mac, IPv6NextHop: mac, Frames: 4096, Ring: 2048},
	} {
		if err := bad.defaults(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestRewriteEth(t *testing.T) {
	f := []byte{1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 0x86, 0xdd, 0x60}
	rewriteEth(f, net.HardwareAddr{0xa, 0, 0, 0, 0, 1}, net.HardwareAddr{0xb, 0, 0, 0, 0, 2})
	want := []byte{0xa, 0, 0, 0, 0, 1, 0xb, 0, 0, 0, 0, 2, 0x86, 0xdd, 0x60}
	if !bytes.Equal(f, want) {
		t.Errorf("got % x, want % x", f, want)
	}
}
