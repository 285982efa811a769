// Package metricstest provides a fake metrics.Source for tests of the
// collector, the control server and relayctl.
package metricstest

import (
	"errors"
	"sync"
	"time"

	"github.com/teredorelay/teredorelay/metrics"
)

// Source is a metrics.Source returning the values in its fields. Set fields
// through Update when the source is in use concurrently.
type Source struct {
	mu     sync.Mutex
	Relay  metrics.RelayCounters
	XDP    []metrics.XDPCount
	XDPErr error
	Peers  metrics.PeerStats
	Qs     []metrics.Queue
	St     metrics.State
}

// Update runs fn with the source locked.
func (s *Source) Update(fn func(s *Source)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fn(s)
}

// RelayCounters implements metrics.Source.
func (s *Source) RelayCounters() metrics.RelayCounters {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.Relay
	r.Drops = append([]metrics.Count(nil), r.Drops...)
	r.ICMPv6Errors = append([]metrics.Count(nil), r.ICMPv6Errors...)
	r.RateLimited = append([]metrics.Count(nil), r.RateLimited...)
	return r
}

// XDPCounters implements metrics.Source.
func (s *Source) XDPCounters() ([]metrics.XDPCount, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.XDPErr != nil {
		return nil, s.XDPErr
	}
	return append([]metrics.XDPCount(nil), s.XDP...), nil
}

// PeerStats implements metrics.Source.
func (s *Source) PeerStats() metrics.PeerStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.Peers
	p.Evictions = append([]metrics.Count(nil), p.Evictions...)
	return p
}

// Queues implements metrics.Source.
func (s *Source) Queues() []metrics.Queue {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]metrics.Queue(nil), s.Qs...)
}

// State implements metrics.Source.
func (s *Source) State() metrics.State {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.St
	st.NotReady = append([]string(nil), st.NotReady...)
	st.RateLimits = append([]metrics.RateLimit(nil), st.RateLimits...)
	st.Announce.Prefixes = append([]string(nil), st.Announce.Prefixes...)
	return st
}

// Start is the StartTime of Sample.
var Start = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// ErrRing is the RingErr Sample sets on no queue; tests assign it to simulate
// a failing XDP_STATISTICS read.
var ErrRing = errors.New("getsockopt XDP_STATISTICS: bad file descriptor")

// Sample returns a source with a distinct non-zero value in every field, so
// that a test can tell each metric from the others.
func Sample() *Source {
	return &Source{
		Relay: metrics.RelayCounters{
			V4ToV6Packets: 1000, V4ToV6Bytes: 120000,
			V6ToV4Packets: 900, V6ToV4Bytes: 110000,
			Drops: []metrics.Count{
				{Label: "malformed", Value: 7},
				{Label: "mapping_mismatch", Value: 3},
				{Label: "peer_table_full", Value: 0},
			},
			BubblesDirect: 11, BubblesIndirect: 12,
			BubbleRetries: 5, BubbleExpiries: 2,
			ICMPv6Errors: []metrics.Count{
				{Label: "destination_unreachable", Value: 4},
				{Label: "time_exceeded", Value: 1},
			},
			RateLimited: []metrics.Count{
				{Label: "bubble", Value: 9},
				{Label: "icmpv6", Value: 6},
			},
		},
		XDP: []metrics.XDPCount{
			{Reason: "redirect_teredo_udp", Action: "redirect", Packets: 1500},
			{Reason: "redirect_teredo_ipv6", Action: "redirect", Packets: 950},
			{Reason: "pass_other", Action: "pass", Packets: 300},
			{Reason: "malformed_ipv4", Action: "drop", Packets: 8},
		},
		Peers: metrics.PeerStats{
			Capacity: 1000, Pending: 3, Trusted: 40,
			QueuedPackets: 2, QueuedBytes: 2560, QueueLimitBytes: 1 << 20,
			Evictions: []metrics.Count{
				{Label: "expired", Value: 20},
				{Label: "lru", Value: 0},
				{Label: "pending_timeout", Value: 2},
			},
		},
		Qs: []metrics.Queue{
			{Interface: "eth0", ID: 0, XDPMode: "native", ZeroCopy: true, RxPackets: 1300, TxPackets: 1200,
				Ring: metrics.RingStats{RxDropped: 1, RxInvalidDescs: 2, TxInvalidDescs: 3, RxRingFull: 4, RxFillRingEmptyDescs: 5, TxRingEmptyDescs: 6}},
			{Interface: "eth0", ID: 1, XDPMode: "native", ZeroCopy: false, RxPackets: 1150, TxPackets: 700,
				Ring: metrics.RingStats{RxRingFull: 10}},
		},
		St: metrics.State{
			Ready: true, StartTime: Start,
			Reloads: 3, ReloadFailures: 1, LastReloadSuccessful: true,
			LastReloadSuccess: Start.Add(time.Hour),
			RateLimits: []metrics.RateLimit{
				{Limiter: "bubble", PacketsPerSecond: 1000},
				{Limiter: "icmpv6", PacketsPerSecond: 100},
			},
			Announce: metrics.AnnounceState{
				Enabled: true, Prefixes: []string{"2001::/32"}, Announced: true, Desired: true,
				Announcements: 4, Withdrawals: 3, Errors: 2,
			},
		},
	}
}
