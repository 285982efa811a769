package client

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net/netip"

	"github.com/teredorelay/teredorelay/teredo"
)

// EchoHopLimit is the hop limit of the Echo Requests the client sends.
const EchoHopLimit = 64

// echoHeaderLen is the ICMPv6 echo header: type, code, checksum, id, seq.
const echoHeaderLen = 8

// putEchoRequest writes an IPv6 ICMPv6 Echo Request [RFC 4443 §4.1] from src
// to dst with identifier id, sequence seq and data into b, with its checksum.
// It returns the bytes written, or 0 if b is too short.
func putEchoRequest(b []byte, src, dst netip.Addr, id, seq uint16, data []byte) int {
	n := teredo.IPv6HeaderLen + echoHeaderLen + len(data)
	if len(b) < n || echoHeaderLen+len(data) > 0xffff {
		return 0
	}
	s, d := src.As16(), dst.As16()
	b[0], b[1], b[2], b[3] = 0x60, 0, 0, 0
	binary.BigEndian.PutUint16(b[4:6], uint16(echoHeaderLen+len(data)))
	b[6], b[7] = teredo.ProtoICMPv6, EchoHopLimit
	copy(b[8:24], s[:])
	copy(b[24:40], d[:])
	m := b[teredo.IPv6HeaderLen:n]
	m[0], m[1], m[2], m[3] = teredo.ICMPv6EchoRequest, 0, 0, 0
	binary.BigEndian.PutUint16(m[4:6], id)
	binary.BigEndian.PutUint16(m[6:8], seq)
	copy(m[echoHeaderLen:], data)
	binary.BigEndian.PutUint16(m[2:4], teredo.ICMPv6Checksum(&s, &d, m))
	return n
}

// echoMsg is a parsed ICMPv6 Echo Request or Reply.
type echoMsg struct {
	Type     uint8
	Src, Dst netip.Addr
	ID, Seq  uint16
	Data     []byte // aliases the parsed packet
}

// parseEcho parses ipv6 (exactly one IPv6 packet, no extension headers) as an
// ICMPv6 Echo Request or Reply. With verify the ICMPv6 checksum must be
// correct; quoted packets inside ICMPv6 errors are parsed without it (they
// may be truncated).
func parseEcho(ipv6 []byte, verify bool) (echoMsg, error) {
	if len(ipv6) < teredo.IPv6HeaderLen+echoHeaderLen {
		return echoMsg{}, fmt.Errorf("%w: %d bytes", ErrNotEcho, len(ipv6))
	}
	if ipv6[0]>>4 != 6 || teredo.NextHeader(ipv6) != teredo.ProtoICMPv6 {
		return echoMsg{}, fmt.Errorf("%w: next header %d", ErrNotEcho, teredo.NextHeader(ipv6))
	}
	end := teredo.IPv6HeaderLen + teredo.PayloadLen(ipv6)
	if end < teredo.IPv6HeaderLen+echoHeaderLen {
		return echoMsg{}, fmt.Errorf("%w: payload length %d", ErrNotEcho, teredo.PayloadLen(ipv6))
	}
	if end > len(ipv6) {
		if verify {
			return echoMsg{}, fmt.Errorf("%w: payload length %d exceeds %d bytes", ErrNotEcho, teredo.PayloadLen(ipv6), len(ipv6)-teredo.IPv6HeaderLen)
		}
		end = len(ipv6) // truncated quote
	}
	m := ipv6[teredo.IPv6HeaderLen:end]
	if m[0] != teredo.ICMPv6EchoRequest && m[0] != teredo.ICMPv6EchoReply || m[1] != 0 {
		return echoMsg{}, fmt.Errorf("%w: ICMPv6 type %d code %d", ErrNotEcho, m[0], m[1])
	}
	if verify && !teredo.VerifyICMPv6Checksum(ipv6) {
		return echoMsg{}, fmt.Errorf("%w: bad ICMPv6 checksum", ErrNotEcho)
	}
	return echoMsg{
		Type: m[0],
		Src:  netip.AddrFrom16(teredo.Src(ipv6)),
		Dst:  netip.AddrFrom16(teredo.Dst(ipv6)),
		ID:   binary.BigEndian.Uint16(m[4:6]),
		Seq:  binary.BigEndian.Uint16(m[6:8]),
		Data: m[echoHeaderLen:],
	}, nil
}

// icmpError is a parsed ICMPv6 error message (types 1-4).
type icmpError struct {
	Type, Code uint8
	Src        netip.Addr // who reports the error
	Invoking   []byte     // the quoted packet, possibly truncated
}

// parseICMPv6Error parses ipv6 as an ICMPv6 error message with a correct
// checksum. ok is false for anything else.
func parseICMPv6Error(ipv6 []byte) (icmpError, bool) {
	if len(ipv6) < teredo.ICMPv6ErrorHeaderLen || teredo.NextHeader(ipv6) != teredo.ProtoICMPv6 {
		return icmpError{}, false
	}
	t := ipv6[teredo.IPv6HeaderLen]
	if t < teredo.ICMPv6DestUnreachable || t > teredo.ICMPv6ParamProblem || !teredo.VerifyICMPv6Checksum(ipv6) {
		return icmpError{}, false
	}
	end := teredo.IPv6HeaderLen + teredo.PayloadLen(ipv6)
	return icmpError{
		Type:     t,
		Code:     ipv6[teredo.IPv6HeaderLen+1],
		Src:      netip.AddrFrom16(teredo.Src(ipv6)),
		Invoking: ipv6[teredo.ICMPv6ErrorHeaderLen:end],
	}, true
}

// icmpErrorName names an ICMPv6 error for operators.
func icmpErrorName(typ, code uint8) string {
	switch typ {
	case teredo.ICMPv6DestUnreachable:
		switch code {
		case teredo.CodeNoRoute:
			return "destination unreachable (no route)"
		case teredo.CodeAdminProhibited:
			return "destination unreachable (administratively prohibited)"
		case teredo.CodeBeyondScope:
			return "destination unreachable (beyond scope)"
		case teredo.CodeAddrUnreachable:
			return "destination unreachable (address unreachable)"
		case teredo.CodePortUnreachable:
			return "destination unreachable (port unreachable)"
		}
		return fmt.Sprintf("destination unreachable (code %d)", code)
	case teredo.ICMPv6PacketTooBig:
		return "packet too big"
	case teredo.ICMPv6TimeExceeded:
		return fmt.Sprintf("time exceeded (code %d)", code)
	case teredo.ICMPv6ParamProblem:
		return fmt.Sprintf("parameter problem (code %d)", code)
	}
	return fmt.Sprintf("ICMPv6 type %d code %d", typ, code)
}

// describe is a one-line account of a received datagram for the trace.
func describe(d *datagram) string {
	if d.err != nil {
		return fmt.Sprintf("%d bytes, undecodable: %v", len(d.raw), d.err)
	}
	p := &d.pkt
	var s string
	if p.HasAuth {
		s += fmt.Sprintf("[auth nonce %s conf %d] ", hex.EncodeToString(p.Auth.Nonce[:]), p.Auth.Confirm)
	}
	if p.HasOrigin {
		s += fmt.Sprintf("[origin %v] ", p.Origin)
	}
	ip := p.IPv6
	src, dst := netip.AddrFrom16(teredo.Src(ip)), netip.AddrFrom16(teredo.Dst(ip))
	switch {
	case p.IsBubble():
		s += "bubble"
	case teredo.NextHeader(ip) == teredo.ProtoICMPv6 && len(ip) < teredo.IPv6HeaderLen+2:
		// A peer may send any length through the server: type and code
		// need two bytes.
		s += fmt.Sprintf("ICMPv6 with %d byte(s) of header", len(ip)-teredo.IPv6HeaderLen)
	case teredo.NextHeader(ip) == teredo.ProtoICMPv6:
		switch t := ip[teredo.IPv6HeaderLen]; t {
		case teredo.ICMPv6RouterAdvert:
			s += "router advertisement"
		case teredo.ICMPv6RouterSolicit:
			s += "router solicitation"
		case teredo.ICMPv6EchoRequest, teredo.ICMPv6EchoReply:
			if e, err := parseEcho(ip, false); err == nil {
				name := "echo request"
				if t == teredo.ICMPv6EchoReply {
					name = "echo reply"
				}
				s += fmt.Sprintf("%s id %#04x seq %d", name, e.ID, e.Seq)
			} else {
				s += "short echo"
			}
		default:
			s += icmpErrorName(t, ip[teredo.IPv6HeaderLen+1])
		}
	default:
		s += fmt.Sprintf("IPv6 next header %d, %d bytes", teredo.NextHeader(ip), len(ip))
	}
	s += fmt.Sprintf(" %v -> %v", src, dst)
	if len(p.Trailer) > 0 {
		s += fmt.Sprintf(" (+%d trailer bytes)", len(p.Trailer))
	}
	return s
}
