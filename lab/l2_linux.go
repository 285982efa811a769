//go:build linux

package lab

import (
	"fmt"
	"net"

	"golang.org/x/sys/unix"
)

// SendFrame sends a complete Ethernet frame (any destination and source
// MAC) out of iface in node's namespace through an AF_PACKET socket: an
// unknown-unicast flood, or a frame for another host, as a switch would
// deliver it on a shared LAN.
func (l *Lab) SendFrame(node Node, iface string, frame []byte) error {
	return l.Do(node, func() error {
		ifi, err := net.InterfaceByName(iface)
		if err != nil {
			return fmt.Errorf("send frame from %s: %w", node, err)
		}
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("send frame from %s: socket: %w", node, err)
		}
		defer unix.Close(fd)
		sa := &unix.SockaddrLinklayer{Ifindex: ifi.Index, Halen: 6}
		copy(sa.Addr[:], frame[0:6])
		if err := unix.Sendto(fd, frame, 0, sa); err != nil {
			return fmt.Errorf("send frame from %s on %s: %w", node, iface, err)
		}
		return nil
	})
}

// InterfaceMAC returns the MAC address of iface in node's namespace.
func (l *Lab) InterfaceMAC(node Node, iface string) (net.HardwareAddr, error) {
	var mac net.HardwareAddr
	err := l.Do(node, func() error {
		ifi, err := net.InterfaceByName(iface)
		if err != nil {
			return err
		}
		mac = ifi.HardwareAddr
		return nil
	})
	return mac, err
}
