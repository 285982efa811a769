// Package nexthop answers, per packet and without locks or allocation, "which
// Ethernet header does a packet to this IPv4 or IPv6 destination need": the
// kernel's route (longest prefix match over the main table), the neighbour
// (ARP/NDP) entry of its gateway or of the destination itself, and the MAC
// address and VLAN of the egress link.
//
// A Table mirrors the kernel through vishvananda/netlink subscriptions
// (RouteSubscribe, NeighSubscribe, LinkSubscribe) in one goroutine and
// publishes an immutable *Snapshot through an atomic.Pointer after each burst
// of changes. Data-plane workers load the snapshot once per batch and call
// Lookup4/Lookup6 on it.
//
// Egress is restricted to the ports the relay transmits on (the interfaces its
// AF_XDP sockets are bound to): a route whose link is a port is sent untagged,
// a route whose link is an 802.1Q VLAN sub-interface of a port is sent with
// that VLAN's tag and the sub-interface's MAC. A route through any other link
// yields OtherLink, a route whose neighbour is not resolved (absent,
// INCOMPLETE, FAILED) yields Unresolved: the caller hands such packets to the
// kernel, which resolves the neighbour, and the next snapshot has it.
//
// STALE neighbours are usable, as for the kernel, but the kernel re-validates
// a STALE entry only when it sends through it, which the relay's frames never
// do. So that a gateway whose MAC address changed silently is not used with
// the old one for good, the Table tells the kernel, about once a second and
// for a bounded number of entries, that the STALE gateways of its routes are
// in use (RTM_NEWNEIGH with NTF_USE): the kernel probes them and reports the
// outcome, a confirmed or new address, or FAILED (the route is then
// Unresolved and the kernel path resolves it again).
//
// Only the main routing table is mirrored (policy routing rules are not
// evaluated); blackhole, unreachable, prohibit and throw routes yield NoRoute.
package nexthop
