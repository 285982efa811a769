// Package lab builds a Teredo test network out of Linux network namespaces and
// drives real Miredo processes in it, so that a relay — Miredo's own or
// teredo-relayd — can be proven end to end with a real Teredo client.
//
// The topology (addresses are documentation ranges only):
//
//	                         core router (IPv4 + IPv6 forwarding)
//	     ┌──────────────┬──────────────┬───────┴──────┬───────────────┬──────────────┐
//	  server           NAT           native          relay          attacker
//	192.0.2.1/.2   203.0.113.1     2001:db8:1::10   198.51.100.1    203.0.113.130
//	2001:db8:5::1  MASQUERADE                       2001:db8:2::1   2001:db8:4::10
//	miredo-server     │                             (2001::/32 is routed here)
//	               client 198.51.100.130
//	               miredo (RelayType client), no native IPv6
//
// The relay namespace is one-armed (IPv4 and IPv6 on one interface, as on an
// IX port) or two-armed (separate IPv4-side and IPv6-side interfaces), with
// one or two queues per veth. Its relay is either Miredo in relay mode (a TUN
// device routing 2001::/32) or the teredo-relayd binary, started with a YAML
// configuration that a caller-supplied function writes.
//
// Every run gets unique namespace names (a "tlab-" tag plus a random suffix);
// Close kills every process the lab started and deletes every namespace, and
// Start sweeps the namespaces of earlier runs whose owning process is gone.
//
// StartFleet builds the fleet lab instead (lab/fleet_linux.go): two
// teredo-relayd boxes on an IX LAN, each with BIRD announcing 2001::/32 to a
// BIRD IX router that installs both paths (ECMP), four native hosts behind
// the router, and the same Teredo server, NAT and Miredo client. Streams
// (lab/stream_linux.go) are paced, checked UDP flows from native addresses to
// the client and back, timed at both ends, for failover measurements.
//
// Sockets are opened inside a namespace by switching the calling OS thread
// into it (setns) just for the socket call, so pings, TCP transfers and raw
// injections run in-process; long-running programs (miredo, tcpdump, the
// relay daemon) are started with "ip netns exec".
package lab
