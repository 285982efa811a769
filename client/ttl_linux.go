//go:build linux

package client

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"unsafe"

	"golang.org/x/sys/unix"
)

// SendTTL implements TTLSender: the datagram leaves with IPv4 TTL ttl (an
// IP_TTL control message, this datagram only).
func (u *UDPTransport) SendTTL(dst netip.AddrPort, payload []byte, ttl int) error {
	var oob [32]byte
	n := unix.CmsgSpace(4)
	h := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
	h.Level, h.Type = unix.IPPROTO_IP, unix.IP_TTL
	h.SetLen(unix.CmsgLen(4))
	binary.NativeEndian.PutUint32(oob[unix.CmsgLen(0):], uint32(ttl))
	if _, _, err := u.conn.WriteMsgUDPAddrPort(payload, oob[:n], dst); err != nil {
		return fmt.Errorf("send udp to %v (ttl %d): %w", dst, ttl, err)
	}
	return nil
}
