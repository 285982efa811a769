package metrics_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/teredorelay/teredorelay/metrics"
	"github.com/teredorelay/teredorelay/metrics/metricstest"
)

var testBuild = metrics.BuildInfo{Version: "1.2.3", Revision: "abc123", GoVersion: "go1.26.8"}

// wantSample is the exact exposition of metricstest.Sample().
const wantSample = `
# HELP teredo_relay_afxdp_ring_events_total AF_XDP ring events, by interface, queue and event: the kernel's XDP_STATISTICS (rx_dropped to tx_ring_empty_descs), events counted by the worker (frame_stack_empty, tx_ring_full, tx_rejected, free_rejected, kick_errors), and the UMEM's (umem_*), reported once per UMEM on the first socket using it, so that sums over a queue count a shared UMEM once.
# TYPE teredo_relay_afxdp_ring_events_total counter
teredo_relay_afxdp_ring_events_total{event="frame_stack_empty",interface="eth0",queue="0"} 7
teredo_relay_afxdp_ring_events_total{event="frame_stack_empty",interface="eth0",queue="1"} 0
teredo_relay_afxdp_ring_events_total{event="free_rejected",interface="eth0",queue="0"} 10
teredo_relay_afxdp_ring_events_total{event="free_rejected",interface="eth0",queue="1"} 0
teredo_relay_afxdp_ring_events_total{event="kick_errors",interface="eth0",queue="0"} 11
teredo_relay_afxdp_ring_events_total{event="kick_errors",interface="eth0",queue="1"} 0
teredo_relay_afxdp_ring_events_total{event="rx_dropped",interface="eth0",queue="0"} 1
teredo_relay_afxdp_ring_events_total{event="rx_dropped",interface="eth0",queue="1"} 0
teredo_relay_afxdp_ring_events_total{event="rx_fill_ring_empty_descs",interface="eth0",queue="0"} 5
teredo_relay_afxdp_ring_events_total{event="rx_fill_ring_empty_descs",interface="eth0",queue="1"} 0
teredo_relay_afxdp_ring_events_total{event="rx_invalid_descs",interface="eth0",queue="0"} 2
teredo_relay_afxdp_ring_events_total{event="rx_invalid_descs",interface="eth0",queue="1"} 0
teredo_relay_afxdp_ring_events_total{event="rx_ring_full",interface="eth0",queue="0"} 4
teredo_relay_afxdp_ring_events_total{event="rx_ring_full",interface="eth0",queue="1"} 10
teredo_relay_afxdp_ring_events_total{event="tx_invalid_descs",interface="eth0",queue="0"} 3
teredo_relay_afxdp_ring_events_total{event="tx_invalid_descs",interface="eth0",queue="1"} 0
teredo_relay_afxdp_ring_events_total{event="tx_rejected",interface="eth0",queue="0"} 9
teredo_relay_afxdp_ring_events_total{event="tx_rejected",interface="eth0",queue="1"} 0
teredo_relay_afxdp_ring_events_total{event="tx_ring_empty_descs",interface="eth0",queue="0"} 6
teredo_relay_afxdp_ring_events_total{event="tx_ring_empty_descs",interface="eth0",queue="1"} 0
teredo_relay_afxdp_ring_events_total{event="tx_ring_full",interface="eth0",queue="0"} 8
teredo_relay_afxdp_ring_events_total{event="tx_ring_full",interface="eth0",queue="1"} 0
teredo_relay_afxdp_ring_events_total{event="umem_alloc_stack_empty",interface="eth0",queue="0"} 13
teredo_relay_afxdp_ring_events_total{event="umem_alloc_stack_empty",interface="eth0",queue="1"} 0
teredo_relay_afxdp_ring_events_total{event="umem_frames_allocated",interface="eth0",queue="0"} 12
teredo_relay_afxdp_ring_events_total{event="umem_frames_allocated",interface="eth0",queue="1"} 0
# HELP teredo_relay_announce_desired 1 when the relay wants its prefixes announced (ready and not drained for announce.rise), else 0.
# TYPE teredo_relay_announce_desired gauge
teredo_relay_announce_desired 1
# HELP teredo_relay_announce_enabled 1 when teredo-relayd drives the BIRD announcement (announce.enabled), else 0 (the other announce metrics are then 0).
# TYPE teredo_relay_announce_enabled gauge
teredo_relay_announce_enabled 1
# HELP teredo_relay_announce_errors_total Failed attempts to apply the announcement (include file not written, birdc failed, timed out or got an error reply); retried with backoff.
# TYPE teredo_relay_announce_errors_total counter
teredo_relay_announce_errors_total 2
# HELP teredo_relay_announce_state 1 when BIRD last confirmed the prefix as announced (birdc configure accepted the include file), else 0.
# TYPE teredo_relay_announce_state gauge
teredo_relay_announce_state{prefix="2001::/32"} 1
# HELP teredo_relay_announce_transitions_total Announcement changes confirmed by BIRD, by new state.
# TYPE teredo_relay_announce_transitions_total counter
teredo_relay_announce_transitions_total{to="announced"} 4
teredo_relay_announce_transitions_total{to="withdrawn"} 3
# HELP teredo_relay_bubble_expiries_total Pending peers given up after the last bubble retry went unanswered.
# TYPE teredo_relay_bubble_expiries_total counter
teredo_relay_bubble_expiries_total 2
# HELP teredo_relay_bubble_retries_total Bubbles re-sent because a pending peer had not answered.
# TYPE teredo_relay_bubble_retries_total counter
teredo_relay_bubble_retries_total 5
# HELP teredo_relay_bubbles_sent_total Teredo bubbles sent, by kind (direct: to the peer's mapped address; indirect: through the peer's Teredo server).
# TYPE teredo_relay_bubbles_sent_total counter
teredo_relay_bubbles_sent_total{kind="direct"} 11
teredo_relay_bubbles_sent_total{kind="indirect"} 12
# HELP teredo_relay_build_info Always 1; labels give the build's version, VCS revision and Go version.
# TYPE teredo_relay_build_info gauge
teredo_relay_build_info{goversion="go1.26.8",revision="abc123",version="1.2.3"} 1
# HELP teredo_relay_bytes_total Bytes of IPv6 packets forwarded by the relay (encapsulation excluded), by direction.
# TYPE teredo_relay_bytes_total counter
teredo_relay_bytes_total{direction="v4_to_v6"} 120000
teredo_relay_bytes_total{direction="v6_to_v4"} 110000
# HELP teredo_relay_config_last_reload_success_timestamp_seconds Unix time of the last successful configuration load.
# TYPE teredo_relay_config_last_reload_success_timestamp_seconds gauge
teredo_relay_config_last_reload_success_timestamp_seconds 1.77237e+09
# HELP teredo_relay_config_last_reload_successful 1 when the last configuration reload succeeded, else 0.
# TYPE teredo_relay_config_last_reload_successful gauge
teredo_relay_config_last_reload_successful 1
# HELP teredo_relay_config_reloads_total Configuration reloads attempted, by result.
# TYPE teredo_relay_config_reloads_total counter
teredo_relay_config_reloads_total{result="failure"} 1
teredo_relay_config_reloads_total{result="success"} 2
# HELP teredo_relay_draining 1 when an operator has drained the relay, else 0.
# TYPE teredo_relay_draining gauge
teredo_relay_draining 0
# HELP teredo_relay_drops_total Packets dropped, by layer (xdp: steering program, relay: Go engine) and reason.
# TYPE teredo_relay_drops_total counter
teredo_relay_drops_total{layer="relay",reason="malformed"} 7
teredo_relay_drops_total{layer="relay",reason="mapping_mismatch"} 3
teredo_relay_drops_total{layer="relay",reason="peer_table_full"} 0
teredo_relay_drops_total{layer="xdp",reason="malformed_ipv4"} 8
# HELP teredo_relay_encap_checksums_completed_total Native packets whose inner TCP or UDP checksum the relay completed before encapsulating them: the sender left a partial checksum (CHECKSUM_PARTIAL, as a Linux host on a veth or a VM with checksum offload does).
# TYPE teredo_relay_encap_checksums_completed_total counter
teredo_relay_encap_checksums_completed_total 7
# HELP teredo_relay_icmpv6_errors_sent_total ICMPv6 error messages sent, by type.
# TYPE teredo_relay_icmpv6_errors_sent_total counter
teredo_relay_icmpv6_errors_sent_total{type="destination_unreachable"} 4
teredo_relay_icmpv6_errors_sent_total{type="time_exceeded"} 1
# HELP teredo_relay_packets_total Packets forwarded by the relay, by direction (v4_to_v6: Teredo client to native IPv6, v6_to_v4: native IPv6 to Teredo client).
# TYPE teredo_relay_packets_total counter
teredo_relay_packets_total{direction="v4_to_v6"} 1000
teredo_relay_packets_total{direction="v6_to_v4"} 900
# HELP teredo_relay_peer_evictions_total Peers removed from the peer cache, by reason.
# TYPE teredo_relay_peer_evictions_total counter
teredo_relay_peer_evictions_total{reason="expired"} 20
teredo_relay_peer_evictions_total{reason="lru"} 0
teredo_relay_peer_evictions_total{reason="pending_timeout"} 2
# HELP teredo_relay_peer_queue_limit_bytes Bound on the bytes queued for all pending peers together.
# TYPE teredo_relay_peer_queue_limit_bytes gauge
teredo_relay_peer_queue_limit_bytes 1.048576e+06
# HELP teredo_relay_peer_queued_bytes Bytes of packets queued for pending peers, waiting for the peer to be trusted.
# TYPE teredo_relay_peer_queued_bytes gauge
teredo_relay_peer_queued_bytes 2560
# HELP teredo_relay_peer_queued_packets Packets queued for pending peers.
# TYPE teredo_relay_peer_queued_packets gauge
teredo_relay_peer_queued_packets 2
# HELP teredo_relay_peer_state_enabled 1 when the trusted peers are saved across restarts (peer_state.file set), else 0.
# TYPE teredo_relay_peer_state_enabled gauge
teredo_relay_peer_state_enabled 1
# HELP teredo_relay_peer_state_file_rejected 1 when the state file found at start was unusable (corrupt, truncated, unsupported version, over the size cap) and the relay started with an empty peer table, else 0.
# TYPE teredo_relay_peer_state_file_rejected gauge
teredo_relay_peer_state_file_rejected 0
# HELP teredo_relay_peer_state_last_save_duration_seconds How long the last successful save took (walk of the peer table, write, fsync, rename).
# TYPE teredo_relay_peer_state_last_save_duration_seconds gauge
teredo_relay_peer_state_last_save_duration_seconds 0.0025
# HELP teredo_relay_peer_state_last_save_timestamp_seconds Unix time the last successful save started (0 before the first).
# TYPE teredo_relay_peer_state_last_save_timestamp_seconds gauge
teredo_relay_peer_state_last_save_timestamp_seconds 1.77237e+09
# HELP teredo_relay_peer_state_loaded_peers Peers restored from the state file at start, by state (trusted: received within the 30 s trust window; stale: older, re-verified on their next packet).
# TYPE teredo_relay_peer_state_loaded_peers gauge
teredo_relay_peer_state_loaded_peers{state="stale"} 8
teredo_relay_peer_state_loaded_peers{state="trusted"} 30
# HELP teredo_relay_peer_state_rejected_peers Records of the state file not restored at start, by reason (expired: idle longer than the idle timeout; invalid: failed the record checks or received after the save; refused: the relay's policy refuses the mapping now, e.g. a bogon or its own address; full: no room in the peer table; duplicate: already restored).
# TYPE teredo_relay_peer_state_rejected_peers gauge
teredo_relay_peer_state_rejected_peers{reason="duplicate"} 0
teredo_relay_peer_state_rejected_peers{reason="expired"} 4
teredo_relay_peer_state_rejected_peers{reason="full"} 0
teredo_relay_peer_state_rejected_peers{reason="invalid"} 0
teredo_relay_peer_state_rejected_peers{reason="refused"} 1
# HELP teredo_relay_peer_state_saved_peers Trusted peers written by the last successful save.
# TYPE teredo_relay_peer_state_saved_peers gauge
teredo_relay_peer_state_saved_peers 40
# HELP teredo_relay_peer_state_saves_total Saves of the trusted peers (periodic and at shutdown), by result.
# TYPE teredo_relay_peer_state_saves_total counter
teredo_relay_peer_state_saves_total{result="failure"} 1
teredo_relay_peer_state_saves_total{result="success"} 360
# HELP teredo_relay_peer_state_skipped_peers Trusted peers the last successful save left out because of the size cap (peer_state.max_peers).
# TYPE teredo_relay_peer_state_skipped_peers gauge
teredo_relay_peer_state_skipped_peers 0
# HELP teredo_relay_peers Peers in the peer cache, by state.
# TYPE teredo_relay_peers gauge
teredo_relay_peers{state="pending"} 3
teredo_relay_peers{state="trusted"} 40
# HELP teredo_relay_peers_capacity Capacity of the peer cache (maximum number of peers).
# TYPE teredo_relay_peers_capacity gauge
teredo_relay_peers_capacity 1000
# HELP teredo_relay_queue_info Always 1 for each AF_XDP queue; labels give the XDP attach mode and the socket mode.
# TYPE teredo_relay_queue_info gauge
teredo_relay_queue_info{interface="eth0",queue="0",socket_mode="zero_copy",xdp_mode="native"} 1
teredo_relay_queue_info{interface="eth0",queue="1",socket_mode="copy",xdp_mode="native"} 1
# HELP teredo_relay_queue_rx_packets_total Packets received from an AF_XDP queue by its worker.
# TYPE teredo_relay_queue_rx_packets_total counter
teredo_relay_queue_rx_packets_total{interface="eth0",queue="0"} 1300
teredo_relay_queue_rx_packets_total{interface="eth0",queue="1"} 1150
# HELP teredo_relay_queue_tx_packets_total Packets transmitted on an AF_XDP queue by its worker.
# TYPE teredo_relay_queue_tx_packets_total counter
teredo_relay_queue_tx_packets_total{interface="eth0",queue="0"} 1200
teredo_relay_queue_tx_packets_total{interface="eth0",queue="1"} 700
# HELP teredo_relay_ratelimit_packets_per_second Configured sustained rate of a rate limiter, per second: icmpv6 errors and bubble datagrams (global), new_peer verifications per native source /64, client_slow_path events per client IPv4, destination_handoff hand-offs per Teredo destination, bubble_share bubble datagrams per server or mapped IPv4, server_per_source datagrams per source IPv4.
# TYPE teredo_relay_ratelimit_packets_per_second gauge
teredo_relay_ratelimit_packets_per_second{limiter="bubble"} 1000
teredo_relay_ratelimit_packets_per_second{limiter="client_slow_path"} 200
teredo_relay_ratelimit_packets_per_second{limiter="icmpv6"} 100
teredo_relay_ratelimit_packets_per_second{limiter="new_peer"} 50
# HELP teredo_relay_ratelimit_suppressed_total Actions a rate limiter refused, by limiter: icmpv6 (ICMPv6 errors not sent, all of them while icmpv6.enabled is off), bubble (bubble rounds not sent: first rounds are also bubble_rate_limited drops, retry rounds are skipped), new_peer (verifications not started: new_peer_rate_limited drops), client_slow_path (slow-path events refused: client_rate_limited drops and skipped trust notices), destination_handoff (native packets for a peer being verified refused before the slow path: destination_handoff_limited drops; a Time Exceeded or Packet Too Big refused there counts as icmpv6), bubble_share (new verifications refused because a Teredo server or mapped IPv4 used its share of the bubble cap: bubble_server_limited and bubble_destination_limited drops), server_per_source (server datagrams refused: server rate_limited drops; with the server role only).
# TYPE teredo_relay_ratelimit_suppressed_total counter
teredo_relay_ratelimit_suppressed_total{limiter="bubble"} 9
teredo_relay_ratelimit_suppressed_total{limiter="client_slow_path"} 13
teredo_relay_ratelimit_suppressed_total{limiter="icmpv6"} 6
teredo_relay_ratelimit_suppressed_total{limiter="new_peer"} 0
# HELP teredo_relay_ready 1 when the relay is fit to attract traffic (data plane up and not draining), else 0.
# TYPE teredo_relay_ready gauge
teredo_relay_ready 1
# HELP teredo_relay_role_enabled 1 when the daemon runs the role (roles in the configuration), else 0.
# TYPE teredo_relay_role_enabled gauge
teredo_relay_role_enabled{role="relay"} 1
teredo_relay_role_enabled{role="server"} 1
# HELP teredo_relay_scrape_source_success 1 when the last scrape read a counter source without error, else 0.
# TYPE teredo_relay_scrape_source_success gauge
teredo_relay_scrape_source_success{source="afxdp"} 1
teredo_relay_scrape_source_success{source="xdp"} 1
# HELP teredo_relay_server_drops_total Datagrams the Teredo server dropped, by reason (every reason exported, 0 without the role).
# TYPE teredo_relay_server_drops_total counter
teredo_relay_server_drops_total{reason="mapping_mismatch"} 5
teredo_relay_server_drops_total{reason="rate_limited"} 2
teredo_relay_server_drops_total{reason="rs_invalid"} 0
# HELP teredo_relay_server_forwarded_bytes_total Bytes of the IPv6 packets the server forwarded (without IPv4, UDP and origin indication).
# TYPE teredo_relay_server_forwarded_bytes_total counter
teredo_relay_server_forwarded_bytes_total 9000
# HELP teredo_relay_server_forwarded_packets_total Packets the server forwarded, by kind (bubble and icmpv6_to_teredo: encapsulated to a Teredo client's mapping; icmpv6_to_native: from a client to native IPv6).
# TYPE teredo_relay_server_forwarded_packets_total counter
teredo_relay_server_forwarded_packets_total{kind="bubble"} 150
teredo_relay_server_forwarded_packets_total{kind="icmpv6_to_native"} 20
teredo_relay_server_forwarded_packets_total{kind="icmpv6_to_teredo"} 30
# HELP teredo_relay_server_origin_indications_total Forwarded packets that got an origin indication (the destination is a client of this server).
# TYPE teredo_relay_server_origin_indications_total counter
teredo_relay_server_origin_indications_total 140
# HELP teredo_relay_server_ra_sent_total Router Advertisements the server sent, by source address (RFC 4380 §5.3.2: other_address answers an RS with the cone bit set).
# TYPE teredo_relay_server_ra_sent_total counter
teredo_relay_server_ra_sent_total{from="other_address"} 38
teredo_relay_server_ra_sent_total{from="same_address"} 80
# HELP teredo_relay_server_received_bytes_total Bytes of the datagrams offered to the Teredo server role (the IPv4 packet on the AF_XDP path, the UDP payload on the kernel socket path).
# TYPE teredo_relay_server_received_bytes_total counter
teredo_relay_server_received_bytes_total 40000
# HELP teredo_relay_server_received_packets_total Datagrams offered to the Teredo server role; each ends as an RA, a forwarded packet, a relay hand-off or a drop (0 without the role).
# TYPE teredo_relay_server_received_packets_total counter
teredo_relay_server_received_packets_total 385
# HELP teredo_relay_server_relay_handoffs_total Datagrams on a shared server/relay address handed to the co-located relay (RFC 4380 §5.4.3); the relay counts their fate.
# TYPE teredo_relay_server_relay_handoffs_total counter
teredo_relay_server_relay_handoffs_total 60
# HELP teredo_relay_server_rs_received_total Valid Router Solicitations the server received (RFC 4380 §5.3.1), including those then dropped as rate_limited.
# TYPE teredo_relay_server_rs_received_total counter
teredo_relay_server_rs_received_total 120
# HELP teredo_relay_start_time_seconds Unix time the daemon started.
# TYPE teredo_relay_start_time_seconds gauge
teredo_relay_start_time_seconds 1.7723664e+09
# HELP teredo_relay_xdp_packets_total Packets seen by the XDP steering program, by verdict action and reason.
# TYPE teredo_relay_xdp_packets_total counter
teredo_relay_xdp_packets_total{action="drop",reason="malformed_ipv4"} 8
teredo_relay_xdp_packets_total{action="pass",reason="pass_other"} 300
teredo_relay_xdp_packets_total{action="redirect",reason="redirect_teredo_ipv6"} 950
teredo_relay_xdp_packets_total{action="redirect",reason="redirect_teredo_udp"} 1500
`

func TestCollectorExactValues(t *testing.T) {
	c := metrics.NewCollector(metricstest.Sample(), testBuild)
	if err := testutil.CollectAndCompare(c, strings.NewReader(wantSample)); err != nil {
		t.Fatal(err)
	}
}

// Every Def is exported by a scrape of the sample source, and nothing else is.
func TestCollectorCoversEveryDef(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(metrics.NewCollector(metricstest.Sample(), testBuild))
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather (pedantic registry checks Describe against Collect): %v", err)
	}
	got := map[string]bool{}
	for _, mf := range mfs {
		got[mf.GetName()] = true
	}
	for _, d := range metrics.Defs {
		if !got[d.Name] {
			t.Errorf("%s is in Defs but not exported by the sample scrape", d.Name)
		}
		delete(got, d.Name)
	}
	for name := range got {
		t.Errorf("%s exported but not in Defs", name)
	}
	if n := testutil.CollectAndCount(metrics.NewCollector(metricstest.Sample(), testBuild)); n != 115 {
		t.Errorf("sample scrape has %d series, want 115", n)
	}
}

func TestCollectorSourceErrors(t *testing.T) {
	src := metricstest.Sample()
	src.XDPErr = errors.New("read per-cpu map: operation not permitted")
	src.Qs[1].RingErr = metricstest.ErrRing
	c := metrics.NewCollector(src, testBuild)

	const want = `
# HELP teredo_relay_scrape_source_success 1 when the last scrape read a counter source without error, else 0.
# TYPE teredo_relay_scrape_source_success gauge
teredo_relay_scrape_source_success{source="afxdp"} 0
teredo_relay_scrape_source_success{source="xdp"} 0
# HELP teredo_relay_drops_total Packets dropped, by layer (xdp: steering program, relay: Go engine) and reason.
# TYPE teredo_relay_drops_total counter
teredo_relay_drops_total{layer="relay",reason="malformed"} 7
teredo_relay_drops_total{layer="relay",reason="mapping_mismatch"} 3
teredo_relay_drops_total{layer="relay",reason="peer_table_full"} 0
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want),
		"teredo_relay_scrape_source_success", "teredo_relay_drops_total", "teredo_relay_xdp_packets_total"); err != nil {
		t.Fatal(err)
	}
	// The queue whose statistics failed keeps its info and packet series,
	// its Go-side ring events (5) and its UMEM's (2), but loses the six
	// XDP_STATISTICS events; the healthy queue keeps all 13.
	if n := testutil.CollectAndCount(c, "teredo_relay_afxdp_ring_events_total"); n != 13+7 {
		t.Errorf("ring event series = %d, want 20", n)
	}
	if n := testutil.CollectAndCount(c, "teredo_relay_queue_info"); n != 2 {
		t.Errorf("queue_info series = %d, want 2", n)
	}
}

func TestCollectorStateEdges(t *testing.T) {
	src := metricstest.Sample()
	src.St = metrics.State{Draining: true, Reloads: 1, ReloadFailures: 1}
	c := metrics.NewCollector(src, metrics.BuildInfo{})
	const want = `
# HELP teredo_relay_config_last_reload_successful 1 when the last configuration reload succeeded, else 0.
# TYPE teredo_relay_config_last_reload_successful gauge
teredo_relay_config_last_reload_successful 0
# HELP teredo_relay_config_reloads_total Configuration reloads attempted, by result.
# TYPE teredo_relay_config_reloads_total counter
teredo_relay_config_reloads_total{result="failure"} 1
teredo_relay_config_reloads_total{result="success"} 0
# HELP teredo_relay_draining 1 when an operator has drained the relay, else 0.
# TYPE teredo_relay_draining gauge
teredo_relay_draining 1
# HELP teredo_relay_ready 1 when the relay is fit to attract traffic (data plane up and not draining), else 0.
# TYPE teredo_relay_ready gauge
teredo_relay_ready 0
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want),
		"teredo_relay_config_last_reload_successful", "teredo_relay_config_reloads_total",
		"teredo_relay_draining", "teredo_relay_ready", "teredo_relay_start_time_seconds",
		"teredo_relay_config_last_reload_success_timestamp_seconds"); err != nil {
		t.Fatal(err)
	}
	if n := testutil.CollectAndCount(c, "teredo_relay_build_info"); n != 1 {
		t.Fatalf("build_info series = %d", n)
	}
	// Announcement disabled (the zero State): enabled 0, zeros, no state series.
	const wantAnnounce = `
# HELP teredo_relay_announce_enabled 1 when teredo-relayd drives the BIRD announcement (announce.enabled), else 0 (the other announce metrics are then 0).
# TYPE teredo_relay_announce_enabled gauge
teredo_relay_announce_enabled 0
# HELP teredo_relay_announce_errors_total Failed attempts to apply the announcement (include file not written, birdc failed, timed out or got an error reply); retried with backoff.
# TYPE teredo_relay_announce_errors_total counter
teredo_relay_announce_errors_total 0
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(wantAnnounce), "teredo_relay_announce_enabled",
		"teredo_relay_announce_errors_total", "teredo_relay_announce_state"); err != nil {
		t.Fatal(err)
	}
}

// A withdrawn announcement of two prefixes: one state series per prefix.
func TestCollectorAnnounceWithdrawn(t *testing.T) {
	src := metricstest.Sample()
	src.St.Announce = metrics.AnnounceState{Enabled: true, Prefixes: []string{"2001::/32", "2001:db8:100::/48"}, Withdrawals: 1}
	c := metrics.NewCollector(src, testBuild)
	const want = `
# HELP teredo_relay_announce_desired 1 when the relay wants its prefixes announced (ready and not drained for announce.rise), else 0.
# TYPE teredo_relay_announce_desired gauge
teredo_relay_announce_desired 0
# HELP teredo_relay_announce_state 1 when BIRD last confirmed the prefix as announced (birdc configure accepted the include file), else 0.
# TYPE teredo_relay_announce_state gauge
teredo_relay_announce_state{prefix="2001::/32"} 0
teredo_relay_announce_state{prefix="2001:db8:100::/48"} 0
# HELP teredo_relay_announce_transitions_total Announcement changes confirmed by BIRD, by new state.
# TYPE teredo_relay_announce_transitions_total counter
teredo_relay_announce_transitions_total{to="announced"} 0
teredo_relay_announce_transitions_total{to="withdrawn"} 1
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), "teredo_relay_announce_state",
		"teredo_relay_announce_desired", "teredo_relay_announce_transitions_total"); err != nil {
		t.Fatal(err)
	}
}

// Two sockets sharing one UMEM (both sides of queue 0): the UMEM's events
// appear once, on the reporting socket, so a sum over the queue counts them
// once; each socket keeps its own ring events.
func TestCollectorSharedUmemReportedOnce(t *testing.T) {
	src := metricstest.Sample()
	umem := metrics.UmemStats{Allocated: 500, AllocStackEmpty: 3}
	src.Qs = []metrics.Queue{
		{Interface: "eth0", ID: 0, XDPMode: "native", Ring: metrics.RingStats{TxRingFull: 1}, Umem: umem, ReportsUmem: true},
		{Interface: "eth1", ID: 0, XDPMode: "native", Ring: metrics.RingStats{TxRingFull: 2}, Umem: umem},
	}
	c := metrics.NewCollector(src, testBuild)
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	sums := map[string]float64{}
	series := map[string]int{}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "teredo_relay_afxdp_ring_events_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			var event string
			for _, l := range m.GetLabel() {
				if l.GetName() == "event" {
					event = l.GetValue()
				}
			}
			sums[event] += m.GetCounter().GetValue()
			series[event]++
		}
	}
	if sums["umem_frames_allocated"] != 500 || sums["umem_alloc_stack_empty"] != 3 || series["umem_frames_allocated"] != 1 {
		t.Errorf("UMEM events summed over the queue: allocated %v (%d series), alloc_stack_empty %v; want 500 (1), 3",
			sums["umem_frames_allocated"], series["umem_frames_allocated"], sums["umem_alloc_stack_empty"])
	}
	if sums["tx_ring_full"] != 3 || series["tx_ring_full"] != 2 {
		t.Errorf("tx_ring_full: sum %v over %d series, want 3 over 2", sums["tx_ring_full"], series["tx_ring_full"])
	}
}

// A relay without the server role: role_enabled says so and the server
// families are still exported (zeros), so dashboards and rules see them.
func TestCollectorRelayOnly(t *testing.T) {
	src := metricstest.Sample()
	src.St.Roles = []string{metrics.RoleRelay}
	src.Server = metrics.ServerStats{Drops: []metrics.Count{{Label: "rs_invalid"}, {Label: "rate_limited"}}}
	c := metrics.NewCollector(src, testBuild)
	const want = `
# HELP teredo_relay_role_enabled 1 when the daemon runs the role (roles in the configuration), else 0.
# TYPE teredo_relay_role_enabled gauge
teredo_relay_role_enabled{role="relay"} 1
teredo_relay_role_enabled{role="server"} 0
# HELP teredo_relay_server_drops_total Datagrams the Teredo server dropped, by reason (every reason exported, 0 without the role).
# TYPE teredo_relay_server_drops_total counter
teredo_relay_server_drops_total{reason="rate_limited"} 0
teredo_relay_server_drops_total{reason="rs_invalid"} 0
# HELP teredo_relay_server_rs_received_total Valid Router Solicitations the server received (RFC 4380 §5.3.1), including those then dropped as rate_limited.
# TYPE teredo_relay_server_rs_received_total counter
teredo_relay_server_rs_received_total 0
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), "teredo_relay_role_enabled",
		"teredo_relay_server_drops_total", "teredo_relay_server_rs_received_total", "teredo_relay_server_ra_sent_total"); err != nil {
		t.Fatal(err)
	}
}

func TestPromlint(t *testing.T) {
	metricstest.Lint(t, metrics.NewRegistry(metricstest.Sample(), testBuild))
}

func TestDefsAreWellFormed(t *testing.T) {
	seen := map[string]bool{}
	for _, d := range metrics.Defs {
		if seen[d.Name] {
			t.Errorf("%s defined twice", d.Name)
		}
		seen[d.Name] = true
		if !strings.HasPrefix(d.Name, metrics.Namespace+"_") {
			t.Errorf("%s lacks the %s_ prefix", d.Name, metrics.Namespace)
		}
		if (d.Kind == metrics.Counter) != strings.HasSuffix(d.Name, "_total") {
			t.Errorf("%s: kind %s and _total suffix disagree", d.Name, d.Kind)
		}
		for _, l := range d.Labels {
			switch l {
			case "peer", "address", "addr", "ip", "client", "server", "port", "mapped":
				t.Errorf("%s: label %q would be unbounded", d.Name, l)
			}
		}
		for l := range d.LabelValues {
			if !contains(d.Labels, l) {
				t.Errorf("%s documents values of unknown label %q", d.Name, l)
			}
		}
	}
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
