// Package client is the Teredo client (RFC 4380 §5.2, RFC 5991, RFC 6081 §5.2)
// in two forms.
//
// Client is the diagnostic one behind teredo-probe: it qualifies against a
// Teredo server, finds the relay serving a native IPv6 host with the direct
// IPv6 connectivity test, pings through that relay and opens paths to other
// Teredo clients with bubbles, one procedure at a time, over a plain UDP
// socket (no TUN device): IPv6 packets are built and parsed in user space
// with package teredo.
//
// Tunnel is the one behind teredo-client: the state machine that gives a host
// IPv6 through a TUN device (offline, probe, dormant, qualified; refreshes,
// fail-over, mapping changes; the peer table with its queues; the
// connectivity test per native destination; bubbles to Teredo peers; ICMPv6
// errors to the host). Runner drives it from a service port and a TUN device
// (package tun); package clientd is the daemon around it and clientmetrics
// its Prometheus metrics. docs/client.md describes its behaviour and the
// choices the RFCs leave open. The two share the RA checks, the echo
// builders and parsers, and FilteringProbe (the NAT type).
//
// # Qualification [RFC 4380 §5.2.1, RFC 5991 §3.2]
//
// Qualify sends Router Solicitations from fe80::ffff:ffff:ffff to ff02::2
// inside an authentication header (random 8-byte nonce, ID-len = AU-len = 0),
// N = 3 of them T = 4 s apart per phase (both configurable; the first
// solicitation counts towards N). A Router Advertisement is accepted only if:
//
//   - it comes from the address solicited, port 3544 (for the cone probe: from
//     the server's other address);
//   - it is an ICMPv6 RA with an authentication header whose nonce is one of
//     the phase's and whose confirmation byte is 0;
//   - it carries an origin indication (the mapped address and port);
//   - it is a valid RA (hop limit 255, link-local source, checksum, options)
//     with exactly one Prefix Information option, equal to
//     2001:0:<server IPv4>::/64;
//   - its destination is the solicitation's link-local source;
//   - its MTU option, if any, is within [1280, 65535].
//
// Anything else is discarded, recorded with the check it failed, and reported
// in the NoAnswerError of a phase that found no valid RA. With a secondary
// server address the client repeats the restricted phase towards it and
// compares the mapped endpoints: different means a symmetric NAT; without
// one the NAT type is unknown. Config.ConeProbe adds FilteringProbe, which
// tells cone, restricted and port-restricted NATs apart from sibling sockets
// (RFC 5991 says clients SHOULD skip RFC 4380's cone probe: the address never
// gets the cone bit). The service port itself never sends the probe's
// packets: a NAT that keeps state for the answers it drops (Linux netfilter)
// would otherwise move the service port's next flow to a new port. The
// Teredo address gets 12 random flag bits from Config.Rand (crypto/rand by
// default).
//
// # Relays and bubbles [RFC 4380 §5.2.3, §5.2.6, §5.2.9]
//
// While it waits for anything, the client answers every bubble its server
// relays with an origin indication (a relay's or a peer's indirect bubble) with
// a direct bubble to the origin, as Miredo does: that is what opens a
// restricted NAT to the relay. ConnectivityTest sends an Echo Request with a
// random 128-bit nonce through the server and accepts the Echo Reply that
// carries the nonce, from whatever IPv4 endpoint: that endpoint is the relay
// serving the target. An ICMPv6 error quoting the request (and its nonce) ends
// the test with ErrUnreachable and still names the relay that passed it on, as
// Miredo accepts it. Ping then sends Echo Requests straight to the relay and
// accepts only replies from it. SendDirectBubble, SendIndirectBubble and
// ReachPeer (RFC 4380 §5.2.4 case 5, cone bit ignored) talk to other Teredo
// clients.
//
// # Tracing and errors
//
// Config.Trace receives every datagram sent and received and the verdict on
// each (accepted, or rejected with the failed check), which is what an
// operator debugging a relay deployment reads. Errors are wrapped with the
// step that failed; the checks wrap exported sentinels (ErrNonceMismatch,
// ErrNoOrigin, ErrWrongPrefix, ...) that errors.Is finds through a
// NoAnswerError.
//
// Client is not safe for concurrent use and allocates freely: it is a
// diagnostic tool, not part of the data path. Tunnel is not safe for
// concurrent use either (Runner serialises it); its trusted send and receive
// paths allocate nothing.
package client
