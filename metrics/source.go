package metrics

import "time"

// Source is what the daemon implements to feed the Collector. Every method
// returns a snapshot taken at call time; none may block on the data plane.
type Source interface {
	// RelayCounters returns the Go engine's counters summed over all workers
	// and the slow path.
	RelayCounters() RelayCounters
	// XDPCounters returns the steering program's per-reason packet counts
	// summed over CPUs, one entry per reason (zeros included).
	XDPCounters() ([]XDPCount, error)
	// PeerStats returns the peer cache's occupancy and eviction counters.
	PeerStats() PeerStats
	// Queues returns one entry per AF_XDP socket (interface, RX queue).
	Queues() []Queue
	// State returns readiness, drain and configuration state.
	State() State
	// ServerStats returns the Teredo server role's counters; without the
	// role, every counter is zero (every drop reason still listed).
	ServerStats() ServerStats
}

// Count is one value of a counter labelled by a closed enum: Label is the
// enum value's stable snake_case name.
type Count struct {
	Label string `json:"label"`
	Value uint64 `json:"value"`
}

// RelayCounters are the Go engine's counters (fast-path workers, kernel UDP
// socket path and slow path together).
type RelayCounters struct {
	// Packets and bytes forwarded, by direction. V4ToV6 is client → native
	// (decapsulated), V6ToV4 is native → client (encapsulated). Bytes count
	// the IPv6 packet (without the IPv4/UDP encapsulation).
	V4ToV6Packets, V4ToV6Bytes uint64
	V6ToV4Packets, V6ToV4Bytes uint64
	// Drops by reason (relay drop reason enum), every reason listed.
	Drops []Count
	// Bubbles sent to open a path to a peer: direct to the mapped address, or
	// indirect through the peer's Teredo server [RFC 4380 §5.4.2].
	BubblesDirect, BubblesIndirect uint64
	// BubbleRetries counts bubbles re-sent because a pending peer did not
	// answer; BubbleExpiries counts pending peers given up after the last retry.
	BubbleRetries, BubbleExpiries uint64
	// ChecksumsCompleted counts native packets whose partial inner TCP or
	// UDP checksum the relay completed before encapsulating them.
	ChecksumsCompleted uint64
	// ICMPv6Errors counts ICMPv6 error messages sent, by type
	// (destination_unreachable, packet_too_big, time_exceeded, parameter_problem).
	ICMPv6Errors []Count
	// RateLimited counts packets (bubbles, ICMPv6 errors, ...) not sent because a
	// rate limiter refused them, by limiter name.
	RateLimited []Count
}

// XDPCount is the number of packets the steering program handled for one
// reason. Action is the XDP verdict the reason leads to: "redirect", "pass",
// "drop", "tx" or "aborted". Packets with Action "drop" are also reported as
// drops with layer="xdp".
type XDPCount struct {
	Reason  string
	Action  string
	Packets uint64
}

// PeerStats is the peer cache's occupancy.
type PeerStats struct {
	Capacity        uint64
	Pending         uint64
	Trusted         uint64
	QueuedPackets   uint64 // packets held for pending peers
	QueuedBytes     uint64
	QueueLimitBytes uint64  // global bound on QueuedBytes
	Evictions       []Count // by reason (e.g. expired, lru, pending_timeout)
}

// RingStats are the counters of one AF_XDP socket: the kernel's
// XDP_STATISTICS (the first six fields, ignored when Queue.RingErr is set)
// and the ring events the socket's owner counts in Go (always valid).
type RingStats struct {
	RxDropped            uint64
	RxInvalidDescs       uint64
	TxInvalidDescs       uint64
	RxRingFull           uint64
	RxFillRingEmptyDescs uint64
	TxRingEmptyDescs     uint64

	// FrameStackEmpty counts fill-ring refills that got fewer frames than
	// asked because every UMEM frame was in use.
	FrameStackEmpty uint64
	// TxRingFull counts transmits that could not place every descriptor.
	TxRingFull uint64
	// TxRejected counts descriptors the socket refused to transmit (bad
	// length or address); FreeRejected frames that could not go back to
	// the frame stack. Both are frame accounting bugs.
	TxRejected, FreeRejected uint64
	// KickErrors counts failed sendto/recvfrom wake-ups (all errnos).
	KickErrors uint64
}

// UmemStats are the counters of one UMEM (frame pool), which several
// sockets may share.
type UmemStats struct {
	// Allocated counts frames handed out by the UMEM's allocator (the
	// copy path between separate UMEMs, generated replies).
	Allocated uint64
	// AllocStackEmpty counts allocations that found every frame in use.
	AllocStackEmpty uint64
}

// Queue is one AF_XDP socket bound to an interface RX queue.
type Queue struct {
	Interface string
	ID        int
	// XDPMode is the attach mode in use on the interface: "native" or "generic"
	// (or "offload").
	XDPMode  string
	ZeroCopy bool
	Ring     RingStats
	// RingErr is set when XDP_STATISTICS could not be read; the kernel
	// fields of Ring are then ignored.
	RingErr error
	// Umem holds the counters of the socket's UMEM on exactly one socket
	// of each UMEM (ReportsUmem true), so that sockets sharing a UMEM do
	// not report it twice; the UMEM's events carry that socket's
	// interface and queue.
	Umem        UmemStats
	ReportsUmem bool
	// Packets received from and transmitted to this queue by its worker.
	RxPackets, TxPackets uint64
}

// RingEvents calls fn with the ring event label and value of every counter
// of q, in a fixed order: the kernel's XDP_STATISTICS (unless q.RingErr is
// set), the Go-side ring events, and the UMEM's events when q reports its
// UMEM. The collector and the control API use it, so both list the same
// events.
func RingEvents(q *Queue, fn func(event string, v uint64)) {
	r := &q.Ring
	if q.RingErr == nil {
		fn(EventRxDropped, r.RxDropped)
		fn(EventRxInvalidDescs, r.RxInvalidDescs)
		fn(EventTxInvalidDescs, r.TxInvalidDescs)
		fn(EventRxRingFull, r.RxRingFull)
		fn(EventRxFillRingEmptyDescs, r.RxFillRingEmptyDescs)
		fn(EventTxRingEmptyDescs, r.TxRingEmptyDescs)
	}
	fn(EventFrameStackEmpty, r.FrameStackEmpty)
	fn(EventTxRingFull, r.TxRingFull)
	fn(EventTxRejected, r.TxRejected)
	fn(EventFreeRejected, r.FreeRejected)
	fn(EventKickErrors, r.KickErrors)
	if q.ReportsUmem {
		fn(EventUmemFramesAllocated, q.Umem.Allocated)
		fn(EventUmemAllocStackEmpty, q.Umem.AllocStackEmpty)
	}
}

// SocketMode names the AF_XDP socket mode: "zero_copy" or "copy".
func (q Queue) SocketMode() string {
	if q.ZeroCopy {
		return "zero_copy"
	}
	return "copy"
}

// RateLimit is one configured rate limit.
type RateLimit struct {
	Limiter          string  // same name as in RelayCounters.RateLimited
	PacketsPerSecond float64 // sustained rate allowed
}

// State is the daemon's control state.
type State struct {
	// Roles lists the roles the daemon runs (RoleRelay, RoleServer).
	Roles    []string
	Ready    bool
	Draining bool
	// NotReady lists why the daemon is not ready (empty when Ready).
	NotReady  []string
	StartTime time.Time
	// Reloads and ReloadFailures count configuration reloads attempted and failed.
	Reloads, ReloadFailures uint64
	// LastReloadSuccessful is the result of the last reload (true when none
	// was attempted: the start-up configuration loaded).
	LastReloadSuccessful bool
	// LastReloadSuccess is when the configuration was last loaded successfully
	// (start-up counts).
	LastReloadSuccess time.Time
	RateLimits        []RateLimit
	// Announce is the BIRD announcement driver's state (package announce).
	Announce AnnounceState
	// PeerState is the persistence of the trusted peers (metrics/peerstate.go).
	PeerState PeerStateStats
}

// AnnounceState is the anycast announcement's state. While Enabled is false
// (announce.enabled off) its metrics are exported as zeros.
type AnnounceState struct {
	Enabled bool
	// Prefixes are the configured prefixes (a short, operator-set list: one
	// series each).
	Prefixes []string
	// Announced is what BIRD last confirmed; Desired is what the relay's
	// health asks for (ready, not drained, for the rise time).
	Announced, Desired bool
	// Confirmed is true once BIRD has confirmed any state (Announced is
	// meaningful only then).
	Confirmed bool
	// Announcements and Withdrawals count confirmed transitions; Errors
	// counts failed attempts (include file or birdc).
	Announcements, Withdrawals, Errors uint64
	// LastError and LastErrorTime describe the last failed attempt;
	// LastSuccess is when BIRD last confirmed a state. For the control
	// API only (not exported as metrics).
	LastError     string
	LastErrorTime time.Time
	LastSuccess   time.Time
	// Sessions are BIRD's BGP sessions as last asked (SessionsTime; zero
	// before the first answer), or SessionsError why BIRD could not be
	// asked. For the control API only.
	Sessions      []BGPSession
	SessionsTime  time.Time
	SessionsError string
}

// BGPSession is one of BIRD's BGP sessions: its state ("up Established",
// "start Connect") and whether it exports every announced prefix.
type BGPSession struct {
	Name        string
	State       string
	Established bool
	Exported    bool
}

// ServerStats are the Teredo server role's counters (package server),
// summed over its handlers. Every datagram offered (Packets) ends as one RA
// (RASent), one forwarded packet (Forwarded), one hand-off to the
// co-located relay (RelayHandoffs) or one drop (Drops).
type ServerStats struct {
	// Packets and Bytes count the datagrams offered to the server (bytes:
	// the IPv4 packet on the AF_XDP path, the UDP payload on the kernel
	// socket path).
	Packets, Bytes uint64
	// RSReceived counts valid Router Solicitations (RFC 4380 §5.3.1).
	RSReceived uint64
	// RASent counts Router Advertisements by the address they left from
	// (same_address, other_address: RFC 4380 §5.3.2 cone test).
	RASent []Count
	// Forwarded counts forwarded packets by kind (bubble,
	// icmpv6_to_teredo, icmpv6_to_native); ForwardedBytes their IPv6 bytes.
	Forwarded      []Count
	ForwardedBytes uint64
	// OriginIndications counts forwarded packets that got an origin
	// indication (destination is a client of this server).
	OriginIndications uint64
	// RelayHandoffs counts datagrams handed to the co-located relay.
	RelayHandoffs uint64
	// Drops by reason (server drop reason enum), every reason listed.
	Drops []Count
}
