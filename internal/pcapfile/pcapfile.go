package pcapfile

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// LinkType is the link-layer header type of a capture (LINKTYPE_* of
// tcpdump.org/linktypes.html).
type LinkType uint32

// The link types Parse understands.
const (
	LinkTypeEthernet  LinkType = 1
	LinkTypeRaw       LinkType = 101 // raw IPv4 or IPv6, no link header
	LinkTypeLinuxSLL  LinkType = 113 // Linux cooked capture v1
	LinkTypeLinuxSLL2 LinkType = 276 // Linux cooked capture v2
)

// EtherTypes of the network-layer protocols Frame.EtherType reports, and of
// the Ethernet VLAN tags NetworkOffset skips.
const (
	EtherTypeIPv4 = 0x0800
	EtherTypeARP  = 0x0806
	EtherTypeIPv6 = 0x86dd
	EtherTypeVLAN = 0x8100 // 802.1Q tag
	EtherTypeQinQ = 0x88a8 // 802.1ad service tag
)

// File format constants.
const (
	magicMicro      = 0xa1b2c3d4
	magicNano       = 0xa1b23c4d
	fileHeaderLen   = 24
	recordHeaderLen = 16
	linkTypeMask    = 0x0fffffff // the upper bits hold the FCS length
	ethernetLen     = 14
	sllLen          = 16
	sll2Len         = 20
)

// MaxRecordLen bounds a record's captured length (tcpdump's default snapshot
// length); a longer one means a corrupt file.
const MaxRecordLen = 1 << 18

// Errors of Parse, Read and ReadFile; they are wrapped with the place that
// failed.
var (
	ErrShortFile = errors.New("pcapfile: file shorter than the 24-byte file header")
	ErrMagic     = errors.New("pcapfile: unknown magic number (pcapng is not supported)")
	ErrLinkType  = errors.New("pcapfile: unsupported link type")
	ErrRecordLen = errors.New("pcapfile: record length beyond the maximum")
	// ErrTruncated reports a file that ends inside a record header or
	// record, as a capture whose writer was killed does. Parse returns the
	// complete records before it along with the error.
	ErrTruncated = errors.New("pcapfile: file ends inside a record")
)

// File is a parsed capture.
type File struct {
	ByteOrder  binary.ByteOrder
	Nanosecond bool // timestamps have nanosecond (not microsecond) resolution
	SnapLen    uint32
	LinkType   LinkType
	Frames     []Frame
}

// Frame is one record of a capture. Data aliases the parsed file.
type Frame struct {
	Index    int // 1-based position in the file
	Time     time.Time
	OrigLen  int    // length on the wire (Data may be shorter)
	Data     []byte // the captured bytes, link-layer header included
	LinkType LinkType
	// EtherType is the protocol of the network-layer packet at
	// Data[L3Offset:]: EtherTypeIPv4, EtherTypeIPv6, EtherTypeARP or any
	// other; 0 when the link-layer header is truncated or a raw-IP record
	// is neither IPv4 nor IPv6.
	EtherType uint16
	// L3Offset is where the network-layer packet starts in Data, after the
	// link-layer header and any VLAN tags (len(Data) when truncated).
	L3Offset int
}

// Network returns the bytes after the link-layer header: the network-layer
// packet followed by any link padding, exactly as captured.
func (f *Frame) Network() []byte { return f.Data[f.L3Offset:] }

// IP returns the network-layer packet (with any link padding) when the frame
// carries IPv4 or IPv6, nil otherwise.
func (f *Frame) IP() []byte {
	if f.EtherType != EtherTypeIPv4 && f.EtherType != EtherTypeIPv6 {
		return nil
	}
	return f.Data[f.L3Offset:]
}

// IsIPv4 reports whether the frame carries an IPv4 packet.
func (f *Frame) IsIPv4() bool { return f.EtherType == EtherTypeIPv4 }

// IsIPv6 reports whether the frame carries an IPv6 packet.
func (f *Frame) IsIPv6() bool { return f.EtherType == EtherTypeIPv6 }

// ReadFile reads and parses the capture at path.
func ReadFile(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read capture: %w", err)
	}
	f, err := Parse(data)
	if err != nil {
		return f, fmt.Errorf("%s: %w", path, err)
	}
	return f, nil
}

// Read reads a whole capture from r and parses it.
func Read(r io.Reader) (*File, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read capture: %w", err)
	}
	return Parse(data)
}

// Parse parses a classic pcap file. The frames alias data. On ErrTruncated
// and ErrRecordLen the returned File holds the records before the bad one; on
// the other errors it is nil.
func Parse(data []byte) (*File, error) {
	if len(data) < fileHeaderLen {
		return nil, fmt.Errorf("%w (%d bytes)", ErrShortFile, len(data))
	}
	f := &File{}
	for _, bo := range []binary.ByteOrder{binary.LittleEndian, binary.BigEndian} {
		if m := bo.Uint32(data[0:4]); m == magicMicro || m == magicNano {
			f.ByteOrder, f.Nanosecond = bo, m == magicNano
			break
		}
	}
	if f.ByteOrder == nil {
		return nil, fmt.Errorf("%w: % x", ErrMagic, data[0:4])
	}
	bo := f.ByteOrder
	f.SnapLen = bo.Uint32(data[16:20])
	f.LinkType = LinkType(bo.Uint32(data[20:24]) & linkTypeMask)
	switch f.LinkType {
	case LinkTypeEthernet, LinkTypeRaw, LinkTypeLinuxSLL, LinkTypeLinuxSLL2:
	default:
		return nil, fmt.Errorf("%w %d", ErrLinkType, f.LinkType)
	}
	unit := time.Microsecond
	if f.Nanosecond {
		unit = time.Nanosecond
	}
	for off, index := fileHeaderLen, 1; off < len(data); index++ {
		if len(data)-off < recordHeaderLen {
			return f, fmt.Errorf("frame %d: record header: %w", index, ErrTruncated)
		}
		h := data[off : off+recordHeaderLen]
		incl := bo.Uint32(h[8:12])
		if incl > MaxRecordLen {
			return f, fmt.Errorf("frame %d: %w: %d bytes", index, ErrRecordLen, incl)
		}
		off += recordHeaderLen
		if int(incl) > len(data)-off {
			return f, fmt.Errorf("frame %d: %d-byte record, %d bytes left: %w", index, incl, len(data)-off, ErrTruncated)
		}
		fr := Frame{
			Index:    index,
			Time:     time.Unix(int64(bo.Uint32(h[0:4])), int64(bo.Uint32(h[4:8]))*int64(unit)),
			OrigLen:  int(bo.Uint32(h[12:16])),
			Data:     data[off : off+int(incl) : off+int(incl)],
			LinkType: f.LinkType,
		}
		fr.EtherType, fr.L3Offset = NetworkOffset(f.LinkType, fr.Data)
		f.Frames = append(f.Frames, fr)
		off += int(incl)
	}
	return f, nil
}

// NetworkOffset splits a record of the link type: it returns the EtherType of
// the network-layer packet and the offset where it starts. Ethernet VLAN tags
// (802.1Q, 802.1ad, any depth) are skipped. A truncated link header gives
// EtherType 0 and offset len(rec); so does a raw-IP record that is neither
// IPv4 nor IPv6 (offset 0 then). linkType must be one Parse accepts.
func NetworkOffset(linkType LinkType, rec []byte) (etherType uint16, offset int) {
	switch linkType {
	case LinkTypeEthernet:
		if len(rec) < ethernetLen {
			return 0, len(rec)
		}
		et, off := binary.BigEndian.Uint16(rec[12:14]), ethernetLen
		for et == EtherTypeVLAN || et == EtherTypeQinQ {
			if len(rec)-off < 4 {
				return 0, len(rec)
			}
			et, off = binary.BigEndian.Uint16(rec[off+2:off+4]), off+4
		}
		return et, off
	case LinkTypeLinuxSLL:
		if len(rec) < sllLen {
			return 0, len(rec)
		}
		return binary.BigEndian.Uint16(rec[14:16]), sllLen
	case LinkTypeLinuxSLL2:
		if len(rec) < sll2Len {
			return 0, len(rec)
		}
		return binary.BigEndian.Uint16(rec[0:2]), sll2Len
	case LinkTypeRaw:
		if len(rec) > 0 {
			switch rec[0] >> 4 {
			case 4:
				return EtherTypeIPv4, 0
			case 6:
				return EtherTypeIPv6, 0
			}
		}
		return 0, 0
	}
	return 0, len(rec)
}

// Encode returns a classic pcap file in byte order bo (microsecond or, with
// nano, nanosecond timestamps, snapshot length MaxRecordLen) holding the
// frames' Time and Data; a frame's OrigLen is written when it exceeds
// len(Data). Index, EtherType and L3Offset are ignored.
func Encode(bo binary.ByteOrder, nano bool, linkType LinkType, frames ...Frame) []byte {
	n := fileHeaderLen
	for _, f := range frames {
		n += recordHeaderLen + len(f.Data)
	}
	b := make([]byte, fileHeaderLen, n)
	magic, unit := uint32(magicMicro), int64(time.Microsecond)
	if nano {
		magic, unit = magicNano, int64(time.Nanosecond)
	}
	bo.PutUint32(b[0:4], magic)
	bo.PutUint16(b[4:6], 2) // version 2.4
	bo.PutUint16(b[6:8], 4)
	bo.PutUint32(b[16:20], MaxRecordLen)
	bo.PutUint32(b[20:24], uint32(linkType))
	for _, f := range frames {
		orig := max(f.OrigLen, len(f.Data))
		var h [recordHeaderLen]byte
		bo.PutUint32(h[0:4], uint32(f.Time.Unix()))
		bo.PutUint32(h[4:8], uint32(int64(f.Time.Nanosecond())/unit))
		bo.PutUint32(h[8:12], uint32(len(f.Data)))
		bo.PutUint32(h[12:16], uint32(orig))
		b = append(append(b, h[:]...), f.Data...)
	}
	return b
}
