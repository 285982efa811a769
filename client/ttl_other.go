//go:build !linux

package client

import "net/netip"

// SendTTL implements TTLSender; without IP_TTL control messages the
// datagram leaves with the default TTL.
func (u *UDPTransport) SendTTL(dst netip.AddrPort, payload []byte, _ int) error {
	return u.Send(dst, payload)
}
