// Package relay is the I/O-free Teredo relay state machine (RFC 4380 §5.4,
// RFC 5991, RFC 6081 §4): it decides, for each frame, whether it is
// forwarded, handed to the slow path or dropped, and it runs the slow path
// (bubbles, pending queues, ICMPv6 errors, timers). Sockets live elsewhere:
// the daemon's workers call Worker.Decap and Worker.Encap on AF_XDP frames
// and implement Output with kernel sockets.
//
// # Data flow
//
//	IPv4 side (clients, servers)                          IPv6 side (native hosts)
//	   │ UDP to relay addr:port (XDP steered)                  │ dst in 2001::/32 (XDP steered)
//	   ▼                                                        ▼
//	Worker.Decap(buf, off, n)                            Worker.Encap(buf, off, n)
//	   │ IPv4/UDP/Teredo checks, peer cache ObserveRx         │ dst checks, bogons, MTU, LookupTx
//	   ├─ ToIPv6: buf[newOff:] is the IPv6 packet            ├─ ToIPv4: IPv4+UDP written in the headroom
//	   ├─ SlowPath ─┐                                        ├─ SlowPath ─┐
//	   └─ Drop      │  bounded non-blocking queue            └─ Drop      │
//	                ▼  (preallocated slots, full = counted drop)          ▼
//	           Engine.Run: trust + release queue (FIFO) ─► Output.SendUDP(mapping)
//	                       pending peer: queue, bubbles ─► Output.SendUDP(server:3544 [, mapping])
//	                       retries every 2 s ×3, expiry  ─► Destination Unreachable (code 3)
//	                       hop limit / MTU               ─► Time Exceeded / Packet Too Big
//	                       ICMPv6 errors: token bucket; to a client over UDP, to a native host via SendIPv6
//	                       per-source and global rate limits in front of all of it (see Limits)
//	Engine.HandleUDP(from, payload): kernel UDP socket (reassembled fragments), same rules as Decap,
//	                       forwarded packets via Output.SendIPv6.
//
// # Decapsulation (client → native, RFC 4380 §5.4.2)
//
// The input frame holds an IPv4 packet at off. The IPv6 packet is not moved:
// the verdict points past the outer headers. Trailers (RFC 6081 §4) and
// frame padding are cut by the returned length.
//
//	off                 off+20          off+28          off+28(+8)                  off+28(+8)+40+plen
//	 │ IPv4 header (20+) │ UDP header (8)│[origin (8)]    │ IPv6 header │ IPv6 payload │[trailers]│
//	 └───────────────────┴───────────────┴────────────────┴─────────────┴──────────────┴──────────┘
//	                                                      ▲ newOff               newLen ┘
//
// An origin indication or authentication indicator is dropped (only Teredo
// servers send them, to their clients); the diagram shows where it would
// sit. Checks, in order: IPv4 header (version, IHL, lengths, checksum, not a
// fragment), UDP to one of the relay addresses (Config.IPv4Addr and
// Config.IPv4Addrs, at most 8) and the relay port with a consistent length
// and checksum, Teredo demultiplexing, IPv6 version and length (40 + payload
// length ≤ UDP payload), no 01xxxxxx trailer, a Teredo source whose embedded
// mapping equals the outer source (or, unless StrictMapping, a bubble to a
// fresh cookie for that source while the peer is being verified, or a
// packet from the mapping the peer was trusted at), then:
//
//   - before a packet can make the relay trust or learn a peer, or send it
//     an ICMPv6 error, its outer IPv4 source, the mapping the relay would
//     then send to, must be one it may send to (RFC 4380 §5.4.1): global
//     unicast (the §5.2.4 list and ExtraBogons), not one of the relay's (or
//     the co-located server's) addresses, port ≠ 0; else
//     src_mapping_invalid. A peer trusted at its mapping passed this when
//     it was trusted, so its packets pay nothing more;
//
//   - bubbles are consumed: a known peer becomes trusted (slow path: Trust,
//     queue released in FIFO order); never forwarded, never answered;
//
//   - destinations in 2001::/32 (loop guard), multicast or non-global
//     (::/8, unique local fc00::/7, link-local and site-local) are
//     dropped, and so are packets with a type 0 routing header (RFC 5095)
//     first or after up to 4 hop-by-hop/destination options headers (a
//     packet without extension headers pays one comparison);
//
//   - unknown peers are dropped unless AcceptUnknownPeers; a pending peer is
//     forwarded and trusted;
//
//   - hop limit ≤ 1 goes to the slow path for Time Exceeded, else it is
//     decremented.
//
// Trust and learn notices and Time Exceeded hand-offs are slow-path work a
// client causes; they are limited per client IPv4 address (see Limits).
//
// # Encapsulation (native → client, RFC 4380 §5.4.1)
//
// The input frame holds an IPv6 packet at off with at least 28 bytes of
// headroom (the AF_XDP frame headroom). For a trusted peer whose last
// reception is younger than PeerValidity (30 s), the IPv4 and UDP headers
// are written in place in front of it:
//
//	before:  off-28                off
//	          │ headroom (≥ 28)     │ IPv6 header (40) │ payload │
//	after:   newOff=off-28   off-8 off
//	          │ IPv4 (20)   │ UDP (8)│ IPv6 header (40) │ payload │     newLen = n + 28
//	            src relay IPv4, dst mapping IPv4, DF clear, TTL 64, header checksum
//	            UDP src relay port, dst mapping port, checksum (DisableEncapUDPChecksum: 0)
//
// The inner packet's checksum is completed first when it is partial: a
// Linux sender on a virtual interface (veth, a container, a VM behind a
// bridge) leaves only the pseudo-header sum in the TCP or UDP checksum field
// for the NIC to finish (CHECKSUM_PARTIAL), and AF_XDP loses that state.
// The UDP checksum is then derived from the headers when the inner TCP, UDP
// or ICMPv6 checksum is complete (the segment sums to the complement of its
// pseudo-header), so it costs a few nanoseconds, not a pass over the
// payload; teredo.InnerChecksum has the details. Packets handed to the slow
// path are completed too, before they are queued.
//
// Checks, in order: IPv6 version and length, destination not multicast and
// in 2001::/32, source not Teredo (loop guard) and global (as for Decap
// destinations), no type 0 routing header, mapped IPv4 global unicast (RFC
// 4380 §5.2.4 list plus ExtraBogons), mapped port not 0, mapped IPv4 not
// one of the relay's own addresses, server IPv4 global unicast, size ≤ MTU
// (else Packet Too Big), hop limit > 1 (else Time Exceeded). The cone bit is
// ignored (RFC 5991 §3.2): a peer that is not trusted and valid is queued
// (bounded by the cache) and verified: an indirect bubble to its server:3544
// (and, with DirectBubbles, a direct bubble to its embedded mapping),
// repeated every 2 s up to 3 times, then the entry and its queue are deleted
// and the sender of the first queued packet gets Destination Unreachable
// code 3. At most 4 bubble rounds go to one peer in 300 s without an answer,
// across expiries.
//
// Direct bubbles are off by default. RFC 4380 §5.4.1 has them for a relay
// behind a NAT; for a relay on a public address they are not needed, and
// they break clients behind a Linux (iptables MASQUERADE) NAT: the direct
// bubble reaches the NAT before the client's own first packet to the relay,
// conntrack gives the relay's flow the client's mapped port, the client's
// packets then leave the NAT from another port and all fail the mapping
// check (mapping_mismatch). Seen in the namespace lab with a real Miredo
// client; see deploy/README.md.
//
// # Limits
//
// The slow path handles what is new or rare, so everything that reaches it
// from outside is bounded (teredo-spec.md §6.4, reliability threats T1, T3,
// T5, T6); every refusal is a counted drop:
//
//	what                         key              default            over the limit
//	new verifications            native src /64   50/s, burst 100    drop new_peer_rate_limited (no entry, no bubble, no ICMPv6);
//	                                                                 for a peer without an entry, in the worker (no slow-path slot)
//	bubble datagrams             global           5000/s, burst 5000 first round: drop bubble_rate_limited (no entry);
//	                                                                 retry: round skipped (BubbleRoundsRateLimited), expiry on time
//	bubble rounds, fair shares   server IPv4,     0.25 of the above  first round: drop bubble_server_limited /
//	                             mapped IPv4      (BubbleShare)      bubble_destination_limited; retry: round skipped
//	notices, Time Exceeded       client IPv4      100/s, burst 200   bubble, hop limit ≤ 1: drop client_rate_limited;
//	                                                                 data: forwarded, notice skipped (SlowPathNoticesRateLimited)
//	ICMPv6 errors                global           10/s, burst 10     suppressed (ICMPv6Suppressed); DisableICMPv6Errors: all;
//	                                                                 taken in the worker before a hand-off
//	native hand-offs             Teredo dest.     10/s, burst 10     queueable: drop destination_handoff_limited; ICMPv6 error:
//	                                                                 drop hop_limit/packet_too_big, error suppressed; in the worker
//	bubble rounds per peer       Teredo address   4 per 300 s        drop bubble_budget, Destination Unreachable
//	pending peers, queued bytes  global           cache capacity     drop cache_full, queue_limit, peer_queue_full
//	                                                                 (a peer whose queue is full: in the worker)
//	slow-path events             global           1024 slots         drop slowpath_queue_full
//	trust and learn notices      global           1024 places        notice lost (SlowPathNoticesLost); own places, taken first
//
// Everything a native packet can make the slow path do is bounded in the
// worker, before the packet takes a slot: an ICMPv6 error's token is taken
// (and RFC 4443's rules asked) before its packet is handed over, a packet
// for a peer whose queue is full is dropped there, and each destination has
// a hand-off budget. Clients' trust and learn notices have places of their
// own in the slow-path queue, which the slow path takes first: a flood from
// the native side cannot cost a client its verification.
//
// The per-source limits are GCRA token buckets (one int64 per cell) in
// fixed tables of 16384 cells indexed by a per-engine seeded hash of the
// key: memory is fixed at start, nothing is allocated or evicted, sources
// that collide share a cell (rotating through sources never earns fresh
// buckets), and the client table is shared lock-free (compare-and-swap) by
// all workers and the HandleUDP path. Only packets that need the slow path
// touch them: forwarding between trusted peers costs nothing more.
//
// The new-verification limit is checked twice over one table. A native
// packet for a destination without a cache entry pays its source /64's
// token in the worker, before it is copied into a slow-path slot: a spray of
// packets to random Teredo destinations at line rate is dropped there, so
// it takes at most its /64's burst of slots and cannot starve other sources
// even when the slow path falls behind. The slow path does not charge such a
// packet again, and refunds the token when the destination was verified or
// put under verification by another packet meanwhile (several packets to
// one new peer cost one token). A stale trusted peer verified again pays in
// the slow path, as before.
//
// # Reconfiguration
//
// Engine.Reconfigure changes the policy settings while workers run:
// AcceptUnknownPeers, StrictMapping, DirectBubbles, VerifyUDPChecksum,
// DisableEncapUDPChecksum,
// the ICMPv6 rate, burst and DisableICMPv6Errors, ExtraBogons, the
// secondary IPv4Addrs, and the rates and bursts of the three limiters.
// Everything else (addresses, port, key, table and queue sizes, MTU,
// timers) is fixed at NewEngine and refused with the field named. The
// policy is an immutable struct behind an atomic pointer: a worker loads it
// once per packet, the slow path once per event or timer tick, so a
// reconfiguration costs the data path no lock and no allocation, every
// packet is judged by one consistent policy, and a packet started after
// Reconfigure returns sees the new one. Limiter cells and peer entries are
// kept across a reconfiguration.
//
// # Bubble cookies and symmetric NATs
//
// Bubbles are sent from a cookie, fe80::<epoch bits | HMAC-SHA256(key,
// epoch ‖ peer Teredo address)[:7]> (U/G bits cleared), where the epoch
// counts CookieEpoch (10 s) of wall-clock time; a cookie is accepted for
// CookieValidity (30 s) after its epoch, as Miredo accepts its timestamped
// HMAC for 30 s. The client's direct bubble answers to that address. One
// from a mapping other than the one embedded in the client's address (a
// symmetric NAT, RFC 6081: Linux SNAT --random-fully, carrier-grade NATs,
// Windows clients behind them) is accepted, unless StrictMapping, when it is
// addressed to a fresh cookie and the peer is being verified: pending, or
// trusted and bubbled again because its trust went stale (a NAT that
// rebinds after idle gives the client a new port). The peer is then trusted
// at the observed mapping, where its data is accepted from then on; a peer
// in use is never re-pointed by a bubble, and a cookie seen once cannot be
// replayed later. The key is in Config.Key; keep it across restarts with
// LoadOrCreateKey (cookies of bubbles in flight during a restart stay
// valid).
//
// # Concurrency and counters
//
// One Worker per fast-path goroutine; workers share only the peer cache and
// the slow-path queue. Each owner (worker, HandleUDP path, slow path) writes
// its own atomic counters with Store(Load()+1); Engine.Counters sums them.
// Every drop increments one DropReason counter whose String is a stable
// snake_case metric label.
package relay
