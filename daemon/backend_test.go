package daemon

import (
	"context"
	"net/netip"
	"slices"
	"testing"

	"github.com/teredorelay/teredorelay/metrics"
	"github.com/teredorelay/teredorelay/relay"
	"github.com/teredorelay/teredorelay/server"
)

func labels(cs []metrics.Count) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.Label
	}
	return out
}

func countOf(cs []metrics.Count, label string) (uint64, bool) {
	for _, c := range cs {
		if c.Label == label {
			return c.Value, true
		}
	}
	return 0, false
}

// A relay without the server role: every relay drop reason (the hardening
// ones included) and every limiter is reported, the server's counters are
// zeros with every reason listed, and the status knows the drain file.
func TestBackendRelayOnly(t *testing.T) {
	dir := t.TempDir()
	cfg := parseConfig(t, "drain: {state_file: "+dir+"/drained}\n"+
		"icmpv6: {rate: 7}\nrate_limits: {new_peer_rate: 3, bubble_rate: 400, client_slow_path_rate: 9}\n")
	d := testDaemon(t, cfg)
	d.engine = newTestEngine(t, cfg)

	rc := d.RelayCounters()
	for r := relay.DropReason(0); r < relay.NumDropReasons; r++ {
		if _, ok := countOf(rc.Drops, r.String()); !ok {
			t.Errorf("relay drop reason %s not reported", r)
		}
	}
	for _, want := range []string{"new_peer_rate_limited", "bubble_rate_limited", "client_rate_limited", "routing_header_type0"} {
		if !slices.Contains(labels(rc.Drops), want) {
			t.Errorf("drop reason %s missing from %v", want, labels(rc.Drops))
		}
	}
	if got, want := labels(rc.RateLimited), []string{"icmpv6", "bubble", "new_peer", "client_slow_path", "destination_handoff", "bubble_share"}; !slices.Equal(got, want) {
		t.Errorf("rate-limited counters %v, want %v", got, want)
	}

	st := d.State()
	if !slices.Equal(st.Roles, []string{metrics.RoleRelay}) {
		t.Errorf("roles %v", st.Roles)
	}
	wantLimits := []metrics.RateLimit{{Limiter: "icmpv6", PacketsPerSecond: 7}, {Limiter: "bubble", PacketsPerSecond: 400},
		{Limiter: "new_peer", PacketsPerSecond: 3}, {Limiter: "client_slow_path", PacketsPerSecond: 9},
		{Limiter: "destination_handoff", PacketsPerSecond: relay.DefaultDestinationHandoffRate},
		{Limiter: "bubble_share", PacketsPerSecond: 400 * relay.DefaultBubbleShare}}
	if !slices.Equal(st.RateLimits, wantLimits) {
		t.Errorf("rate limits %+v, want %+v", st.RateLimits, wantLimits)
	}

	ss := d.ServerStats()
	if len(ss.Drops) != int(server.NumDropReasons) || len(ss.RASent) != int(server.NumRAKinds) || len(ss.Forwarded) != int(server.NumForwardKinds) {
		t.Fatalf("server stats without the role: %d drops, %d RA kinds, %d forward kinds", len(ss.Drops), len(ss.RASent), len(ss.Forwarded))
	}
	if ss.Drops[server.DropRateLimited].Label != "rate_limited" || ss.RASent[1].Label != metrics.RAFromOtherAddress || ss.Packets != 0 {
		t.Errorf("server stats %+v", ss)
	}

	info := d.Info()
	if !slices.Equal(info.Addresses, []string{"192.0.2.1:3544", "2001:db8::1"}) || len(info.ServerAddresses) != 0 ||
		info.DrainStateFile != dir+"/drained" || info.DrainPersisted {
		t.Errorf("info %+v", info)
	}
	d.ready.Store(true)
	if _, err := d.Drain(context.Background()); err != nil {
		t.Fatal(err)
	}
	if info := d.Info(); !info.DrainPersisted {
		t.Errorf("drained, but info says not persisted: %+v", info)
	}
}

// With the server role: its counters reach ServerStats, its limiter the
// rate-limit lists, its addresses the status.
func TestBackendServerRole(t *testing.T) {
	cfg := parseConfig(t, "roles: [relay, server]\nserver: {primary: 192.0.2.10, rate_per_source: 25}\n")
	d := testDaemon(t, cfg)
	d.engine = newTestEngine(t, cfg)
	srv, err := server.New(server.Config{Primary: cfg.Server.Primary, Secondary: cfg.Server.Secondary, RatePerSource: 25, Now: relay.MonotonicNow})
	if err != nil {
		t.Fatal(err)
	}
	d.srv = srv
	h := srv.NewHandler()
	buf := make([]byte, 2048)
	copy(buf[64:], []byte{0xde, 0xad, 0xbe, 0xef}) // not Teredo
	h.HandleDatagram(cfg.Server.Primary, netip.MustParseAddrPort("198.51.100.7:40000"), buf, 64, 4)

	ss := d.ServerStats()
	var drops uint64
	for _, c := range ss.Drops {
		drops += c.Value
	}
	if ss.Packets != 1 || ss.Bytes != 4 || drops != 1 {
		t.Errorf("after one malformed datagram: packets %d bytes %d drops %d (%v)", ss.Packets, ss.Bytes, drops, ss.Drops)
	}
	if got := labels(ss.Forwarded); !slices.Equal(got, []string{"bubble", "icmpv6_to_teredo", "icmpv6_to_native"}) {
		t.Errorf("forward kinds %v", got)
	}

	st := d.State()
	if !slices.Equal(st.Roles, []string{metrics.RoleRelay, metrics.RoleServer}) {
		t.Errorf("roles %v", st.Roles)
	}
	if l := st.RateLimits[len(st.RateLimits)-1]; l != (metrics.RateLimit{Limiter: "server_per_source", PacketsPerSecond: 25}) {
		t.Errorf("last rate limit %+v", l)
	}
	if v, ok := countOf(d.RelayCounters().RateLimited, "server_per_source"); !ok || v != 0 {
		t.Errorf("server_per_source suppressed %d, %v", v, ok)
	}
	if info := d.Info(); !slices.Equal(info.ServerAddresses, []string{"192.0.2.10:3544", "192.0.2.11:3544"}) {
		t.Errorf("server addresses %v", info.ServerAddresses)
	}
}
