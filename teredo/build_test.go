package teredo

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"net/netip"
	"testing"
)

func TestPutBubble(t *testing.T) {
	tests := []struct {
		name     string
		src, dst string
		want     []byte
	}{
		{"T11 relay indirect bubble", relayLL, client, vecT11},
		{"T13 client direct bubble", client, relayLL, vecT13},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := bytes.Repeat([]byte{0xee}, 64)
			if n := PutBubble(b, ip(tt.src), ip(tt.dst)); n != IPv6HeaderLen {
				t.Fatalf("PutBubble = %d", n)
			}
			if !bytes.Equal(b[:IPv6HeaderLen], tt.want) || b[IPv6HeaderLen] != 0xee {
				t.Fatalf("PutBubble:\n got % x\nwant % x", b[:IPv6HeaderLen], tt.want)
			}
			if !IsBubble(b[:IPv6HeaderLen]) || HopLimit(b) != BubbleHopLimit {
				t.Fatal("not a bubble with hop limit 0")
			}
		})
	}
	if n := PutBubble(make([]byte, 39), ip(client), ip(relayLL)); n != 0 {
		t.Fatalf("PutBubble into 39 bytes = %d", n)
	}
}

func TestPutRS(t *testing.T) {
	// T9: the Miredo client's RS, cone bit 0.
	b := make([]byte, RSLen)
	if n := PutRS(b, ClientLinkLocal(false)); n != RSLen {
		t.Fatalf("PutRS = %d", n)
	}
	if !bytes.Equal(b, vecT9[13:]) {
		t.Fatalf("PutRS:\n got % x\nwant % x", b, vecT9[13:])
	}
	if !IsRS(b) {
		t.Fatal("IsRS(PutRS) = false")
	}
	if n := PutRS(make([]byte, RSLen-1), ClientLinkLocal(false)); n != 0 {
		t.Fatalf("PutRS into short buffer = %d", n)
	}
}

func TestIsRS(t *testing.T) {
	mut := func(f func(b []byte)) []byte {
		b := bytes.Clone(vecT9[13:])
		f(b)
		return b
	}
	tests := []struct {
		name string
		in   []byte
		want bool
	}{
		{"T9", vecT9[13:], true},
		{"cone bit RS", func() []byte { b := make([]byte, RSLen); PutRS(b, ClientLinkLocal(true)); return b }(), true},
		{"bad checksum", mut(func(b []byte) { b[43]++ }), false},
		{"hop limit 254", mut(func(b []byte) { b[7] = 254 }), false},
		{"global source", mut(func(b []byte) { b[8] = 0x20 }), false},
		{"not all-routers", mut(func(b []byte) { b[39] = 1 }), false},
		{"type 135", mut(func(b []byte) { b[40] = 135 }), false},
		{"code 1", mut(func(b []byte) { b[41] = 1 }), false},
		{"not icmpv6", mut(func(b []byte) { b[6] = 17 }), false},
		{"short", vecT9[13 : 13+RSLen-1], false},
		{"RA", vecT10[21:], false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IsRS(tt.in); got != tt.want {
				t.Fatalf("IsRS = %v, want %v", got, tt.want)
			}
		})
	}
}

// T10: the server's RA payload rebuilt from its parts, byte for byte.
func TestPutRA(t *testing.T) {
	var p Packet
	if err := p.Decode(vecT9); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 200)
	n := PutAuth(b, &p.Auth) // echo the RS's client id and nonce, confirmation 0
	PutOrigin(b[n:], ap("203.0.113.1:46240"))
	n += OriginLen
	m := PutRA(b[n:], ip("192.0.2.1"), netip.AddrFrom16(Src(p.IPv6)), 0)
	if m != RALen {
		t.Fatalf("PutRA = %d", m)
	}
	n += m
	if !bytes.Equal(b[:n], vecT10) {
		t.Fatalf("RA payload:\n got % x\nwant % x", b[:n], vecT10)
	}
	if PutRA(make([]byte, RALen-1), ip("192.0.2.1"), ip("fe80::1"), 0) != 0 {
		t.Fatal("PutRA into short buffer wrote")
	}
	// Explicit MTU.
	PutRA(b, ip("203.0.113.120"), ip("fe80::1"), 1400)
	var ra RA
	if err := ParseRA(b[:RALen], &ra); err != nil {
		t.Fatal(err)
	}
	if ra.MTU != 1400 || ra.Prefix != netip.MustParsePrefix("2001:0:cb00:7178::/64") || ra.Src != ip("fe80::8000:f227:34ff:8e87") {
		t.Fatalf("ParseRA = %+v", ra)
	}
}

func TestParseRA(t *testing.T) {
	ra10 := vecT10[21:]
	// fix re-checksums a mutated RA.
	fix := func(b []byte) []byte {
		b[42], b[43] = 0, 0
		binary.BigEndian.PutUint16(b[42:44], ICMPv6Checksum(SrcPtr(b), DstPtr(b), b[IPv6HeaderLen:IPv6HeaderLen+PayloadLen(b)]))
		return b
	}
	mut := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(ra10)) }
	tests := []struct {
		name   string
		in     []byte
		err    error
		prefix string
		mtu    uint32
	}{
		{"T10 testbed RA", ra10, nil, "2001:0:c000:201::/64", 1280},
		{"bad checksum", mut(func(b []byte) []byte { b[60]++; return b }), ErrNotRA, "", 0},
		{"hop limit 64", mut(func(b []byte) []byte { b[7] = 64; return b }), ErrNotRA, "", 0},
		{"global source", mut(func(b []byte) []byte { b[8] = 0x20; return fix(b) }), ErrNotRA, "", 0},
		{"echo request", vecEcho, ErrNotRA, "", 0},
		{"RS is too short", vecT9[13:], ErrTruncated, "", 0},
		{"prefix /48", mut(func(b []byte) []byte { b[58] = 48; return fix(b) }), ErrNotRA, "", 0},
		{"prefix outside 2001::/32", mut(func(b []byte) []byte { b[74] = 0x30; return fix(b) }), ErrNotRA, "", 0},
		{"two prefixes", func() []byte {
			b := cat(ra10[:88], ra10[56:88], ra10[88:])
			binary.BigEndian.PutUint16(b[4:6], uint16(len(b)-IPv6HeaderLen))
			return fix(b)
		}(), ErrNotRA, "", 0},
		{"no prefix", func() []byte {
			b := cat(ra10[:56], ra10[88:])
			binary.BigEndian.PutUint16(b[4:6], uint16(len(b)-IPv6HeaderLen))
			return fix(b)
		}(), ErrNotRA, "", 0},
		{"option length 0", mut(func(b []byte) []byte { b[89] = 0; return fix(b) }), ErrLength, "", 0},
		{"option beyond end", mut(func(b []byte) []byte { b[89] = 2; return fix(b) }), ErrLength, "", 0},
		{"payload length beyond end", mut(func(b []byte) []byte { b[5]++; return b }), ErrLength, "", 0},
		{"truncated", ra10[:50], ErrTruncated, "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ra RA
			err := ParseRA(tt.in, &ra)
			if !errors.Is(err, tt.err) {
				t.Fatalf("ParseRA error = %v, want %v", err, tt.err)
			}
			if err != nil {
				return
			}
			if ra.Prefix != netip.MustParsePrefix(tt.prefix) || ra.MTU != tt.mtu ||
				ra.Src != ip("fe80::8000:f227:3fff:fdfe") || ra.Dst != ip("fe80::ffff:ffff:ffff") {
				t.Fatalf("ParseRA = %+v", ra)
			}
		})
	}
}

func TestPutIPv4UDP(t *testing.T) {
	// T11 as the Miredo relay sent it (relay frame 2), UDP checksum left 0.
	want := unhex("4500 0044 f39a 0000 4011 9ad8 c633 6401 c000 0201 0dd8 0dd8 0030 0000")
	b := bytes.Repeat([]byte{0xee}, EncapLen+1)
	PutIPv4UDP(b, ap("198.51.100.1:3544"), ap("192.0.2.1:3544"), len(vecT11), 0xf39a, 64)
	if !bytes.Equal(b[:EncapLen], want) || b[EncapLen] != 0xee {
		t.Fatalf("PutIPv4UDP:\n got % x\nwant % x", b[:EncapLen], want)
	}
	var h IPv4Header
	full := cat(b[:EncapLen], vecT11)
	if err := h.Decode(full); err != nil {
		t.Fatalf("decode own header: %v", err)
	}
	if h.Flags&IPv4FlagDF != 0 || h.TotalLen != 68 || h.TTL != 64 || h.ID != 0xf39a {
		t.Fatalf("header %+v", h)
	}
	// IPv4-mapped inputs are written as IPv4.
	PutIPv4UDP(b, ap("[::ffff:198.51.100.1]:3544"), ap("[::ffff:192.0.2.1]:3544"), len(vecT11), 0xf39a, 64)
	if !bytes.Equal(b[:EncapLen], want) {
		t.Fatal("IPv4-mapped addresses not unmapped")
	}
}

func TestUDPChecksumZeroResult(t *testing.T) {
	// A datagram whose checksum computes to 0 is sent as 0xffff (RFC 768).
	// Choose the payload so the sum is 0xffff: ports 0, length 10, payload
	// word w with pseudo-header(0.0.0.0, 0.0.0.0, 17, 10) + 10 + w = 0xffff.
	udp := []byte{0, 0, 0, 0, 0, 10, 0, 0, 0, 0}
	w := 0xffff - (ProtoUDP + 10 + 10)
	binary.BigEndian.PutUint16(udp[8:10], uint16(w))
	if got := UDPChecksum([4]byte{}, [4]byte{}, udp); got != 0xffff {
		t.Fatalf("UDPChecksum = %#x, want 0xffff", got)
	}
	binary.BigEndian.PutUint16(udp[6:8], 0xffff)
	if got := UDPChecksum([4]byte{}, [4]byte{}, udp); got != 0 {
		t.Fatalf("verify = %#x, want 0", got)
	}
}

func TestIPv4HeaderDecode(t *testing.T) {
	good := unhex("4500 0044 f39a 0000 4011 9ad8 c633 6401 c000 0201") // relay frame 2
	good = cat(good, make([]byte, 48))
	withOpts := func() []byte {
		b := make([]byte, 28)
		b[0], b[3], b[8], b[9] = 0x46, 28, 64, ProtoUDP
		copy(b[12:20], unhex("c6336401c0000201"))
		binary.BigEndian.PutUint16(b[10:12], ^fold(sum(b[:24], 0)))
		return b
	}()
	mut := func(f func(b []byte)) []byte {
		b := bytes.Clone(good)
		f(b)
		binary.BigEndian.PutUint16(b[10:12], 0)
		binary.BigEndian.PutUint16(b[10:12], ^fold(sum(b[:20], 0)))
		return b
	}
	tests := []struct {
		name      string
		in        []byte
		err       error
		headerLen int
		totalLen  int
		fragment  bool
	}{
		{"relay frame 2", good, nil, 20, 68, false},
		{"ethernet padding after total length", cat(good, make([]byte, 6)), nil, 20, 68, false},
		{"options", withOpts, nil, 24, 28, false},
		{"options, bad checksum", func() []byte { b := bytes.Clone(withOpts); b[21]++; return b }(), ErrChecksum, 0, 0, false},
		{"DF set", mut(func(b []byte) { b[6] = 0x40 }), nil, 20, 68, false},
		{"MF set", mut(func(b []byte) { b[6] = 0x20 }), ErrFragment, 20, 68, true},
		{"offset set", mut(func(b []byte) { b[7] = 0x01 }), ErrFragment, 20, 68, true},
		{"bad checksum", func() []byte { b := bytes.Clone(good); b[11]++; return b }(), ErrChecksum, 0, 0, false},
		{"version 6", mut(func(b []byte) { b[0] = 0x65 }), ErrBadVersion, 0, 0, false},
		{"IHL 4", mut(func(b []byte) { b[0] = 0x44 }), ErrLength, 0, 0, false},
		{"IHL 6 beyond 22-byte buffer", mut(func(b []byte) { b[0] = 0x46 })[:22], ErrTruncated, 0, 0, false},
		{"IHL 15 beyond buffer", mut(func(b []byte) { b[0] = 0x4f })[:40], ErrTruncated, 0, 0, false},
		{"total length below IHL", mut(func(b []byte) { b[3] = 19 }), ErrLength, 0, 0, false},
		{"total length beyond buffer", good[:67], ErrLength, 0, 0, false},
		{"19 bytes", good[:19], ErrTruncated, 0, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := IPv4Header{HeaderLen: 99, TTL: 9}
			err := h.Decode(tt.in)
			if !errors.Is(err, tt.err) {
				t.Fatalf("Decode error = %v, want %v", err, tt.err)
			}
			if h.HeaderLen != tt.headerLen || h.TotalLen != tt.totalLen || h.IsFragment() != tt.fragment {
				t.Fatalf("header %+v, want len %d total %d fragment %v", h, tt.headerLen, tt.totalLen, tt.fragment)
			}
			if tt.headerLen != 0 && (h.SrcAddr() != ip("198.51.100.1") || h.DstAddr() != ip("192.0.2.1") || h.Protocol != ProtoUDP) {
				t.Fatalf("addresses %s -> %s proto %d", h.SrcAddr(), h.DstAddr(), h.Protocol)
			}
		})
	}
}

func TestUDPHeaderDecode(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		err  error
		want UDPHeader
	}{
		{"relay frame 2", cat(unhex("0dd8 0dd8 0030 ec77"), vecT11), nil, UDPHeader{3544, 3544, 48, 0xec77}},
		{"trailing bytes beyond length", cat(unhex("0dd8 0dd8 0030 ec77"), vecT11, []byte{1, 2}), nil, UDPHeader{3544, 3544, 48, 0xec77}},
		{"length 8", unhex("0001 0002 0008 0000"), nil, UDPHeader{1, 2, 8, 0}},
		{"length 7", unhex("0001 0002 0007 0000"), ErrLength, UDPHeader{}},
		{"length beyond buffer", unhex("0001 0002 0009 0000"), ErrLength, UDPHeader{}},
		{"7 bytes", unhex("0001 0002 0008 00"), ErrTruncated, UDPHeader{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := UDPHeader{SrcPort: 7}
			if err := u.Decode(tt.in); !errors.Is(err, tt.err) || u != tt.want {
				t.Fatalf("Decode = %+v, %v; want %+v, %v", u, err, tt.want, tt.err)
			}
		})
	}
}

// IsRoutable: what a relay or server may forward to or accept from the IPv6
// Internet (RFC 4291 §2.4 scopes, RFC 4193 §4.1 for unique local).
func TestIsRoutable(t *testing.T) {
	for _, c := range []struct {
		addr string
		want bool
	}{
		{"2001:db8::1", true},
		{"2400::1", true},
		{"2002:c000:201::1", true}, // 6to4
		{"fb00::1", true},
		{"fe00::1", true},
		{"::", false},
		{"::1", false},
		{"::ffff:192.0.2.1", false},
		{"fc00::1", false},
		{"fdff:ffff::1", false},
		{"fe80::1", false},
		{"febf::1", false},
		{"fec0::1", false},
	} {
		a := netip.MustParseAddr(c.addr).As16()
		if got := IsRoutable(&a); got != c.want {
			t.Errorf("IsRoutable(%s) = %v, want %v", c.addr, got, c.want)
		}
	}
}

// headerSumOK's inline sum of a 20-byte header agrees with sum on every
// header, right or wrong: random ones and each with its checksum set.
func TestHeaderSumOKMatchesSum(t *testing.T) {
	rng := rand.New(rand.NewPCG(4380, 5991))
	for i := range 100000 {
		var h [IPv4HeaderLen]byte
		for j := range h {
			h[j] = byte(rng.Uint32())
		}
		if i%2 == 0 {
			h[10], h[11] = 0, 0
			binary.BigEndian.PutUint16(h[10:12], ^fold(sum(h[:], 0)))
		}
		if got, want := headerSumOK(h[:]), fold(sum(h[:], 0)) == 0xffff; got != want {
			t.Fatalf("header % x: headerSumOK %v, sum says %v", h, got, want)
		}
	}
}
