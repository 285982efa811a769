//go:build linux

package handshake

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/teredorelay/teredorelay/teredo"
)

// Responder answers a relay's indirect bubbles. Open it in the generator
// namespace (topo.Do), Run it in a goroutine, Close it when done.
type Responder struct {
	conn *net.UDPConn
	raw  int

	mu       sync.Mutex
	answered map[netip.AddrPort]int // client mapping → direct bubbles sent
	received atomic.Uint64          // datagrams received on the server address
	invalid  atomic.Uint64          // datagrams that were not a bubble to a Teredo client of this server
	sendErrs atomic.Uint64
	server   netip.Addr
}

// Open binds the server address (server:3544) and opens the raw socket. It
// must run in the generator namespace.
func Open(server netip.Addr) (*Responder, error) {
	conn, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(server, teredo.Port)))
	if err != nil {
		return nil, fmt.Errorf("handshake responder: bind %v:%d: %w", server, teredo.Port, err)
	}
	raw, err := unix.Socket(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_RAW)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("handshake responder: raw socket: %w", err)
	}
	return &Responder{conn: conn, raw: raw, answered: map[netip.AddrPort]int{}, server: server}, nil
}

// Close stops Run and closes the sockets.
func (r *Responder) Close() error {
	err := r.conn.Close()
	if cerr := unix.Close(r.raw); err == nil {
		err = cerr
	}
	return err
}

// Run answers bubbles until ctx ends or the responder is closed.
func (r *Responder) Run(ctx context.Context) error {
	buf := make([]byte, 2048)
	out := make([]byte, teredo.EncapLen+teredo.IPv6HeaderLen)
	var pkt teredo.Packet
	for ctx.Err() == nil {
		r.conn.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		n, from, err := r.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return fmt.Errorf("handshake responder: receive: %w", err)
		}
		r.received.Add(1)
		if err := pkt.Decode(buf[:n]); err != nil || !pkt.IsBubble() {
			r.invalid.Add(1)
			continue
		}
		dst := teredo.DstPtr(pkt.IPv6)
		if !teredo.IsTeredo(dst) {
			r.invalid.Add(1)
			continue
		}
		client := teredo.DecodeAddr(dst)
		if client.Server != r.server {
			r.invalid.Add(1)
			continue
		}
		relaySrc := netip.AddrFrom16(teredo.Src(pkt.IPv6))
		teredo.PutIPv4UDP(out, client.Mapped, from, teredo.IPv6HeaderLen, 0, 64)
		teredo.PutBubble(out[teredo.EncapLen:], client.IP(), relaySrc)
		sa := &unix.SockaddrInet4{Addr: from.Addr().As4()}
		if err := unix.Sendto(r.raw, out, 0, sa); err != nil {
			r.sendErrs.Add(1)
			continue
		}
		r.mu.Lock()
		r.answered[client.Mapped]++
		r.mu.Unlock()
	}
	return nil
}

// Stats is what the responder saw.
type Stats struct {
	Received, Invalid, SendErrors uint64
	Clients                       int // distinct client mappings answered for
	Bubbles                       int // direct bubbles sent
}

// Stats returns the responder's counters.
func (r *Responder) Stats() Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := Stats{Received: r.received.Load(), Invalid: r.invalid.Load(), SendErrors: r.sendErrs.Load(), Clients: len(r.answered)}
	for _, n := range r.answered {
		s.Bubbles += n
	}
	return s
}

// Answered reports whether the responder has answered for mapping.
func (r *Responder) Answered(mapping netip.AddrPort) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.answered[mapping] > 0
}
