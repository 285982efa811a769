package bpf

import "strconv"

// Reason is why the steering program let a frame go where it went. It mirrors
// enum reason in steer.h; the value is the key of the per-CPU counters map and
// String is the metric label. Values are append-only.
type Reason uint32

// Verdict reasons, in the order of enum reason (steer.h).
const (
	// ReasonSteerIPv4UDP: unfragmented UDP to a relay address and the relay
	// port, redirected to the AF_XDP socket of the receiving queue.
	ReasonSteerIPv4UDP Reason = iota
	// ReasonSteerIPv6Teredo: IPv6 to 2001::/32, redirected.
	ReasonSteerIPv6Teredo
	// ReasonPassNoSocket: steerable, but no socket is registered for the
	// receiving queue, so the kernel got it.
	ReasonPassNoSocket
	// ReasonPassTruncatedL2: the frame ends inside the Ethernet header or a
	// VLAN tag.
	ReasonPassTruncatedL2
	// ReasonPassVLANTooDeep: more than two stacked 802.1Q/802.1ad tags.
	ReasonPassVLANTooDeep
	// ReasonPassARP: ARP.
	ReasonPassARP
	// ReasonPassNotIP: any other EtherType.
	ReasonPassNotIP
	// ReasonPassIPv4Disabled: IPv4 steering is off for this attachment.
	ReasonPassIPv4Disabled
	// ReasonPassIPv4Malformed: truncated IPv4 header, version != 4, IHL < 5,
	// header or total length beyond the frame, total length < header length.
	ReasonPassIPv4Malformed
	// ReasonPassIPv4Other: IPv4 that is not UDP (ICMP, TCP such as BGP and
	// SSH, ...).
	ReasonPassIPv4Other
	// ReasonPassIPv4NotRelayAddr: UDP to an address that is not a relay
	// address.
	ReasonPassIPv4NotRelayAddr
	// ReasonPassIPv4Fragment: a UDP fragment (MF set or offset != 0) to a
	// relay address; the kernel reassembles it.
	ReasonPassIPv4Fragment
	// ReasonPassIPv4NotRelayPort: UDP to a relay address but another port.
	ReasonPassIPv4NotRelayPort
	// ReasonPassUDPMalformed: relay-bound UDP whose header is truncated or
	// whose length field is < 8 or beyond the IPv4 payload.
	ReasonPassUDPMalformed
	// ReasonPassIPv6Disabled: IPv6 steering is off for this attachment.
	ReasonPassIPv6Disabled
	// ReasonPassIPv6Malformed: truncated IPv6 header, version != 6, payload
	// length beyond the frame.
	ReasonPassIPv6Malformed
	// ReasonPassIPv6ND: ICMPv6 Neighbor Discovery (types 133-137) not to
	// 2001::/32.
	ReasonPassIPv6ND
	// ReasonPassIPv6Other: any other IPv6 not to 2001::/32.
	ReasonPassIPv6Other
	// ReasonDropTeredoMalformed: UDP to a relay address and port whose
	// payload teredo.Packet.Decode rejects (not [auth indicator] [origin
	// indication] IPv6 header, or an IPv6 payload length beyond the
	// datagram); dropped (XDP_DROP).
	ReasonDropTeredoMalformed
	// ReasonPassL2Group: steerable, but sent to a broadcast or multicast
	// MAC address; the kernel handles it as it would without the relay.
	ReasonPassL2Group
	// ReasonDropNotOurMAC: steerable, but sent to another host's unicast
	// MAC address (Config.MACs), such as an unknown-unicast flood on an IX
	// LAN meant for another relay; dropped as Linux forwarding drops it.
	ReasonDropNotOurMAC
	// ReasonDropOversize: steerable, but longer than an AF_XDP frame takes
	// (Config.MaxFrameLen). Only generic XDP sees such frames: it runs
	// after GRO and on GSO super-frames.
	ReasonDropOversize

	// NumReasons is the number of reasons (REASON_LEN).
	NumReasons int = iota
)

// reasonLabels are the metric labels, indexed by Reason. They are the C
// enumerator names without the REASON_ prefix, in lower case
// (TestReasonTableMatchesBTF checks this against the object's BTF).
var reasonLabels = [NumReasons]string{
	ReasonSteerIPv4UDP:         "steer_ipv4_udp",
	ReasonSteerIPv6Teredo:      "steer_ipv6_teredo",
	ReasonPassNoSocket:         "pass_no_socket",
	ReasonPassTruncatedL2:      "pass_truncated_l2",
	ReasonPassVLANTooDeep:      "pass_vlan_too_deep",
	ReasonPassARP:              "pass_arp",
	ReasonPassNotIP:            "pass_not_ip",
	ReasonPassIPv4Disabled:     "pass_ipv4_disabled",
	ReasonPassIPv4Malformed:    "pass_ipv4_malformed",
	ReasonPassIPv4Other:        "pass_ipv4_other",
	ReasonPassIPv4NotRelayAddr: "pass_ipv4_not_relay_addr",
	ReasonPassIPv4Fragment:     "pass_ipv4_fragment",
	ReasonPassIPv4NotRelayPort: "pass_ipv4_not_relay_port",
	ReasonPassUDPMalformed:     "pass_udp_malformed",
	ReasonPassIPv6Disabled:     "pass_ipv6_disabled",
	ReasonPassIPv6Malformed:    "pass_ipv6_malformed",
	ReasonPassIPv6ND:           "pass_ipv6_nd",
	ReasonPassIPv6Other:        "pass_ipv6_other",
	ReasonDropTeredoMalformed:  "drop_teredo_malformed",
	ReasonPassL2Group:          "pass_l2_group",
	ReasonDropNotOurMAC:        "drop_not_our_mac",
	ReasonDropOversize:         "drop_oversize",
}

// String returns the metric label, e.g. "steer_ipv4_udp". Unknown values
// (from a newer object) become "reason_<n>".
func (r Reason) String() string {
	if int(r) < NumReasons {
		return reasonLabels[r]
	}
	return "reason_" + strconv.FormatUint(uint64(r), 10)
}

// Steered reports whether the reason is a redirect to an AF_XDP socket.
func (r Reason) Steered() bool {
	return r == ReasonSteerIPv4UDP || r == ReasonSteerIPv6Teredo
}

// Dropped reports whether the program drops the frame (XDP_DROP). Reasons
// neither steered nor dropped are an XDP_PASS to the kernel.
func (r Reason) Dropped() bool {
	return r == ReasonDropTeredoMalformed || r == ReasonDropNotOurMAC || r == ReasonDropOversize
}

// Reasons returns all reasons in value order, for iterating metric labels.
func Reasons() [NumReasons]Reason {
	var all [NumReasons]Reason
	for i := range all {
		all[i] = Reason(i)
	}
	return all
}

// Counters holds per-reason frame totals (summed over CPUs), indexed by
// Reason. Totals only grow while the program is loaded; compute deltas
// between reads.
type Counters [NumReasons]uint64

// Total is the number of frames the program has seen.
func (c *Counters) Total() uint64 {
	var n uint64
	for _, v := range c {
		n += v
	}
	return n
}

// Steered is the number of frames redirected to AF_XDP sockets.
func (c *Counters) Steered() uint64 {
	return c[ReasonSteerIPv4UDP] + c[ReasonSteerIPv6Teredo]
}
