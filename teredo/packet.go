package teredo

import (
	"encoding/binary"
	"errors"
	"net/netip"
)

// Sentinel errors returned by the parsers and builders. They are pre-built so the
// data path never allocates to report a malformed packet.
var (
	// ErrNotTeredo: the UDP payload does not start with an IPv6 header, an
	// authentication indicator (00 01) or an origin indication (00 00), or the
	// indicators are out of order [RFC 4380 §5.1.1].
	ErrNotTeredo = errors.New("teredo: not a teredo packet")
	// ErrTruncated: a header is cut short.
	ErrTruncated = errors.New("teredo: truncated packet")
	// ErrBadVersion: the IP version field is wrong (not 6 after the indicators,
	// or not 4 in an IPv4 header).
	ErrBadVersion = errors.New("teredo: bad ip version")
	// ErrLength: a length field is inconsistent with the bytes present
	// (RFC 6081 §4: 40 + IPv6 payload length must not exceed the UDP payload).
	ErrLength = errors.New("teredo: inconsistent length")
	// ErrShortBuffer: a builder's output buffer is too small.
	ErrShortBuffer = errors.New("teredo: output buffer too small")
)

// Indicator sizes and type octets [RFC 4380 §5.1.1].
const (
	OriginLen  = 8  // origin indication: 00 00 | ~port(2) | ~IPv4(4)
	AuthMinLen = 13 // authentication indicator with ID-len = AU-len = 0
	AuthMaxLen = AuthMinLen + 255 + 255

	indicatorOrigin = 0x00
	indicatorAuth   = 0x01
)

// Auth is a decoded authentication indicator [RFC 4380 §5.1.1, §5.2.2]. After
// Packet.Decode the slices alias the decoded buffer.
type Auth struct {
	ClientID []byte  // client identifier, ID-len bytes (may be empty)
	Value    []byte  // authentication value, AU-len bytes (may be empty)
	Nonce    [8]byte // chosen by the client, echoed by the server
	Confirm  byte    // 0 from the client; non-zero from the server asks for a new key
}

// Len returns the encoded size of a: 13 + ID-len + AU-len.
func (a *Auth) Len() int { return AuthMinLen + len(a.ClientID) + len(a.Value) }

// PutAuth writes the authentication indicator a into b and returns the bytes
// written (a.Len()), or 0 if b is too short or an identifier or value is longer
// than 255 bytes.
func PutAuth(b []byte, a *Auth) int {
	n := a.Len()
	if len(b) < n || len(a.ClientID) > 255 || len(a.Value) > 255 {
		return 0
	}
	b[0], b[1] = 0, indicatorAuth
	b[2], b[3] = byte(len(a.ClientID)), byte(len(a.Value))
	off := 4
	off += copy(b[off:], a.ClientID)
	off += copy(b[off:], a.Value)
	off += copy(b[off:], a.Nonce[:])
	b[off] = a.Confirm
	return n
}

// PutOrigin writes the origin indication for origin into b[0:8]: 00 00, then the
// UDP port and IPv4 address, each bit-inverted [RFC 4380 §5.1.1]. len(b) >= 8.
func PutOrigin(b []byte, origin netip.AddrPort) {
	_ = b[OriginLen-1]
	b[0], b[1] = 0, indicatorOrigin
	putMapped(b[2:8], origin)
}

// Packet is a decoded Teredo UDP payload. It is caller-owned and reused: Decode
// overwrites every field and never allocates. Slices alias the decoded buffer.
type Packet struct {
	HasAuth   bool
	Auth      Auth
	HasOrigin bool
	Origin    netip.AddrPort
	// Offset is the offset of the IPv6 header in the UDP payload: 0 for simple
	// encapsulation, 8 with an origin indication, 13+ID-len+AU-len(+8) with auth.
	Offset int
	// IPv6 is exactly 40+payload-length bytes; RFC 6081 trailers are excluded.
	IPv6 []byte
	// Trailer holds the bytes after the IPv6 packet (RFC 6081 trailers), if any.
	Trailer []byte
}

// Decode parses a Teredo UDP payload [RFC 4380 §5.1.1, RFC 6081 §4]:
//
//	[authentication indicator] [origin indication] IPv6 packet [trailers]
//
// The authentication indicator, when present, comes first. The IPv6 packet must
// have version 6 and 40 + payload length <= the remaining bytes; what follows
// the IPv6 packet is returned in Trailer. Decode returns only the sentinel
// errors ErrNotTeredo, ErrTruncated, ErrBadVersion and ErrLength; on error the
// fields are reset.
func (p *Packet) Decode(b []byte) error {
	*p = Packet{}
	off := 0
	if len(b) < 1 {
		return ErrTruncated
	}
	if b[0] == 0 {
		if len(b) < 2 {
			return ErrTruncated
		}
		if b[1] == indicatorAuth {
			if len(b) < AuthMinLen {
				return ErrTruncated
			}
			idLen, auLen := int(b[2]), int(b[3])
			end := AuthMinLen + idLen + auLen
			if len(b) < end {
				return ErrTruncated
			}
			p.HasAuth = true
			p.Auth.ClientID = b[4 : 4+idLen : 4+idLen]
			p.Auth.Value = b[4+idLen : 4+idLen+auLen : 4+idLen+auLen]
			copy(p.Auth.Nonce[:], b[4+idLen+auLen:])
			p.Auth.Confirm = b[end-1]
			off = end
			if len(b) <= off {
				*p = Packet{}
				return ErrTruncated
			}
		}
		if b[off] == 0 {
			if len(b) < off+2 {
				*p = Packet{}
				return ErrTruncated
			}
			if b[off+1] != indicatorOrigin {
				// 00 01 after an indicator (auth must come first, once),
				// or an unknown indicator type such as 00 02.
				*p = Packet{}
				return ErrNotTeredo
			}
			if len(b) < off+OriginLen {
				*p = Packet{}
				return ErrTruncated
			}
			p.HasOrigin = true
			p.Origin = decodeMapped(b[off+2 : off+OriginLen])
			off += OriginLen
			if len(b) > off && b[off] == 0 {
				// another indicator after the origin indication: out of order
				*p = Packet{}
				return ErrNotTeredo
			}
		}
	} else if b[0]>>4 != 6 {
		return ErrNotTeredo
	}
	ip := b[off:]
	if len(ip) < IPv6HeaderLen {
		*p = Packet{}
		return ErrTruncated
	}
	if ip[0]>>4 != 6 {
		*p = Packet{}
		return ErrBadVersion
	}
	n := IPv6HeaderLen + int(binary.BigEndian.Uint16(ip[4:6]))
	if n > len(ip) {
		*p = Packet{}
		return ErrLength
	}
	p.Offset = off
	p.IPv6 = ip[:n:n]
	p.Trailer = ip[n:]
	return nil
}

// IsBubble reports whether the decoded IPv6 packet is a Teredo bubble: next
// header 59 (no next header) and payload length 0 [RFC 4380 §2.8].
func (p *Packet) IsBubble() bool { return IsBubble(p.IPv6) }

// IPv6Offset returns, without validating the IPv6 packet, how many bytes of a
// Teredo UDP payload precede the IPv6 header: 0 for simple encapsulation, 8 for
// an origin indication, the authentication indicator length (plus 8 if an origin
// follows). It is the cheap demultiplexer for the fast path; Decode does the
// full validation.
func IPv6Offset(b []byte) (int, error) {
	if len(b) < 1 {
		return 0, ErrTruncated
	}
	if b[0]>>4 == 6 {
		return 0, nil
	}
	if b[0] != 0 {
		return 0, ErrNotTeredo
	}
	off := 0
	if len(b) >= 2 && b[1] == indicatorAuth {
		if len(b) < AuthMinLen {
			return 0, ErrTruncated
		}
		off = AuthMinLen + int(b[2]) + int(b[3])
		if len(b) <= off {
			return 0, ErrTruncated
		}
		if b[off]>>4 == 6 {
			return off, nil
		}
		if b[off] != 0 {
			return 0, ErrNotTeredo
		}
	}
	if len(b) < off+2 {
		return 0, ErrTruncated
	}
	if b[off+1] != indicatorOrigin {
		return 0, ErrNotTeredo
	}
	return off + OriginLen, nil
}
