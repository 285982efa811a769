package metrics

import "github.com/prometheus/client_golang/prometheus"

// Namespace is the prefix of every metric the Collector exports.
const Namespace = "teredo_relay"

// Kind is a metric type as written in docs/metrics.md.
type Kind string

// Metric kinds.
const (
	Counter Kind = "counter"
	Gauge   Kind = "gauge"
)

// Def describes one exported metric. Defs is the single source of truth for
// the Collector's descriptors, docs/metrics.md and the tests that check the
// dashboard and alert rules against the collector.
type Def struct {
	Name   string // full name, with Namespace
	Kind   Kind
	Help   string
	Labels []string
	// LabelValues documents the closed value set of each label (for the docs).
	LabelValues map[string]string
}

// Desc returns the metric's descriptor.
func (d Def) Desc() *prometheus.Desc {
	return prometheus.NewDesc(d.Name, d.Help, d.Labels, nil)
}

// ValueType is the Prometheus value type of the metric's Kind.
func (d Def) ValueType() prometheus.ValueType {
	if d.Kind == Counter {
		return prometheus.CounterValue
	}
	return prometheus.GaugeValue
}

func n(name string) string { return Namespace + "_" + name }

// Label value sets used in several metrics.
const (
	DirectionV4ToV6 = "v4_to_v6"
	DirectionV6ToV4 = "v6_to_v4"
	LayerXDP        = "xdp"
	LayerRelay      = "relay"
	BubbleDirect    = "direct"
	BubbleIndirect  = "indirect"
	SourceXDP       = "xdp"
	SourceAFXDP     = "afxdp"
	AnnounceTo      = "announced"
	WithdrawTo      = "withdrawn"
	RoleRelay       = "relay"
	RoleServer      = "server"
	// Values of teredo_relay_server_ra_sent_total's from label (package
	// server's RAKind names).
	RAFromSameAddress  = "same_address"
	RAFromOtherAddress = "other_address"
)

// Roles lists the roles of teredo_relay_role_enabled, in export order.
var Roles = []string{RoleRelay, RoleServer}

// Ring event label values, one per XDP_STATISTICS field.
const (
	EventRxDropped            = "rx_dropped"
	EventRxInvalidDescs       = "rx_invalid_descs"
	EventTxInvalidDescs       = "tx_invalid_descs"
	EventRxRingFull           = "rx_ring_full"
	EventRxFillRingEmptyDescs = "rx_fill_ring_empty_descs"
	EventTxRingEmptyDescs     = "tx_ring_empty_descs"
)

// Ring event label values counted in Go by the socket's owner (package
// xsk RingStats), and the UMEM's events.
const (
	EventFrameStackEmpty     = "frame_stack_empty"
	EventTxRingFull          = "tx_ring_full"
	EventTxRejected          = "tx_rejected"
	EventFreeRejected        = "free_rejected"
	EventKickErrors          = "kick_errors"
	EventUmemFramesAllocated = "umem_frames_allocated"
	EventUmemAllocStackEmpty = "umem_alloc_stack_empty"
)

const reasonOpen = "drop reason enum of the layer: relay package for relay, bpf package for xdp"

// The exported metrics, in documentation order.
var (
	defPackets = Def{Name: n("packets_total"), Kind: Counter,
		Help:   "Packets forwarded by the relay, by direction (v4_to_v6: Teredo client to native IPv6, v6_to_v4: native IPv6 to Teredo client).",
		Labels: []string{"direction"}, LabelValues: map[string]string{"direction": "v4_to_v6, v6_to_v4"}}
	defBytes = Def{Name: n("bytes_total"), Kind: Counter,
		Help:   "Bytes of IPv6 packets forwarded by the relay (encapsulation excluded), by direction.",
		Labels: []string{"direction"}, LabelValues: map[string]string{"direction": "v4_to_v6, v6_to_v4"}}
	defDrops = Def{Name: n("drops_total"), Kind: Counter,
		Help:   "Packets dropped, by layer (xdp: steering program, relay: Go engine) and reason.",
		Labels: []string{"layer", "reason"}, LabelValues: map[string]string{"layer": "xdp, relay", "reason": reasonOpen}}
	defXDPPackets = Def{Name: n("xdp_packets_total"), Kind: Counter,
		Help:   "Packets seen by the XDP steering program, by verdict action and reason.",
		Labels: []string{"action", "reason"}, LabelValues: map[string]string{"action": "redirect, pass, drop, tx, aborted", "reason": "bpf package reason enum"}}
	defPeers = Def{Name: n("peers"), Kind: Gauge,
		Help:   "Peers in the peer cache, by state.",
		Labels: []string{"state"}, LabelValues: map[string]string{"state": "pending, trusted"}}
	defPeersCapacity = Def{Name: n("peers_capacity"), Kind: Gauge,
		Help: "Capacity of the peer cache (maximum number of peers)."}
	defEvictions = Def{Name: n("peer_evictions_total"), Kind: Counter,
		Help:   "Peers removed from the peer cache, by reason.",
		Labels: []string{"reason"}, LabelValues: map[string]string{"reason": "cache package eviction reasons, e.g. expired, lru, pending_timeout"}}
	defQueuedBytes = Def{Name: n("peer_queued_bytes"), Kind: Gauge,
		Help: "Bytes of packets queued for pending peers, waiting for the peer to be trusted."}
	defQueuedPackets = Def{Name: n("peer_queued_packets"), Kind: Gauge,
		Help: "Packets queued for pending peers."}
	defQueueLimit = Def{Name: n("peer_queue_limit_bytes"), Kind: Gauge,
		Help: "Bound on the bytes queued for all pending peers together."}
	defBubbles = Def{Name: n("bubbles_sent_total"), Kind: Counter,
		Help:   "Teredo bubbles sent, by kind (direct: to the peer's mapped address; indirect: through the peer's Teredo server).",
		Labels: []string{"kind"}, LabelValues: map[string]string{"kind": "direct, indirect"}}
	defBubbleRetries = Def{Name: n("bubble_retries_total"), Kind: Counter,
		Help: "Bubbles re-sent because a pending peer had not answered."}
	defBubbleExpiries = Def{Name: n("bubble_expiries_total"), Kind: Counter,
		Help: "Pending peers given up after the last bubble retry went unanswered."}
	defChecksumsCompleted = Def{Name: n("encap_checksums_completed_total"), Kind: Counter,
		Help: "Native packets whose inner TCP or UDP checksum the relay completed before encapsulating them: " +
			"the sender left a partial checksum (CHECKSUM_PARTIAL, as a Linux host on a veth or a VM with checksum offload does)."}
	defICMPv6 = Def{Name: n("icmpv6_errors_sent_total"), Kind: Counter,
		Help:   "ICMPv6 error messages sent, by type.",
		Labels: []string{"type"}, LabelValues: map[string]string{"type": "destination_unreachable, packet_too_big, time_exceeded, parameter_problem"}}
	defRateLimited = Def{Name: n("ratelimit_suppressed_total"), Kind: Counter,
		Help: "Actions a rate limiter refused, by limiter: icmpv6 (ICMPv6 errors not sent, all of them while icmpv6.enabled is off), " +
			"bubble (bubble rounds not sent: first rounds are also bubble_rate_limited drops, retry rounds are skipped), " +
			"new_peer (verifications not started: new_peer_rate_limited drops), " +
			"client_slow_path (slow-path events refused: client_rate_limited drops and skipped trust notices), " +
			"destination_handoff (native packets for a peer being verified refused before the slow path: destination_handoff_limited drops; " +
			"a Time Exceeded or Packet Too Big refused there counts as icmpv6), " +
			"bubble_share (new verifications refused because a Teredo server or mapped IPv4 used its share of the bubble cap: " +
			"bubble_server_limited and bubble_destination_limited drops), " +
			"server_per_source (server datagrams refused: server rate_limited drops; with the server role only).",
		Labels: []string{"limiter"}, LabelValues: map[string]string{"limiter": "icmpv6, bubble, new_peer, client_slow_path, destination_handoff, bubble_share, server_per_source"}}
	defRateLimit = Def{Name: n("ratelimit_packets_per_second"), Kind: Gauge,
		Help: "Configured sustained rate of a rate limiter, per second: icmpv6 errors and bubble datagrams (global), " +
			"new_peer verifications per native source /64, client_slow_path events per client IPv4, " +
			"destination_handoff hand-offs per Teredo destination, bubble_share bubble datagrams per server or mapped IPv4, " +
			"server_per_source datagrams per source IPv4.",
		Labels: []string{"limiter"}, LabelValues: map[string]string{"limiter": "as in teredo_relay_ratelimit_suppressed_total"}}
	defRingEvents = Def{Name: n("afxdp_ring_events_total"), Kind: Counter,
		Help: "AF_XDP ring events, by interface, queue and event: the kernel's XDP_STATISTICS (rx_dropped to tx_ring_empty_descs), " +
			"events counted by the worker (frame_stack_empty, tx_ring_full, tx_rejected, free_rejected, kick_errors), " +
			"and the UMEM's (umem_*), reported once per UMEM on the first socket using it, so that sums over a queue count a shared UMEM once.",
		Labels: []string{"interface", "queue", "event"},
		LabelValues: map[string]string{"interface": "NIC name", "queue": "RX queue id",
			"event": "rx_dropped, rx_invalid_descs, tx_invalid_descs, rx_ring_full, rx_fill_ring_empty_descs, tx_ring_empty_descs, " +
				"frame_stack_empty, tx_ring_full, tx_rejected, free_rejected, kick_errors, umem_frames_allocated, umem_alloc_stack_empty"}}
	defQueueInfo = Def{Name: n("queue_info"), Kind: Gauge,
		Help:   "Always 1 for each AF_XDP queue; labels give the XDP attach mode and the socket mode.",
		Labels: []string{"interface", "queue", "xdp_mode", "socket_mode"},
		LabelValues: map[string]string{"interface": "NIC name", "queue": "RX queue id",
			"xdp_mode": "native, generic, offload", "socket_mode": "zero_copy, copy"}}
	defQueueRx = Def{Name: n("queue_rx_packets_total"), Kind: Counter,
		Help:   "Packets received from an AF_XDP queue by its worker.",
		Labels: []string{"interface", "queue"}, LabelValues: map[string]string{"interface": "NIC name", "queue": "RX queue id"}}
	defQueueTx = Def{Name: n("queue_tx_packets_total"), Kind: Counter,
		Help:   "Packets transmitted on an AF_XDP queue by its worker.",
		Labels: []string{"interface", "queue"}, LabelValues: map[string]string{"interface": "NIC name", "queue": "RX queue id"}}
	defReady = Def{Name: n("ready"), Kind: Gauge,
		Help: "1 when the relay is fit to attract traffic (data plane up and not draining), else 0."}
	defDraining = Def{Name: n("draining"), Kind: Gauge,
		Help: "1 when an operator has drained the relay, else 0."}
	defReloadOK = Def{Name: n("config_last_reload_successful"), Kind: Gauge,
		Help: "1 when the last configuration reload succeeded, else 0."}
	defReloadTime = Def{Name: n("config_last_reload_success_timestamp_seconds"), Kind: Gauge,
		Help: "Unix time of the last successful configuration load."}
	defReloads = Def{Name: n("config_reloads_total"), Kind: Counter,
		Help:   "Configuration reloads attempted, by result.",
		Labels: []string{"result"}, LabelValues: map[string]string{"result": "success, failure"}}
	defStartTime = Def{Name: n("start_time_seconds"), Kind: Gauge,
		Help: "Unix time the daemon started."}
	defBuildInfo = Def{Name: n("build_info"), Kind: Gauge,
		Help:   "Always 1; labels give the build's version, VCS revision and Go version.",
		Labels: []string{"version", "revision", "goversion"}}
	defAnnounceEnabled = Def{Name: n("announce_enabled"), Kind: Gauge,
		Help: "1 when teredo-relayd drives the BIRD announcement (announce.enabled), else 0 (the other announce metrics are then 0)."}
	defAnnounceState = Def{Name: n("announce_state"), Kind: Gauge,
		Help:   "1 when BIRD last confirmed the prefix as announced (birdc configure accepted the include file), else 0.",
		Labels: []string{"prefix"}, LabelValues: map[string]string{"prefix": "announce.prefixes (default 2001::/32)"}}
	defAnnounceDesired = Def{Name: n("announce_desired"), Kind: Gauge,
		Help: "1 when the relay wants its prefixes announced (ready and not drained for announce.rise), else 0."}
	defAnnounceTransitions = Def{Name: n("announce_transitions_total"), Kind: Counter,
		Help:   "Announcement changes confirmed by BIRD, by new state.",
		Labels: []string{"to"}, LabelValues: map[string]string{"to": "announced, withdrawn"}}
	defAnnounceErrors = Def{Name: n("announce_errors_total"), Kind: Counter,
		Help: "Failed attempts to apply the announcement (include file not written, birdc failed, timed out or got an error reply); retried with backoff."}
	defRoleEnabled = Def{Name: n("role_enabled"), Kind: Gauge,
		Help:   "1 when the daemon runs the role (roles in the configuration), else 0.",
		Labels: []string{"role"}, LabelValues: map[string]string{"role": "relay, server"}}
	defServerPackets = Def{Name: n("server_received_packets_total"), Kind: Counter,
		Help: "Datagrams offered to the Teredo server role; each ends as an RA, a forwarded packet, a relay hand-off or a drop (0 without the role)."}
	defServerBytes = Def{Name: n("server_received_bytes_total"), Kind: Counter,
		Help: "Bytes of the datagrams offered to the Teredo server role (the IPv4 packet on the AF_XDP path, the UDP payload on the kernel socket path)."}
	defServerRS = Def{Name: n("server_rs_received_total"), Kind: Counter,
		Help: "Valid Router Solicitations the server received (RFC 4380 §5.3.1), including those then dropped as rate_limited."}
	defServerRA = Def{Name: n("server_ra_sent_total"), Kind: Counter,
		Help:   "Router Advertisements the server sent, by source address (RFC 4380 §5.3.2: other_address answers an RS with the cone bit set).",
		Labels: []string{"from"}, LabelValues: map[string]string{"from": "same_address, other_address"}}
	defServerForwarded = Def{Name: n("server_forwarded_packets_total"), Kind: Counter,
		Help:   "Packets the server forwarded, by kind (bubble and icmpv6_to_teredo: encapsulated to a Teredo client's mapping; icmpv6_to_native: from a client to native IPv6).",
		Labels: []string{"kind"}, LabelValues: map[string]string{"kind": "bubble, icmpv6_to_teredo, icmpv6_to_native"}}
	defServerForwardedBytes = Def{Name: n("server_forwarded_bytes_total"), Kind: Counter,
		Help: "Bytes of the IPv6 packets the server forwarded (without IPv4, UDP and origin indication)."}
	defServerOrigin = Def{Name: n("server_origin_indications_total"), Kind: Counter,
		Help: "Forwarded packets that got an origin indication (the destination is a client of this server)."}
	defServerHandoffs = Def{Name: n("server_relay_handoffs_total"), Kind: Counter,
		Help: "Datagrams on a shared server/relay address handed to the co-located relay (RFC 4380 §5.4.3); the relay counts their fate."}
	defServerDrops = Def{Name: n("server_drops_total"), Kind: Counter,
		Help:   "Datagrams the Teredo server dropped, by reason (every reason exported, 0 without the role).",
		Labels: []string{"reason"}, LabelValues: map[string]string{"reason": "server package drop reason enum, e.g. rs_invalid, mapping_mismatch, rate_limited"}}
	defSourceUp = Def{Name: n("scrape_source_success"), Kind: Gauge,
		Help:   "1 when the last scrape read a counter source without error, else 0.",
		Labels: []string{"source"}, LabelValues: map[string]string{"source": "xdp: BPF counters, afxdp: XDP_STATISTICS"}}
)

// Defs lists every metric the Collector exports.
var Defs = []Def{
	defPackets, defBytes, defDrops, defXDPPackets,
	defPeers, defPeersCapacity, defEvictions, defQueuedBytes, defQueuedPackets, defQueueLimit,
	defBubbles, defBubbleRetries, defBubbleExpiries, defChecksumsCompleted, defICMPv6, defRateLimited, defRateLimit,
	defRingEvents, defQueueInfo, defQueueRx, defQueueTx,
	defReady, defDraining, defReloadOK, defReloadTime, defReloads, defStartTime, defBuildInfo, defSourceUp,
	defAnnounceEnabled, defAnnounceState, defAnnounceDesired, defAnnounceTransitions, defAnnounceErrors,
	defRoleEnabled, defServerPackets, defServerBytes, defServerRS, defServerRA, defServerForwarded,
	defServerForwardedBytes, defServerOrigin, defServerHandoffs, defServerDrops,
}
