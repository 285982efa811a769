package teredo

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/netip"
	"testing"
)

// ipv6Packet builds an IPv6 packet with the given next header and payload.
func ipv6Packet(src, dst string, nh uint8, payload []byte) []byte {
	b := make([]byte, IPv6HeaderLen+len(payload))
	s, d := ip(src).As16(), ip(dst).As16()
	putIPv6Header(b, len(payload), nh, 64, &s, &d)
	copy(b[IPv6HeaderLen:], payload)
	return b
}

func TestPutICMPv6Error(t *testing.T) {
	relay := ip("2001:db8:ffff::1")
	big := ipv6Packet("2001:db8:3::7", client, ProtoNoNext, bytes.Repeat([]byte{0x5a}, 1400-IPv6HeaderLen))
	tests := []struct {
		name      string
		typ, code uint8
		param     uint32
		invoking  []byte
		wantLen   int
	}{
		{"destination unreachable about client data", ICMPv6DestUnreachable, CodeAddrUnreachable, 0, vecEcho, ICMPv6ErrorHeaderLen + len(vecEcho)},
		{"time exceeded about client data", ICMPv6TimeExceeded, 0, 0, vecEcho, ICMPv6ErrorHeaderLen + len(vecEcho)},
		{"N10 packet too big capped at 1280", ICMPv6PacketTooBig, 0, MinMTU, big, MinMTU},
		{"packet too big to multicast destination allowed", ICMPv6PacketTooBig, 0, MinMTU,
			ipv6Packet("2001:db8::1", "ff0e::1", 17, make([]byte, 8)), ICMPv6ErrorHeaderLen + 48},
		{"parameter problem code 2 to multicast allowed", ICMPv6ParamProblem, 2, 40,
			ipv6Packet("2001:db8::1", "ff0e::1", 17, make([]byte, 8)), ICMPv6ErrorHeaderLen + 48},
		{"non-first fragment of icmpv6 error allowed", ICMPv6TimeExceeded, 0, 0,
			ipv6Packet("2001:db8::1", client, ProtoFragment, unhex("3a00 0008 00000001 0100")), ICMPv6ErrorHeaderLen + 50},
		{"echo request behind hop-by-hop allowed", ICMPv6DestUnreachable, 0, 0,
			ipv6Packet("2001:db8::1", client, ProtoHopByHop, unhex("3a00 0000 0000 0000 8000 0000")), ICMPv6ErrorHeaderLen + 52},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := bytes.Repeat([]byte{0xee}, 1500)
			n, err := PutICMPv6Error(b, tt.typ, tt.code, tt.param, relay, tt.invoking)
			if err != nil {
				t.Fatal(err)
			}
			if n != tt.wantLen || b[n] != 0xee {
				t.Fatalf("wrote %d bytes, want %d", n, tt.wantLen)
			}
			pkt := b[:n]
			if pkt[0] != 0x60 || PayloadLen(pkt) != n-IPv6HeaderLen || NextHeader(pkt) != ProtoICMPv6 || HopLimit(pkt) != ICMPv6ErrorHopLimit {
				t.Fatalf("IPv6 header % x", pkt[:8])
			}
			if netip.AddrFrom16(Src(pkt)) != relay || Dst(pkt) != Src(tt.invoking) {
				t.Fatal("addresses wrong")
			}
			m := pkt[IPv6HeaderLen:]
			if m[0] != tt.typ || m[1] != tt.code || binary.BigEndian.Uint32(m[4:8]) != tt.param {
				t.Fatalf("ICMPv6 header % x", m[:8])
			}
			if !bytes.Equal(m[8:], tt.invoking[:n-ICMPv6ErrorHeaderLen]) {
				t.Fatal("quote differs from the invoking packet")
			}
			if !VerifyICMPv6Checksum(pkt) {
				t.Fatal("checksum does not verify")
			}
		})
	}
}

func TestPutICMPv6ErrorRefuses(t *testing.T) {
	relay := ip("2001:db8:ffff::1")
	duFrame := func() []byte {
		b := make([]byte, MinMTU)
		n, err := PutDestUnreachable(b, CodeAddrUnreachable, relay, vecEcho)
		if err != nil {
			t.Fatal(err)
		}
		return b[:n]
	}()
	tests := []struct {
		name     string
		typ      uint8
		code     uint8
		invoking []byte
		bufLen   int
		err      error
	}{
		{"T11 bubble", ICMPv6TimeExceeded, 0, vecT11, MinMTU, ErrBubble},
		{"T13 bubble (testbed relay host answered it)", ICMPv6TimeExceeded, 0, vecT13, MinMTU, ErrBubble},
		{"N7 bubble with trailer bytes", ICMPv6DestUnreachable, 3, cat(vecT13, unhex("01 04 deadbeef")), MinMTU, ErrBubble},
		{"icmpv6 destination unreachable", ICMPv6TimeExceeded, 0, duFrame, MinMTU, ErrICMPv6Error},
		{"icmpv6 packet too big behind dest opts", ICMPv6DestUnreachable, 0,
			ipv6Packet("2001:db8::1", client, ProtoDestOpts, unhex("3a00 0000 0000 0000 0200 0000 0000 0500")), MinMTU, ErrICMPv6Error},
		{"icmpv6 error in first fragment", ICMPv6DestUnreachable, 0,
			ipv6Packet("2001:db8::1", client, ProtoFragment, unhex("3a00 0001 00000001 0300 0000")), MinMTU, ErrICMPv6Error},
		{"multicast source", ICMPv6DestUnreachable, 0, ipv6Packet("ff02::1", client, 17, make([]byte, 8)), MinMTU, ErrMulticastSource},
		{"unspecified source", ICMPv6DestUnreachable, 0, ipv6Packet("::", client, 17, make([]byte, 8)), MinMTU, ErrUnspecifiedSource},
		{"multicast destination", ICMPv6DestUnreachable, 0, ipv6Packet("2001:db8::1", "ff02::1", 17, make([]byte, 8)), MinMTU, ErrMulticastDestination},
		{"time exceeded to multicast destination", ICMPv6TimeExceeded, 0, ipv6Packet("2001:db8::1", "ff0e::1", 17, make([]byte, 8)), MinMTU, ErrMulticastDestination},
		{"parameter problem code 0 to multicast", ICMPv6ParamProblem, 0, ipv6Packet("2001:db8::1", "ff0e::1", 17, make([]byte, 8)), MinMTU, ErrMulticastDestination},
		{"39 bytes", ICMPv6DestUnreachable, 0, vecEcho[:39], MinMTU, ErrTruncated},
		{"ipv4", ICMPv6DestUnreachable, 0, cat(unhex("45"), vecEcho[1:]), MinMTU, ErrBadVersion},
		{"icmpv6 without type byte", ICMPv6DestUnreachable, 0, ipv6Packet("2001:db8::1", client, ProtoICMPv6, nil), MinMTU, ErrTruncated},
		{"extension header cut", ICMPv6DestUnreachable, 0, ipv6Packet("2001:db8::1", client, ProtoRouting, unhex("3a01 0000 0000 0000")), MinMTU, ErrTruncated},
		{"extension header 1 byte", ICMPv6DestUnreachable, 0, ipv6Packet("2001:db8::1", client, ProtoRouting, unhex("3a")), MinMTU, ErrTruncated},
		{"fragment header cut", ICMPv6DestUnreachable, 0, ipv6Packet("2001:db8::1", client, ProtoFragment, unhex("3a00 0000")), MinMTU, ErrTruncated},
		{"buffer too small", ICMPv6DestUnreachable, 0, vecEcho, ICMPv6ErrorHeaderLen + len(vecEcho) - 1, ErrShortBuffer},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := bytes.Repeat([]byte{0xee}, tt.bufLen)
			n, err := PutICMPv6Error(b, tt.typ, tt.code, 0, relay, tt.invoking)
			if !errors.Is(err, tt.err) || n != 0 {
				t.Fatalf("PutICMPv6Error = %d, %v; want 0, %v", n, err, tt.err)
			}
			if !bytes.Equal(b, bytes.Repeat([]byte{0xee}, tt.bufLen)) {
				t.Fatal("buffer written on refusal")
			}
		})
	}
}

func TestICMPv6ErrorWrappers(t *testing.T) {
	relay := ip("2001:db8:ffff::1")
	tests := []struct {
		name      string
		put       func(b []byte) (int, error)
		typ, code uint8
		param     uint32
	}{
		{"destination unreachable", func(b []byte) (int, error) { return PutDestUnreachable(b, CodeAdminProhibited, relay, vecEcho) }, 1, 1, 0},
		{"time exceeded", func(b []byte) (int, error) { return PutTimeExceeded(b, relay, vecEcho) }, 3, 0, 0},
		{"packet too big", func(b []byte) (int, error) { return PutPacketTooBig(b, 1280, relay, vecEcho) }, 2, 0, 1280},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := make([]byte, MinMTU)
			n, err := tt.put(b)
			if err != nil || n != ICMPv6ErrorHeaderLen+len(vecEcho) {
				t.Fatalf("= %d, %v", n, err)
			}
			m := b[IPv6HeaderLen:]
			if m[0] != tt.typ || m[1] != tt.code || binary.BigEndian.Uint32(m[4:8]) != tt.param {
				t.Fatalf("ICMPv6 header % x", m[:8])
			}
		})
	}
}

// The invoking packet may already sit in the output buffer (slow path reuse).
func TestPutICMPv6ErrorOverlap(t *testing.T) {
	relay := ip("2001:db8:ffff::1")
	want := make([]byte, MinMTU)
	n, err := PutDestUnreachable(want, CodeAddrUnreachable, relay, vecEcho)
	if err != nil {
		t.Fatal(err)
	}
	for _, at := range []int{0, 10, ICMPv6ErrorHeaderLen, 100} {
		b := make([]byte, 1500)
		copy(b[at:], vecEcho)
		m, err := PutDestUnreachable(b, CodeAddrUnreachable, relay, b[at:at+len(vecEcho)])
		if err != nil || m != n || !bytes.Equal(b[:m], want[:n]) {
			t.Fatalf("invoking at %d: got % x, %v", at, b[:m], err)
		}
	}
}

func TestVerifyICMPv6Checksum(t *testing.T) {
	bad := bytes.Clone(vecEcho)
	bad[50] ^= 1
	tests := []struct {
		name string
		in   []byte
		want bool
	}{
		{"client echo request", vecEcho, true},
		{"T9 RS", vecT9[13:], true},
		{"T10 RA", vecT10[21:], true},
		{"flipped bit", bad, false},
		{"bubble", vecT11, false},
		{"payload length beyond end", vecEcho[:100], false},
		{"payload length below 4", ipv6Packet("2001:db8::1", client, ProtoICMPv6, []byte{1, 2}), false},
		{"short", vecEcho[:43], false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := VerifyICMPv6Checksum(tt.in); got != tt.want {
				t.Fatalf("VerifyICMPv6Checksum = %v, want %v", got, tt.want)
			}
		})
	}
}

// The checksum agrees with a byte-at-a-time RFC 1071 sum for every length,
// including odd ones, and for lengths that carry into the upper 16 bits.
func TestICMPv6ChecksumReference(t *testing.T) {
	s, d := ip("2001:db8::1").As16(), ip(client).As16()
	for _, n := range []int{0, 1, 2, 3, 7, 8, 9, 15, 16, 17, 1231, 1232, 65535, 70000} {
		msg := make([]byte, n)
		for i := range msg {
			msg[i] = byte(i*7 + 0xf1)
		}
		want := refICMPv6Checksum(s, d, msg)
		if got := ICMPv6Checksum(&s, &d, msg); got != want {
			t.Fatalf("len %d: ICMPv6Checksum = %#x, reference %#x", n, got, want)
		}
	}
}

func refICMPv6Checksum(src, dst [16]byte, msg []byte) uint16 {
	var data []byte
	data = append(data, src[:]...)
	data = append(data, dst[:]...)
	l := uint32(len(msg))
	data = append(data, byte(l>>24), byte(l>>16), byte(l>>8), byte(l), 0, 0, 0, ProtoICMPv6)
	data = append(data, msg...)
	if len(data)%2 == 1 {
		data = append(data, 0)
	}
	var s uint64
	for i := 0; i < len(data); i += 2 {
		s += uint64(data[i])<<8 | uint64(data[i+1])
	}
	for s > 0xffff {
		s = s>>16 + s&0xffff
	}
	return ^uint16(s)
}
