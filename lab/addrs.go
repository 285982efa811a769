package lab

import "net/netip"

// Node names one network namespace of the lab by its role.
type Node string

// The namespaces of the lab.
const (
	Core     Node = "core"     // router between all others, IPv4 and IPv6 forwarding
	Server   Node = "server"   // miredo-server on ServerIPv4 and ServerIPv4Second
	NAT      Node = "nat"      // iptables MASQUERADE between ClientLAN and NATOutside
	Client   Node = "client"   // miredo in client mode, IPv4 only
	Native   Node = "native"   // native IPv6 host NativeIPv6
	Relay    Node = "relay"    // the relay under test
	Attacker Node = "attacker" // an extra host on both sides for crafted packets
)

// Nodes lists every namespace of the lab in creation order.
var Nodes = []Node{Core, Server, NAT, Client, Native, Relay, Attacker}

// TeredoPort is the UDP port of Teredo servers and relays [RFC 4380 §2.7].
const TeredoPort = 3544

// Addresses of the lab. All are documentation ranges (RFC 5737, RFC 3849) or,
// for the client, the Teredo prefix. Each link's router side is the core
// router, except the client LAN, whose router is the NAT box.
var (
	// Teredo server link 192.0.2.0/24 and 2001:db8:5::/64.
	ServerIPv4       = netip.MustParseAddr("192.0.2.1")
	ServerIPv4Second = netip.MustParseAddr("192.0.2.2")
	ServerIPv6       = netip.MustParseAddr("2001:db8:5::1")
	ServerGatewayV4  = netip.MustParseAddr("192.0.2.254")
	ServerGatewayV6  = netip.MustParseAddr("2001:db8:5::fe")

	// NAT outside link 203.0.113.0/25.
	NATOutside      = netip.MustParseAddr("203.0.113.1")
	NATOutsideGWV4  = netip.MustParseAddr("203.0.113.126")
	NATOutsideBits  = 25
	ClientLAN       = netip.MustParsePrefix("198.51.100.128/25")
	NATInside       = netip.MustParseAddr("198.51.100.129")
	ClientIPv4      = netip.MustParseAddr("198.51.100.130")
	ClientInterface = "teredo" // the Miredo client's TUN device, inside Client

	// Native IPv6 host link 2001:db8:1::/64.
	NativeIPv6      = netip.MustParseAddr("2001:db8:1::10")
	NativeGatewayV6 = netip.MustParseAddr("2001:db8:1::fe")

	// Relay links: IPv4 198.51.100.0/25, IPv6 2001:db8:2::/64. The core
	// router routes TeredoPrefix to RelayIPv6.
	RelayIPv4      = netip.MustParseAddr("198.51.100.1")
	RelayIPv4Bits  = 25
	RelayGatewayV4 = netip.MustParseAddr("198.51.100.126")
	RelayIPv6      = netip.MustParseAddr("2001:db8:2::1")
	RelayGatewayV6 = netip.MustParseAddr("2001:db8:2::fe")

	// Attacker links: IPv4 203.0.113.128/25, IPv6 2001:db8:4::/64. Core
	// does no source filtering, so spoofed packets from here are forwarded.
	AttackerIPv4      = netip.MustParseAddr("203.0.113.130")
	AttackerGatewayV4 = netip.MustParseAddr("203.0.113.254")
	AttackerIPv6      = netip.MustParseAddr("2001:db8:4::10")
	AttackerGatewayV6 = netip.MustParseAddr("2001:db8:4::fe")

	// TeredoPrefix is the Teredo service prefix 2001::/32 [RFC 4380 §2.6].
	TeredoPrefix = netip.MustParsePrefix("2001::/32")
	// ClientPrefix is the /64 every client of ServerIPv4 is numbered from.
	ClientPrefix = netip.MustParsePrefix("2001:0:c000:201::/64")
)

// Interface names inside the lab's namespaces.
const (
	RelayOneArmedIface = "ix0" // Relay's only interface in OneArmed mode
	RelayIPv4Iface     = "ix4" // Relay's IPv4-side interface in TwoArmed mode
	RelayIPv6Iface     = "ix6" // Relay's IPv6-side interface in TwoArmed mode
	HostIface          = "eth0"
	NATOutsideIface    = "wan0"
	NATInsideIface     = "lan0"
)
