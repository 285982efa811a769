// Package topo builds the benchmark's network namespaces and tears them down
// again. Every system under test runs in the relay namespace between the
// same two veth pairs, so generator, sinks and wiring are identical for all
// of them:
//
//	┌────────────────── <tag>-gen ───────────────────┐          ┌─────────── <tag>-relay ───────────┐
//	│ Teredo side (IPv4)                             │          │ system under test:                │
//	│   clients' mappings 203.0.113.x (generated)    │          │   teredo-relayd | miredo |        │
//	│   Teredo "server" 192.0.2.1:3544: answers the  │          │   bare AF_XDP forwarder (floor) | │
//	│   relay's indirect bubbles with direct bubbles │          │   asavie/xdp forwarder            │
//	│   198.51.100.2/24                 <tag>g0 ◄────┼── veth ──┼──► <tag>r0  198.51.100.1:3544     │
//	│   sink (native XDP): encap output ◄┘           │          │                                   │
//	│                                                │          │ routes 192.0.2.0/24 and           │
//	│ generator (one thread, live frames or AF_XDP): │          │   203.0.113.0/24 via .2,          │
//	│   decap frames out of g0,                      │          │   2001:db8:1::/64 via             │
//	│   encap frames out of g1                       │          │   2001:db8:2::2                   │
//	│                                                │          │                                   │
//	│ Native side (IPv6)                             │          │                                   │
//	│   native hosts 2001:db8:1::x (generated)       │          │                                   │
//	│   2001:db8:2::2/64                <tag>g1 ◄────┼── veth ──┼──► <tag>r1  2001:db8:2::1        │
//	│   sink (native XDP): decap output ◄┘           │          │                                   │
//	└────────────────────────────────────────────────┘          └───────────────────────────────────┘
//
// Decapsulation traffic flows g0 → relay → g1, encapsulation traffic g1 →
// relay → g0. The generator and both sinks share one namespace so that a
// single generator thread can interleave both directions (mixed traffic):
// live frames can be redirected only to a device of the ingress device's
// namespace (the AF_XDP generator has a socket on each device), and on a
// 2-core machine two spinning generator threads would
// leave the system under test no core of its own. The "sink" side of the
// issue's generator ↔ relay ↔ sink picture is therefore g1 in the generator
// namespace. Neighbour entries are static (no ARP or neighbour discovery
// traffic), IPv6 is disabled on the IPv4-only link, and only documentation
// ranges are used. Names carry a short tag unique to the run; Down deletes
// the namespaces and with them the veths, and Up first removes leftovers of
// a killed run with the same tag.
package topo
