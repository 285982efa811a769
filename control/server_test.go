package control_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/teredorelay/teredorelay/control"
	"github.com/teredorelay/teredorelay/control/api"
	"github.com/teredorelay/teredorelay/control/controltest"
	"github.com/teredorelay/teredorelay/metrics/metricstest"
	"github.com/teredorelay/teredorelay/teredo"
)

type fixture struct {
	b   *controltest.Backend
	srv *control.Server
	h   http.Handler
	now time.Time
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{b: controltest.Sample(), now: controltest.Now}
	f.srv = control.NewServer(control.Config{Backend: f.b, Now: func() time.Time { return f.now }})
	f.h = f.srv.Handler()
	return f
}

func (f *fixture) call(t *testing.T, method, target string, out any) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(method, target, nil)
	// As root, like relayctl run with sudo (access_test.go tests the others).
	f.h.ServeHTTP(rec, req.WithContext(control.WithPeer(req.Context(), control.Peer{PID: 1, UID: 0, GID: 0})))
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("%s %s: content type %q", method, target, ct)
	}
	if out != nil && rec.Code/100 == 2 {
		if err := json.Unmarshal(rec.Body.Bytes(), out); err != nil {
			t.Fatalf("%s %s: decode: %v\n%s", method, target, err, rec.Body)
		}
	}
	return rec.Code, rec.Body.String()
}

func addrs(ps []api.Peer) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.Address.String()
	}
	return out
}

func TestPeersFilterSortLimit(t *testing.T) {
	s := func(a netip.Addr) string { return a.String() }
	T8, T6, T7, T2, T3 := s(controltest.PeerT8), s(controltest.PeerT6), s(controltest.PeerT7), s(controltest.PeerT2), s(controltest.PeerT3)
	tests := []struct {
		name      string
		query     string
		want      []string
		matched   int
		truncated bool
	}{
		{"default sort last-rx, never-received last", "", []string{T8, T6, T2, T7, T3}, 5, false},
		{"last-tx", "?sort=last-tx", []string{T7, T8, T3, T6, T2}, 5, false},
		{"address ascending", "?sort=address", []string{T7, T6, T8, T3, T2}, 5, false},
		{"rx-packets descending, ties by address", "?sort=rx-packets", []string{T6, T8, T2, T7, T3}, 5, false},
		{"tx-bytes", "?sort=tx-bytes", []string{T2, T8, T6, T7, T3}, 5, false},
		{"bubbles", "?sort=bubbles", []string{T7, T3, T6, T8, T2}, 5, false},
		{"queued", "?sort=queued", []string{T7, T3, T6, T8, T2}, 5, false},
		{"mapped ascending (30.3.9.202 first)", "?sort=mapped", []string{T7, T2, T3, T6, T8}, 5, false},
		{"limit keeps the best", "?sort=rx-packets&limit=2", []string{T6, T8}, 5, true},
		{"state trusted", "?state=trusted&sort=address", []string{T6, T8, T2}, 3, false},
		{"state pending", "?state=pending", []string{T7, T3}, 2, false},
		{"v4 prefix on the mapped address", "?v4=192.0.2.0/24&sort=address", []string{T6, T3, T2}, 3, false},
		{"v4 bare address", "?v4=192.0.2.1", []string{T2}, 1, false},
		{"server", "?server=203.0.113.120", []string{T2}, 1, false},
		{"filters combine", "?server=192.0.2.1&state=pending", []string{}, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			var got api.Peers
			if code, body := f.call(t, "GET", "/v1/peers"+tt.query, &got); code != 200 {
				t.Fatalf("status %d: %s", code, body)
			}
			if !slices.Equal(addrs(got.Peers), tt.want) {
				t.Errorf("peers = %v\nwant    %v", addrs(got.Peers), tt.want)
			}
			if got.Matched != tt.matched || got.Truncated != tt.truncated || got.Scanned != 5 {
				t.Errorf("matched %d truncated %v scanned %d, want %d %v 5", got.Matched, got.Truncated, got.Scanned, tt.matched, tt.truncated)
			}
			if got.Note != api.SnapshotNote || !got.Time.Equal(controltest.Now) {
				t.Errorf("note %q time %v", got.Note, got.Time)
			}
		})
	}
}

func TestPeersDecodedFields(t *testing.T) {
	f := newFixture(t)
	var got api.Peers
	f.call(t, "GET", "/v1/peers?sort=address", &got)
	byAddr := map[netip.Addr]api.Peer{}
	for _, p := range got.Peers {
		byAddr[p.Address] = p
	}
	tests := []struct {
		addr    netip.Addr
		server  string
		mapped  string
		flags   uint16
		cone    bool
		rfc5991 bool
		differs bool
	}{
		{controltest.PeerT8, "192.0.2.1", "203.0.113.1:46240", 0x3cc4, false, true, false},
		{controltest.PeerT6, "65.54.227.120", "192.0.2.45:40000", 0x8000, true, false, true},
		{controltest.PeerT7, "17.23.52.250", "30.3.9.202:51380", 0x1027, false, true, false},
		{controltest.PeerT2, "203.0.113.120", "192.0.2.1:4096", 0, false, false, false},
	}
	for _, tt := range tests {
		p := byAddr[tt.addr]
		if p.Server.String() != tt.server || p.Mapped.String() != tt.mapped || p.Flags != tt.flags ||
			p.Cone != tt.cone || p.RFC5991 != tt.rfc5991 || p.MappingDiffers != tt.differs {
			t.Errorf("%s: server %s mapped %s flags %#x cone %v rfc5991 %v differs %v", tt.addr, p.Server, p.Mapped, p.Flags, p.Cone, p.RFC5991, p.MappingDiffers)
		}
	}
}

func TestPeersSummary(t *testing.T) {
	f := newFixture(t)
	var got api.Peers
	f.call(t, "GET", "/v1/peers", &got)
	s := got.Summary
	if s.Total != 43 || s.Capacity != 1000 || s.Trusted != 40 || s.Pending != 3 || s.FillRatio != 0.043 || s.QueuedBytes != 2560 {
		t.Errorf("summary %+v", s)
	}
	if len(s.Evictions) != 3 || s.Evictions[0] != (api.Counter{Name: "expired", Total: 20}) || s.EvictionRate != 0 {
		t.Errorf("evictions %+v rate %v", s.Evictions, s.EvictionRate)
	}
}

// The server's bounded top-k selection equals a full filter+sort+truncate on
// random tables, for every sort key.
func TestPeersSelectionMatchesFullSort(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	servers := []netip.Addr{netip.MustParseAddr("192.0.2.10"), netip.MustParseAddr("198.51.100.20")}
	var peers []api.Peer
	for range 400 {
		mapped := netip.AddrPortFrom(netip.AddrFrom4([4]byte{203, 0, 113, byte(rng.IntN(8))}), uint16(1024+rng.IntN(4)))
		a := teredo.Addr{Server: servers[rng.IntN(2)], Flags: uint16(rng.IntN(2)) << 15, Mapped: mapped}
		p := api.Peer{Address: a.IP(), State: []string{api.StatePending, api.StateTrusted}[rng.IntN(2)],
			RxPackets: uint64(rng.IntN(5)), TxPackets: uint64(rng.IntN(5)), RxBytes: uint64(rng.IntN(3)), TxBytes: uint64(rng.IntN(3)),
			Bubbles: uint32(rng.IntN(3)), QueuedBytes: uint64(rng.IntN(3)) * 1280}
		if rng.IntN(3) > 0 {
			p.LastRx = controltest.Now.Add(-time.Duration(rng.IntN(5)) * time.Second)
		}
		p.LastTx = controltest.Now.Add(-time.Duration(rng.IntN(5)) * time.Second)
		peers = append(peers, p)
	}
	b := controltest.New(metricstest.Sample(), controltest.SampleInfo, peers)
	h := control.NewServer(control.Config{Backend: b, Now: func() time.Time { return controltest.Now }}).Handler()
	for _, key := range api.SortKeys {
		for _, filter := range []string{"", "&state=trusted", "&v4=203.0.113.0/30&server=198.51.100.20"} {
			for _, limit := range []int{1, 7, 100, 1000} {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, httptest.NewRequest("GET", fmt.Sprintf("/v1/peers?sort=%s&limit=%d%s", key, limit, filter), nil))
				var got api.Peers
				if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
					t.Fatal(err)
				}
				want := reference(peers, key, filter, limit)
				if !slices.Equal(addrs(got.Peers), want) {
					t.Fatalf("sort=%s limit=%d %s: got %d peers %v...\nwant %d %v...", key, limit, filter,
						len(got.Peers), head(addrs(got.Peers)), len(want), head(want))
				}
			}
		}
	}
}

func head(s []string) []string { return s[:min(len(s), 5)] }

// reference filters and sorts the whole table the slow, obvious way.
func reference(peers []api.Peer, key, filter string, limit int) []string {
	var keep []api.Peer
	for _, p := range peers {
		a, _ := teredo.ParseAddr(p.Address)
		switch filter {
		case "&state=trusted":
			if p.State != api.StateTrusted {
				continue
			}
		case "&v4=203.0.113.0/30&server=198.51.100.20":
			if !netip.MustParsePrefix("203.0.113.0/30").Contains(a.Mapped.Addr()) || a.Server != netip.MustParseAddr("198.51.100.20") {
				continue
			}
		}
		p.Mapped = a.Mapped
		keep = append(keep, p)
	}
	val := func(p api.Peer) (int64, bool) { // value, descending?
		switch key {
		case api.SortLastRx:
			if p.LastRx.IsZero() {
				return -1 << 62, true
			}
			return p.LastRx.UnixNano(), true
		case api.SortLastTx:
			return p.LastTx.UnixNano(), true
		case api.SortRxPackets:
			return int64(p.RxPackets), true
		case api.SortTxPackets:
			return int64(p.TxPackets), true
		case api.SortRxBytes:
			return int64(p.RxBytes), true
		case api.SortTxBytes:
			return int64(p.TxBytes), true
		case api.SortBubbles:
			return int64(p.Bubbles), true
		case api.SortQueued:
			return int64(p.QueuedBytes), true
		}
		return 0, false
	}
	slices.SortStableFunc(keep, func(a, b api.Peer) int {
		switch key {
		case api.SortMapped:
			if c := a.Mapped.Compare(b.Mapped); c != 0 {
				return c
			}
		case api.SortState:
			if c := strings.Compare(a.State, b.State); c != 0 {
				return c
			}
		default:
			va, desc := val(a)
			vb, _ := val(b)
			if desc && va != vb {
				if va > vb {
					return -1
				}
				return 1
			}
		}
		return a.Address.Compare(b.Address)
	})
	return addrs(keep[:min(limit, len(keep))])
}

func TestPeerShow(t *testing.T) {
	f := newFixture(t)
	var got api.PeerDetail
	if code, body := f.call(t, "GET", "/v1/peers/"+controltest.PeerT8.String(), &got); code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	want := api.TeredoFields{
		Prefix: "2001::/32", Server: netip.MustParseAddr("192.0.2.1"), Flags: 0x3cc4,
		RandomBits: 0x3cc4, Mapped: netip.MustParseAddrPort("203.0.113.1:46240"),
		ObfuscatedPort: "0x4b5f", ObfuscatedAddr: "0x34ff8efe",
	}
	if got.Teredo != want {
		t.Errorf("teredo fields\n got %+v\nwant %+v", got.Teredo, want)
	}
	// flags has one JSON type in a listing and in a peer's detail.
	_, list := f.call(t, "GET", "/v1/peers?limit=1&sort=address", nil)
	_, one := f.call(t, "GET", "/v1/peers/"+controltest.PeerT8.String(), nil)
	for name, body := range map[string]string{"listing": list, "detail": one} {
		if strings.Contains(body, `"flags": "`) || !strings.Contains(body, `"flags": `) {
			t.Errorf("%s: flags is not a number:\n%s", name, body)
		}
	}
	if got.Peer.RxPackets != 100 || got.Peer.State != api.StateTrusted || got.Peer.Mapped != want.Mapped {
		t.Errorf("peer %+v", got.Peer)
	}
	// T6 carries the cone bit and no random bits.
	f.call(t, "GET", "/v1/peers/"+controltest.PeerT6.String(), &got)
	if !got.Teredo.Cone || got.Teredo.Flags != 0x8000 || got.Teredo.RandomBits != 0 || got.Teredo.Reserved {
		t.Errorf("T6 fields %+v", got.Teredo)
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name, method, target string
		status               int
		code, message        string
	}{
		{"bad state", "GET", "/v1/peers?state=happy", 400, api.CodeBadRequest, `state "happy" is not one of pending, trusted`},
		{"bad sort", "GET", "/v1/peers?sort=age", 400, api.CodeBadRequest, `sort "age" is not one of`},
		{"limit too large", "GET", "/v1/peers?limit=10001", 400, api.CodeBadRequest, `limit "10001" is not an integer from 1 to 10000`},
		{"v6 prefix for v4", "GET", "/v1/peers?v4=2001:db8::/32", 400, api.CodeBadRequest, `v4 "2001:db8::/32" is not an IPv4 prefix`},
		{"server not v4", "GET", "/v1/peers/count?server=nowhere", 400, api.CodeBadRequest, `server "nowhere" is not an IPv4 address`},
		{"peer not v6", "GET", "/v1/peers/192.0.2.1", 400, api.CodeBadRequest, `"192.0.2.1" is not an IPv6 address`},
		{"peer not teredo", "GET", "/v1/peers/2001:db8::1", 400, api.CodeBadRequest, `2001:db8::1 is not a Teredo address (2001::/32)`},
		{"peer unknown", "GET", "/v1/peers/2001:0:c000:201::1", 404, api.CodeNotFound, `peer 2001:0:c000:201::1 is not in the peer cache`},
		{"unknown path", "GET", "/v2/status", 404, api.CodeNotFound, `no such endpoint GET /v2/status (API version v1)`},
		{"drain needs POST", "GET", "/v1/drain", 405, api.CodeBadRequest, "/v1/drain needs POST, not GET"},
		{"status needs GET", "POST", "/v1/status", 405, api.CodeBadRequest, "/v1/status needs GET, not POST"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			rec := httptest.NewRecorder()
			f.h.ServeHTTP(rec, httptest.NewRequest(tt.method, tt.target, nil))
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.status, rec.Body)
			}
			if tt.code == "" {
				return
			}
			var eb api.ErrorBody
			if err := json.Unmarshal(rec.Body.Bytes(), &eb); err != nil {
				t.Fatal(err)
			}
			if eb.Error.Code != tt.code || !strings.HasPrefix(eb.Error.Message, tt.message) {
				t.Errorf("error %+v, want %s %q", eb.Error, tt.code, tt.message)
			}
		})
	}
}

func TestPeerCount(t *testing.T) {
	f := newFixture(t)
	var got api.PeerCount
	f.call(t, "GET", "/v1/peers/count", &got)
	if got.Filtered || got.Matched != 43 || f.b.Ranges != 0 {
		t.Errorf("unfiltered count %+v, ranges %d (must not walk the table)", got, f.b.Ranges)
	}
	f.call(t, "GET", "/v1/peers/count?state=pending", &got)
	if !got.Filtered || got.Matched != 2 || f.b.Ranges != 1 {
		t.Errorf("filtered count %+v ranges %d", got, f.b.Ranges)
	}
}

func TestStatsRates(t *testing.T) {
	f := newFixture(t)
	var st api.Stats
	f.call(t, "GET", "/v1/stats", &st)
	if st.RateWindowSeconds != 0 || st.Packets[0].Rate != 0 {
		t.Fatalf("rates without samples: window %v", st.RateWindowSeconds)
	}
	f.srv.Sample() // at Now
	f.now = f.now.Add(4 * time.Second)
	f.b.Update(func(s *metricstest.Source) {
		s.Relay.V4ToV6Packets += 400
		s.Relay.V4ToV6Bytes += 48000
		s.Relay.Drops[0].Value += 20
		s.XDP[3].Packets += 8
		s.Peers.Evictions[0].Value += 2
		s.Qs[1].Ring.RxRingFull += 100
		s.Relay.V6ToV4Packets = 0 // counter reset: no negative rate
	})
	f.call(t, "GET", "/v1/stats", &st)
	if st.RateWindowSeconds != 4 {
		t.Fatalf("window %v, want 4", st.RateWindowSeconds)
	}
	checks := []struct {
		name string
		got  float64
		want float64
	}{
		{"packets v4_to_v6", st.Packets[0].Rate, 100},
		{"packets v6_to_v4 after reset", st.Packets[1].Rate, 0},
		{"bytes v4_to_v6", st.Bytes[0].Rate, 12000},
		{"drops relay malformed", dropRate(st, "relay", "malformed"), 5},
		{"drops xdp malformed_ipv4", dropRate(st, "xdp", "malformed_ipv4"), 2},
		{"evictions expired", st.Evictions[0].Rate, 0.5},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s rate = %v, want %v", c.name, c.got, c.want)
		}
	}
	for _, r := range st.Rings {
		want := 0.0
		if r.Queue == 1 && r.Event == "rx_ring_full" {
			want = 25
		}
		if r.Rate != want {
			t.Errorf("ring %s/%d %s rate %v, want %v", r.Interface, r.Queue, r.Event, r.Rate, want)
		}
	}
	var ps api.Peers
	f.call(t, "GET", "/v1/peers", &ps)
	if ps.Summary.EvictionRate != 0.5 {
		t.Errorf("summary eviction rate %v", ps.Summary.EvictionRate)
	}
	// Samples older than the window are forgotten: after 30 s the base is
	// the 4 s sample... or none if no new sample was taken; take one.
	f.srv.Sample()
	f.now = f.now.Add(30 * time.Second)
	f.srv.Sample()
	f.now = f.now.Add(2 * time.Second)
	f.b.Update(func(s *metricstest.Source) { s.Relay.V4ToV6Packets += 10 })
	f.call(t, "GET", "/v1/stats", &st)
	if st.RateWindowSeconds != 2 || st.Packets[0].Rate != 5 {
		t.Errorf("after window: window %v rate %v, want 2 and 5", st.RateWindowSeconds, st.Packets[0].Rate)
	}
}

func dropRate(st api.Stats, layer, reason string) float64 {
	for _, d := range st.Drops {
		if d.Layer == layer && d.Reason == reason {
			return d.Rate
		}
	}
	return -1
}

func TestStatsContent(t *testing.T) {
	f := newFixture(t)
	f.b.Update(func(s *metricstest.Source) { s.XDPErr = fmt.Errorf("read counters: EPERM") })
	var st api.Stats
	f.call(t, "GET", "/v1/stats", &st)
	wantDrops := []api.Drop{
		{Layer: "relay", Reason: "malformed", Total: 7},
		{Layer: "relay", Reason: "mapping_mismatch", Total: 3},
		{Layer: "relay", Reason: "peer_table_full", Total: 0},
		{Layer: "server", Reason: "rs_invalid", Total: 0},
		{Layer: "server", Reason: "mapping_mismatch", Total: 5},
		{Layer: "server", Reason: "rate_limited", Total: 2},
	}
	if !slices.Equal(st.Drops, wantDrops) || st.XDPError != "read counters: EPERM" || len(st.XDP) != 0 {
		t.Errorf("drops %+v xdp %+v err %q", st.Drops, st.XDP, st.XDPError)
	}
	// Two queues of 11 socket events each, each reporting its UMEM (2).
	if len(st.Rings) != 26 || len(st.Bubbles) != 4 || st.Bubbles[1] != (api.Counter{Name: "indirect", Total: 12}) {
		t.Errorf("rings %d bubbles %+v", len(st.Rings), st.Bubbles)
	}
	wantRing0 := map[string]uint64{"rx_dropped": 1, "tx_ring_empty_descs": 6, "frame_stack_empty": 7, "kick_errors": 11,
		"umem_frames_allocated": 12, "umem_alloc_stack_empty": 13}
	for _, r := range st.Rings {
		if v, ok := wantRing0[r.Event]; ok && r.Queue == 0 {
			if r.Total != v {
				t.Errorf("ring event %s of queue 0 = %d, want %d", r.Event, r.Total, v)
			}
			delete(wantRing0, r.Event)
		}
	}
	if len(wantRing0) != 0 {
		t.Errorf("ring events missing: %v", wantRing0)
	}
	wantServer := []api.Counter{
		{Name: "received_packets", Total: 385}, {Name: "received_bytes", Total: 40000}, {Name: "rs_received", Total: 120},
		{Name: "ra_sent_same_address", Total: 80}, {Name: "ra_sent_other_address", Total: 38},
		{Name: "forwarded_bubble", Total: 150}, {Name: "forwarded_icmpv6_to_teredo", Total: 30}, {Name: "forwarded_icmpv6_to_native", Total: 20},
		{Name: "forwarded_bytes", Total: 9000}, {Name: "origin_indications", Total: 140}, {Name: "relay_handoffs", Total: 60},
	}
	if !slices.Equal(st.Server, wantServer) {
		t.Errorf("server counters\n got %+v\nwant %+v", st.Server, wantServer)
	}

	// Without the server role: no server counters, no server drops.
	f.b.Update(func(s *metricstest.Source) { s.St.Roles = []string{"relay"} })
	st = api.Stats{}
	_, body := f.call(t, "GET", "/v1/stats", &st)
	if len(st.Server) != 0 || len(st.Drops) != 3 || strings.Contains(body, `"server"`) {
		t.Errorf("relay only: server %+v drops %+v", st.Server, st.Drops)
	}
}

func TestStatus(t *testing.T) {
	f := newFixture(t)
	f.b.Update(func(s *metricstest.Source) { s.Qs[1].RingErr = metricstest.ErrRing })
	var st api.Status
	f.call(t, "GET", "/v1/status", &st)
	if st.Version != "1.2.3" || !st.Ready || st.Draining || st.UptimeSeconds != 7200 || !slices.Equal(st.Roles, []string{"relay", "server"}) {
		t.Errorf("status %+v", st)
	}
	if len(st.Interfaces) != 2 || st.Interfaces[0].Name != "eth0" || st.Interfaces[0].XDPMode != "native" ||
		len(st.Interfaces[0].Queues) != 2 || st.Interfaces[1].Name != "eth1" || len(st.Interfaces[1].Queues) != 0 {
		t.Fatalf("interfaces %+v", st.Interfaces)
	}
	q := st.Interfaces[0].Queues
	if q[0].SocketMode != "zero_copy" || q[1].SocketMode != "copy" || q[1].RingError != metricstest.ErrRing.Error() || q[0].RxPackets != 1300 {
		t.Errorf("queues %+v", q)
	}
	if st.Reload.Reloads != 3 || st.Reload.Failures != 1 || !st.Reload.LastReloadSuccessful {
		t.Errorf("reload %+v", st.Reload)
	}
	wantServer := &api.ServerStatus{Addresses: []string{"192.0.2.10:3544", "192.0.2.11:3544"}, Packets: 385,
		RSReceived: 120, RASent: 118, RASentOther: 38, Forwarded: 200, RelayHandoffs: 60, Drops: 7}
	if !reflect.DeepEqual(st.Server, wantServer) {
		t.Errorf("server\n got %+v\nwant %+v", st.Server, wantServer)
	}
	wantAnnounce := api.Announce{Enabled: true, Prefixes: []string{"2001::/32"}, Desired: true, Announced: true, Confirmed: true,
		Announcements: 4, Withdrawals: 3, Errors: 2, LastError: "birdc configure: timed out after 5s",
		LastErrorTime: metricstest.Start.Add(30 * time.Minute), LastSuccess: metricstest.Start.Add(time.Hour)}
	if !reflect.DeepEqual(st.Announce, wantAnnounce) {
		t.Errorf("announce\n got %+v\nwant %+v", st.Announce, wantAnnounce)
	}
	if st.Drain != (api.Drain{StateFile: "/var/lib/teredo-relayd/drained"}) {
		t.Errorf("drain %+v", st.Drain)
	}

	// Drained with a state file: persisted. Relay role only: no server object.
	f.call(t, "POST", "/v1/drain", nil)
	f.b.Update(func(s *metricstest.Source) { s.St.Roles = []string{"relay"} })
	st = api.Status{}
	_, body := f.call(t, "GET", "/v1/status", &st)
	if !st.Draining || !st.Drain.Persisted || st.Server != nil || strings.Contains(body, `"server"`) {
		t.Errorf("drained relay-only status: draining %v drain %+v server %+v", st.Draining, st.Drain, st.Server)
	}
}
