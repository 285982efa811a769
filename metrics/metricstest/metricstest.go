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
	Server metrics.ServerStats
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
	st.Roles = append([]string(nil), st.Roles...)
	st.Announce.Prefixes = append([]string(nil), st.Announce.Prefixes...)
	st.PeerState.Rejected = append([]metrics.Count(nil), st.PeerState.Rejected...)
	return st
}

// ServerStats implements metrics.Source.
func (s *Source) ServerStats() metrics.ServerStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.Server
	v.RASent = append([]metrics.Count(nil), v.RASent...)
	v.Forwarded = append([]metrics.Count(nil), v.Forwarded...)
	v.Drops = append([]metrics.Count(nil), v.Drops...)
	return v
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
			BubbleRetries: 5, BubbleExpiries: 2, ChecksumsCompleted: 7,
			ICMPv6Errors: []metrics.Count{
				{Label: "destination_unreachable", Value: 4},
				{Label: "time_exceeded", Value: 1},
			},
			RateLimited: []metrics.Count{
				{Label: "icmpv6", Value: 6},
				{Label: "bubble", Value: 9},
				{Label: "new_peer", Value: 0},
				{Label: "client_slow_path", Value: 13},
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
				Ring: metrics.RingStats{RxDropped: 1, RxInvalidDescs: 2, TxInvalidDescs: 3, RxRingFull: 4, RxFillRingEmptyDescs: 5, TxRingEmptyDescs: 6,
					FrameStackEmpty: 7, TxRingFull: 8, TxRejected: 9, FreeRejected: 10, KickErrors: 11},
				Umem: metrics.UmemStats{Allocated: 12, AllocStackEmpty: 13}, ReportsUmem: true},
			{Interface: "eth0", ID: 1, XDPMode: "native", ZeroCopy: false, RxPackets: 1150, TxPackets: 700,
				Ring: metrics.RingStats{RxRingFull: 10}, ReportsUmem: true},
		},
		St: metrics.State{
			Roles: []string{metrics.RoleRelay, metrics.RoleServer},
			Ready: true, StartTime: Start,
			Reloads: 3, ReloadFailures: 1, LastReloadSuccessful: true,
			LastReloadSuccess: Start.Add(time.Hour),
			RateLimits: []metrics.RateLimit{
				{Limiter: "icmpv6", PacketsPerSecond: 100},
				{Limiter: "bubble", PacketsPerSecond: 1000},
				{Limiter: "new_peer", PacketsPerSecond: 50},
				{Limiter: "client_slow_path", PacketsPerSecond: 200},
			},
			Announce: metrics.AnnounceState{
				Enabled: true, Prefixes: []string{"2001::/32"}, Announced: true, Desired: true, Confirmed: true,
				Announcements: 4, Withdrawals: 3, Errors: 2,
				LastError: "birdc configure: timed out after 5s", LastErrorTime: Start.Add(30 * time.Minute),
				LastSuccess: Start.Add(time.Hour),
			},
			PeerState: metrics.PeerStateStats{
				Enabled: true, LoadedTrusted: 30, LoadedStale: 8,
				Rejected: []metrics.Count{{Label: "expired", Value: 4}, {Label: "refused", Value: 1}},
				Saves:    360, SaveFailures: 1, LastSave: Start.Add(time.Hour), LastSaveDuration: 2500 * time.Microsecond,
				Saved: 40, Skipped: 0,
			},
		},
		Server: metrics.ServerStats{
			Packets: 385, Bytes: 40000, RSReceived: 120, // 118 RAs + 200 forwarded + 60 hand-offs + 7 drops
			RASent: []metrics.Count{
				{Label: "same_address", Value: 80},
				{Label: "other_address", Value: 38},
			},
			Forwarded: []metrics.Count{
				{Label: "bubble", Value: 150},
				{Label: "icmpv6_to_teredo", Value: 30},
				{Label: "icmpv6_to_native", Value: 20},
			},
			ForwardedBytes: 9000, OriginIndications: 140, RelayHandoffs: 60,
			Drops: []metrics.Count{
				{Label: "rs_invalid", Value: 0},
				{Label: "mapping_mismatch", Value: 5},
				{Label: "rate_limited", Value: 2},
			},
		},
	}
}
