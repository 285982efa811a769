//go:build linux

package handshake

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
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

	received atomic.Uint64 // datagrams received on the server address
	invalid  atomic.Uint64 // datagrams that were not a bubble to a Teredo client of this server
	sendErrs atomic.Uint64
	bubbles  atomic.Uint64 // direct bubbles sent
	server   netip.Addr
}

// Open binds the server address (server:3544) and opens the raw socket. It
// must run in the generator namespace.
func Open(server netip.Addr) (*Responder, error) {
	conn, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(server, teredo.Port)))
	if err != nil {
		return nil, fmt.Errorf("handshake responder: bind %v:%d: %w", server, teredo.Port, err)
	}
	// A relay verifying many peers at once sends bubbles in bursts; the
	// default receive buffer (a few hundred datagrams) would drop some, and
	// a peer whose bubbles are all lost stays unverified for the relay's
	// bubble-budget window (300 s). Root may exceed rmem_max.
	if err := setRcvBuf(conn, rcvBuf); err != nil {
		conn.Close()
		return nil, fmt.Errorf("handshake responder: receive buffer: %w", err)
	}
	raw, err := unix.Socket(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_RAW)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("handshake responder: raw socket: %w", err)
	}
	return &Responder{conn: conn, raw: raw, server: server}, nil
}

// rcvBuf is the responder's receive buffer: some 40 000 bubbles.
const rcvBuf = 32 << 20

func setRcvBuf(conn *net.UDPConn, n int) error {
	rc, err := conn.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, n)
	}); err != nil {
		return err
	}
	return serr
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
		r.bubbles.Add(1)
	}
	return nil
}

// Stats is what the responder saw.
type Stats struct {
	Received, Invalid, SendErrors uint64
	Bubbles                       uint64 // direct bubbles sent
}

// Stats returns the responder's counters.
func (r *Responder) Stats() Stats {
	return Stats{Received: r.received.Load(), Invalid: r.invalid.Load(), SendErrors: r.sendErrs.Load(), Bubbles: r.bubbles.Load()}
}
