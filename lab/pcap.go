package lab

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"

	"github.com/teredorelay/teredorelay/internal/pcapfile"
)

// Frame is one captured packet: Time, and Data, the Ethernet frame.
type Frame = pcapfile.Frame

// Errors of ReadPcap and DecodeUDP4.
var (
	ErrPcapMagic    = pcapfile.ErrMagic
	ErrPcapLinkType = errors.New("pcap: link type is not Ethernet")
	ErrPcapRecord   = pcapfile.ErrRecordLen
	ErrNotUDP4      = errors.New("frame is not an unfragmented IPv4 UDP datagram")
)

// ReadPcap reads a classic pcap file (either byte order, micro- or nanosecond
// timestamps) of Ethernet frames, as tcpdump -w writes it. A capture cut off
// in the middle of a record (tcpdump killed) returns the complete records.
func ReadPcap(r io.Reader) ([]Frame, error) {
	f, err := pcapfile.Read(r)
	switch {
	case errors.Is(err, pcapfile.ErrTruncated):
		// tcpdump was killed mid-record: keep the complete records.
	case errors.Is(err, pcapfile.ErrLinkType):
		return nil, fmt.Errorf("%w: %w", ErrPcapLinkType, err)
	case err != nil:
		if f != nil {
			return f.Frames, err
		}
		return nil, err
	}
	if f.LinkType != pcapfile.LinkTypeEthernet {
		return nil, fmt.Errorf("%w (%d)", ErrPcapLinkType, f.LinkType)
	}
	return f.Frames, nil
}

// UDP4 is an IPv4 UDP datagram decoded from a frame.
type UDP4 struct {
	Src, Dst netip.AddrPort
	TTL      uint8
	Payload  []byte // aliases the frame
	// ChecksumOK is true when the UDP checksum is absent (0) or verifies.
	// A frame captured on the sending side of a device with checksum
	// offload holds only the pseudo-header sum and fails.
	ChecksumOK bool
	// ChecksumZero: the UDP checksum is 0 ("not computed").
	ChecksumZero bool
	// ChecksumPartial: the UDP checksum field holds the folded pseudo-header
	// sum, as a Linux stack leaves it for the device to complete
	// (CHECKSUM_PARTIAL). Captured on a veth with the default offloads,
	// what the kernel's sockets send looks like this until it reaches a
	// consumer that completes or ignores it.
	ChecksumPartial bool
}

// DecodeUDP4 decodes an Ethernet frame (VLAN tags allowed) carrying an
// unfragmented IPv4 UDP datagram.
func DecodeUDP4(frame []byte) (UDP4, error) {
	var u UDP4
	et, off := pcapfile.NetworkOffset(pcapfile.LinkTypeEthernet, frame)
	p := frame[off:]
	if et != pcapfile.EtherTypeIPv4 || len(p) < 20 || p[0]>>4 != 4 {
		return u, ErrNotUDP4
	}
	ihl := int(p[0]&0x0f) * 4
	total := int(binary.BigEndian.Uint16(p[2:4]))
	if ihl < 20 || total < ihl+8 || total > len(p) || p[9] != ProtoUDP {
		return u, ErrNotUDP4
	}
	if frag := binary.BigEndian.Uint16(p[6:8]); frag&0x3fff != 0 { // MF or offset
		return u, ErrNotUDP4
	}
	udp := p[ihl:total]
	ulen := int(binary.BigEndian.Uint16(udp[4:6]))
	if ulen < 8 || ulen > len(udp) {
		return u, ErrNotUDP4
	}
	u.TTL = p[8]
	u.Src = netip.AddrPortFrom(netip.AddrFrom4([4]byte(p[12:16])), binary.BigEndian.Uint16(udp[0:2]))
	u.Dst = netip.AddrPortFrom(netip.AddrFrom4([4]byte(p[16:20])), binary.BigEndian.Uint16(udp[2:4]))
	u.Payload = udp[8:ulen]
	if field := binary.BigEndian.Uint16(udp[6:8]); field == 0 {
		u.ChecksumOK, u.ChecksumZero = true, true
	} else {
		sum := sumWords(0, p[12:20]) + ProtoUDP + uint32(ulen)
		u.ChecksumOK = finish(sumWords(sum, udp[:ulen])) == 0
		u.ChecksumPartial = !u.ChecksumOK && ^finish(sum) == field
	}
	return u, nil
}

// DecodeIPv6 returns the IPv6 packet of an Ethernet frame (VLAN tags
// allowed), trimmed to its payload length.
func DecodeIPv6(frame []byte) ([]byte, bool) {
	et, off := pcapfile.NetworkOffset(pcapfile.LinkTypeEthernet, frame)
	p := frame[off:]
	if et != pcapfile.EtherTypeIPv6 || len(p) < 40 || p[0]>>4 != 6 {
		return nil, false
	}
	n := 40 + int(binary.BigEndian.Uint16(p[4:6]))
	if n > len(p) {
		return nil, false
	}
	return p[:n], true
}
