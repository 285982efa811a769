package nexthop

import "time"

// Neighbour refresh. The kernel re-validates a STALE neighbour entry only
// when it sends through it (STALE → DELAY, after delay_first_probe_time
// PROBE, then REACHABLE on an answer or FAILED after ucast_solicit unanswered
// probes). The relay's frames bypass the kernel, so a gateway whose link-layer
// address changed silently would stay STALE with the old address for good
// and every frame the relay sends it would be lost. The Table therefore tells
// the kernel, through RTM_NEWNEIGH with NTF_USE, that the gateways it forwards
// to are in use, exactly as a forwarded packet would: the kernel runs its
// state machine and reports the outcome through the neighbour subscription (a
// new address, or FAILED, which makes the route Unresolved so that packets
// take the kernel path, which resolves the gateway again).

const (
	// DefaultNeighbourRefresh is how often the Table looks for STALE gateways
	// when Options.NeighbourRefresh is 0.
	DefaultNeighbourRefresh = time.Second
	// MaxRefreshesPerTick bounds the refresh requests sent per tick.
	MaxRefreshesPerTick = 64
	// refreshHoldoff is how long a neighbour handed out by StaleGateways is
	// left alone unless an update for it arrives: the kernel does not report
	// STALE → DELAY → PROBE, only the outcome, which takes
	// delay_first_probe_time + ucast_solicit × retrans_time (5 s + 3 × 1 s by
	// default).
	refreshHoldoff = 10 * time.Second
)

// StaleGateways appends to dst, in (link, address) order and at most limit
// of them, the neighbours the kernel should re-validate: the gateways of
// snap's routes through a port (or a VLAN of one) whose entry in s is usable
// and Stale, and which no earlier call returned within the hold-off (10 s)
// unless an update for them arrived since. It records the returned ones as
// refreshed at now. Only gateways qualify: their number is bounded by the
// routes, while on-link destinations are as many as the hosts on the link.
func (s *State) StaleGateways(dst []Neighbour, snap *Snapshot, now time.Time, limit int) []Neighbour {
	if s.refreshed == nil {
		s.refreshed = map[neighKey]time.Time{}
	}
	for k, at := range s.refreshed {
		if now.Sub(at) >= refreshHoldoff {
			delete(s.refreshed, k)
		}
	}
	added := 0
	for _, k := range snap.gateways {
		if added >= limit {
			break
		}
		n, ok := s.neighs[k]
		if !ok || !n.Usable || !n.Stale {
			continue
		}
		if _, recent := s.refreshed[k]; recent {
			continue
		}
		s.refreshed[k] = now
		dst = append(dst, n)
		added++
	}
	return dst
}
