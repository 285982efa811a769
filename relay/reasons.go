package relay

import "github.com/teredorelay/teredorelay/internal/enumlabel"

// DropReason says why a packet was not forwarded. The String values are
// stable snake_case names used as metric label values; never renumber or
// rename them, only append.
type DropReason uint8

const (
	// IPv4 side (Decap, HandleUDP).

	DropIPv4Malformed    DropReason = iota // truncated header, bad IHL, version or total length
	DropIPv4Checksum                       // IPv4 header checksum wrong
	DropIPv4Fragment                       // IPv4 fragment reached the fast path (the kernel reassembles them)
	DropNotUDP                             // IPv4 protocol is not UDP
	DropWrongDestination                   // not addressed to a relay IPv4 address (Config.IPv4Addr, IPv4Addrs) and the relay port
	DropUDPMalformed                       // UDP length field inconsistent
	DropUDPChecksum                        // non-zero UDP checksum that does not verify
	DropTeredoMalformed                    // UDP payload is not Teredo (RFC 4380 §5.1.1 demux)
	DropIPv6Malformed                      // inner or native IPv6 packet truncated, version != 6 or length inconsistent
	DropAuthHeader                         // authentication indicator: only servers send it, the relay does not take it
	DropOriginIndication                   // origin indication: only servers send it, the relay does not take it
	DropTrailerDiscard                     // RFC 6081 trailer type 01xxxxxx: the packet must be discarded
	DropSrcNotTeredo                       // inner source outside 2001::/32 (RFC 4380 §5.4.2)
	DropMappingMismatch                    // inner source's mapped IPv4/port differs from the outer source (RFC 4380 §5.4.2)
	DropBadCookie                          // symmetric-NAT bubble whose destination is not the cookie the relay sent
	DropUnknownPeer                        // packet or bubble from a Teredo client the relay has no entry for
	DropDstTeredoLoop                      // client packet to 2001::/32: loop guard, clients talk to each other directly
	DropDstMulticast                       // multicast destination
	DropDstNotServed                       // client packet to a non-global destination (link-local, unique local, loopback, ...)

	// IPv6 side (Encap).

	DropNoHeadroom     // fewer than 28 bytes before the packet: caller bug
	DropSrcTeredoLoop  // native packet from 2001::/32: loop guard
	DropSrcInvalid     // native packet from an unspecified, multicast, loopback, unique local or link-local source
	DropDstNotTeredo   // native packet whose destination is outside 2001::/32
	DropDstMappedBogon // mapped IPv4 not global unicast, or mapped port 0 (RFC 4380 §5.4.1)
	DropDstServerBogon // embedded server IPv4 not global unicast
	DropDstSelf        // mapped or server IPv4 is one of the relay's own addresses: loop guard

	// Both directions, decided by the fast path and completed by the slow path.

	DropHopLimit      // hop limit exhausted; Time Exceeded is attempted
	DropPacketTooBig  // native packet larger than the Teredo MTU; Packet Too Big is attempted
	DropSlowPathQueue // slow-path queue full: counted, never a stall

	// Slow path.

	DropBubbleBudget  // bubble budget (4 per 300 s) spent for this peer; Destination Unreachable attempted
	DropPeerQueueFull // the peer's queue is full
	DropQueueLimit    // the global queued-bytes cap is reached
	DropCacheFull     // no room for a new pending peer
	DropPeerExpired   // queued packet deleted with its peer after the last bubble went unanswered
	DropOutputError   // Output.SendUDP or Output.SendIPv6 failed

	// Hardening (appended: the values above are stable).

	DropNewPeerRateLimited // native source /64 started too many verifications (Config.NewPeerRate)
	DropBubbleRateLimited  // global bubble cap reached: no verification started (Config.BubbleRate)
	DropClientRateLimited  // client IPv4 caused too much slow-path work (Config.ClientSlowPathRate)
	DropRoutingHeader0     // IPv6 routing header type 0 (RFC 5095), either direction

	// Appended for issue 10 (the values above are stable).

	DropSrcMappingInvalid   // outer IPv4 source not a mapping the relay may send to: not global unicast (RFC 4380 §5.2.4, ExtraBogons), a relay address, or port 0
	DropDestHandoffLimited  // native packets for one Teredo destination handed to the slow path too fast (Config.DestinationHandoffRate)
	DropBubbleServerLimited // the destination's Teredo server IPv4 used its share of the bubble cap (Config.BubbleShare)
	DropBubbleDestLimited   // the destination's mapped IPv4 used its share of the bubble cap (Config.BubbleShare)

	// NumDropReasons is the number of reasons; it sizes counter arrays.
	NumDropReasons
)

var dropReasonNames = enumlabel.Table[DropReason]{
	DropIPv4Malformed:    "ipv4_malformed",
	DropIPv4Checksum:     "ipv4_checksum",
	DropIPv4Fragment:     "ipv4_fragment",
	DropNotUDP:           "not_udp",
	DropWrongDestination: "wrong_destination",
	DropUDPMalformed:     "udp_malformed",
	DropUDPChecksum:      "udp_checksum",
	DropTeredoMalformed:  "teredo_malformed",
	DropIPv6Malformed:    "ipv6_malformed",
	DropAuthHeader:       "auth_header",
	DropOriginIndication: "origin_indication",
	DropTrailerDiscard:   "trailer_discard",
	DropSrcNotTeredo:     "src_not_teredo",
	DropMappingMismatch:  "mapping_mismatch",
	DropBadCookie:        "bad_cookie",
	DropUnknownPeer:      "unknown_peer",
	DropDstTeredoLoop:    "dst_teredo_loop",
	DropDstMulticast:     "dst_multicast",
	DropDstNotServed:     "dst_not_served",
	DropNoHeadroom:       "no_headroom",
	DropSrcTeredoLoop:    "src_teredo_loop",
	DropSrcInvalid:       "src_invalid",
	DropDstNotTeredo:     "dst_not_teredo",
	DropDstMappedBogon:   "dst_mapped_bogon",
	DropDstServerBogon:   "dst_server_bogon",
	DropDstSelf:          "dst_self",
	DropHopLimit:         "hop_limit",
	DropPacketTooBig:     "packet_too_big",
	DropSlowPathQueue:    "slowpath_queue_full",
	DropBubbleBudget:     "bubble_budget",
	DropPeerQueueFull:    "peer_queue_full",
	DropQueueLimit:       "queue_limit",
	DropCacheFull:        "cache_full",
	DropPeerExpired:      "peer_expired",
	DropOutputError:      "output_error",

	DropNewPeerRateLimited: "new_peer_rate_limited",
	DropBubbleRateLimited:  "bubble_rate_limited",
	DropClientRateLimited:  "client_rate_limited",
	DropRoutingHeader0:     "routing_header_type0",

	DropSrcMappingInvalid:   "src_mapping_invalid",
	DropDestHandoffLimited:  "destination_handoff_limited",
	DropBubbleServerLimited: "bubble_server_limited",
	DropBubbleDestLimited:   "bubble_destination_limited",
}

// String returns the stable snake_case label of r.
func (r DropReason) String() string {
	return dropReasonNames.Label(r)
}

// ICMPv6Kind is an ICMPv6 error the relay generates.
type ICMPv6Kind uint8

const (
	ICMPv6DestUnreachable ICMPv6Kind = iota // type 1 code 3 (address unreachable)
	ICMPv6PacketTooBig                      // type 2, MTU = Config.MTU
	ICMPv6TimeExceeded                      // type 3 code 0 (hop limit exceeded in transit)

	// NumICMPv6Kinds sizes counter arrays.
	NumICMPv6Kinds
)

var icmpKindNames = enumlabel.Table[ICMPv6Kind]{
	ICMPv6DestUnreachable: "destination_unreachable",
	ICMPv6PacketTooBig:    "packet_too_big",
	ICMPv6TimeExceeded:    "time_exceeded",
}

// String returns the stable snake_case label of k.
func (k ICMPv6Kind) String() string {
	return icmpKindNames.Label(k)
}
