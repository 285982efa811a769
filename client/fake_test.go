package client

import (
	"context"
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/teredorelay/teredorelay/teredo"
)

// The in-memory network: a client behind a NAT of a chosen kind, a Teredo
// server with two addresses built on teredo.PutRA, a relay and a native host.
// Time is a fake clock: a wait that ends without a datagram moves the clock to
// its deadline, every delivery takes hop of fake time.

var (
	fakeServer1  = netip.MustParseAddr("192.0.2.1")
	fakeServer2  = netip.MustParseAddr("192.0.2.2")
	fakeLocal    = netip.MustParseAddrPort("10.1.1.2:40000")
	fakePublic   = netip.MustParseAddr("203.0.113.1")
	fakeRelay    = netip.MustParseAddrPort("198.51.100.1:3544")
	fakeRelayLL  = netip.MustParseAddr("fe80::4439:a801:d529:32ad")
	fakeTarget   = netip.MustParseAddr("2001:db8:1::10")
	fakeHop      = 3 * time.Millisecond
	fakeEpoch    = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	fakePrimary  = netip.AddrPortFrom(fakeServer1, teredo.Port)
	fakeSecond   = netip.AddrPortFrom(fakeServer2, teredo.Port)
	fakePeerAddr = netip.MustParseAddrPort("198.51.100.77:5000") // another Teredo client, no NAT
)

type natKind int

const (
	natNone           natKind = iota // mapped = local, no filtering
	natCone                          // one mapping, no filtering
	natRestricted                    // one mapping, only addresses the client sent to get in
	natPortRestricted                // one mapping, only address:port pairs the client sent to get in
	natSymmetric                     // one mapping per destination address, filtered by address:port
)

type fakeClock struct{ t time.Time }

func (c *fakeClock) Now() time.Time { return c.t }

type dgram struct {
	peer    netip.AddrPort // destination when sent, source when received
	payload []byte
	at      time.Time
}

// fakeNet implements Transport and SiblingOpener: the first endpoint is the
// client's service port; OpenSibling adds sockets on the next local ports,
// behind the same NAT.
type fakeNet struct {
	t          testing.TB
	clock      *fakeClock
	nat        natKind
	local      netip.AddrPort
	inbox      []dgram
	sent       []dgram
	opened     map[netip.Addr]bool     // addresses this socket sent to (NAT filter)
	openedPort map[netip.AddrPort]bool // address:port pairs this socket sent to
	hosts      map[netip.AddrPort]func(from netip.AddrPort, payload []byte)
	filtered   int
	root       *fakeNet   // the service port's endpoint (itself for the root)
	siblings   []*fakeNet // on the root: sockets opened by OpenSibling
}

func newFakeNet(t testing.TB, nat natKind) *fakeNet {
	n := &fakeNet{
		t: t, clock: &fakeClock{t: fakeEpoch}, nat: nat, local: fakeLocal,
		opened: map[netip.Addr]bool{}, openedPort: map[netip.AddrPort]bool{},
		hosts: map[netip.AddrPort]func(netip.AddrPort, []byte){},
	}
	n.root = n
	return n
}

// OpenSibling implements SiblingOpener.
func (n *fakeNet) OpenSibling() (Transport, error) {
	r := n.root
	s := &fakeNet{
		t: r.t, clock: r.clock, nat: r.nat, local: netip.AddrPortFrom(fakeLocal.Addr(), fakeLocal.Port()+1+uint16(len(r.siblings))),
		opened: map[netip.Addr]bool{}, openedPort: map[netip.AddrPort]bool{}, hosts: r.hosts, root: r,
	}
	r.siblings = append(r.siblings, s)
	return s, nil
}

// mapped is the socket's public endpoint towards dst.
func (n *fakeNet) mapped(dst netip.Addr) netip.AddrPort {
	off := n.local.Port() - fakeLocal.Port()
	switch n.nat {
	case natNone:
		return n.local
	case natSymmetric:
		return netip.AddrPortFrom(fakePublic, 50000+256*off+uint16(dst.As4()[3]))
	}
	return netip.AddrPortFrom(fakePublic, 46240+off)
}

func (n *fakeNet) Send(dst netip.AddrPort, payload []byte) error {
	p := slices.Clone(payload)
	n.sent = append(n.sent, dgram{peer: dst, payload: p, at: n.clock.t})
	n.opened[dst.Addr()] = true
	n.openedPort[dst] = true
	if h := n.hosts[dst]; h != nil {
		h(n.mapped(dst.Addr()), p)
	}
	return nil
}

// deliverTo hands a datagram sent to the public endpoint to to the socket
// behind it, if any (a symmetric NAT maps to only from's address).
func (n *fakeNet) deliverTo(to, from netip.AddrPort, payload []byte) {
	for _, e := range append([]*fakeNet{n.root}, n.root.siblings...) {
		if e.mapped(from.Addr()) == to {
			e.deliver(from, payload)
			return
		}
	}
	n.root.filtered++
}

// deliver queues a datagram for the socket, unless the NAT filters it.
func (n *fakeNet) deliver(from netip.AddrPort, payload []byte) {
	switch {
	case n.nat == natRestricted && !n.opened[from.Addr()],
		(n.nat == natPortRestricted || n.nat == natSymmetric) && !n.openedPort[from]:
		n.root.filtered++
		return
	}
	n.inbox = append(n.inbox, dgram{peer: from, payload: payload})
}

func (n *fakeNet) Receive(ctx context.Context, buf []byte, deadline time.Time) (int, netip.AddrPort, error) {
	if err := ctx.Err(); err != nil {
		return 0, netip.AddrPort{}, err
	}
	if len(n.inbox) == 0 || !n.clock.t.Add(fakeHop).Before(deadline) {
		if deadline.After(n.clock.t) {
			n.clock.t = deadline
		}
		return 0, netip.AddrPort{}, os.ErrDeadlineExceeded
	}
	d := n.inbox[0]
	n.inbox = n.inbox[1:]
	n.clock.t = n.clock.t.Add(fakeHop)
	return copy(buf, d.payload), d.peer, nil
}

func (n *fakeNet) LocalAddr() netip.AddrPort { return n.local }
func (n *fakeNet) Close() error              { return nil }

// sentTo returns the datagrams the client sent to dst.
func (n *fakeNet) sentTo(dst netip.AddrPort) []dgram {
	var out []dgram
	for _, d := range n.sent {
		if d.peer == dst {
			out = append(out, d)
		}
	}
	return out
}

// raFault is how the fake server spoils its Router Advertisements.
type raFault int

const (
	raGood raFault = iota
	raWrongNonce
	raNoOrigin
	raWrongPrefix
	raWrongDst
	raNoAuth
	raConfirm
	raBadMTU
	raBadChecksum
	raTwoPrefixes
	raFromOtherPort
	raGarbage
)

// fakeTeredoServer answers RS on both of its addresses like miredo-server and
// forwards echo requests to the native side (onEcho) and bubbles to clients.
type fakeTeredoServer struct {
	net    *fakeNet
	fault  raFault
	silent map[netip.Addr]int // RS to ignore per server address
	onEcho func(from netip.AddrPort, ipv6 []byte)
	rs     int
	// coneFromSame breaks RFC 4380 §5.3.2: cone RS answered from the
	// address they were sent to.
	coneFromSame bool
}

func newFakeTeredoServer(n *fakeNet) *fakeTeredoServer {
	s := &fakeTeredoServer{net: n, silent: map[netip.Addr]int{}}
	for _, a := range []netip.AddrPort{fakePrimary, fakeSecond} {
		n.hosts[a] = func(from netip.AddrPort, payload []byte) { s.handle(a, from, payload) }
	}
	return s
}

func (s *fakeTeredoServer) handle(to, from netip.AddrPort, payload []byte) {
	t := s.net.t
	var p teredo.Packet
	if err := p.Decode(payload); err != nil {
		t.Errorf("fake server: client sent an undecodable datagram: %v", err)
		return
	}
	if teredo.IsRS(p.IPv6) {
		s.rs++
		if s.silent[to.Addr()] > 0 {
			s.silent[to.Addr()]--
			return
		}
		s.answerRS(to, from, &p)
		return
	}
	if e, err := parseEcho(p.IPv6, true); err == nil && e.Type == teredo.ICMPv6EchoRequest {
		src := teredo.Src(p.IPv6)
		if !teredo.MatchesSource(&src, from) {
			t.Errorf("fake server: echo request source %v does not match %v", e.Src, from)
			return
		}
		if s.onEcho != nil {
			s.onEcho(from, slices.Clone(p.IPv6))
		}
		return
	}
	if p.IsBubble() {
		// Forward to the Teredo destination with an origin indication.
		dst := teredo.Dst(p.IPv6)
		a := teredo.DecodeAddr(&dst)
		if h := s.net.hosts[a.Mapped]; h != nil {
			h(to, append(originFor(from), p.IPv6...))
		}
		return
	}
	t.Errorf("fake server: unexpected packet from %v", from)
}

func originFor(o netip.AddrPort) []byte {
	b := make([]byte, teredo.OriginLen)
	teredo.PutOrigin(b, o)
	return b
}

// answerRS builds [auth] origin RA like miredo-server, spoiled by s.fault.
func (s *fakeTeredoServer) answerRS(to, from netip.AddrPort, p *teredo.Packet) {
	src := netip.AddrFrom16(teredo.Src(p.IPv6))
	cone := teredo.DecodeAddr(teredo.SrcPtr(p.IPv6)).Cone()
	replyFrom := to
	if cone && !s.coneFromSame { // RFC 4380 §5.3.2: a cone RS is answered from the other address
		replyFrom = fakeSecond
		if to == fakeSecond {
			replyFrom = fakePrimary
		}
	}
	auth := p.Auth
	auth.ClientID, auth.Value = nil, nil
	b := make([]byte, 512)
	n := 0
	if s.fault == raWrongNonce {
		auth.Nonce[0] ^= 0xff
	}
	if s.fault == raConfirm {
		auth.Confirm = 1
	}
	if s.fault != raNoAuth {
		n += teredo.PutAuth(b, &auth)
	}
	if s.fault != raNoOrigin {
		teredo.PutOrigin(b[n:], from)
		n += teredo.OriginLen
	}
	server, dst := fakeServer1, src
	if s.fault == raWrongPrefix {
		server = netip.MustParseAddr("192.0.2.99")
	}
	if s.fault == raWrongDst {
		dst = teredo.ClientLinkLocal(!cone)
	}
	ra := b[n:]
	m := teredo.PutRA(ra, server, dst, 0)
	switch s.fault {
	case raBadMTU:
		binary.BigEndian.PutUint32(ra[m-4:m], 600)
		refreshICMPv6Checksum(ra[:m])
	case raBadChecksum:
		ra[m-1] ^= 1
	case raTwoPrefixes:
		pio := slices.Clone(ra[teredo.IPv6HeaderLen+16 : teredo.IPv6HeaderLen+48])
		m += copy(ra[m:], pio)
		binary.BigEndian.PutUint16(ra[4:6], uint16(m-teredo.IPv6HeaderLen))
		refreshICMPv6Checksum(ra[:m])
	case raFromOtherPort:
		replyFrom = netip.AddrPortFrom(replyFrom.Addr(), 3545)
	case raGarbage:
		b[0], b[1] = 0x00, 0x07
	}
	s.net.deliverTo(from, replyFrom, b[:n+m])
}

func refreshICMPv6Checksum(ipv6 []byte) {
	s, d := teredo.Src(ipv6), teredo.Dst(ipv6)
	msg := ipv6[teredo.IPv6HeaderLen:]
	msg[2], msg[3] = 0, 0
	binary.BigEndian.PutUint16(msg[2:4], teredo.ICMPv6Checksum(&s, &d, msg))
}

// echoReplyFor turns an Echo Request into its Echo Reply.
func echoReplyFor(req []byte) []byte {
	r := slices.Clone(req)
	copy(r[8:24], req[24:40])
	copy(r[24:40], req[8:24])
	r[teredo.IPv6HeaderLen] = teredo.ICMPv6EchoReply
	refreshICMPv6Checksum(r)
	return r
}

// fakeRelayHost is a relay like Miredo's: an Echo Reply for a client it has
// no trusted entry for is queued and an indirect bubble goes through the
// client's server; the client's direct bubble flushes the queue.
type fakeRelayHost struct {
	net     *fakeNet
	trusted map[netip.AddrPort]bool
	queue   [][]byte
	// reply turns the echo request into what the relay sends back (nil:
	// the echo reply).
	reply   func(req []byte) []byte
	drop    map[uint16]bool // echo seqs whose reply is lost
	bubbles int
}

func newFakeRelay(n *fakeNet, srv *fakeTeredoServer) *fakeRelayHost {
	r := &fakeRelayHost{net: n, trusted: map[netip.AddrPort]bool{}, drop: map[uint16]bool{}}
	srv.onEcho = func(_ netip.AddrPort, req []byte) { r.fromNative(req) }
	n.hosts[fakeRelay] = r.fromClient
	return r
}

// fromNative is the target's answer arriving on the relay's IPv6 side.
func (r *fakeRelayHost) fromNative(req []byte) {
	if netip.AddrFrom16(teredo.Dst(req)) != fakeTarget {
		return
	}
	out := echoReplyFor(req)
	if r.reply != nil {
		out = r.reply(req)
	}
	if r.drop[binary.BigEndian.Uint16(req[46:48])] {
		return
	}
	dst := teredo.Dst(out)
	a := teredo.DecodeAddr(&dst)
	if r.trusted[a.Mapped] {
		r.net.deliver(fakeRelay, out)
		return
	}
	r.queue = append(r.queue, out)
	// Indirect bubble via the client's server, relayed with our origin.
	b := make([]byte, 40)
	teredo.PutBubble(b, fakeRelayLL, netip.AddrFrom16(dst))
	r.bubbles++
	r.net.deliver(netip.AddrPortFrom(a.Server, teredo.Port), append(originFor(fakeRelay), b...))
}

// fromClient handles a datagram the client sent to the relay.
func (r *fakeRelayHost) fromClient(from netip.AddrPort, payload []byte) {
	var p teredo.Packet
	if err := p.Decode(payload); err != nil {
		r.net.t.Errorf("fake relay: undecodable datagram: %v", err)
		return
	}
	src := teredo.Src(p.IPv6)
	if !teredo.MatchesSource(&src, from) {
		r.net.t.Errorf("fake relay: source %v does not match %v", netip.AddrFrom16(src), from)
		return
	}
	r.trusted[from] = true
	if p.IsBubble() {
		for _, q := range r.queue {
			r.net.deliver(fakeRelay, q)
		}
		r.queue = nil
		return
	}
	r.fromNative(p.IPv6) // an echo request to the target: answered at once
}

// newFakeClient wires a client to the fake network with a deterministic
// random source.
func newFakeClient(t testing.TB, n *fakeNet, cfg Config) (*Client, *[]Event) {
	t.Helper()
	if !cfg.Server.IsValid() {
		cfg.Server = fakeServer1
	}
	cfg.Now = n.clock.Now
	if cfg.Rand == nil {
		cfg.Rand = rand.NewChaCha8([32]byte{1, 2, 3})
	}
	events := new([]Event)
	cfg.Trace = func(e Event) { *events = append(*events, e) }
	c, err := New(n, cfg)
	if err != nil {
		t.Fatalf("new client: %v", err)
	}
	return c, events
}

func hasEvent(events []Event, kind EventKind, step string) bool {
	for _, e := range events {
		if e.Kind == kind && e.Step == step {
			return true
		}
	}
	return false
}
