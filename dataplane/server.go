package dataplane

import (
	"errors"
	"math/rand/v2"
	"net/netip"
	"sync"

	"github.com/teredorelay/teredorelay/relay"
	"github.com/teredorelay/teredorelay/server"
	"github.com/teredorelay/teredorelay/teredo"
)

// ServerPath puts the Teredo server role (package server) in front of a
// queue's relay worker; it implements Relay, so a Worker runs it like the
// relay alone. IPv4 frames to a server address go to the server handler;
// its Relay verdict (relay business on an address the relay shares) passes
// the unchanged frame on to the relay's Decap. Everything else goes to the
// relay. With no relay (server role only) IPv6 frames and frames to other
// addresses are given to the server handler too, which counts them as drops
// (ipv4_malformed, wrong_destination).
type ServerPath struct {
	h       *server.Handler
	relay   Relay      // nil: server role only
	batcher BatchRelay // relay, when it batches its lookups
	addrs   [2][4]byte
}

// NewServerPath returns the fast path of one queue: h (from s.NewHandler)
// first, then r (nil for the server role alone).
func NewServerPath(s *server.Server, h *server.Handler, r Relay) *ServerPath {
	p := &ServerPath{h: h, relay: r, addrs: [2][4]byte{s.Primary().Addr().As4(), s.Secondary().Addr().As4()}}
	p.batcher, _ = r.(BatchRelay)
	return p
}

// BeginBatch, PrepareDecap, PrepareEncap, Resolve and EndBatch pass the
// worker's batch on to the relay (BatchRelay); frames to a server address
// are not prepared (the server handles them first).
func (p *ServerPath) BeginBatch() {
	if p.batcher != nil {
		p.batcher.BeginBatch()
	}
}

func (p *ServerPath) PrepareDecap(buf []byte, off, n int) bool {
	return p.batcher != nil && !p.toServer(buf, off, n) && p.batcher.PrepareDecap(buf, off, n)
}

func (p *ServerPath) PrepareEncap(buf []byte, off, n int) bool {
	return p.batcher != nil && p.batcher.PrepareEncap(buf, off, n)
}

func (p *ServerPath) Resolve() {
	if p.batcher != nil {
		p.batcher.Resolve()
	}
}

func (p *ServerPath) EndBatch() {
	if p.batcher != nil {
		p.batcher.EndBatch()
	}
}

// Decap handles an IPv4 frame from the IPv4 side.
func (p *ServerPath) Decap(buf []byte, off, n int) (relay.Verdict, int, int) {
	if p.relay != nil && !p.toServer(buf, off, n) {
		return p.relay.Decap(buf, off, n)
	}
	v, o, l := p.h.Handle(buf, off, n)
	switch v {
	case server.ToIPv4:
		return relay.ToIPv4, o, l
	case server.ToIPv6:
		return relay.ToIPv6, o, l
	case server.Relay:
		if p.relay != nil {
			return p.relay.Decap(buf, off, n)
		}
	}
	return relay.Drop, 0, 0
}

// Encap handles an IPv6 frame from the native side: relay business only.
func (p *ServerPath) Encap(buf []byte, off, n int) (relay.Verdict, int, int) {
	if p.relay != nil {
		return p.relay.Encap(buf, off, n)
	}
	p.h.Handle(buf, off, n) // counted as ipv4_malformed: not the server's traffic
	return relay.Drop, 0, 0
}

// toServer reports whether the IPv4 packet at buf[off:off+n] is addressed
// to a server address (the full checks are the handler's).
func (p *ServerPath) toServer(buf []byte, off, n int) bool {
	if off < 0 || n < teredo.IPv4HeaderLen || off > len(buf)-n {
		return false
	}
	d := [4]byte(buf[off+16 : off+20])
	return d == p.addrs[0] || d == p.addrs[1]
}

// ServerLoop is a relay.Output for a relay that runs on the same box as the
// server: a datagram the relay sends to a server address:3544 (its indirect
// bubble to a client of this server) is handled by the server in process,
// as if it had arrived from the relay's address, instead of looping through
// the kernel; the server's output leaves through raw sockets. Everything
// else goes to the next Output. It is safe for concurrent use (one lock
// around the server handler; the relay's slow path is not a fast path).
type ServerLoop struct {
	next  relay.Output
	srv   *server.Server
	from  netip.AddrPort
	raw   IPSender
	addrs [2]netip.Addr

	mu   sync.Mutex
	h    *server.Handler
	buf  [loopBufSize]byte
	ipID uint16
}

// IPSender sends complete IP packets through the kernel (*RawSender).
type IPSender interface {
	SendIPv4(pkt []byte) error
	SendIPv6(pkt []byte) error
}

const (
	loopBufSize  = 2048
	loopHeadroom = 64 // IPv4+UDP+origin indication in front of the payload
)

// NewServerLoop wraps next for a relay sending from relayFrom (its address
// and port), delivering to srv in process and sending the server's output
// through raw.
func NewServerLoop(next relay.Output, srv *server.Server, relayFrom netip.AddrPort, raw IPSender) *ServerLoop {
	return &ServerLoop{
		next: next, srv: srv, from: relayFrom, raw: raw, h: srv.NewHandler(), ipID: uint16(rand.Uint32()),
		addrs: [2]netip.Addr{srv.Primary().Addr(), srv.Secondary().Addr()},
	}
}

var errLoopTooBig = errors.New("dataplane: datagram to the local server too big")

// SendUDP implements relay.Output.
func (o *ServerLoop) SendUDP(dst netip.AddrPort, payload []byte) error {
	if dst.Port() != teredo.Port || (dst.Addr() != o.addrs[0] && dst.Addr() != o.addrs[1]) {
		return o.next.SendUDP(dst, payload)
	}
	_, err := o.Deliver(dst.Addr(), o.from, payload)
	return err
}

// Deliver hands the server a datagram that arrived on local:3544 from from
// outside the AF_XDP path (the relay's own output, or a kernel socket's
// reassembled datagram) and sends the server's answer through the raw
// sockets. A datagram the server drops is counted there and returns nil.
// toRelay is set when the datagram is relay business on an address the two
// roles share (server.Relay): the caller gives the unchanged payload to the
// relay (Engine.HandleUDP); the server has not touched it.
func (o *ServerLoop) Deliver(local netip.Addr, from netip.AddrPort, payload []byte) (toRelay bool, err error) {
	if len(payload) > loopBufSize-loopHeadroom-teredo.OriginLen-teredo.RALen {
		// Bigger than anything the server forwards or answers: data for
		// the relay on a shared address, else nothing for us.
		if o.srv.SharedWithRelay(local) {
			return true, nil
		}
		return false, errLoopTooBig
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	n := copy(o.buf[loopHeadroom:], payload)
	r := o.h.HandleDatagram(local, from, o.buf[:], loopHeadroom, n)
	switch r.Verdict {
	case server.ToIPv4:
		start := r.Off - teredo.EncapLen
		teredo.PutIPv4UDP(o.buf[start:r.Off], r.Src, r.Dst, r.Len, o.ipID, teredo.DefaultTTL)
		o.ipID++
		return false, o.raw.SendIPv4(o.buf[start : r.Off+r.Len])
	case server.ToIPv6:
		return false, o.raw.SendIPv6(o.buf[r.Off : r.Off+r.Len])
	case server.Relay:
		return true, nil
	}
	return false, nil // dropped, and counted, by the server
}

// SendIPv6 implements relay.Output.
func (o *ServerLoop) SendIPv6(pkt []byte) error { return o.next.SendIPv6(pkt) }
