package topo

import (
	"net"
	"net/netip"
)

// Addresses of the topology (documentation ranges only).
var (
	// RelayIPv4 is the relay's Teredo service address on <tag>r0.
	RelayIPv4 = netip.MustParseAddr("198.51.100.1")
	// GenIPv4 is the generator namespace's address on <tag>g0, the relay's
	// IPv4 next hop towards clients and the server.
	GenIPv4 = netip.MustParseAddr("198.51.100.2")
	// ServerIPv4 is the emulated Teredo server, on <tag>g0.
	ServerIPv4 = netip.MustParseAddr("192.0.2.1")
	// ClientNet holds the clients' mapped (NAT-outside) addresses.
	ClientNet = netip.MustParsePrefix("203.0.113.0/24")
	// RelayIPv6 is the relay's address on <tag>r1.
	RelayIPv6 = netip.MustParseAddr("2001:db8:2::1")
	// NativeIPv6 is the generator namespace's address on <tag>g1, the
	// relay's IPv6 next hop towards native hosts.
	NativeIPv6 = netip.MustParseAddr("2001:db8:2::2")
	// NativeNet holds the emulated native IPv6 hosts (behind <tag>g1).
	NativeNet = netip.MustParsePrefix("2001:db8:1::/64")
)

// Side is one end of a veth pair.
type Side struct {
	NS    string // network namespace
	Name  string // interface name
	Index int    // ifindex inside NS
	MAC   net.HardwareAddr
}

// Topology is a built set of namespaces and links.
type Topology struct {
	Tag             string
	GenNS, RelayNS  string
	Gen, RelayV4    Side // <tag>g0 ↔ <tag>r0: Teredo side
	Native, RelayV6 Side // <tag>g1 ↔ <tag>r1: native side
	up              bool
}

// Namespaces returns the namespace names.
func (t *Topology) Namespaces() []string { return []string{t.GenNS, t.RelayNS} }
