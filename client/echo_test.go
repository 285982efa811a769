package client

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/teredorelay/teredorelay/teredo"
)

// qualifiedFake returns a client qualified on the fake network with a relay.
func qualifiedFake(t *testing.T, nat natKind) (*Client, *fakeNet, *fakeRelayHost, *[]Event) {
	t.Helper()
	n := newFakeNet(t, nat)
	srv := newFakeTeredoServer(n)
	r := newFakeRelay(n, srv)
	c, events := newFakeClient(t, n, Config{})
	if _, err := c.Qualify(context.Background()); err != nil {
		t.Fatalf("qualify: %v", err)
	}
	return c, n, r, events
}

func TestConnectivityTest(t *testing.T) {
	c, n, r, events := qualifiedFake(t, natRestricted)
	q, _ := c.Qualification()
	start := n.clock.t
	res, err := c.ConnectivityTest(context.Background(), fakeTarget)
	if err != nil {
		t.Fatalf("connectivity test: %v", err)
	}
	if res.Relay != fakeRelay || res.Attempts != 1 || !slices.Equal(res.BubbleOrigins, []netip.AddrPort{fakeRelay}) || r.bubbles != 1 {
		t.Errorf("result %+v, relay bubbles %d", res, r.bubbles)
	}
	// Bubble in, then the reply: two deliveries.
	if res.RTT != 2*fakeHop || n.clock.t.Sub(start) != 2*fakeHop {
		t.Errorf("rtt %v, elapsed %v", res.RTT, n.clock.t.Sub(start))
	}
	// The Echo Request went through the server with a 16-byte nonce.
	echo := n.sentTo(fakePrimary)
	e, err := parseEcho(echo[len(echo)-1].payload, true)
	if err != nil || e.Type != teredo.ICMPv6EchoRequest || e.Src != q.Address || e.Dst != fakeTarget || len(e.Data) != EchoNonceLen || e.Seq != 1 {
		t.Fatalf("echo request %+v: %v", e, err)
	}
	// The relay's indirect bubble was answered with a direct bubble to the
	// origin, source and destination swapped (teredo-spec.md §3.9, T13).
	var want [40]byte
	teredo.PutBubble(want[:], q.Address, fakeRelayLL)
	b := n.sentTo(fakeRelay)
	if len(b) != 1 || !bytes.Equal(b[0].payload, want[:]) {
		t.Errorf("direct bubbles to the relay: %d, first %x, want %x", len(b), b[0].payload, want)
	}
	if !hasEvent(*events, EventAccepted, "echo-test") {
		t.Error("trace lacks the accepted reply")
	}
}

// Without the answer to the indirect bubble the relay would never be let in:
// a client that is not answering (wrong destination in the bubble) times out.
func TestIndirectBubbleForAnotherAddressIsNotAnswered(t *testing.T) {
	c, n, _, events := qualifiedFake(t, natRestricted)
	other := teredo.Addr{Server: fakeServer1, Flags: 0x1234, Mapped: n.mapped(fakeServer1)}.IP()
	bubble := make([]byte, 40)
	teredo.PutBubble(bubble, fakeRelayLL, other)
	n.deliver(fakePrimary, append(originFor(fakeRelay), bubble...))
	c.cfg.EchoRetries = 1
	_, err := c.ConnectivityTest(context.Background(), netip.MustParseAddr("2001:db8:9::1")) // nobody answers
	if !errors.Is(err, ErrNoAnswer) {
		t.Fatalf("error %v", err)
	}
	if got := n.sentTo(fakeRelay); len(got) != 0 {
		t.Errorf("answered a bubble for %v: %x", other, got[0].payload)
	}
	found := false
	for _, e := range *events {
		found = found || (e.Kind == EventRejected && errors.Is(e.Err, ErrWrongDestination))
	}
	if !found {
		t.Error("no rejection event for the bubble")
	}
}

func TestConnectivityTestNonceMismatch(t *testing.T) {
	c, n, r, _ := qualifiedFake(t, natRestricted)
	r.reply = func(req []byte) []byte {
		out := echoReplyFor(req)
		out[len(out)-1] ^= 0x55 // spoil the nonce, keep the checksum right
		refreshICMPv6Checksum(out)
		return out
	}
	start := n.clock.t
	res, err := c.ConnectivityTest(context.Background(), fakeTarget)
	var na *NoAnswerError
	if !errors.Is(err, ErrNonceMismatch) || !errors.As(err, &na) || na.Sent != DefaultEchoRetries || len(na.Rejected) != DefaultEchoRetries {
		t.Fatalf("error %v", err)
	}
	if res.Relay.IsValid() || res.Attempts != 3 || n.clock.t.Sub(start) != 3*DefaultEchoTimeout {
		t.Errorf("result %+v after %v", res, n.clock.t.Sub(start))
	}
}

func TestConnectivityTestUnreachable(t *testing.T) {
	c, _, r, _ := qualifiedFake(t, natRestricted)
	gw := netip.MustParseAddr("2001:db8:1::fe")
	r.reply = func(req []byte) []byte {
		b := make([]byte, 1280)
		n, err := teredo.PutDestUnreachable(b, teredo.CodeAddrUnreachable, gw, req)
		if err != nil {
			t.Fatalf("build unreachable: %v", err)
		}
		return b[:n]
	}
	res, err := c.ConnectivityTest(context.Background(), fakeTarget)
	if !errors.Is(err, ErrUnreachable) || res.Relay != fakeRelay || res.RTT != 0 ||
		res.Unreachable != "destination unreachable (address unreachable) from 2001:db8:1::fe" {
		t.Fatalf("result %+v error %v", res, err)
	}
}

func TestConnectivityTestNeedsQualification(t *testing.T) {
	n := newFakeNet(t, natRestricted)
	c, _ := newFakeClient(t, n, Config{})
	if _, err := c.ConnectivityTest(context.Background(), fakeTarget); !errors.Is(err, ErrNotQualified) {
		t.Errorf("error %v", err)
	}
	c2, _, _, _ := qualifiedFake(t, natRestricted)
	for _, bad := range []string{"2001:0:c000:201::1", "fe80::1", "192.0.2.10", "ff02::1"} {
		if _, err := c2.ConnectivityTest(context.Background(), netip.MustParseAddr(bad)); err == nil {
			t.Errorf("target %s accepted", bad)
		}
	}
}

func TestPing(t *testing.T) {
	c, n, r, _ := qualifiedFake(t, natRestricted)
	res, err := c.ConnectivityTest(context.Background(), fakeTarget)
	if err != nil {
		t.Fatalf("connectivity test: %v", err)
	}
	r.drop[2] = true
	start := n.clock.t
	p, err := c.Ping(context.Background(), res.Relay, fakeTarget, 4, time.Second)
	if err != nil {
		t.Fatalf("ping: %v", err)
	}
	if p.Sent != 4 || p.Received() != 3 {
		t.Fatalf("sent %d received %d: %+v", p.Sent, p.Received(), p)
	}
	for i, want := range []uint16{1, 3, 4} {
		if p.Replies[i].Seq != want || p.Replies[i].RTT != fakeHop {
			t.Errorf("reply %d: %+v", i, p.Replies[i])
		}
	}
	lo, mean, hi := p.Stats()
	if lo != fakeHop || mean != fakeHop || hi != fakeHop {
		t.Errorf("stats %v %v %v", lo, mean, hi)
	}
	// Requests go straight to the relay, one per interval; seq 2 is never
	// answered, so Ping waits the timeout after the last request.
	sent := n.sentTo(fakeRelay)[1:] // after the direct bubble
	if len(sent) != 4 || sent[1].at.Sub(sent[0].at) != time.Second {
		t.Fatalf("%d requests to the relay", len(sent))
	}
	if got := n.clock.t.Sub(start); got != 3*time.Second+DefaultEchoTimeout {
		t.Errorf("ping took %v", got)
	}
}

func TestPingRejectsOtherSources(t *testing.T) {
	c, n, _, _ := qualifiedFake(t, natCone)
	q, _ := c.Qualification()
	// A reply carrying a valid nonce but from another IPv4 endpoint than
	// the relay is not accepted.
	impostor := netip.MustParseAddrPort("198.51.100.66:3544")
	n.hosts[fakeRelay] = func(_ netip.AddrPort, payload []byte) {
		var p teredo.Packet
		if p.Decode(payload) == nil {
			n.deliver(impostor, echoReplyFor(p.IPv6))
		}
	}
	p, err := c.Ping(context.Background(), fakeRelay, fakeTarget, 2, time.Second)
	if err != nil {
		t.Fatalf("ping: %v", err)
	}
	if p.Received() != 0 || len(p.Rejected) != 2 || !errors.Is(p.Rejected[0].Err, ErrUnexpectedSource) {
		t.Errorf("received %d rejected %v (client %v)", p.Received(), p.Rejected, q.Address)
	}
}

func TestReachPeer(t *testing.T) {
	n := newFakeNet(t, natRestricted)
	newFakeTeredoServer(n)
	c, _ := newFakeClient(t, n, Config{})
	q, err := c.Qualify(context.Background())
	if err != nil {
		t.Fatalf("qualify: %v", err)
	}
	peer := teredo.Addr{Server: fakeServer1, Flags: 0x1c2d, Mapped: fakePeerAddr}.IP()
	var gotDirect, gotIndirect int
	wantOrigin := q.Mapped
	n.hosts[fakePeerAddr] = func(from netip.AddrPort, payload []byte) {
		var p teredo.Packet
		if err := p.Decode(payload); err != nil || !p.IsBubble() {
			t.Errorf("peer got %x", payload)
			return
		}
		if !p.HasOrigin {
			gotDirect++
			return
		}
		gotIndirect++
		if p.Origin != wantOrigin {
			t.Errorf("origin %v, want %v", p.Origin, wantOrigin)
		}
		b := make([]byte, 40)
		teredo.PutBubble(b, peer, netip.AddrFrom16(teredo.Src(p.IPv6)))
		n.deliver(fakePeerAddr, b)
	}
	res, err := c.ReachPeer(context.Background(), peer)
	if err != nil {
		t.Fatalf("reach peer: %v", err)
	}
	if res.Mapping != fakePeerAddr || !res.Bubble || res.Tries != 1 || gotDirect != 1 || gotIndirect != 1 {
		t.Errorf("result %+v, peer saw %d direct %d indirect", res, gotDirect, gotIndirect)
	}
	// Behind no NAT the client sends indirect bubbles only.
	n2 := newFakeNet(t, natNone)
	newFakeTeredoServer(n2)
	c2, _ := newFakeClient(t, n2, Config{})
	q2, err := c2.Qualify(context.Background())
	if err != nil {
		t.Fatalf("qualify: %v", err)
	}
	gotDirect, gotIndirect, wantOrigin = 0, 0, q2.Mapped
	n2.hosts[fakePeerAddr] = n.hosts[fakePeerAddr]
	n = n2
	if res, err := c2.ReachPeer(context.Background(), peer); err != nil || gotDirect != 0 || gotIndirect != 1 || res.Mapping != fakePeerAddr {
		t.Errorf("without NAT: %+v %v, peer saw %d direct %d indirect", res, err, gotDirect, gotIndirect)
	}
	// A private mapped address is never a destination (RFC 4380 §5.2.4).
	private := teredo.Addr{Server: fakeServer1, Mapped: netip.MustParseAddrPort("10.0.0.1:3544")}.IP()
	if err := c.SendDirectBubble(private); !errors.Is(err, ErrNotGlobal) {
		t.Errorf("direct bubble to %v: %v", private, err)
	}
}

func TestReachPeerTimeout(t *testing.T) {
	n := newFakeNet(t, natRestricted)
	newFakeTeredoServer(n)
	c, _ := newFakeClient(t, n, Config{})
	if _, err := c.Qualify(context.Background()); err != nil {
		t.Fatalf("qualify: %v", err)
	}
	peer := teredo.Addr{Server: fakeServer1, Mapped: fakePeerAddr}.IP()
	// A bubble claiming to be the peer from the wrong mapping is rejected.
	n.hosts[fakePeerAddr] = func(netip.AddrPort, []byte) {
		b := make([]byte, 40)
		q, _ := c.Qualification()
		teredo.PutBubble(b, peer, q.Address)
		n.opened[netip.MustParseAddr("198.51.100.78")] = true
		n.deliver(netip.MustParseAddrPort("198.51.100.78:5000"), b)
	}
	start := n.clock.t
	_, err := c.ReachPeer(context.Background(), peer)
	if !errors.Is(err, ErrNoAnswer) || !errors.Is(err, ErrUnexpectedSource) {
		t.Fatalf("error %v", err)
	}
	if got := n.clock.t.Sub(start); got != 3*DefaultEchoTimeout {
		t.Errorf("took %v", got)
	}
	if d := n.sentTo(fakePeerAddr); len(d) != 3 {
		t.Errorf("%d direct bubbles, want 3 (one per 2 s)", len(d))
	}
}

func TestEchoRequestChecksum(t *testing.T) {
	b := make([]byte, 100)
	src, dst := netip.MustParseAddr("2001:0:c000:201:3cc4:4b5f:34ff:8efe"), netip.MustParseAddr("2001:db8:1::fe")
	n := putEchoRequest(b, src, dst, 0x231b, 0x4a06, []byte("0123456789abcdef"))
	if n != 64 || !teredo.VerifyICMPv6Checksum(b[:n]) || binary.BigEndian.Uint16(b[4:6]) != 24 || b[7] != EchoHopLimit {
		t.Errorf("echo request %x", b[:n])
	}
	if putEchoRequest(b[:63], src, dst, 1, 1, []byte("0123456789abcdef")) != 0 {
		t.Error("short buffer accepted")
	}
}
