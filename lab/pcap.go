package lab

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"time"
)

// Frame is one captured packet.
type Frame struct {
	Time time.Time
	Data []byte // link-layer frame (Ethernet)
}

// Errors of ReadPcap and DecodeUDP4.
var (
	ErrPcapMagic    = errors.New("pcap: unknown magic number")
	ErrPcapLinkType = errors.New("pcap: link type is not Ethernet")
	ErrPcapRecord   = errors.New("pcap: record length beyond snapshot length")
	ErrNotUDP4      = errors.New("frame is not an unfragmented IPv4 UDP datagram")
)

const (
	pcapMagicMicro = 0xa1b2c3d4
	pcapMagicNano  = 0xa1b23c4d
	linkEthernet   = 1
	pcapMaxRecord  = 1 << 18
)

// ReadPcap reads a classic pcap file (either byte order, micro- or nanosecond
// timestamps) of Ethernet frames, as tcpdump -w writes it. A capture cut off
// in the middle of a record (tcpdump killed) returns the complete records.
func ReadPcap(r io.Reader) ([]Frame, error) {
	var h [24]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return nil, fmt.Errorf("pcap: read file header: %w", err)
	}
	var bo binary.ByteOrder = binary.LittleEndian
	magic := bo.Uint32(h[0:4])
	if magic != pcapMagicMicro && magic != pcapMagicNano {
		bo = binary.BigEndian
		magic = bo.Uint32(h[0:4])
	}
	var unit time.Duration
	switch magic {
	case pcapMagicMicro:
		unit = time.Microsecond
	case pcapMagicNano:
		unit = time.Nanosecond
	default:
		return nil, ErrPcapMagic
	}
	if lt := bo.Uint32(h[20:24]) & 0x0fffffff; lt != linkEthernet {
		return nil, fmt.Errorf("%w (%d)", ErrPcapLinkType, lt)
	}
	var frames []Frame
	for {
		var rh [16]byte
		if _, err := io.ReadFull(r, rh[:]); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return frames, nil
			}
			return frames, fmt.Errorf("pcap: read record header: %w", err)
		}
		n := bo.Uint32(rh[8:12])
		if n > pcapMaxRecord {
			return frames, fmt.Errorf("%w: %d bytes", ErrPcapRecord, n)
		}
		data := make([]byte, n)
		if _, err := io.ReadFull(r, data); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return frames, nil
			}
			return frames, fmt.Errorf("pcap: read record: %w", err)
		}
		ts := time.Unix(int64(bo.Uint32(rh[0:4])), int64(time.Duration(bo.Uint32(rh[4:8]))*unit))
		frames = append(frames, Frame{Time: ts, Data: data})
	}
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
}

// DecodeUDP4 decodes an Ethernet frame (with at most one 802.1Q tag) carrying
// an unfragmented IPv4 UDP datagram.
func DecodeUDP4(frame []byte) (UDP4, error) {
	var u UDP4
	if len(frame) < 14 {
		return u, ErrNotUDP4
	}
	et := binary.BigEndian.Uint16(frame[12:14])
	p := frame[14:]
	if et == 0x8100 {
		if len(p) < 4 {
			return u, ErrNotUDP4
		}
		et = binary.BigEndian.Uint16(p[2:4])
		p = p[4:]
	}
	if et != 0x0800 || len(p) < 20 || p[0]>>4 != 4 {
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
	if binary.BigEndian.Uint16(udp[6:8]) == 0 {
		u.ChecksumOK = true
	} else {
		sum := sumWords(0, p[12:20]) + ProtoUDP + uint32(ulen)
		u.ChecksumOK = finish(sumWords(sum, udp[:ulen])) == 0
	}
	return u, nil
}

// DecodeIPv6 returns the IPv6 packet of an Ethernet frame (at most one
// 802.1Q tag), trimmed to its payload length.
func DecodeIPv6(frame []byte) ([]byte, bool) {
	if len(frame) < 14 {
		return nil, false
	}
	et := binary.BigEndian.Uint16(frame[12:14])
	p := frame[14:]
	if et == 0x8100 {
		if len(p) < 4 {
			return nil, false
		}
		et = binary.BigEndian.Uint16(p[2:4])
		p = p[4:]
	}
	if et != 0x86dd || len(p) < 40 || p[0]>>4 != 6 {
		return nil, false
	}
	n := 40 + int(binary.BigEndian.Uint16(p[4:6]))
	if n > len(p) {
		return nil, false
	}
	return p[:n], true
}
