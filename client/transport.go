package client

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"time"
)

// Transport carries Teredo UDP payloads (IPv4 only) for a Client. The real one
// is a kernel UDP socket (ListenUDP); tests plug in an in-memory network.
type Transport interface {
	// Send writes one UDP payload to dst.
	Send(dst netip.AddrPort, payload []byte) error
	// Receive reads one UDP payload into buf, waiting at most until deadline.
	// It returns an error wrapping os.ErrDeadlineExceeded when the deadline
	// passes first, and ctx.Err() when ctx is cancelled. The source is an
	// IPv4 address (never IPv4-mapped IPv6).
	Receive(ctx context.Context, buf []byte, deadline time.Time) (n int, from netip.AddrPort, err error)
	// LocalAddr is the bound local endpoint (the Teredo service port).
	LocalAddr() netip.AddrPort
	Close() error
}

// SourceResolver is implemented by transports that can tell which local IPv4
// address the kernel uses towards dst when the socket is bound to 0.0.0.0. The
// client uses it to recognise "no NAT" (mapped address = local address).
type SourceResolver interface {
	SourceFor(dst netip.Addr) (netip.Addr, error)
}

// SiblingOpener is implemented by transports that can open another socket
// next to theirs: same network namespace and local address, a new port. The
// filtering probe runs from such sockets so that the state it leaves in the
// NAT never touches the service port's mappings.
type SiblingOpener interface {
	OpenSibling() (Transport, error)
}

// UDPTransport is a Transport over an unconnected kernel UDP socket.
type UDPTransport struct {
	conn  *net.UDPConn
	local netip.AddrPort
	ns    namespace // where conn was opened, for OpenSibling
}

// ListenUDP opens the client's Teredo service port on local (IPv4; port 0 picks
// a random port, as RFC 4380 §5.2 recommends).
func ListenUDP(local netip.AddrPort) (*UDPTransport, error) {
	if !local.Addr().Is4() {
		return nil, fmt.Errorf("listen udp %v: the Teredo service port needs an IPv4 address", local)
	}
	conn, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(local))
	if err != nil {
		return nil, fmt.Errorf("listen udp %v: %w", local, err)
	}
	return NewUDPTransport(conn), nil
}

// NewUDPTransport wraps an already open IPv4 UDP socket (for instance one
// opened inside a network namespace). The transport owns conn from then on.
func NewUDPTransport(conn *net.UDPConn) *UDPTransport {
	local := conn.LocalAddr().(*net.UDPAddr).AddrPort()
	local = netip.AddrPortFrom(local.Addr().Unmap(), local.Port())
	return &UDPTransport{conn: conn, local: local, ns: currentNamespace()}
}

// OpenSibling implements SiblingOpener: a new socket on the same local
// address, port 0, in the network namespace this one was opened in (the
// calling thread's namespace when NewUDPTransport ran).
func (u *UDPTransport) OpenSibling() (Transport, error) {
	var t Transport
	err := u.ns.do(func() error {
		conn, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(u.local.Addr(), 0)))
		if err != nil {
			return fmt.Errorf("listen udp next to %v: %w", u.local, err)
		}
		t = NewUDPTransport(conn)
		return nil
	})
	return t, err
}

// Send implements Transport.
func (u *UDPTransport) Send(dst netip.AddrPort, payload []byte) error {
	if _, err := u.conn.WriteToUDPAddrPort(payload, dst); err != nil {
		return fmt.Errorf("send udp to %v: %w", dst, err)
	}
	return nil
}

// Receive implements Transport. A cancelled ctx interrupts a blocked read.
func (u *UDPTransport) Receive(ctx context.Context, buf []byte, deadline time.Time) (int, netip.AddrPort, error) {
	if err := ctx.Err(); err != nil {
		return 0, netip.AddrPort{}, err
	}
	if err := u.conn.SetReadDeadline(deadline); err != nil {
		return 0, netip.AddrPort{}, fmt.Errorf("set read deadline: %w", err)
	}
	stop := context.AfterFunc(ctx, func() {
		// Unblock the read; the context error is reported below.
		_ = u.conn.SetReadDeadline(time.Unix(1, 0))
	})
	defer stop()
	n, from, err := u.conn.ReadFromUDPAddrPort(buf)
	if err != nil {
		if cerr := ctx.Err(); cerr != nil {
			return 0, netip.AddrPort{}, cerr
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return 0, netip.AddrPort{}, err
		}
		return 0, netip.AddrPort{}, fmt.Errorf("receive udp: %w", err)
	}
	return n, netip.AddrPortFrom(from.Addr().Unmap(), from.Port()), nil
}

// LocalAddr implements Transport.
func (u *UDPTransport) LocalAddr() netip.AddrPort { return u.local }

// SourceFor implements SourceResolver. When the socket is bound to a specific
// address that address is the answer; otherwise it asks the kernel's routing
// table (a connected UDP socket sends nothing) in the calling thread's network
// namespace.
func (u *UDPTransport) SourceFor(dst netip.Addr) (netip.Addr, error) {
	if !u.local.Addr().IsUnspecified() {
		return u.local.Addr(), nil
	}
	c, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(dst, 9)))
	if err != nil {
		return netip.Addr{}, fmt.Errorf("route lookup towards %v: %w", dst, err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).AddrPort().Addr().Unmap(), nil
}

// Close implements Transport.
func (u *UDPTransport) Close() error {
	u.ns.close()
	return u.conn.Close()
}
