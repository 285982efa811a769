package clientmetrics

import (
	"fmt"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/teredorelay/teredorelay/client"
	"github.com/teredorelay/teredorelay/metrics"
)

// Namespace is the prefix of every metric.
const Namespace = "teredo_client"

func n(s string) string { return Namespace + "_" + s }

// NATTypes lists the values of teredo_client_nat's type label.
var NATTypes = []client.NATType{client.NATUnknown, client.NATNone, client.NATCone, client.NATRestricted, client.NATPortRestricted, client.NATSymmetric}

// names joins the label values of vs for a Def's LabelValues.
func names[T fmt.Stringer](vs []T) string {
	s := make([]string, len(vs))
	for i, v := range vs {
		s[i] = v.String()
	}
	return strings.Join(s, ", ")
}

// Defs lists every metric the Collector exports.
var Defs = []metrics.Def{
	{Name: n("state"), Kind: metrics.Gauge, Help: "1 for the client's current state (offline, probe: qualifying, dormant: address known but no traffic yet, qualified), 0 for the others.", Labels: []string{"state"}, LabelValues: map[string]string{"state": names(client.States)}},
	{Name: n("nat"), Kind: metrics.Gauge, Help: "1 for the NAT type the client detected, 0 for the others.", Labels: []string{"type"}, LabelValues: map[string]string{"type": names(NATTypes)}},
	{Name: n("network_managed"), Kind: metrics.Gauge, Help: "1 when the managed-network detection found the organisation's hosts (a plain client then stays offline), else 0."},
	{Name: n("qualifications_total"), Kind: metrics.Counter, Help: "Qualifications (at start, after offline, and dormant to qualified), by result.", Labels: []string{"result"}, LabelValues: map[string]string{"result": "success, failure"}},
	{Name: n("refreshes_total"), Kind: metrics.Counter, Help: "Maintenance router solicitations answered or failed (RFC 4380 §5.2.5), by result.", Labels: []string{"result"}, LabelValues: map[string]string{"result": "success, failure"}},
	{Name: n("server_failovers_total"), Kind: metrics.Counter, Help: "Switches to the server's other address after the current one stopped answering."},
	{Name: n("address_changes_total"), Kind: metrics.Counter, Help: "New Teredo addresses taken after the NAT mapping changed."},
	{Name: n("activations_total"), Kind: metrics.Counter, Help: "Transitions from dormant to qualified because of IPv6 traffic."},
	{Name: n("packets_total"), Kind: metrics.Counter, Help: "IPv6 packets carried, by direction (to_host: received and written to the TUN device; from_host: read from it and sent).", Labels: []string{"direction"}, LabelValues: map[string]string{"direction": "to_host, from_host"}},
	{Name: n("bytes_total"), Kind: metrics.Counter, Help: "Bytes of the IPv6 packets carried (encapsulation excluded), by direction.", Labels: []string{"direction"}, LabelValues: map[string]string{"direction": "to_host, from_host"}},
	{Name: n("bubbles_sent_total"), Kind: metrics.Counter, Help: "Bubbles sent, by kind (direct: to a peer's mapping; indirect: through a peer's server; reply: answering an indirect bubble relayed by our server).", Labels: []string{"kind"}, LabelValues: map[string]string{"kind": "direct, indirect, reply"}},
	{Name: n("bubbles_received_total"), Kind: metrics.Counter, Help: "Bubbles received, direct or relayed by the server."},
	{Name: n("echo_requests_sent_total"), Kind: metrics.Counter, Help: "Echo requests of the direct IPv6 connectivity test sent through the server."},
	{Name: n("connectivity_tests_total"), Kind: metrics.Counter, Help: "Direct IPv6 connectivity tests finished, by result (relay_found: an echo reply named the relay; failed: no answer after the retries).", Labels: []string{"result"}, LabelValues: map[string]string{"result": "relay_found, failed"}},
	{Name: n("drops_total"), Kind: metrics.Counter, Help: "Packets dropped, by reason.", Labels: []string{"reason"}, LabelValues: map[string]string{"reason": names(client.DropReasons())}},
	{Name: n("icmpv6_errors_sent_total"), Kind: metrics.Counter, Help: "ICMPv6 errors written to the host (destination unreachable for packets the tunnel cannot deliver)."},
	{Name: n("icmpv6_errors_suppressed_total"), Kind: metrics.Counter, Help: "ICMPv6 errors the rate limit (10/s) did not send."},
	{Name: n("peers"), Kind: metrics.Gauge, Help: "Peers in the peer table, by kind (teredo: another Teredo client; native: a native IPv6 host through a relay) and state.", Labels: []string{"kind", "state"}, LabelValues: map[string]string{"kind": "teredo, native", "state": "trusted, pending"}},
	{Name: n("peer_queued_bytes"), Kind: metrics.Gauge, Help: "Bytes queued for peers whose path is being opened, both directions."},
	{Name: n("relays"), Kind: metrics.Gauge, Help: "Distinct relays serving the native peers in the table."},
	{Name: n("server_last_contact_seconds"), Kind: metrics.Gauge, Help: "Seconds since the last packet from the Teredo server (-1: never)."},
	{Name: n("build_info"), Kind: metrics.Gauge, Help: "Always 1; labels give the build's version, VCS revision and Go version.", Labels: []string{"version", "revision", "goversion"}},
}

// Source is what the collector reads at scrape time.
type Source interface {
	Counters() *client.Counters
	Snapshot() (client.Snapshot, error)
}

// BuildInfo identifies the build in teredo_client_build_info.
type BuildInfo = metrics.BuildInfo

// Collector is a prometheus.Collector over a Source.
type Collector struct {
	src   Source
	build BuildInfo
	descs map[string]*prometheus.Desc
	kinds map[string]prometheus.ValueType
}

// NewCollector returns a collector over src.
func NewCollector(src Source, build BuildInfo) *Collector {
	build = build.WithDefaults()
	c := &Collector{src: src, build: build, descs: map[string]*prometheus.Desc{}, kinds: map[string]prometheus.ValueType{}}
	for _, d := range Defs {
		c.descs[d.Name] = d.Desc()
		c.kinds[d.Name] = d.ValueType()
	}
	return c
}

// NewRegistry returns a registry with the collector and the Go runtime and
// process collectors.
func NewRegistry(src Source, build BuildInfo) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(NewCollector(src, build), collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range Defs {
		ch <- c.descs[d.Name]
	}
}

func (c *Collector) emit(ch chan<- prometheus.Metric, name string, v float64, labels ...string) {
	ch <- prometheus.MustNewConstMetric(c.descs[name], c.kinds[name], v, labels...)
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	k := c.src.Counters()
	c.emit(ch, n("qualifications_total"), float64(k.QualifyOK.Load()), "success")
	c.emit(ch, n("qualifications_total"), float64(k.QualifyFailed.Load()), "failure")
	c.emit(ch, n("refreshes_total"), float64(k.RefreshOK.Load()), "success")
	c.emit(ch, n("refreshes_total"), float64(k.RefreshFailed.Load()), "failure")
	c.emit(ch, n("server_failovers_total"), float64(k.Failovers.Load()))
	c.emit(ch, n("address_changes_total"), float64(k.AddressChanges.Load()))
	c.emit(ch, n("activations_total"), float64(k.Activations.Load()))
	c.emit(ch, n("packets_total"), float64(k.PacketsIn.Load()), "to_host")
	c.emit(ch, n("packets_total"), float64(k.PacketsOut.Load()), "from_host")
	c.emit(ch, n("bytes_total"), float64(k.BytesIn.Load()), "to_host")
	c.emit(ch, n("bytes_total"), float64(k.BytesOut.Load()), "from_host")
	c.emit(ch, n("bubbles_sent_total"), float64(k.BubblesDirect.Load()), "direct")
	c.emit(ch, n("bubbles_sent_total"), float64(k.BubblesIndirect.Load()), "indirect")
	c.emit(ch, n("bubbles_sent_total"), float64(k.BubblesReply.Load()), "reply")
	c.emit(ch, n("bubbles_received_total"), float64(k.BubblesReceived.Load()))
	c.emit(ch, n("echo_requests_sent_total"), float64(k.EchoRequests.Load()))
	c.emit(ch, n("connectivity_tests_total"), float64(k.EchoTrusted.Load()), "relay_found")
	c.emit(ch, n("connectivity_tests_total"), float64(k.EchoFailed.Load()), "failed")
	for _, r := range client.DropReasons() {
		c.emit(ch, n("drops_total"), float64(k.Drops[r].Load()), r.String())
	}
	c.emit(ch, n("icmpv6_errors_sent_total"), float64(k.ICMPErrors.Load()))
	c.emit(ch, n("icmpv6_errors_suppressed_total"), float64(k.ICMPSuppressed.Load()))
	c.emit(ch, n("build_info"), 1, c.build.Version, c.build.Revision, c.build.GoVersion)

	s, err := c.src.Snapshot()
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.descs[n("state")], fmt.Errorf("tunnel state: %w", err))
		return
	}
	for _, st := range client.States {
		c.emit(ch, n("state"), b2f(s.State == st), st.String())
	}
	for _, t := range NATTypes {
		c.emit(ch, n("nat"), b2f(s.NAT == t), t.String())
	}
	c.emit(ch, n("network_managed"), b2f(s.Network == "managed"))
	var peers [2][2]int // kind, trusted
	queued := 0
	for _, p := range s.Peers {
		kind := 0
		if p.Kind == client.PeerNative {
			kind = 1
		}
		trusted := 0
		if p.Trusted {
			trusted = 1
		}
		peers[kind][trusted]++
		queued += p.QueuedIn + p.QueuedOut
	}
	for i, kind := range []string{"teredo", "native"} {
		c.emit(ch, n("peers"), float64(peers[i][1]), kind, "trusted")
		c.emit(ch, n("peers"), float64(peers[i][0]), kind, "pending")
	}
	c.emit(ch, n("peer_queued_bytes"), float64(queued))
	c.emit(ch, n("relays"), float64(len(s.Relays)))
	last := -1.0
	if s.LastServerRx > 0 {
		last = s.LastServerRx.Seconds()
	}
	c.emit(ch, n("server_last_contact_seconds"), last)
}

// Markdown returns docs/client-metrics.md.
func Markdown() string {
	var b strings.Builder
	b.WriteString(`# teredo-client metrics

<!-- Generated by "go run ./client/clientmetrics/cmd/clientmetricsdoc > docs/client-metrics.md"; do not edit.
     TestMarkdownUpToDate in client/clientmetrics fails when this file is out of date. -->

teredo-client serves these on ` + "`--metrics-listen`" + ` (` + "`/metrics`" + `), read from the tunnel at
scrape time. No label holds an address: peers and relays are in ` + "`teredo-client show state`" + `.
The Go runtime (` + "`go_*`" + `) and process (` + "`process_*`" + `) collectors are registered as well.

`)
	b.WriteString(metrics.DefTable(Defs))
	return b.String()
}
