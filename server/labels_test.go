package server

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
		"teredo_malformed",
		"ipv6_malformed",
		"trailer_discard",
		"origin_indication",
		"not_bubble_or_icmpv6",
		"src_not_global",
		"loop",
		"rs_invalid",
		"auth_header",
		"mapping_mismatch",
		"dst_not_our_client",
		"local_not_rs",
		"icmpv6_too_big",
		"dst_multicast",
		"dst_not_global",
		"bubble_to_native",
		"dst_mapped_bogon",
		"dst_self",
		"hop_limit",
		"rate_limited",
		"no_headroom",
		"no_tailroom",
	}
	pinnedForwardKinds = []string{
		"bubble",
		"icmpv6_to_teredo",
		"icmpv6_to_native",
	}
	pinnedRAKinds = []string{
		"same_address",
		"other_address",
	}
)

func TestLabelsPinned(t *testing.T) {
	if err := dropReasonNames.Check(NumDropReasons); err != nil {
		t.Errorf("drop reasons: %v", err)
	}
	if err := dropReasonNames.Pin(pinnedDropReasons); err != nil {
		t.Errorf("drop reasons: %v", err)
	}
	if err := forwardKindNames.Check(NumForwardKinds); err != nil {
		t.Errorf("forward kinds: %v", err)
	}
	if err := forwardKindNames.Pin(pinnedForwardKinds); err != nil {
		t.Errorf("forward kinds: %v", err)
	}
	if err := raKindNames.Check(NumRAKinds); err != nil {
		t.Errorf("RA kinds: %v", err)
	}
	if err := raKindNames.Pin(pinnedRAKinds); err != nil {
		t.Errorf("RA kinds: %v", err)
	}
	for i, want := range pinnedDropReasons {
		if got := DropReason(i).String(); got != want {
			t.Errorf("DropReason(%d).String() = %q, want %q", i, got, want)
		}
	}
}
