package dataplane

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// ipv6HdrIncl is IPV6_HDRINCL (linux/in6.h); IPPROTO_RAW sockets imply it on
// current kernels, setting it explicitly documents the intent.
const ipv6HdrIncl = 36

// RawSender is a KernelPath over raw sockets: IPv4 with IP_HDRINCL and IPv6
// with IPV6_HDRINCL (both IPPROTO_RAW: send only, they receive nothing). The
// kernel routes the packet and resolves the neighbour. One RawSender per
// worker; it is not safe for concurrent use (the destination sockaddrs are
// reused so that sending does not allocate).
type RawSender struct {
	fd4, fd6 int
	sa4      unix.SockaddrInet4
	sa6      unix.SockaddrInet6
}

// NewRawSender opens the two raw sockets (needs CAP_NET_RAW).
func NewRawSender() (*RawSender, error) {
	fd4, err := unix.Socket(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, unix.IPPROTO_RAW)
	if err != nil {
		return nil, fmt.Errorf("open raw IPv4 socket: %w", err)
	}
	fd6, err := openRawIPv6()
	if err != nil {
		unix.Close(fd4)
		return nil, err
	}
	return &RawSender{fd4: fd4, fd6: fd6}, nil
}

func openRawIPv6() (int, error) {
	fd, err := unix.Socket(unix.AF_INET6, unix.SOCK_RAW|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, unix.IPPROTO_RAW)
	if err != nil {
		return -1, fmt.Errorf("open raw IPv6 socket: %w", err)
	}
	if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, ipv6HdrIncl, 1); err != nil && !errors.Is(err, unix.ENOPROTOOPT) {
		unix.Close(fd)
		return -1, fmt.Errorf("set IPV6_HDRINCL: %w", err)
	}
	return fd, nil
}

// SendIPv4 sends a complete IPv4 packet (header included).
func (r *RawSender) SendIPv4(pkt []byte) error {
	if len(pkt) < 20 {
		return errShortPacket
	}
	copy(r.sa4.Addr[:], pkt[16:20])
	return unix.Sendto(r.fd4, pkt, unix.MSG_DONTWAIT, &r.sa4)
}

// SendIPv6 sends a complete IPv6 packet (header included).
func (r *RawSender) SendIPv6(pkt []byte) error {
	if len(pkt) < 40 {
		return errShortPacket
	}
	copy(r.sa6.Addr[:], pkt[24:40])
	return unix.Sendto(r.fd6, pkt, unix.MSG_DONTWAIT, &r.sa6)
}

// Close closes both sockets.
func (r *RawSender) Close() error {
	return errors.Join(unix.Close(r.fd4), unix.Close(r.fd6))
}

var errShortPacket = errors.New("dataplane: packet shorter than its IP header")

// Kernel is the slow path's relay.Output: one UDP socket bound to each
// address the data plane serves (the relay's, and the server role's two) and
// the Teredo port (SO_REUSEADDR), and one raw IPv6 socket. It is safe for
// concurrent use.
type Kernel struct {
	udp   []*net.UDPConn // [0] is the primary address: SendUDP uses it
	addrs []netip.Addr   // the address each socket is bound to
	fd6   int
	mu    sync.Mutex // serialises Close with senders
	done  bool
}

// OpenKernel binds a UDP socket to each of addrs (the first is the primary,
// the source of SendUDP) and port, and opens the raw IPv6 socket.
func OpenKernel(addrs []netip.Addr, port uint16) (*Kernel, error) {
	k := &Kernel{fd6: -1}
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		if err := c.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
		}); err != nil {
			return err
		}
		return serr
	}}
	for _, a := range addrs {
		pc, err := lc.ListenPacket(context.Background(), "udp4", netip.AddrPortFrom(a, port).String())
		if err != nil {
			k.Close()
			return nil, fmt.Errorf("bind UDP %s: %w", netip.AddrPortFrom(a, port), err)
		}
		k.udp = append(k.udp, pc.(*net.UDPConn))
		k.addrs = append(k.addrs, a)
	}
	fd6, err := openRawIPv6()
	if err != nil {
		k.Close()
		return nil, err
	}
	k.fd6 = fd6
	return k, nil
}

// SendUDP sends payload from the primary relay address and port to dst.
func (k *Kernel) SendUDP(dst netip.AddrPort, payload []byte) error {
	if len(k.udp) == 0 {
		return net.ErrClosed
	}
	_, err := k.udp[0].WriteToUDPAddrPort(payload, dst)
	return err
}

// SendIPv6 sends a complete IPv6 packet through the raw socket.
func (k *Kernel) SendIPv6(pkt []byte) error {
	if len(pkt) < 40 {
		return errShortPacket
	}
	var sa unix.SockaddrInet6
	copy(sa.Addr[:], pkt[24:40])
	return unix.Sendto(k.fd6, pkt, unix.MSG_DONTWAIT, &sa)
}

// Serve reads every UDP socket until ctx is done or the sockets close, giving
// each datagram to handle with the address its socket is bound to (the
// datagram's destination). The buffer passed to handle is reused after it
// returns.
func (k *Kernel) Serve(ctx context.Context, handle func(local netip.Addr, from netip.AddrPort, payload []byte)) error {
	var wg sync.WaitGroup
	errs := make([]error, len(k.udp))
	stop := context.AfterFunc(ctx, func() { k.Close() })
	defer stop()
	for i, c := range k.udp {
		wg.Go(func() {
			buf := make([]byte, 65536)
			for {
				n, from, err := c.ReadFromUDPAddrPort(buf)
				if err != nil {
					if !errors.Is(err, net.ErrClosed) {
						errs[i] = fmt.Errorf("read UDP %s: %w", c.LocalAddr(), err)
					}
					return
				}
				handle(k.addrs[i], netip.AddrPortFrom(from.Addr().Unmap(), from.Port()), buf[:n])
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Close closes every socket; it is idempotent.
func (k *Kernel) Close() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.done {
		return nil
	}
	k.done = true
	var errs []error
	for _, c := range k.udp {
		errs = append(errs, c.Close())
	}
	if k.fd6 >= 0 {
		errs = append(errs, unix.Close(k.fd6))
	}
	return errors.Join(errs...)
}
