package nexthop

import (
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"
)

// staleState is testState with every neighbour STALE, plus STALE entries
// that must never be refreshed: the gateway of a route that loses on metric,
// the gateway of a route through a link that is down, and a gateway whose
// route leaves through a link that is not a port.
func staleState() *State {
	s := testState()
	for k, n := range s.neighs {
		n.Stale = n.Usable
		s.neighs[k] = n
	}
	s.SetNeighbour(Neighbour{LinkIndex: 10, IP: ip("fe80::99"), MAC: macAlt, Usable: true, Stale: true}) // ::/0 metric 2048
	s.SetNeighbour(Neighbour{LinkIndex: 14, IP: ip("192.0.2.254"), MAC: macAlt, Usable: true, Stale: true})
	s.SetNeighbour(Neighbour{LinkIndex: 13, IP: ip("192.0.2.254"), MAC: macAlt, Usable: true, Stale: true})
	return s
}

func neighbourNames(ns []Neighbour) []string {
	var out []string
	for _, n := range ns {
		out = append(out, fmt.Sprintf("%v%%%d", n.IP, n.LinkIndex))
	}
	return out
}

// TestStaleGatewaysSelection: only the STALE gateways of the routes a
// snapshot uses, through a port or a VLAN of one that is up, are refreshed
// — not on-link hosts, not unresolved or fresh gateways, not the gateway of
// a route that loses on metric or leaves through another or a down link —
// in (link, address) order.
func TestStaleGatewaysSelection(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	tests := []struct {
		name   string
		modify func(*State)
		ports  []int32 // default 10, 11
		want   []string
	}{
		{"all stale", nil, nil, []string{"192.0.2.254%10", "fe80::1%11", "192.0.2.252%12"}},
		{"reachable gateway is not refreshed", func(s *State) {
			s.SetNeighbour(Neighbour{LinkIndex: 11, IP: ip("fe80::1"), MAC: macGW6, Usable: true})
		}, nil, []string{"192.0.2.254%10", "192.0.2.252%12"}},
		{"unusable stale entry is not refreshed", func(s *State) {
			s.SetNeighbour(Neighbour{LinkIndex: 10, IP: ip("192.0.2.254"), Stale: true})
		}, nil, []string{"fe80::1%11", "192.0.2.252%12"}},
		{"gateway without an entry", func(s *State) {
			s.DeleteNeighbour(12, ip("192.0.2.252"))
		}, nil, []string{"192.0.2.254%10", "fe80::1%11"}},
		{"route moves to another gateway", func(s *State) {
			s.DeleteRoute(pfx("::/0"), 1024)
		}, nil, []string{"192.0.2.254%10", "fe80::99%10", "192.0.2.252%12"}},
		{"routes deleted: their gateways go", func(s *State) {
			s.DeleteRoute(pfx("0.0.0.0/0"), 0)
			s.DeleteRoute(pfx("198.51.100.128/25"), 0)
		}, nil, []string{"fe80::1%11"}},
		{"only the gateways behind ports", nil, []int32{11}, []string{"fe80::1%11"}},
		{"multipath: every hop", func(s *State) {
			s.SetNeighbour(Neighbour{LinkIndex: 11, IP: ip("fe80::3"), MAC: macAlt, Usable: true, Stale: true})
			s.SetRoute(Route{Dst: pfx("2001:db8:9::/48"), Hops: []Gateway{
				{Via: ip("fe80::3"), LinkIndex: 11}, {Via: ip("fe80::1"), LinkIndex: 11},
			}})
		}, nil, []string{"192.0.2.254%10", "fe80::1%11", "fe80::3%11", "192.0.2.252%12"}},
		{"reject route has no gateway", func(s *State) {
			s.SetRoute(Route{Dst: pfx("0.0.0.0/0"), Reject: true})
		}, nil, []string{"fe80::1%11", "192.0.2.252%12"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := staleState()
			if tt.modify != nil {
				tt.modify(s)
			}
			ports := tt.ports
			if ports == nil {
				ports = []int32{10, 11}
			}
			snap := s.Build(ports, 1)
			got := neighbourNames(s.StaleGateways(nil, snap, now, MaxRefreshesPerTick))
			if !slices.Equal(got, tt.want) {
				t.Fatalf("StaleGateways = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestStaleGatewaysBoundedAndHeldOff: at most limit neighbours per call; the
// ones returned are left alone for the hold-off unless an update for them
// arrives, so the others get their turn on the next call.
func TestStaleGatewaysBoundedAndHeldOff(t *testing.T) {
	s := staleState()
	snap := s.Build([]int32{10, 11}, 1)
	now := time.Unix(1_700_000_000, 0)
	step := func(what string, at time.Time, limit int, want ...string) {
		t.Helper()
		got := neighbourNames(s.StaleGateways(nil, snap, at, limit))
		if !slices.Equal(got, want) {
			t.Fatalf("%s: StaleGateways = %v, want %v", what, got, want)
		}
	}
	step("first tick, limit 2", now, 2, "192.0.2.254%10", "fe80::1%11")
	step("second tick: the rest", now.Add(time.Second), 2, "192.0.2.252%12")
	step("third tick: all held off", now.Add(2*time.Second), 2)
	// The kernel reports the gateway STALE again (a new address, say): no
	// hold-off for it any more.
	s.SetNeighbour(Neighbour{LinkIndex: 11, IP: ip("fe80::1"), MAC: macAlt, Usable: true, Stale: true})
	step("after an update", now.Add(3*time.Second), 2, "fe80::1%11")
	step("first ones' hold-off over", now.Add(refreshHoldoff), 2, "192.0.2.254%10")
	step("second one's hold-off over", now.Add(refreshHoldoff+time.Second), 2, "192.0.2.252%12")
	step("limit 0", now.Add(5*refreshHoldoff), 0)
	if len(s.refreshed) != 0 {
		// limit 0 handed nothing out and every earlier mark had expired.
		t.Fatalf("hold-off marks not pruned: %v", s.refreshed)
	}
	s.Reset()
	step("after reset", now.Add(6*refreshHoldoff), 2)
}

// TestStaleGatewaysReusesBuffer: the refresher appends into its buffer.
func TestStaleGatewaysReusesBuffer(t *testing.T) {
	s := staleState()
	snap := s.Build([]int32{10, 11}, 1)
	buf := make([]Neighbour, 0, MaxRefreshesPerTick)
	got := s.StaleGateways(buf, snap, time.Unix(1, 0), MaxRefreshesPerTick)
	if len(got) != 3 || &got[:1][0] != &buf[:1][0] {
		t.Fatalf("StaleGateways did not append into the buffer: %d entries", len(got))
	}
	if got[0].IP != netip.MustParseAddr("192.0.2.254") || got[0].MAC != macGW4 || !got[0].Stale {
		t.Fatalf("first neighbour %+v", got[0])
	}
}

// TestEmptySnapshotHasNoGateways: Empty and a static State refresh nothing.
func TestEmptySnapshotHasNoGateways(t *testing.T) {
	if got := (&State{}).StaleGateways(nil, Empty, time.Unix(1, 0), 8); len(got) != 0 {
		t.Fatalf("Empty: %v", got)
	}
}
