// Package server is the I/O-free Teredo server state machine (RFC 4380
// §5.3, §5.3.1, §5.3.2; RFC 5991 §3.2): per datagram it answers a Router
// Solicitation with a Router Advertisement, forwards a bubble or small
// ICMPv6 packet, hands the datagram to a co-located relay, or drops it under
// a counted reason. It keeps no per-client state; its only state is counters
// and a fixed-size per-source rate-limit table per Handler.
//
// # Addresses
//
// The server listens on UDP 3544 of two IPv4 addresses: Primary (the address
// in its clients' Teredo addresses, in the RA prefix 2001:0:<Primary>::/64
// and in its link-local address fe80::8000:f227:<~Primary>) and Secondary
// (default Primary + 1). An RS whose link-local source has the cone bit set
// is answered from the other address, otherwise from the address it arrived
// on (RFC 4380 §5.3.2; RFC 5991 §3.2: servers MUST honour the bit).
// Forwarded packets leave from the primary address.
//
// # Checks, in order (each failure is one DropReason)
//
//	frame path only: IPv4 header, not a fragment, UDP, to Primary/Secondary:3544, UDP length
//	rule 1  well-formed Teredo payload, IPv6 version and length,        teredo_malformed, ipv6_malformed,
//	        no 01xxxxxx trailer, no origin indication                   trailer_discard, origin_indication
//	rule 2  a bubble or ICMPv6 (next header 58)                         not_bubble_or_icmpv6 (or Relay),
//	        with at least its 4-byte header                             icmpv6_truncated
//	rule 3  IPv4 source global unicast (RFC 4380 §5.2.4 + ExtraBogons)  src_not_global
//	loop    IPv4 source is not a server address with port 3544         loop
//	rule 4  link-local source, to ff02::2, ICMPv6 133: a valid RS       rs_invalid   → RA
//	        (an authentication indicator is accepted on RSs only)       auth_header
//	rule 5  Teredo source: its mapping equals the IPv4/UDP source       mapping_mismatch
//	rule 6  other source: destination is a Teredo address of ours       dst_not_our_client
//	dest    not ff02::2 nor our link-local (those are for RSs only)     local_not_rs
//	        ICMPv6 payload ≤ ICMPv6PayloadMax (88)                      icmpv6_too_big (or Relay)
//	        Teredo destination: mapped IPv4 global, port ≠ 0,          dst_mapped_bogon, dst_self
//	          not one of our addresses                                  → ToIPv4 to the mapping
//	        native destination: not a bubble, not multicast, global,    bubble_to_native (or Relay),
//	          hop limit > 1 (then decremented)                          dst_multicast, dst_not_global, hop_limit → ToIPv6
//	output  the source IPv4's token bucket has a token                  rate_limited
//
// Authentication: secure qualification is not offered. An RS's
// authentication indicator is echoed in the RA with the client identifier
// and nonce, no authentication value and confirmation 0; an RS without one
// gets an RA without one (never uninitialised bytes, unlike Miredo).
//
// # In place
//
// Handle works on the AF_XDP frame: the IPv4 packet at buf[off:off+n].
//
//	RS in:   │ IPv4 │ UDP │ auth(13+id+au) │ IPv6 RS (48)                       │
//	RA out:  │ IPv4'│ UDP'│ auth(13+id)    │ origin (8) │ IPv6 RA (96)          │  117+id bytes of UDP payload
//	fwd in:        │ IPv4 │ UDP │ IPv6 bubble / ICMPv6 [trailers] │
//	fwd out: │ IPv4'│ UDP'│origin│ IPv6 bubble / ICMPv6 [trailers] │          8 bytes of headroom used
//	to IPv6:       │ IPv4 │ UDP │ IPv6 ICMPv6 │                              newOff at the IPv6 header
//
// The new IPv4 header has the chosen server address as source, DF clear,
// TTL Config.TTL, the header checksum, and a zero UDP checksum. HandleDatagram
// is the same for a UDP payload read from a kernel socket; the caller sends
// Result.Off/Len from Result.Src to Result.Dst.
//
// # Relay hand-off
//
// With Config.RelayAddr equal to a server address, a relay shares that
// address (RFC 4380 §5.4.3). The server keeps what a stand-alone server
// forwards: RSs, packets to Teredo destinations, and ICMPv6 up to the cap
// from its clients to native hosts (the direct connectivity test, which must
// work before any relay knows the client). It returns Relay, without
// touching the frame and before its own checks of the source, for:
//
//   - datagrams on the shared address that are neither bubbles nor ICMPv6
//     (rule 2: data a client sends to a relay), and, after rules 3-5,
//   - ICMPv6 above the cap to a native destination, and
//   - bubbles to a native address (a client answering the relay's bubble
//     cookie fe80::…).
//
// The caller gives the unchanged datagram to the relay (Worker.Decap on the
// frame path, Engine.HandleUDP on the kernel path), which applies RFC 4380
// §5.4.2 and counts its own drops. On the server's other address, and when
// the relay has an address of its own, nothing is handed off. A datagram
// from RelayAddr:3544 read from a kernel socket (the relay's indirect bubble
// looped back on this host) passes the loop guard when it is a bubble.
//
// # Concurrency, counters and limits
//
// One Handler per goroutine; handlers share only the immutable Server.
// Counters are atomics written by their one owner (Store(Load()+1)) and
// summed by Server.Counters; names are stable snake_case (Counters.Each).
// Each Handler has a fixed table of per-source-IPv4 token buckets (GCRA,
// hashed with a random key into two candidate slots): a source over its rate
// gets nothing sent on its behalf, which bounds the server's use as a
// reflector (RFC 4380 §7.4.1). With RSS a source's datagrams reach one queue,
// so the limit is per source and queue.
package server
