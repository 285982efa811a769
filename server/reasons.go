package server

import "github.com/teredorelay/teredorelay/internal/enumlabel"

// DropReason says why the server did not forward or answer a datagram. The
// String values are stable snake_case names used as metric label values;
// never renumber or rename them, only append.
type DropReason uint8

const (
	// IPv4 and UDP (frame path).

	DropIPv4Malformed    DropReason = iota // truncated header, bad IHL, version or total length
	DropIPv4Checksum                       // IPv4 header checksum wrong
	DropIPv4Fragment                       // IPv4 fragment reached the frame path (the kernel reassembles them)
	DropNotUDP                             // IPv4 protocol is not UDP
	DropWrongDestination                   // not addressed to a server address and port 3544
	DropUDPMalformed                       // UDP length field inconsistent

	// RFC 4380 §5.3.1 acceptance checks, in the RFC's order.

	DropTeredoMalformed   // rule 1: the UDP payload is not Teredo (RFC 4380 §5.1.1 demultiplexing)
	DropIPv6Malformed     // rule 1: inner IPv6 version or length wrong
	DropTrailerDiscard    // rule 1: RFC 6081 trailer of type 01xxxxxx
	DropOriginIndication  // rule 1: origin indication received: only servers send it, to their clients
	DropNotBubbleOrICMPv6 // rule 2: neither a bubble nor ICMPv6 (and not handed to a co-located relay)
	DropSrcNotGlobal      // rule 3: IPv4 source not global unicast
	DropLoop              // loop guard: IPv4 source is a server address with port 3544
	DropRSInvalid         // rule 4: ICMPv6 type 133 to ff02::2 that is not a valid RS (hop limit, code, length, checksum)
	DropAuthHeader        // authentication indicator on anything but an RS
	DropMappingMismatch   // rule 5: Teredo source whose mapping differs from the IPv4/UDP source
	DropDstNotOurClient   // rule 6/7: non-Teredo source and a destination that is not a Teredo address of this server

	// Destination processing (RFC 4380 §5.3.1) and Miredo's limits.

	DropLocalNotRS     // to ff02::2 or the server's link-local address but not an RS
	DropICMPv6TooBig   // ICMPv6 payload above Config.ICMPv6PayloadMax (88 bytes: not an open relay)
	DropDstMulticast   // multicast destination
	DropDstNotGlobal   // native destination that is not routable (teredo.IsRoutable: link-local, unique local, loopback, unspecified, ...)
	DropBubbleToNative // bubble to a native IPv6 address: bubbles are never routed
	DropDstMappedBogon // Teredo destination whose mapped IPv4 is not global unicast or whose port is 0
	DropDstSelf        // Teredo destination mapped to one of our own addresses: loop guard
	DropHopLimit       // native destination and hop limit ≤ 1
	DropRateLimited    // the source IPv4 address exceeded its token bucket

	// Buffer limits (caller bugs: the frame lacks headroom or tailroom).

	DropNoHeadroom // no room in front of the packet for the IPv4/UDP headers and the origin indication
	DropNoTailroom // no room after the RS for the larger RA

	// Appended (the values above are stable).

	DropICMPv6Truncated // rule 2: ICMPv6 shorter than its 4-byte header (type, code, checksum)

	// NumDropReasons is the number of reasons; it sizes counter arrays.
	NumDropReasons
)

var dropReasonNames = enumlabel.Table[DropReason]{
	DropIPv4Malformed:     "ipv4_malformed",
	DropIPv4Checksum:      "ipv4_checksum",
	DropIPv4Fragment:      "ipv4_fragment",
	DropNotUDP:            "not_udp",
	DropWrongDestination:  "wrong_destination",
	DropUDPMalformed:      "udp_malformed",
	DropTeredoMalformed:   "teredo_malformed",
	DropIPv6Malformed:     "ipv6_malformed",
	DropTrailerDiscard:    "trailer_discard",
	DropOriginIndication:  "origin_indication",
	DropNotBubbleOrICMPv6: "not_bubble_or_icmpv6",
	DropSrcNotGlobal:      "src_not_global",
	DropLoop:              "loop",
	DropRSInvalid:         "rs_invalid",
	DropAuthHeader:        "auth_header",
	DropMappingMismatch:   "mapping_mismatch",
	DropDstNotOurClient:   "dst_not_our_client",
	DropLocalNotRS:        "local_not_rs",
	DropICMPv6TooBig:      "icmpv6_too_big",
	DropDstMulticast:      "dst_multicast",
	DropDstNotGlobal:      "dst_not_global",
	DropBubbleToNative:    "bubble_to_native",
	DropDstMappedBogon:    "dst_mapped_bogon",
	DropDstSelf:           "dst_self",
	DropHopLimit:          "hop_limit",
	DropRateLimited:       "rate_limited",
	DropNoHeadroom:        "no_headroom",
	DropNoTailroom:        "no_tailroom",
	DropICMPv6Truncated:   "icmpv6_truncated",
}

// String returns the stable snake_case label of r.
func (r DropReason) String() string {
	return dropReasonNames.Label(r)
}

// ForwardKind classifies the packets the server forwards. The String values
// are stable snake_case metric labels.
type ForwardKind uint8

const (
	ForwardBubble         ForwardKind = iota // bubble encapsulated to a Teredo destination's mapping
	ForwardICMPv6ToTeredo                    // ICMPv6 encapsulated to a Teredo destination's mapping
	ForwardICMPv6ToNative                    // ICMPv6 from a client to the native IPv6 side

	// NumForwardKinds sizes counter arrays.
	NumForwardKinds
)

var forwardKindNames = enumlabel.Table[ForwardKind]{
	ForwardBubble:         "bubble",
	ForwardICMPv6ToTeredo: "icmpv6_to_teredo",
	ForwardICMPv6ToNative: "icmpv6_to_native",
}

// String returns the stable snake_case label of k.
func (k ForwardKind) String() string {
	return forwardKindNames.Label(k)
}

// RAKind says from which server address a Router Advertisement was sent
// (RFC 4380 §5.3.2 cone test). The String values are stable metric labels.
type RAKind uint8

const (
	RASameAddress  RAKind = iota // cone bit clear: from the address the RS arrived on
	RAOtherAddress               // cone bit set: from the other server address

	// NumRAKinds sizes counter arrays.
	NumRAKinds
)

var raKindNames = enumlabel.Table[RAKind]{
	RASameAddress:  "same_address",
	RAOtherAddress: "other_address",
}

// String returns the stable snake_case label of k.
func (k RAKind) String() string {
	return raKindNames.Label(k)
}
