package teredo

import (
	"bytes"
	"errors"
	"net/netip"
	"testing"
)

// Run one with e.g. go test ./teredo -run '^$' -fuzz '^FuzzDecode$' -fuzztime 5s.

func seedPayloads(f *testing.F) {
	for _, v := range [][]byte{vecT9, vecT10, vecT11, vecT12, vecT13, vecEcho, cat(vecT13, unhex("01 04 deadbeef"))} {
		f.Add(v)
	}
	for _, file := range []string{serverPcap, relayPcap} {
		for _, u := range pcapUDP(f, file) {
			f.Add(u.Payload)
		}
	}
}

func isSentinel(err error, allowed ...error) bool {
	for _, a := range allowed {
		if err == a {
			return true
		}
	}
	return false
}

func FuzzDecode(f *testing.F) {
	seedPayloads(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		var p Packet
		err := p.Decode(data)
		off, offErr := IPv6Offset(data)
		if err != nil {
			if !isSentinel(err, ErrNotTeredo, ErrTruncated, ErrBadVersion, ErrLength) {
				t.Fatalf("non-sentinel error %v", err)
			}
			if p.HasAuth || p.HasOrigin || p.Offset != 0 || p.IPv6 != nil || p.Trailer != nil || p.Auth.ClientID != nil {
				t.Fatalf("fields set on error: %+v", p)
			}
			return
		}
		if offErr != nil || off != p.Offset {
			t.Fatalf("IPv6Offset = %d, %v; Decode offset %d", off, offErr, p.Offset)
		}
		if p.Offset+len(p.IPv6)+len(p.Trailer) != len(data) {
			t.Fatal("parts do not add up to the payload")
		}
		if p.IPv6[0]>>4 != 6 || len(p.IPv6) != IPv6HeaderLen+PayloadLen(p.IPv6) {
			t.Fatal("IPv6 packet invalid")
		}
		if p.IsBubble() != (NextHeader(p.IPv6) == ProtoNoNext && len(p.IPv6) == IPv6HeaderLen) {
			t.Fatal("IsBubble inconsistent")
		}
		// Round trip: re-encode the indicators and compare.
		b := make([]byte, len(data))
		n := 0
		if p.HasAuth {
			n = PutAuth(b, &p.Auth)
			if n == 0 {
				t.Fatal("PutAuth failed on decoded auth")
			}
		}
		if p.HasOrigin {
			PutOrigin(b[n:], p.Origin)
			n += OriginLen
		}
		if n != p.Offset {
			t.Fatalf("re-encoded indicators %d bytes, offset %d", n, p.Offset)
		}
		n += copy(b[n:], p.IPv6)
		copy(b[n:], p.Trailer)
		if !bytes.Equal(b, data) {
			t.Fatalf("round trip:\n got % x\nwant % x", b, data)
		}
		// Trailer helpers never panic and agree with each other.
		it := NewTrailers(p.Trailer)
		discard := false
		for tr, ok := it.Next(); ok; tr, ok = it.Next() {
			discard = discard || tr.MustDiscard()
		}
		if (CheckTrailers(p.Trailer) == ErrTrailerDiscard) != discard {
			t.Fatal("CheckTrailers disagrees with the iterator")
		}
	})
}

func FuzzParseAddr(f *testing.F) {
	for _, v := range addrVectors {
		a := ip(v.ip).As16()
		f.Add(a[:], uint16(46240))
	}
	f.Add(ip("3ffe:831f:ce49:7601:8000:efff:62c3:fffe").AsSlice(), uint16(1))
	f.Fuzz(func(t *testing.T, data []byte, port uint16) {
		if len(data) != 16 {
			return
		}
		b := [16]byte(data)
		in := netip.AddrFrom16(b)
		a, ok := ParseAddr(in)
		if ok != IsTeredo(&b) || ok != Prefix.Contains(in) {
			t.Fatalf("ParseAddr ok=%v, IsTeredo=%v, Prefix.Contains=%v", ok, IsTeredo(&b), Prefix.Contains(in))
		}
		if !ok {
			if MatchesSource(&b, netip.AddrPortFrom(netip.IPv4Unspecified(), port)) {
				t.Fatal("MatchesSource true for a non-Teredo address")
			}
			return
		}
		if !a.Server.Is4() || !a.Mapped.Addr().Is4() {
			t.Fatalf("decoded non-IPv4 fields: %+v", a)
		}
		if a.IP() != in || a.As16() != b || DecodeAddr(&b) != a {
			t.Fatalf("round trip %s -> %+v -> %s", in, a, a.IP())
		}
		if !MatchesSource(&b, a.Mapped) {
			t.Fatal("MatchesSource(own mapping) = false")
		}
		other := netip.AddrPortFrom(a.Mapped.Addr(), port)
		if MatchesSource(&b, other) != (port == a.Mapped.Port()) {
			t.Fatal("MatchesSource ignores the port")
		}
		// The same identifier in a link-local address decodes identically.
		ll := LinkLocal(a.Flags, a.Mapped).As16()
		if got := DecodeAddr(&ll); got.Flags != a.Flags || got.Mapped != a.Mapped {
			t.Fatalf("link-local identifier decodes to %+v", got)
		}
	})
}

func FuzzIPv4Header(f *testing.F) {
	for _, file := range []string{serverPcap, relayPcap} {
		for _, u := range pcapUDP(f, file) {
			f.Add(u.Packet)
		}
	}
	f.Add(unhex("4600 001c 0000 2000 4011 0000 c0000201 c0000202 00000000 0000 0000"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var h IPv4Header
		err := h.Decode(data)
		if err != nil && err != ErrFragment {
			if !isSentinel(err, ErrTruncated, ErrBadVersion, ErrLength, ErrChecksum) {
				t.Fatalf("non-sentinel error %v", err)
			}
			if h != (IPv4Header{}) {
				t.Fatalf("fields set on error: %+v", h)
			}
			return
		}
		if (err == ErrFragment) != h.IsFragment() {
			t.Fatal("ErrFragment and IsFragment disagree")
		}
		if h.HeaderLen < 20 || h.HeaderLen > 60 || h.HeaderLen%4 != 0 || h.TotalLen < h.HeaderLen || h.TotalLen > len(data) {
			t.Fatalf("lengths out of range: %+v (len %d)", h, len(data))
		}
		if fold(sum(data[:h.HeaderLen], 0)) != 0xffff {
			t.Fatal("accepted a bad checksum")
		}
		var u UDPHeader
		if h.Protocol != ProtoUDP || h.HeaderLen != IPv4HeaderLen || h.Flags != 0 || h.FragOff != 0 || h.TOS != 0 ||
			u.Decode(data[IPv4HeaderLen:h.TotalLen]) != nil || u.Length != h.TotalLen-IPv4HeaderLen {
			return
		}
		// Round trip through the builder (UDP checksum aside).
		b := make([]byte, EncapLen)
		PutIPv4UDP(b, netip.AddrPortFrom(h.SrcAddr(), u.SrcPort), netip.AddrPortFrom(h.DstAddr(), u.DstPort),
			u.Length-UDPHeaderLen, h.ID, h.TTL)
		if !bytes.Equal(b[:26], data[:26]) {
			t.Fatalf("PutIPv4UDP:\n got % x\nwant % x", b[:26], data[:26])
		}
	})
}

func FuzzUDPHeader(f *testing.F) {
	f.Add(cat(unhex("0dd8 0dd8 0030 ec77"), vecT11))
	f.Add(unhex("0001 0002 0007 0000"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var u UDPHeader
		if err := u.Decode(data); err != nil {
			if !isSentinel(err, ErrTruncated, ErrLength) || u != (UDPHeader{}) {
				t.Fatalf("error %v with %+v", err, u)
			}
			return
		}
		if u.Length < UDPHeaderLen || u.Length > len(data) {
			t.Fatalf("length %d out of range (len %d)", u.Length, len(data))
		}
	})
}

func FuzzTrailers(f *testing.F) {
	f.Add(unhex("01 04 deadbeef"))
	f.Add(unhex("01 04 01020304 41 00"))
	f.Add(unhex("03 08 0000 c0000201 0dd8 05 02 1234 01"))
	f.Fuzz(func(t *testing.T, data []byte) {
		it := NewTrailers(data)
		consumed, discard := 0, false
		for tr, ok := it.Next(); ok; tr, ok = it.Next() {
			if len(tr.Value) > 255 || data[consumed] != tr.Type || int(data[consumed+1]) != len(tr.Value) {
				t.Fatal("trailer does not match its bytes")
			}
			consumed += 2 + len(tr.Value)
			discard = discard || tr.MustDiscard()
		}
		if consumed > len(data) || (!it.Malformed() && consumed != len(data)) || (it.Malformed() && consumed == len(data)) {
			t.Fatalf("consumed %d of %d, malformed %v", consumed, len(data), it.Malformed())
		}
		if err := CheckTrailers(data); (err == ErrTrailerDiscard) != discard || (err != nil && err != ErrTrailerDiscard) {
			t.Fatalf("CheckTrailers = %v, discard %v", err, discard)
		}
	})
}

func FuzzParseRA(f *testing.F) {
	f.Add(vecT10[21:])
	b := make([]byte, RALen)
	PutRA(b, ip("203.0.113.120"), ip("fe80::1"), 1400)
	f.Add(b)
	f.Fuzz(func(t *testing.T, data []byte) {
		var ra RA
		err := ParseRA(data, &ra)
		if err != nil {
			if !isSentinel(err, ErrTruncated, ErrBadVersion, ErrLength, ErrNotRA) || ra != (RA{}) {
				t.Fatalf("error %v with %+v", err, ra)
			}
			return
		}
		if !VerifyICMPv6Checksum(data) || ra.Prefix.Bits() != 64 || !Prefix.Contains(ra.Prefix.Addr()) || !ra.Src.IsLinkLocalUnicast() {
			t.Fatalf("accepted RA %+v", ra)
		}
	})
}

func FuzzICMPv6Error(f *testing.F) {
	for _, v := range [][]byte{vecEcho, vecT11, vecT13, vecT9[13:], vecT10[21:]} {
		f.Add(v, uint8(ICMPv6DestUnreachable), uint8(3))
	}
	f.Add(bytes.Repeat(vecEcho, 20), uint8(ICMPv6PacketTooBig), uint8(0))
	f.Fuzz(func(t *testing.T, invoking []byte, typ, code uint8) {
		b := make([]byte, MinMTU)
		n, err := PutICMPv6Error(b, typ, code, 1280, ip("2001:db8::1"), invoking)
		if err != nil {
			if !isSentinel(err, ErrTruncated, ErrBadVersion, ErrBubble, ErrICMPv6Error, ErrMulticastSource,
				ErrUnspecifiedSource, ErrMulticastDestination) || n != 0 {
				t.Fatalf("PutICMPv6Error = %d, %v", n, err)
			}
			if err == ErrBubble && !IsBubble(invoking) {
				t.Fatal("ErrBubble for a non-bubble")
			}
			return
		}
		if n > MinMTU || n < ICMPv6ErrorHeaderLen+IPv6HeaderLen || !VerifyICMPv6Checksum(b[:n]) {
			t.Fatalf("bad error packet of %d bytes", n)
		}
		if !bytes.Equal(b[ICMPv6ErrorHeaderLen:n], invoking[:n-ICMPv6ErrorHeaderLen]) || Dst(b) != Src(invoking) {
			t.Fatal("quote or destination wrong")
		}
		// A generated error is itself never answered.
		if _, err := PutICMPv6Error(make([]byte, MinMTU), typ, code, 0, ip("2001:db8::2"), b[:n]); typ < 128 && !errors.Is(err, ErrICMPv6Error) {
			t.Fatalf("answering our own error: %v", err)
		}
	})
}
