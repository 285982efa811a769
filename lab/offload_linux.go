//go:build linux

package lab

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Legacy ethtool commands (linux/ethtool.h).
const (
	ethtoolGTXCSUM = 0x16
	ethtoolSTXCSUM = 0x17
)

type ethtoolValue struct{ cmd, data uint32 }

// ifreqPtr is struct ifreq with the ifr_data pointer member (40 bytes on
// 64-bit Linux).
type ifreqPtr struct {
	name [unix.IFNAMSIZ]byte
	data unsafe.Pointer
	_    [24 - unsafe.Sizeof(uintptr(0))]byte
}

// ethtoolValueIoctl runs one SIOCETHTOOL get/set-value command on iface in
// the calling thread's namespace.
func ethtoolValueIoctl(iface string, cmd, data uint32) (uint32, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return 0, fmt.Errorf("ethtool socket: %w", err)
	}
	defer unix.Close(fd)
	v := &ethtoolValue{cmd: cmd, data: data}
	var ifr ifreqPtr
	copy(ifr.name[:unix.IFNAMSIZ-1], iface)
	ifr.data = unsafe.Pointer(v)
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.SIOCETHTOOL, uintptr(unsafe.Pointer(&ifr))); errno != 0 {
		return 0, fmt.Errorf("ethtool %#x on %s: %w", cmd, iface, errno)
	}
	return v.data, nil
}

// disableTxChecksum turns TX checksum offload (and with it TSO) off on an
// interface of node (Options.NoTxChecksumOffload). On a veth, offload means
// the frame crosses to the peer with only the pseudo-header sum in its
// checksum field: an XDP or AF_XDP consumer, or a capture, sees an invalid
// checksum. A real NIC hands over complete checksums; the NIC-like variant
// of the lab makes its veths behave that way.
func (l *Lab) disableTxChecksum(node Node, iface string) error {
	return l.Do(node, func() error {
		if _, err := ethtoolValueIoctl(iface, ethtoolSTXCSUM, 0); err != nil {
			return fmt.Errorf("%s: disable tx checksum offload: %w", node, err)
		}
		return nil
	})
}

// txChecksum reports whether TX checksum offload is on for iface in node.
func (l *Lab) txChecksum(node Node, iface string) (bool, error) {
	var on uint32
	err := l.Do(node, func() error {
		var err error
		on, err = ethtoolValueIoctl(iface, ethtoolGTXCSUM, 0)
		return err
	})
	return on != 0, err
}
