package relay

import "testing"

// The labels exported so far, in value order. They are metric label values:
// never change one (append new values instead; these tests do not need to
// grow with them, Check covers the new ones).
var (
	pinnedDropReasons = []string{
		"ipv4_malformed",
		"ipv4_checksum",
		"ipv4_fragment",
		"not_udp",
		"wrong_destination",
		"udp_malformed",
		"udp_checksum",
		"teredo_malformed",
		"ipv6_malformed",
		"auth_header",
		"origin_indication",
		"trailer_discard",
		"src_not_teredo",
		"mapping_mismatch",
		"bad_cookie",
		"unknown_peer",
		"dst_teredo_loop",
		"dst_multicast",
		"dst_not_served",
		"no_headroom",
		"src_teredo_loop",
		"src_invalid",
		"dst_not_teredo",
		"dst_mapped_bogon",
		"dst_server_bogon",
		"dst_self",
		"hop_limit",
		"packet_too_big",
		"slowpath_queue_full",
		"bubble_budget",
		"peer_queue_full",
		"queue_limit",
		"cache_full",
		"peer_expired",
		"output_error",
		"new_peer_rate_limited",
		"bubble_rate_limited",
		"client_rate_limited",
		"routing_header_type0",
	}
	pinnedICMPv6Kinds = []string{
		"destination_unreachable",
		"packet_too_big",
		"time_exceeded",
	}
)

func TestLabelsPinned(t *testing.T) {
	if err := dropReasonNames.Check(NumDropReasons); err != nil {
		t.Errorf("drop reasons: %v", err)
	}
	if err := dropReasonNames.Pin(pinnedDropReasons); err != nil {
		t.Errorf("drop reasons: %v", err)
	}
	if err := icmpKindNames.Check(NumICMPv6Kinds); err != nil {
		t.Errorf("icmpv6 kinds: %v", err)
	}
	if err := icmpKindNames.Pin(pinnedICMPv6Kinds); err != nil {
		t.Errorf("icmpv6 kinds: %v", err)
	}
	for i, want := range pinnedDropReasons {
		if got := DropReason(i).String(); got != want {
			t.Errorf("DropReason(%d).String() = %q, want %q", i, got, want)
		}
	}
}
