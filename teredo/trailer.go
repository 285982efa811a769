package teredo

import "errors"

// ErrTrailerDiscard: a trailer of unknown type whose two high-order bits are 01
// asks the receiver to discard the whole packet [RFC 6081 §5.1.2].
var ErrTrailerDiscard = errors.New("teredo: trailer type requires discarding the packet")

// RFC 6081 trailer types [RFC 6081 §4, §9].
const (
	TrailerNonce      = 0x01 // 4-byte nonce
	TrailerRandomPort = 0x05 // 2-byte port (§4.5; the §9 IANA table says 0x02)
	TrailerAltAddress = 0x03 // 2 reserved bytes + 1..4 {IPv4, port}
	TrailerNDOption   = 0x04 // DiscoveryType + 3 reserved bytes
)

// Trailer is one RFC 6081 trailer: Type(1) Length(1) Value(Length). Value
// aliases the decoded buffer.
type Trailer struct {
	Type  uint8
	Value []byte
}

// MustDiscard reports whether an unknown trailer of this type makes the packet
// invalid: type high bits 01 [RFC 6081 §5.1.2]. Types 00, 10 and 11 are skipped.
func (t Trailer) MustDiscard() bool { return t.Type>>6 == 1 }

// Trailers iterates over the RFC 6081 trailers in a Packet.Trailer. It stops
// at the first malformed trailer (fewer than 2 bytes left, or fewer than
// 2+Length), as RFC 6081 §5.1.2 says to stop processing there.
//
//	it := teredo.NewTrailers(p.Trailer)
//	for t, ok := it.Next(); ok; t, ok = it.Next() { ... }
type Trailers struct {
	rest      []byte
	malformed bool
}

// NewTrailers returns an iterator over b.
func NewTrailers(b []byte) Trailers { return Trailers{rest: b} }

// Next returns the next trailer, or false at the end or at a malformed trailer.
func (it *Trailers) Next() (Trailer, bool) {
	b := it.rest
	if len(b) == 0 {
		return Trailer{}, false
	}
	if len(b) < 2 || len(b) < 2+int(b[1]) {
		it.malformed = true
		it.rest = nil
		return Trailer{}, false
	}
	n := 2 + int(b[1])
	it.rest = b[n:]
	return Trailer{Type: b[0], Value: b[2:n:n]}, true
}

// Malformed reports whether iteration stopped at a malformed trailer.
func (it *Trailers) Malformed() bool { return it.malformed }

// CheckTrailers walks the trailers in b (a Packet.Trailer) and returns
// ErrTrailerDiscard if one of them has a type whose high bits are 01. It is
// meant for a receiver that implements no trailer type, such as a relay: all
// types RFC 6081 defines have high bits 00, so every 01 type is unknown.
// Malformed trailing bytes end the walk without an error [RFC 6081 §5.1.2].
func CheckTrailers(b []byte) error {
	it := NewTrailers(b)
	for t, ok := it.Next(); ok; t, ok = it.Next() {
		if t.MustDiscard() {
			return ErrTrailerDiscard
		}
	}
	return nil
}

// PutTrailer writes one trailer into b and returns 2+len(value), or 0 if b is
// too short or value is longer than 255 bytes.
func PutTrailer(b []byte, typ uint8, value []byte) int {
	n := 2 + len(value)
	if len(value) > 255 || len(b) < n {
		return 0
	}
	b[0], b[1] = typ, byte(len(value))
	copy(b[2:], value)
	return n
}
