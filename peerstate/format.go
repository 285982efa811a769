package peerstate

import (
	"encoding/binary"
	"errors"
	"net/netip"
)

// Format constants (see the package documentation).
const (
	Magic     = "TRLYPEER"
	Version   = 1
	HeaderLen = 32
	RecordLen = 32
	// MaxRecords is the most records a file may hold, whatever the limit
	// asked for: 512 MiB of records.
	MaxRecords = 1 << 24
	// checksumOff is where the checksum sits in the header; it covers the
	// bytes before it.
	checksumOff = 28
)

// Errors that reject a whole file.
var (
	ErrTruncated   = errors.New("peerstate: file truncated")
	ErrMagic       = errors.New("peerstate: not a peer state file (bad magic)")
	ErrVersion     = errors.New("peerstate: unsupported version")
	ErrRecordLen   = errors.New("peerstate: unsupported record length")
	ErrReserved    = errors.New("peerstate: reserved header field not zero")
	ErrTooMany     = errors.New("peerstate: more records than the limit")
	ErrTrailing    = errors.New("peerstate: bytes after the last record")
	ErrChecksum    = errors.New("peerstate: checksum mismatch")
	ErrBadSaveTime = errors.New("peerstate: save time not after 1970")
)

// Errors that reject one record.
var (
	ErrNotTeredo      = errors.New("peerstate: address outside 2001::/32")
	ErrMapping        = errors.New("peerstate: mapping is 0.0.0.0 or port 0")
	ErrRecordReserved = errors.New("peerstate: reserved record field not zero")
	ErrLastRx         = errors.New("peerstate: last receive not after 1970")
)

// Header is a decoded file header.
type Header struct {
	Version uint16
	Count   uint32
	// SavedAt is when the file was written, Unix nanoseconds.
	SavedAt int64
	// Checksum as stored.
	Checksum uint32
}

// Record is one trusted peer.
type Record struct {
	// Addr is the peer's Teredo IPv6 address.
	Addr [16]byte
	// Mapping is the IPv4 address and port the peer's packets come from.
	Mapping netip.AddrPort
	// LastRx is when a packet from the peer was last received, Unix
	// nanoseconds (wall clock).
	LastRx int64
}

// PutHeader encodes h (Version is always written as the package's
// Version) into b.
func PutHeader(b *[HeaderLen]byte, h Header) {
	copy(b[0:8], Magic)
	binary.BigEndian.PutUint16(b[8:10], Version)
	binary.BigEndian.PutUint16(b[10:12], RecordLen)
	binary.BigEndian.PutUint32(b[12:16], h.Count)
	binary.BigEndian.PutUint64(b[16:24], uint64(h.SavedAt))
	binary.BigEndian.PutUint32(b[24:28], 0)
	binary.BigEndian.PutUint32(b[28:32], h.Checksum)
}

// ParseHeader decodes and checks a header (the first HeaderLen bytes of
// b). It does not check the checksum, which covers the records too.
func ParseHeader(b []byte) (Header, error) {
	if len(b) < HeaderLen {
		return Header{}, ErrTruncated
	}
	if string(b[0:8]) != Magic {
		return Header{}, ErrMagic
	}
	h := Header{
		Version:  binary.BigEndian.Uint16(b[8:10]),
		Count:    binary.BigEndian.Uint32(b[12:16]),
		SavedAt:  int64(binary.BigEndian.Uint64(b[16:24])),
		Checksum: binary.BigEndian.Uint32(b[28:32]),
	}
	switch {
	case h.Version != Version:
		return h, ErrVersion
	case binary.BigEndian.Uint16(b[10:12]) != RecordLen:
		return h, ErrRecordLen
	case binary.BigEndian.Uint32(b[24:28]) != 0:
		return h, ErrReserved
	case h.SavedAt <= 0:
		return h, ErrBadSaveTime
	}
	return h, nil
}

// PutRecord encodes r into b. The mapping must be an IPv4 address (or an
// IPv4-mapped IPv6 one) and port; Save skips records that are not.
func PutRecord(b *[RecordLen]byte, r *Record) {
	copy(b[0:16], r.Addr[:])
	ip := r.Mapping.Addr().Unmap().As4()
	copy(b[16:20], ip[:])
	binary.BigEndian.PutUint16(b[20:22], r.Mapping.Port())
	binary.BigEndian.PutUint16(b[22:24], 0)
	binary.BigEndian.PutUint64(b[24:32], uint64(r.LastRx))
}

// ParseRecord decodes and checks one record (the first RecordLen bytes of
// b) into r. It does not allocate.
func ParseRecord(b []byte, r *Record) error {
	if len(b) < RecordLen {
		return ErrTruncated
	}
	copy(r.Addr[:], b[0:16])
	ip := netip.AddrFrom4([4]byte(b[16:20]))
	port := binary.BigEndian.Uint16(b[20:22])
	r.Mapping = netip.AddrPortFrom(ip, port)
	r.LastRx = int64(binary.BigEndian.Uint64(b[24:32]))
	switch {
	case r.Addr[0] != 0x20 || r.Addr[1] != 0x01 || r.Addr[2] != 0 || r.Addr[3] != 0:
		return ErrNotTeredo
	case ip.IsUnspecified() || port == 0:
		return ErrMapping
	case binary.BigEndian.Uint16(b[22:24]) != 0:
		return ErrRecordReserved
	case r.LastRx <= 0:
		return ErrLastRx
	}
	return nil
}

// validMapping reports whether m can be written: IPv4, not 0.0.0.0, port set.
func validMapping(m netip.AddrPort) bool {
	a := m.Addr().Unmap()
	return a.Is4() && !a.IsUnspecified() && m.Port() != 0
}
