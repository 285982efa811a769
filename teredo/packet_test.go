package teredo

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

// unhex decodes hex with optional whitespace; it panics on bad input (test data).
func unhex(s string) []byte {
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		panic(err)
	}
	return b
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// Wire vectors of teredo-spec.md §8.3, copied from the testbed captures
// (../testdata/miredo-server.pcap frames 9/10, miredo-relay.pcap frames 2/3).
var (
	// T9: RS from the Miredo client, UDP 203.0.113.1:46240 -> 192.0.2.1:3544 (61 bytes).
	vecT9 = unhex(`
		0001 00 00 43c84a662f0adcb3 00
		6000 0000 0008 3a ff
		fe80 0000 0000 0000 0000 ffff ffff ffff
		ff02 0000 0000 0000 0000 0000 0000 0002
		85 00 7d37 00000000`)
	// T10: RA from the Miredo server, UDP 192.0.2.1:3544 -> 203.0.113.1:46240 (117 bytes).
	vecT10 = unhex(`
		0001 00 00 43c84a662f0adcb3 00
		0000 4b5f 34ff8efe
		6000 0000 0038 3a ff
		fe80 0000 0000 0000 8000 f227 3fff fdfe
		fe80 0000 0000 0000 0000 ffff ffff ffff
		86 00 954c 00 00 0000 00000000 000007d0
		03 04 40 40 ffffffff ffffffff 00000000 2001 0000 c000 0201 0000 0000 0000 0000
		05 01 0000 00000500`)
	// T11: relay indirect bubble, UDP 198.51.100.1:3544 -> 192.0.2.1:3544 (40 bytes).
	vecT11 = unhex(`
		6000 0000 0000 3b 00
		fe80 0000 0000 0000 4439 a801 d529 32ad
		2001 0000 c000 0201 3cc4 4b5f 34ff 8efe`)
	// T12: T11 forwarded by the server with an origin indication, UDP
	// 192.0.2.1:3544 -> 203.0.113.1:46240 (48 bytes).
	vecT12 = cat(unhex("0000 f227 39cc 9bfe"), vecT11)
	// T13: client direct bubble, UDP 203.0.113.1:46240 -> 198.51.100.1:3544 (40 bytes).
	vecT13 = unhex(`
		6000 0000 0000 3b 00
		2001 0000 c000 0201 3cc4 4b5f 34ff 8efe
		fe80 0000 0000 0000 4439 a801 d529 32ad`)
	// Data: ICMPv6 echo request from the client to 2001:db8:3::7 (relay frame 11, 104 bytes).
	vecEcho = unhex(`
		6005 1a09 0040 3a 40
		2001 0000 c000 0201 3cc4 4b5f 34ff 8efe
		2001 0db8 0003 0000 0000 0000 0000 0007
		8000 de8f 2a4e 0001 074a 0a6b 0000 0000 4637 0400 0000 0000
		1011 1213 1415 1617 1819 1a1b 1c1d 1e1f 2021 2223 2425 2627
		2829 2a2b 2c2d 2e2f 3031 3233 3435 3637`)
)

func TestDecode(t *testing.T) {
	nonce := [8]byte{0x43, 0xc8, 0x4a, 0x66, 0x2f, 0x0a, 0xdc, 0xb3}
	authLong := make([]byte, 64)
	authLongN := PutAuth(authLong, &Auth{ClientID: []byte("client-7"), Value: bytes.Repeat([]byte{0xaa}, 20), Nonce: nonce, Confirm: 1})
	authLong = authLong[:authLongN]
	trailerN7 := unhex("01 04 deadbeef")

	tests := []struct {
		name       string
		in         []byte
		err        error
		offset     int
		hasAuth    bool
		auth       Auth
		hasOrigin  bool
		origin     string
		ipv6Len    int
		trailerLen int
		bubble     bool
	}{
		{name: "T9 RS with auth", in: vecT9, offset: 13, hasAuth: true, auth: Auth{Nonce: nonce}, ipv6Len: 48},
		{name: "T10 RA with auth and origin", in: vecT10, offset: 21, hasAuth: true, auth: Auth{Nonce: nonce},
			hasOrigin: true, origin: "203.0.113.1:46240", ipv6Len: 96},
		{name: "T11 indirect bubble", in: vecT11, ipv6Len: 40, bubble: true},
		{name: "T12 forwarded bubble with origin", in: vecT12, offset: 8, hasOrigin: true, origin: "198.51.100.1:3544", ipv6Len: 40, bubble: true},
		{name: "T13 client direct bubble", in: vecT13, ipv6Len: 40, bubble: true},
		{name: "data echo request", in: vecEcho, ipv6Len: 104},
		{name: "N7 bubble with rfc6081 trailer", in: cat(vecT13, trailerN7), ipv6Len: 40, trailerLen: 6, bubble: true},
		{name: "auth with id and value then ipv6", in: cat(authLong, vecEcho), offset: authLongN, hasAuth: true,
			auth: Auth{ClientID: []byte("client-7"), Value: bytes.Repeat([]byte{0xaa}, 20), Nonce: nonce, Confirm: 1}, ipv6Len: 104},
		{name: "payload length 0 non-bubble", in: unhex("6000 0000 0000 3a 40" + strings.Repeat("00", 32)), ipv6Len: 40},

		{name: "N5 unknown indicator 00 02", in: cat(unhex("0002 0000 0000 0000"), vecT11), err: ErrNotTeredo},
		{name: "N5 ipv4 header", in: unhex("4500 0014 0000 0000 4011 0000 c0000201 c0000202"), err: ErrNotTeredo},
		{name: "N5 version 4 after origin", in: cat(unhex("0000 f227 39cc 9bfe"), unhex("45"), vecT11[1:]), err: ErrBadVersion},
		{name: "N5 version 0 after auth", in: cat(vecT9[:13], unhex("05"), vecT11[1:]), err: ErrBadVersion},
		{name: "N6 payload length 100 in 60 bytes", in: cat(unhex("6000 0000 0064 3a 40"), make([]byte, 52)), err: ErrLength},
		{name: "origin then auth", in: cat(unhex("0000 f227 39cc 9bfe"), vecT9), err: ErrNotTeredo},
		{name: "auth twice", in: cat(vecT9[:13], vecT9), err: ErrNotTeredo},
		{name: "origin twice", in: cat(unhex("0000 f227 39cc 9bfe 0000 f227 39cc 9bfe"), vecT11), err: ErrNotTeredo},
		{name: "empty", in: nil, err: ErrTruncated},
		{name: "single zero", in: []byte{0}, err: ErrTruncated},
		{name: "auth shorter than 13", in: vecT9[:12], err: ErrTruncated},
		{name: "auth id-len beyond end", in: unhex("0001 ff00 0000 0000 0000 0000 00"), err: ErrTruncated},
		{name: "auth alone", in: vecT9[:13], err: ErrTruncated},
		{name: "auth then one zero", in: cat(vecT9[:13], []byte{0}), err: ErrTruncated},
		{name: "auth then ipv6 cut", in: vecT9[:14], err: ErrTruncated},
		{name: "origin cut", in: vecT12[:5], err: ErrTruncated},
		{name: "origin alone", in: vecT12[:8], err: ErrTruncated},
		{name: "ipv6 header 39 bytes", in: vecT11[:39], err: ErrTruncated},
		{name: "T10 one byte short", in: vecT10[:len(vecT10)-1], err: ErrLength},
	}
	var p Packet
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Pre-fill p to check that Decode resets every field.
			p = Packet{HasAuth: true, HasOrigin: true, Offset: 99, IPv6: []byte{1}, Trailer: []byte{2}}
			err := p.Decode(tt.in)
			if !errors.Is(err, tt.err) {
				t.Fatalf("Decode error = %v, want %v", err, tt.err)
			}
			if err != nil {
				if p.HasAuth || p.HasOrigin || p.Offset != 0 || p.IPv6 != nil || p.Trailer != nil {
					t.Fatalf("fields not reset on error: %+v", p)
				}
				return
			}
			if p.Offset != tt.offset || p.HasAuth != tt.hasAuth || p.HasOrigin != tt.hasOrigin {
				t.Fatalf("Offset/HasAuth/HasOrigin = %d/%v/%v, want %d/%v/%v",
					p.Offset, p.HasAuth, p.HasOrigin, tt.offset, tt.hasAuth, tt.hasOrigin)
			}
			if tt.hasAuth {
				a := p.Auth
				if !bytes.Equal(a.ClientID, tt.auth.ClientID) || !bytes.Equal(a.Value, tt.auth.Value) ||
					a.Nonce != tt.auth.Nonce || a.Confirm != tt.auth.Confirm {
					t.Fatalf("Auth = %+v, want %+v", a, tt.auth)
				}
				if a.Len() != tt.offset-boolInt(tt.hasOrigin)*OriginLen {
					t.Fatalf("Auth.Len = %d", a.Len())
				}
			}
			if tt.hasOrigin && p.Origin != ap(tt.origin) {
				t.Fatalf("Origin = %s, want %s", p.Origin, tt.origin)
			}
			if len(p.IPv6) != tt.ipv6Len || len(p.Trailer) != tt.trailerLen {
				t.Fatalf("len(IPv6)/len(Trailer) = %d/%d, want %d/%d", len(p.IPv6), len(p.Trailer), tt.ipv6Len, tt.trailerLen)
			}
			if !bytes.Equal(p.IPv6, tt.in[tt.offset:tt.offset+tt.ipv6Len]) {
				t.Fatal("IPv6 does not alias the packet bytes")
			}
			if cap(p.IPv6) != len(p.IPv6) {
				t.Fatal("IPv6 capacity extends into the trailer")
			}
			if p.IsBubble() != tt.bubble {
				t.Fatalf("IsBubble = %v, want %v", p.IsBubble(), tt.bubble)
			}
			off, err := IPv6Offset(tt.in)
			if err != nil || off != tt.offset {
				t.Fatalf("IPv6Offset = %d, %v; want %d", off, err, tt.offset)
			}
		})
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestIPv6OffsetErrors(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		err  error
	}{
		{"empty", nil, ErrTruncated},
		{"ipv4", []byte{0x45}, ErrNotTeredo},
		{"single zero", []byte{0}, ErrTruncated},
		{"unknown indicator", []byte{0, 2}, ErrNotTeredo},
		{"auth short", vecT9[:12], ErrTruncated},
		{"auth alone", vecT9[:13], ErrTruncated},
		{"auth then ipv4", cat(vecT9[:13], []byte{0x45}), ErrNotTeredo},
		{"auth then auth", cat(vecT9[:13], vecT9[:13]), ErrNotTeredo},
		{"auth then one zero", cat(vecT9[:13], []byte{0}), ErrTruncated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := IPv6Offset(tt.in); !errors.Is(err, tt.err) {
				t.Fatalf("IPv6Offset error = %v, want %v", err, tt.err)
			}
		})
	}
}

// T1: RFC 4380 §5.1.1 example: port 337, IPv4 1.2.3.4 -> 00 00 FE AE FE FD FC FB.
func TestPutOrigin(t *testing.T) {
	tests := []struct {
		name   string
		origin string
		want   []byte
	}{
		{"T1 rfc4380 example", "1.2.3.4:337", unhex("0000 feae fefd fcfb")},
		{"T12 testbed relay", "198.51.100.1:3544", unhex("0000 f227 39cc 9bfe")},
		{"T10 testbed client", "203.0.113.1:46240", unhex("0000 4b5f 34ff 8efe")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := bytes.Repeat([]byte{0x55}, OriginLen)
			PutOrigin(b, ap(tt.origin))
			if !bytes.Equal(b, tt.want) {
				t.Fatalf("PutOrigin = % x, want % x", b, tt.want)
			}
		})
	}
}

// T21: the minimum authentication indicator is 13 bytes.
func TestPutAuth(t *testing.T) {
	if AuthMinLen != 13 || (&Auth{}).Len() != 13 {
		t.Fatalf("AuthMinLen = %d", AuthMinLen)
	}
	nonce := [8]byte{0x43, 0xc8, 0x4a, 0x66, 0x2f, 0x0a, 0xdc, 0xb3}
	tests := []struct {
		name string
		auth Auth
		buf  int
		want []byte
	}{
		{"T9 testbed RS auth", Auth{Nonce: nonce}, 13, vecT9[:13]},
		{"id and value", Auth{ClientID: []byte{1, 2}, Value: []byte{3}, Nonce: nonce, Confirm: 9}, 16,
			unhex("0001 0201 0102 03 43c84a662f0adcb3 09")},
		{"buffer too small", Auth{Nonce: nonce}, 12, nil},
		{"id longer than 255", Auth{ClientID: make([]byte, 256)}, 300, nil},
		{"value longer than 255", Auth{Value: make([]byte, 256)}, 300, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := make([]byte, tt.buf)
			n := PutAuth(b, &tt.auth)
			if !bytes.Equal(b[:n], tt.want) {
				t.Fatalf("PutAuth = % x, want % x", b[:n], tt.want)
			}
		})
	}
}

func TestTrailers(t *testing.T) {
	tests := []struct {
		name      string
		in        []byte
		types     []uint8
		malformed bool
		check     error
	}{
		{"N7 nonce trailer", unhex("01 04 deadbeef"), []uint8{TrailerNonce}, false, nil},
		{"empty", nil, nil, false, nil},
		{"nonce, nd option, random port", unhex("01 04 01020304 04 04 00000000 05 02 1234"),
			[]uint8{TrailerNonce, TrailerNDOption, TrailerRandomPort}, false, nil},
		{"alternate address", unhex("03 08 0000 c0000201 0dd8"), []uint8{TrailerAltAddress}, false, nil},
		{"unknown 01 type discards", unhex("01 04 01020304 41 00"), []uint8{TrailerNonce, 0x41}, false, ErrTrailerDiscard},
		{"unknown 10 and 11 types skipped", unhex("81 01 00 c2 00"), []uint8{0x81, 0xc2}, false, nil},
		{"malformed single byte", unhex("01"), nil, true, nil},
		{"malformed length beyond end", unhex("01 04 0102 03"), nil, true, nil},
		{"01 type after malformed is ignored", unhex("01 04 01020304 02 09 41 00"), []uint8{TrailerNonce}, true, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			it := NewTrailers(tt.in)
			var types []uint8
			for tr, ok := it.Next(); ok; tr, ok = it.Next() {
				types = append(types, tr.Type)
			}
			if !bytes.Equal(types, tt.types) || it.Malformed() != tt.malformed {
				t.Fatalf("types %x malformed %v, want %x %v", types, it.Malformed(), tt.types, tt.malformed)
			}
			if err := CheckTrailers(tt.in); !errors.Is(err, tt.check) {
				t.Fatalf("CheckTrailers = %v, want %v", err, tt.check)
			}
		})
	}
	// Values alias the input and are capped.
	it := NewTrailers(unhex("01 04 deadbeef 05 02 1234"))
	tr, _ := it.Next()
	if !bytes.Equal(tr.Value, unhex("deadbeef")) || cap(tr.Value) != 4 {
		t.Fatalf("Value = % x cap %d", tr.Value, cap(tr.Value))
	}
}

func TestPutTrailer(t *testing.T) {
	b := make([]byte, 8)
	if n := PutTrailer(b, TrailerNonce, unhex("deadbeef")); n != 6 || !bytes.Equal(b[:n], unhex("01 04 deadbeef")) {
		t.Fatalf("PutTrailer = %d % x", n, b[:n])
	}
	if n := PutTrailer(b, TrailerNonce, make([]byte, 7)); n != 0 {
		t.Fatalf("PutTrailer into short buffer = %d", n)
	}
	if n := PutTrailer(make([]byte, 300), 1, make([]byte, 256)); n != 0 {
		t.Fatalf("PutTrailer with 256-byte value = %d", n)
	}
}
