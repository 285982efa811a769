//go:build linux

package lab

import (
	"fmt"
	"net"
	"net/netip"

	"golang.org/x/sys/unix"
)

// SendRawIPv4 sends a complete IPv4 packet (header included, any source
// address) from node's namespace; the kernel routes it by its destination
// and fills in the header checksum. Use it with IPv4UDP to inject crafted
// Teredo datagrams: spoofed mappings, bogus sources, malformed payloads.
func (l *Lab) SendRawIPv4(node Node, pkt []byte) error {
	if len(pkt) < 20 || pkt[0]>>4 != 4 {
		return fmt.Errorf("send raw ipv4 from %s: not an IPv4 packet", node)
	}
	dst := [4]byte(pkt[16:20])
	return l.sendRaw(node, unix.AF_INET, pkt, &unix.SockaddrInet4{Addr: dst})
}

// SendRawIPv6 sends a complete IPv6 packet (header included, any source
// address) from node's namespace; the kernel routes it by its destination.
// Upper-layer checksums are the caller's (see UpperLayerChecksum).
func (l *Lab) SendRawIPv6(node Node, pkt []byte) error {
	if len(pkt) < 40 || pkt[0]>>4 != 6 {
		return fmt.Errorf("send raw ipv6 from %s: not an IPv6 packet", node)
	}
	dst := [16]byte(pkt[24:40])
	return l.sendRaw(node, unix.AF_INET6, pkt, &unix.SockaddrInet6{Addr: dst})
}

// SendRawUDP sends payload in an IPv4 UDP datagram from src to dst, src
// being any address (spoofed or not), from node's namespace.
func (l *Lab) SendRawUDP(node Node, src, dst netip.AddrPort, payload []byte) error {
	return l.SendRawIPv4(node, IPv4UDP(src, dst, 0, 64, payload))
}

// sendRaw opens an IPPROTO_RAW socket (header included) inside node and
// sends one packet.
func (l *Lab) sendRaw(node Node, family int, pkt []byte, to unix.Sockaddr) error {
	var fd int
	err := l.Do(node, func() error {
		var err error
		fd, err = unix.Socket(family, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_RAW)
		return err
	})
	if err != nil {
		return fmt.Errorf("send raw from %s: socket: %w", node, err)
	}
	defer unix.Close(fd)
	if err := unix.Sendto(fd, pkt, 0, to); err != nil {
		return fmt.Errorf("send raw from %s: sendto: %w", node, err)
	}
	return nil
}

// SendUDP sends payload from a kernel UDP socket bound to src (port 0 picks
// one) in node's namespace; it returns the source actually used.
func (l *Lab) SendUDP(node Node, src, dst netip.AddrPort, payload []byte) (netip.AddrPort, error) {
	var conn *net.UDPConn
	err := l.Do(node, func() error {
		var err error
		conn, err = net.ListenUDP("udp4", net.UDPAddrFromAddrPort(src))
		return err
	})
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("send udp from %s: bind %v: %w", node, src, err)
	}
	defer conn.Close()
	if _, err := conn.WriteToUDPAddrPort(payload, dst); err != nil {
		return netip.AddrPort{}, fmt.Errorf("send udp from %s to %v: %w", node, dst, err)
	}
	return conn.LocalAddr().(*net.UDPAddr).AddrPort(), nil
}
