package client

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"math/rand/v2"
	"net/netip"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/teredorelay/teredorelay/teredo"
)

// fakeHost is the TUN side of a tunnel under test.
type fakeHost struct {
	writes [][]byte
	addrs  []netip.Addr // every SetAddress call
	keep   bool         // false: count writes without keeping them (allocation test)
	n      int
}

func (h *fakeHost) WriteTUN(p []byte) error {
	h.n++
	if h.keep {
		h.writes = append(h.writes, slices.Clone(p))
	}
	return nil
}

func (h *fakeHost) SetAddress(a netip.Addr) error {
	h.addrs = append(h.addrs, a)
	return nil
}

func (h *fakeHost) addr() netip.Addr {
	if len(h.addrs) == 0 {
		return netip.Addr{}
	}
	return h.addrs[len(h.addrs)-1]
}

type tunnelRig struct {
	t    *testing.T
	n    *fakeNet
	srv  *fakeTeredoServer
	rl   *fakeRelayHost
	host *fakeHost
	tn   *Tunnel
}

func newTunnelRig(t *testing.T, nat natKind, cfg TunnelConfig) *tunnelRig {
	t.Helper()
	r := &tunnelRig{t: t, n: newFakeNet(t, nat), host: &fakeHost{keep: true}}
	r.srv = newFakeTeredoServer(r.n)
	r.rl = newFakeRelay(r.n, r.srv)
	if !cfg.Primary.IsValid() {
		cfg.Primary = fakeServer1
	}
	cfg.Rand = rand.NewChaCha8([32]byte{7})
	if cfg.Log == nil {
		cfg.Log = func(f string, a ...any) { t.Logf("tunnel: "+f, a...) }
	}
	tn, err := NewTunnel(cfg, r.n, r.host)
	if err != nil {
		t.Fatal(err)
	}
	r.tn = tn
	return r
}

func (r *tunnelRig) now() time.Time { return r.n.clock.t }

// pump hands every datagram waiting for the client to the tunnel.
func (r *tunnelRig) pump() {
	for len(r.n.inbox) > 0 {
		d := r.n.inbox[0]
		r.n.inbox = r.n.inbox[1:]
		r.tn.HandleUDP(r.now(), d.peer, d.payload)
	}
}

// advance moves the clock in steps of at most 100 ms, ticking and pumping.
func (r *tunnelRig) advance(d time.Duration) {
	end := r.now().Add(d)
	for r.now().Before(end) {
		r.n.clock.t = minTime(end, r.now().Add(100*time.Millisecond))
		r.tn.Tick(r.now())
		r.pump()
	}
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func (r *tunnelRig) start() {
	r.tn.Start(r.now(), false)
	r.pump()
}

func (r *tunnelRig) state(want State) {
	r.t.Helper()
	if got := r.tn.State(); got != want {
		r.t.Fatalf("state %v, want %v", got, want)
	}
}

// hostEcho builds the host's echo request to dst.
func (r *tunnelRig) hostEcho(dst netip.Addr, seq uint16) []byte {
	b := make([]byte, 128)
	n := putEchoRequest(b, r.tn.Address(), dst, 0x4242, seq, []byte("host ping data 56"))
	return b[:n]
}

func TestTunnelDormantThenQualifiedOnFirstPacket(t *testing.T) {
	r := newTunnelRig(t, natRestricted, TunnelConfig{Secondary: fakeServer2})
	r.start()
	r.state(StateDormant)
	addr := r.tn.Address()
	a, ok := teredo.ParseAddr(addr)
	if !ok || a.Mapped != r.n.mapped(fakeServer1) || a.Server != fakeServer1 || a.Cone() || r.host.addr() != addr {
		t.Fatalf("address %v (%+v), host configured %v", addr, a, r.host.addrs)
	}
	snap := r.tn.Snapshot(r.now())
	if snap.NAT != NATRestricted || snap.ExternalMapping != r.n.mapped(fakeServer1) || snap.LocalMapping != fakeLocal || snap.NextRefresh != 0 {
		t.Errorf("snapshot %+v", snap)
	}
	if p, s, ok := r.tn.TakeFilteringProbe(); !ok || p != fakeServer1 || s != fakeServer2 {
		t.Errorf("filtering probe not requested: %v %v %v", p, s, ok)
	}
	// Dormant: no refreshes.
	rs := len(r.n.sentTo(fakePrimary))
	r.advance(2 * DefaultRefreshInterval)
	if got := len(r.n.sentTo(fakePrimary)); got != rs {
		t.Errorf("dormant client sent %d RS", got-rs)
	}
	// The host's first packet qualifies the client and arrives.
	r.tn.HandleTUN(r.now(), r.hostEcho(fakeTarget, 1))
	r.state(StateProbe)
	r.pump()
	r.state(StateQualified)
	r.advance(time.Second)
	if len(r.host.writes) != 1 {
		t.Fatalf("host got %d packets, want the echo reply", len(r.host.writes))
	}
	e, err := parseEcho(r.host.writes[0], true)
	if err != nil || e.Type != teredo.ICMPv6EchoReply || e.Src != fakeTarget || e.ID != 0x4242 || e.Seq != 1 {
		t.Errorf("host got %+v %v", e, err)
	}
	c := r.tn.Counters()
	if c.Activations.Load() != 1 || c.EchoTrusted.Load() != 1 || c.BubblesReply.Load() != 1 || c.PacketsOut.Load() != 1 || c.PacketsIn.Load() != 1 {
		t.Errorf("counters: activations %d echo %d replies %d out %d in %d", c.Activations.Load(), c.EchoTrusted.Load(),
			c.BubblesReply.Load(), c.PacketsOut.Load(), c.PacketsIn.Load())
	}
	snap = r.tn.Snapshot(r.now())
	if len(snap.Relays) != 1 || snap.Relays[0].Relay != fakeRelay || len(snap.Peers) != 1 || !snap.Peers[0].Trusted || snap.NextRefresh == 0 {
		t.Errorf("snapshot relays %+v peers %+v next refresh %v", snap.Relays, snap.Peers, snap.NextRefresh)
	}
	// Idle for the idle timeout: dormant again.
	r.advance(DefaultIdleTimeout + time.Second)
	r.state(StateDormant)
}

func TestTunnelRefreshRandomised(t *testing.T) {
	r := newTunnelRig(t, natRestricted, TunnelConfig{IdleTimeout: -1})
	r.start()
	r.state(StateQualified)
	var gaps []time.Duration
	last := r.now()
	for range 20 {
		before := len(r.n.sentTo(fakePrimary))
		for len(r.n.sentTo(fakePrimary)) == before {
			r.advance(100 * time.Millisecond)
		}
		gaps = append(gaps, r.now().Sub(last))
		last = r.now()
	}
	lo, hi := slices.Min(gaps), slices.Max(gaps)
	if lo < DefaultRefreshInterval*3/4 || hi > DefaultRefreshInterval+100*time.Millisecond || hi-lo < time.Second {
		t.Errorf("refresh gaps %v: want random in [22.5 s, 30 s]", gaps)
	}
	if r.tn.Counters().RefreshOK.Load() != 20 {
		t.Errorf("refreshes %d", r.tn.Counters().RefreshOK.Load())
	}
}

func TestTunnelFailoverOfflineAndBack(t *testing.T) {
	r := newTunnelRig(t, natRestricted, TunnelConfig{Secondary: fakeServer2, IdleTimeout: -1, OfflineRetry: time.Minute})
	r.start()
	r.state(StateQualified)
	addr := r.tn.Address()
	// The primary goes silent: the refresh fails over to the secondary.
	r.srv.silent[fakeServer1] = 1000
	r.advance(DefaultRefreshInterval + DefaultQualifyRetries*DefaultQualifyTimeout + time.Second)
	r.state(StateQualified)
	if r.tn.Counters().Failovers.Load() != 1 || r.tn.Snapshot(r.now()).Server != fakeServer2 || r.tn.Address() != addr {
		t.Fatalf("failovers %d server %v address %v", r.tn.Counters().Failovers.Load(), r.tn.Snapshot(r.now()).Server, r.tn.Address())
	}
	// Both silent: offline, address removed.
	r.srv.silent[fakeServer2] = 1000
	r.advance(DefaultRefreshInterval + 2*DefaultQualifyRetries*DefaultQualifyTimeout + time.Second)
	r.state(StateOffline)
	if r.host.addr().IsValid() || r.tn.Snapshot(r.now()).Error == "" {
		t.Fatalf("offline but the host still has %v", r.host.addr())
	}
	// A packet from the host while offline: ICMPv6 no route.
	pkt := make([]byte, 64)
	putEchoRequest(pkt, addr, fakeTarget, 1, 1, []byte("0123456789abcdef"))
	r.tn.HandleTUN(r.now(), pkt)
	if len(r.host.writes) == 0 || r.host.writes[0][teredo.IPv6HeaderLen] != teredo.ICMPv6DestUnreachable {
		t.Errorf("no ICMPv6 error for a packet while offline")
	}
	// The server comes back: qualified again.
	r.srv.silent = map[netip.Addr]int{}
	r.advance(time.Minute + time.Second)
	r.state(StateQualified)
	if r.tn.Address() != addr || r.host.addr() != addr {
		t.Errorf("back with %v, want %v", r.tn.Address(), addr)
	}
}

func TestTunnelMappingChange(t *testing.T) {
	r := newTunnelRig(t, natRestricted, TunnelConfig{IdleTimeout: -1})
	r.start()
	old := r.tn.Address()
	// The NAT's public address changes (new fake mapping): the refresh's
	// RA carries it.
	fakePublicSaved := fakePublic
	fakePublic = netip.MustParseAddr("203.0.113.77")
	defer func() { fakePublic = fakePublicSaved }()
	r.advance(DefaultRefreshInterval + time.Second)
	now := r.tn.Address()
	a, _ := teredo.ParseAddr(now)
	if now == old || a.Mapped.Addr() != fakePublic || r.host.addr() != now || r.tn.Counters().AddressChanges.Load() != 1 {
		t.Errorf("address %v (was %v), host %v, changes %d", now, old, r.host.addr(), r.tn.Counters().AddressChanges.Load())
	}
	if binary.BigEndian.Uint16(now.AsSlice()[8:10]) == binary.BigEndian.Uint16(old.AsSlice()[8:10]) {
		t.Errorf("flags kept across a mapping change: %v %v", now, old)
	}
}

func TestTunnelManagedNetwork(t *testing.T) {
	for _, typ := range []ClientType{TypeClient, TypeEnterpriseClient} {
		r := newTunnelRig(t, natRestricted, TunnelConfig{Type: typ})
		r.tn.Start(r.now(), true)
		r.tn.SetNetwork(r.now(), true)
		r.pump()
		s := r.tn.Snapshot(r.now())
		// The interface's MTU is the link's (1280) before any RA.
		if typ == TypeClient && (s.State != StateOffline || s.Error != "client is in a managed network" || s.Network != "managed" || len(r.n.sent) != 0 || s.MTU != teredo.MinMTU) {
			t.Errorf("client on a managed network: %+v, %d datagrams sent", s, len(r.n.sent))
		}
		if typ == TypeEnterpriseClient && (s.State != StateDormant || s.Network != "managed") {
			t.Errorf("enterprise client on a managed network: %+v", s)
		}
	}
	// Leaving the managed network starts the client.
	r := newTunnelRig(t, natRestricted, TunnelConfig{})
	r.tn.Start(r.now(), true)
	r.tn.SetNetwork(r.now(), true)
	r.tn.SetNetwork(r.now(), false)
	r.pump()
	r.state(StateDormant)
}

func TestTunnelUnreachableNativePeer(t *testing.T) {
	r := newTunnelRig(t, natRestricted, TunnelConfig{IdleTimeout: -1})
	r.start()
	nowhere := netip.MustParseAddr("2001:db8:9::1") // the fake relay ignores it
	r.tn.HandleTUN(r.now(), r.hostEcho(nowhere, 1))
	r.advance(10 * time.Second)
	c := r.tn.Counters()
	if c.EchoRequests.Load() != 1+DefaultEchoRetries || c.EchoFailed.Load() != 1 || c.Drops[DropUnreachable].Load() != 1 {
		t.Errorf("echo requests %d failed %d unreachable %d", c.EchoRequests.Load(), c.EchoFailed.Load(), c.Drops[DropUnreachable].Load())
	}
	if len(r.host.writes) != 1 {
		t.Fatalf("host got %d packets", len(r.host.writes))
	}
	e := r.host.writes[0]
	if e[teredo.IPv6HeaderLen] != teredo.ICMPv6DestUnreachable || e[teredo.IPv6HeaderLen+1] != teredo.CodeAddrUnreachable ||
		netip.AddrFrom16(teredo.Dst(e)) != r.tn.Address() || !teredo.VerifyICMPv6Checksum(e) {
		t.Errorf("ICMPv6 error % x", e[:48])
	}
	// RFC 4380 §5.2.6: no new echo request within 300 s of the first;
	// the host's next packet gets an ICMPv6 error at the next tick.
	r.tn.HandleTUN(r.now(), r.hostEcho(nowhere, 2))
	r.advance(time.Second)
	if c.EchoRequests.Load() != 1+DefaultEchoRetries || len(r.host.writes) != 2 || c.EchoFailed.Load() != 1 {
		t.Errorf("within 300 s: echo requests %d, host got %d packets, failed %d", c.EchoRequests.Load(), len(r.host.writes), c.EchoFailed.Load())
	}
	// After 300 s a new test starts.
	r.advance(300 * time.Second)
	if len(r.tn.Snapshot(r.now()).Peers) != 0 {
		t.Error("the silent peer outlives the expiry")
	}
	r.tn.HandleTUN(r.now(), r.hostEcho(nowhere, 3))
	if c.EchoRequests.Load() != 2+DefaultEchoRetries {
		t.Errorf("after 300 s: %d echo requests", c.EchoRequests.Load())
	}
}

// Peers: an indirect bubble is answered with a direct bubble echoing its
// RFC 6081 nonce; a direct packet from the mapping a peer's address embeds
// is trusted; a direct bubble from another mapping is accepted only with our
// nonce.
func TestTunnelTeredoPeers(t *testing.T) {
	r := newTunnelRig(t, natRestricted, TunnelConfig{IdleTimeout: -1, Secondary: fakeServer2})
	r.start()
	peerMapped := netip.MustParseAddrPort("198.51.100.80:6000")
	peer := teredo.Addr{Server: fakeServer1, Flags: 0x0123, Mapped: peerMapped}.IP()

	// Indirect bubble from the peer via our server, with a nonce.
	b := make([]byte, 64)
	n := teredo.PutBubble(b, peer, r.tn.Address())
	n += teredo.PutTrailer(b[n:], teredo.TrailerNonce, []byte{1, 2, 3, 4})
	r.n.deliver(fakePrimary, append(originFor(peerMapped), b[:n]...))
	r.pump()
	got := r.n.sentTo(peerMapped)
	var p teredo.Packet
	if len(got) != 1 || p.Decode(got[0].payload) != nil || !p.IsBubble() || netip.AddrFrom16(teredo.Dst(p.IPv6)) != peer ||
		!bytes.Equal(p.Trailer, []byte{teredo.TrailerNonce, 4, 1, 2, 3, 4}) {
		t.Fatalf("answer to the indirect bubble: %v", got)
	}

	// The host sends to another peer: low-TTL direct bubble (our NAT
	// filters) and an indirect bubble with our nonce.
	other := teredo.Addr{Server: fakeServer1, Flags: 0x0456, Mapped: netip.MustParseAddrPort("198.51.100.90:7000")}.IP()
	r.tn.HandleTUN(r.now(), r.hostEcho(other, 1))
	ind := r.n.sentTo(fakePrimary)
	if p.Decode(ind[len(ind)-1].payload) != nil || !p.IsBubble() || len(p.Trailer) != 6 || p.Trailer[0] != teredo.TrailerNonce {
		t.Fatalf("indirect bubble %x", ind[len(ind)-1].payload)
	}
	nonce := p.Trailer[2:6]
	if d := r.n.sentTo(netip.MustParseAddrPort("198.51.100.90:7000")); len(d) != 1 || r.tn.Counters().BubblesDirect.Load() != 1 {
		t.Errorf("direct bubbles %d", len(d))
	}
	// Its NAT answers from another port: refused without the nonce...
	actual := netip.MustParseAddrPort("198.51.100.90:7777")
	r.n.openedPort[actual], r.n.opened[actual.Addr()] = true, true
	n = teredo.PutBubble(b, other, r.tn.Address())
	r.n.deliver(actual, slices.Clone(b[:n]))
	r.pump()
	if r.tn.Counters().Drops[DropMappingMismatch].Load() != 1 {
		t.Errorf("mismatching bubble without nonce accepted")
	}
	// ... accepted with it, and the queued packet goes to that mapping.
	n += teredo.PutTrailer(b[n:], teredo.TrailerNonce, nonce)
	r.n.deliver(actual, slices.Clone(b[:n]))
	r.pump()
	if d := r.n.sentTo(actual); len(d) != 1 || !bytes.Equal(d[0].payload[8:24], r.tn.Address().AsSlice()) {
		t.Fatalf("queued packet to %v: %d", actual, len(d))
	}
	// Data from the first peer at its embedded mapping is delivered.
	data := make([]byte, 128)
	n = putEchoRequest(data, peer, r.tn.Address(), 9, 9, []byte("from the peer"))
	r.n.openedPort[peerMapped] = true
	r.n.deliver(peerMapped, data[:n])
	r.pump()
	if len(r.host.writes) != 1 || !bytes.Equal(r.host.writes[0], data[:n]) {
		t.Errorf("host got %d packets", len(r.host.writes))
	}
	// A spoofed packet claiming to be that peer from elsewhere is dropped.
	r.n.opened[netip.MustParseAddr("198.51.100.81")] = true
	r.n.deliver(netip.MustParseAddrPort("198.51.100.81:6000"), data[:n])
	r.pump()
	if len(r.host.writes) != 1 || r.tn.Counters().Drops[DropMappingMismatch].Load() != 2 {
		t.Errorf("spoofed packet delivered")
	}
}

// A native host reaching the client first: the relay's packet waits for the
// connectivity test towards its source, then is delivered.
func TestTunnelNativeInitiates(t *testing.T) {
	r := newTunnelRig(t, natCone, TunnelConfig{IdleTimeout: -1})
	r.start()
	req := make([]byte, 128)
	n := putEchoRequest(req, fakeTarget, r.tn.Address(), 5, 5, []byte("native says hi"))
	// The fake relay runs the whole exchange synchronously: echo test
	// through the server, its indirect bubble, our answer, its reply.
	r.n.deliver(fakeRelay, slices.Clone(req[:n]))
	r.pump()
	c := r.tn.Counters()
	if c.EchoRequests.Load() != 1 || c.EchoTrusted.Load() != 1 || r.rl.bubbles != 1 {
		t.Errorf("echo requests %d trusted %d relay bubbles %d", c.EchoRequests.Load(), c.EchoTrusted.Load(), r.rl.bubbles)
	}
	if len(r.host.writes) != 1 || !bytes.Equal(r.host.writes[0], req[:n]) {
		t.Fatalf("host got %d packets", len(r.host.writes))
	}
	// The same packet from another relay is held again, not delivered.
	r.n.deliver(netip.MustParseAddrPort("198.51.100.2:3544"), slices.Clone(req[:n]))
	r.pump()
	if len(r.host.writes) != 1 {
		t.Error("packet from an unverified relay delivered")
	}
}

// The trusted paths allocate nothing per packet.
func TestTunnelZeroAllocs(t *testing.T) {
	r := newTunnelRig(t, natRestricted, TunnelConfig{IdleTimeout: -1})
	r.start()
	r.tn.HandleTUN(r.now(), r.hostEcho(fakeTarget, 1))
	r.advance(time.Second)
	r.host.keep = false
	out := r.hostEcho(fakeTarget, 2)
	in := echoReplyFor(out)
	relayFrom := fakeRelay
	sink := &countingTransport{local: fakeLocal}
	r.tn.tr = sink
	allocs := testing.AllocsPerRun(1000, func() {
		r.tn.HandleTUN(r.now(), out)
		r.tn.HandleUDP(r.now(), relayFrom, in)
	})
	if allocs != 0 || sink.n == 0 || r.host.n < 1000 {
		t.Errorf("%.1f allocations per packet pair (sent %d, delivered %d)", allocs, sink.n, r.host.n)
	}
}

type countingTransport struct {
	local netip.AddrPort
	n     int
}

func (c *countingTransport) Send(netip.AddrPort, []byte) error { c.n++; return nil }
func (c *countingTransport) Receive(_ context.Context, _ []byte, _ time.Time) (int, netip.AddrPort, error) {
	return 0, netip.AddrPort{}, os.ErrDeadlineExceeded
}
func (c *countingTransport) LocalAddr() netip.AddrPort { return c.local }
func (c *countingTransport) Close() error              { return nil }

// The control API's JSON round-trips (show state reads it back).
func TestSnapshotJSON(t *testing.T) {
	r := newTunnelRig(t, natRestricted, TunnelConfig{Secondary: fakeServer2})
	r.start()
	r.tn.HandleTUN(r.now(), r.hostEcho(fakeTarget, 1))
	r.pump()
	s := r.tn.Snapshot(r.now())
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var back Snapshot
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	if back.State != s.State || back.NAT != s.NAT || back.Type != s.Type || back.Address != s.Address ||
		len(back.Peers) != 1 || back.Peers[0].Kind != PeerNative || !back.Time.Equal(s.Time) {
		t.Errorf("round trip %+v\nfrom %s", back, b)
	}
}

// FuzzTunnelUDP feeds arbitrary datagrams from arbitrary sources (the
// server's among them) to a qualified tunnel: no panic, and nothing reaches
// the host unless it came from a trusted mapping or a source its Teredo
// address embeds.
func FuzzTunnelUDP(f *testing.F) {
	for _, s := range []string{captureRA, captureIndirectBubble, captureEchoReply, captureUnreachable} {
		f.Add(unhex(f, s), true)
		f.Add(unhex(f, s), false)
	}
	f.Fuzz(func(t *testing.T, b []byte, fromServer bool) {
		r := newTunnelRig(&testing.T{}, natRestricted, TunnelConfig{IdleTimeout: -1, Log: func(string, ...any) {}})
		r.start()
		from := netip.MustParseAddrPort("198.51.100.50:1234")
		if fromServer {
			from = fakePrimary
		}
		before := len(r.host.writes)
		r.tn.HandleUDP(r.now(), from, b)
		r.tn.Tick(r.now().Add(3 * time.Second))
		if len(r.host.writes) > before {
			var p teredo.Packet
			if p.Decode(b) != nil {
				t.Fatalf("undecodable datagram %x reached the host", b)
			}
			src := teredo.Src(p.IPv6)
			if fromServer || !teredo.MatchesSource(&src, from) {
				t.Fatalf("datagram %x from %v reached the host", b, from)
			}
		}
	})
}

// FuzzTunnelTUN feeds arbitrary packets from the host: no panic, and what
// leaves over UDP is a valid Teredo datagram.
func FuzzTunnelTUN(f *testing.F) {
	r0 := newTunnelRig(&testing.T{}, natRestricted, TunnelConfig{IdleTimeout: -1, Log: func(string, ...any) {}})
	r0.start()
	f.Add(r0.hostEcho(fakeTarget, 1))
	f.Add(r0.hostEcho(teredo.Addr{Server: fakeServer1, Mapped: fakePeerAddr}.IP(), 1))
	f.Add([]byte{0x60, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		r := newTunnelRig(&testing.T{}, natRestricted, TunnelConfig{IdleTimeout: -1, Log: func(string, ...any) {}})
		r.start()
		if len(b) >= 24 {
			copy(b[8:24], r.tn.Address().AsSlice()) // let some through the source check
		}
		sent := len(r.n.sent)
		r.tn.HandleTUN(r.now(), b)
		r.tn.Tick(r.now().Add(3 * time.Second))
		for _, d := range r.n.sent[sent:] {
			var p teredo.Packet
			if err := p.Decode(d.payload); err != nil {
				t.Fatalf("sent undecodable %x for input %x", d.payload, b)
			}
		}
	})
}
