package dataplane

import "testing"

// The labels exported so far, in value order. They are metric label values:
// never change one (append new values instead; these tests do not need to
// grow with them, Check covers the new ones).
var pinnedReasons = []string{
	"l2_malformed",
	"l2_unsupported",
	"no_route",
	"no_l2_headroom",
	"tx_ring_full",
	"copy_no_frame",
	"copy_too_big",
	"kernel_send_error",
	"no_egress_socket",
	"kernel_unresolved_neighbour",
	"kernel_other_link",
	"forwarded_same_umem",
	"forwarded_copied",
}

func TestLabelsPinned(t *testing.T) {
	if err := reasonNames.Check(NumReasons); err != nil {
		t.Error(err)
	}
	if err := reasonNames.Pin(pinnedReasons); err != nil {
		t.Error(err)
	}
	for i, want := range pinnedReasons {
		if got := Reason(i).String(); got != want {
			t.Errorf("Reason(%d).String() = %q, want %q", i, got, want)
		}
	}
}
