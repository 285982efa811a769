package metrics_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"

	"github.com/teredorelay/teredorelay/metrics"
	"github.com/teredorelay/teredorelay/metrics/metricstest"
)

var testBuild = metrics.BuildInfo{Version: "1.2.3", Revision: "abc123", GoVersion: "go1.26.8"}

// wantSample is the exact exposition of metricstest.Sample().
const wantSample = `
# HELP teredo_relay_announce_enabled 1 when teredo-relayd drives the BIRD announcement (announce.enabled), else 0 (the other announce metrics are then 0).
# TYPE teredo_relay_announce_enabled gauge
teredo_relay_announce_enabled 1
# HELP teredo_relay_announce_desired 1 when the relay wants its prefixes announced (ready and not drained for announce.rise), else 0.
# TYPE teredo_relay_announce_desired gauge
teredo_relay_announce_desired 1
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
# HELP teredo_relay_afxdp_ring_events_total AF_XDP socket ring events (XDP_STATISTICS), by interface, queue and event.
# TYPE teredo_relay_afxdp_ring_events_total counter
teredo_relay_afxdp_ring_events_total{event="rx_dropped",interface="eth0",queue="0"} 1
teredo_relay_afxdp_ring_events_total{event="rx_fill_ring_empty_descs",interface="eth0",queue="0"} 5
teredo_relay_afxdp_ring_events_total{event="rx_invalid_descs",interface="eth0",queue="0"} 2
teredo_relay_afxdp_ring_events_total{event="rx_ring_full",interface="eth0",queue="0"} 4
teredo_relay_afxdp_ring_events_total{event="tx_invalid_descs",interface="eth0",queue="0"} 3
teredo_relay_afxdp_ring_events_total{event="tx_ring_empty_descs",interface="eth0",queue="0"} 6
teredo_relay_afxdp_ring_events_total{event="rx_dropped",interface="eth0",queue="1"} 0
teredo_relay_afxdp_ring_events_total{event="rx_fill_ring_empty_descs",interface="eth0",queue="1"} 0
teredo_relay_afxdp_ring_events_total{event="rx_invalid_descs",interface="eth0",queue="1"} 0
teredo_relay_afxdp_ring_events_total{event="rx_ring_full",interface="eth0",queue="1"} 10
teredo_relay_afxdp_ring_events_total{event="tx_invalid_descs",interface="eth0",queue="1"} 0
teredo_relay_afxdp_ring_events_total{event="tx_ring_empty_descs",interface="eth0",queue="1"} 0
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
# HELP teredo_relay_ratelimit_packets_per_second Configured sustained rate of a rate limiter, in packets per second.
# TYPE teredo_relay_ratelimit_packets_per_second gauge
teredo_relay_ratelimit_packets_per_second{limiter="bubble"} 1000
teredo_relay_ratelimit_packets_per_second{limiter="icmpv6"} 100
# HELP teredo_relay_ratelimit_suppressed_total Packets not sent because a rate limiter refused them, by limiter.
# TYPE teredo_relay_ratelimit_suppressed_total counter
teredo_relay_ratelimit_suppressed_total{limiter="bubble"} 9
teredo_relay_ratelimit_suppressed_total{limiter="icmpv6"} 6
# HELP teredo_relay_ready 1 when the relay is fit to attract traffic (data plane up and not draining), else 0.
# TYPE teredo_relay_ready gauge
teredo_relay_ready 1
# HELP teredo_relay_scrape_source_success 1 when the last scrape read a counter source without error, else 0.
# TYPE teredo_relay_scrape_source_success gauge
teredo_relay_scrape_source_success{source="afxdp"} 1
teredo_relay_scrape_source_success{source="xdp"} 1
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
	if n := testutil.CollectAndCount(metrics.NewCollector(metricstest.Sample(), testBuild)); n != 65 {
		t.Errorf("sample scrape has %d series, want 65", n)
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
	// The queue whose statistics failed keeps its info and packet series but
	// loses its ring events; the healthy queue keeps all six.
	if n := testutil.CollectAndCount(c, "teredo_relay_afxdp_ring_events_total"); n != 6 {
		t.Errorf("ring event series = %d, want 6", n)
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

func TestPromlint(t *testing.T) {
	reg := metrics.NewRegistry(metricstest.Sample(), testBuild)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	problems, err := promlint.NewWithMetricFamilies(mfs).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
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
