package server

import (
	"net/netip"

	"github.com/teredorelay/teredorelay/teredo"
)

// Handler runs the server's per-datagram logic for one goroutine (one RX
// queue, or one kernel socket reader). It owns its parser state, counters
// and rate-limit table; it never allocates, logs or locks. Not safe for
// concurrent use.
type Handler struct {
	s     *Server
	c     handlerCounters
	pkt   teredo.Packet
	ip4   teredo.IPv4Header
	udp   teredo.UDPHeader
	limit sourceLimiter
	ipID  uint16
}

// Result is the outcome of HandleDatagram.
type Result struct {
	Verdict Verdict
	// Off and Len locate the output in the buffer: on ToIPv4 the UDP
	// payload to send, on ToIPv6 the IPv6 packet. On Relay they are the
	// input payload unchanged; on Drop they are zero.
	Off, Len int
	// Src is the server address and port to send from (ToIPv4): the
	// address the datagram arrived on, the other one for a cone RS, the
	// primary for forwarded packets.
	Src netip.AddrPort
	// Dst is where to send (ToIPv4): the client's observed address for an
	// RA, the destination's mapped address for a forwarded packet.
	Dst netip.AddrPort
}

// outcome is what the UDP-payload stage decided.
type outcome struct {
	v      Verdict
	off, n int // output location: UDP payload (ToIPv4) or IPv6 packet (ToIPv6)
	src    int // index of the server address to send from (ToIPv4)
	dst    netip.AddrPort
}

func (h *Handler) drop(r DropReason) outcome {
	bump(&h.c.drops[r])
	return outcome{}
}

// Handle processes an IPv4 packet received by the data plane (AF_XDP frame
// path): buf is the whole frame and the packet is buf[off:off+n], starting
// with its IPv4 header. The output is written in place:
//
//   - ToIPv4: buf[newOff:newOff+newLen] is a complete IPv4/UDP datagram (IPv4
//     header with checksum, UDP checksum 0, DF clear) from the chosen server
//     address:3544. An RA is built where the RS was (it is 56 bytes longer,
//     so 117+ID-len bytes after the UDP header must fit in buf); a
//     forwarded packet keeps its IPv6 bytes in place and gets 28 bytes of
//     IPv4/UDP, plus 8 bytes of origin indication, in front: off must leave
//     at least 8 bytes of headroom.
//   - ToIPv6: buf[newOff:newOff+newLen] is the IPv6 packet (hop limit
//     decremented, RFC 6081 trailers cut off).
//   - Relay: nothing was changed; give buf[off:off+n] to the relay's Decap.
//   - Drop: one drop reason was counted.
func (h *Handler) Handle(buf []byte, off, n int) (v Verdict, newOff, newLen int) {
	c := &h.c
	bump(&c.packets)
	bumpN(&c.bytes, n)
	if off < 0 || n < 0 || off > len(buf)-n {
		h.drop(DropIPv4Malformed)
		return Drop, 0, 0
	}
	b := buf[off : off+n]
	if err := h.ip4.Decode(b); err != nil {
		switch err {
		case teredo.ErrFragment:
			h.drop(DropIPv4Fragment)
		case teredo.ErrChecksum:
			h.drop(DropIPv4Checksum)
		default:
			h.drop(DropIPv4Malformed)
		}
		return Drop, 0, 0
	}
	if h.ip4.Protocol != teredo.ProtoUDP {
		h.drop(DropNotUDP)
		return Drop, 0, 0
	}
	local := h.s.addrIndex(h.ip4.Dst)
	if local < 0 {
		h.drop(DropWrongDestination)
		return Drop, 0, 0
	}
	hl := h.ip4.HeaderLen
	if err := h.udp.Decode(b[hl:h.ip4.TotalLen]); err != nil {
		h.drop(DropUDPMalformed)
		return Drop, 0, 0
	}
	if h.udp.DstPort != teredo.Port {
		h.drop(DropWrongDestination)
		return Drop, 0, 0
	}
	from := netip.AddrPortFrom(netip.AddrFrom4(h.ip4.Src), h.udp.SrcPort)
	payOff := off + hl + teredo.UDPHeaderLen
	o := h.process(buf, payOff, h.udp.Length-teredo.UDPHeaderLen, local, from, teredo.EncapLen, false)
	switch o.v {
	case ToIPv4:
		start := o.off - teredo.EncapLen
		teredo.PutIPv4UDP(buf[start:o.off], h.s.addrPorts[o.src], o.dst, o.n, h.ipID, h.s.cfg.TTL)
		h.ipID++
		return ToIPv4, start, o.n + teredo.EncapLen
	case ToIPv6:
		return ToIPv6, o.off, o.n
	case Relay:
		return Relay, off, n
	}
	return Drop, 0, 0
}

// HandleDatagram processes a UDP payload received by a kernel socket bound to
// local:3544 (local is the primary or the secondary address) from from:
// datagrams the kernel reassembled from fragments, and datagrams sent by
// processes on this host (a relay running here with its own address). The
// payload is buf[off:off+n]; off must leave 8 bytes of headroom for an
// origin indication and buf must extend 117+ID-len bytes past off for an RA.
// The result is written in place; see Result. A datagram from the
// co-located relay's own address and port (Config.RelayAddr:3544), which
// only this host can send, passes the loop guard.
func (h *Handler) HandleDatagram(local netip.Addr, from netip.AddrPort, buf []byte, off, n int) Result {
	c := &h.c
	bump(&c.packets)
	bumpN(&c.bytes, n)
	if off < 0 || n < 0 || off > len(buf)-n {
		h.drop(DropNoHeadroom) // caller bug: the payload is not inside buf
		return Result{}
	}
	idx := -1
	if local.Is4() || local.Is4In6() {
		idx = h.s.addrIndex(local.Unmap().As4())
	}
	if idx < 0 || !(from.Addr().Is4() || from.Addr().Is4In6()) {
		h.drop(DropWrongDestination)
		return Result{}
	}
	from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
	o := h.process(buf, off, n, idx, from, 0, true)
	switch o.v {
	case ToIPv4:
		return Result{Verdict: ToIPv4, Off: o.off, Len: o.n, Src: h.s.addrPorts[o.src], Dst: o.dst}
	case ToIPv6:
		return Result{Verdict: ToIPv6, Off: o.off, Len: o.n}
	case Relay:
		return Result{Verdict: Relay, Off: off, Len: n}
	}
	return Result{}
}

// process applies RFC 4380 §5.3.1 and §5.3.2 to the UDP payload
// buf[off:off+n] that arrived on server address local from from. head is how
// many bytes the caller will still prepend to a ToIPv4 output (28 on the
// frame path). hostLocal says the datagram came through a kernel socket (only
// this host can send from our own addresses there).
func (h *Handler) process(buf []byte, off, n, local int, from netip.AddrPort, head int, hostLocal bool) outcome {
	s := h.s
	c := &h.c
	p := &h.pkt
	// Rule 1: a well-formed Teredo IPv6 packet.
	if err := p.Decode(buf[off : off+n]); err != nil {
		switch err {
		case teredo.ErrBadVersion, teredo.ErrLength:
			return h.drop(DropIPv6Malformed)
		}
		return h.drop(DropTeredoMalformed)
	}
	if len(p.Trailer) != 0 && teredo.CheckTrailers(p.Trailer) != nil {
		return h.drop(DropTrailerDiscard)
	}
	if p.HasOrigin {
		return h.drop(DropOriginIndication)
	}
	ip := p.IPv6
	bubble := teredo.IsBubble(ip)
	icmp := ip[6] == teredo.ProtoICMPv6
	shared := s.relayAt == local
	if icmp && len(ip) < teredo.IPv6HeaderLen+4 {
		return h.drop(DropICMPv6Truncated) // nothing to forward or answer
	}
	// Rule 2: only bubbles and ICMPv6, unless the relay shares this address.
	if !bubble && !icmp {
		if shared {
			return h.handoff()
		}
		return h.drop(DropNotBubbleOrICMPv6)
	}
	// Rule 3: global unicast IPv4 source; then Miredo's loop guard.
	src4 := from.Addr().As4()
	if !s.bogons.GlobalUnicast4(src4) {
		return h.drop(DropSrcNotGlobal)
	}
	if from.Port() == teredo.Port && s.addrIndex(src4) >= 0 &&
		!(hostLocal && s.relayAt >= 0 && src4 == s.relay4 && bubble) {
		return h.drop(DropLoop)
	}
	src, dst := teredo.SrcPtr(ip), teredo.DstPtr(ip)
	// Rule 4: Router Solicitation from a link-local source to ff02::2.
	if icmp && *dst == s.allRouter && teredo.IsLinkLocal(src) && len(ip) > teredo.IPv6HeaderLen &&
		ip[teredo.IPv6HeaderLen] == teredo.ICMPv6RouterSolicit {
		if !teredo.IsRS(ip) {
			return h.drop(DropRSInvalid)
		}
		bump(&c.rsReceived)
		return h.answerRS(buf, off, local, from, head)
	}
	if p.HasAuth {
		return h.drop(DropAuthHeader)
	}
	srcTeredo, dstTeredo := teredo.IsTeredo(src), teredo.IsTeredo(dst)
	if srcTeredo {
		// Rule 5: the embedded mapping must be the outer source.
		if !teredo.MatchesSource(src, from) {
			return h.drop(DropMappingMismatch)
		}
	} else if !dstTeredo || !s.ownsTeredo(dst) {
		// Rules 6 and 7: a third party may only reach our clients.
		return h.drop(DropDstNotOurClient)
	}
	// Destination processing.
	if *dst == s.allRouter || *dst == s.linkLocal {
		return h.drop(DropLocalNotRS)
	}
	if !bubble && teredo.PayloadLen(ip) > s.cfg.ICMPv6PayloadMax {
		if shared && !dstTeredo {
			return h.handoff()
		}
		return h.drop(DropICMPv6TooBig)
	}
	if dstTeredo {
		return h.forwardTeredo(buf, off, from, head, bubble)
	}
	// A Teredo client's packet to a native destination.
	if bubble {
		if shared {
			return h.handoff() // e.g. the answer to the relay's bubble cookie
		}
		return h.drop(DropBubbleToNative)
	}
	if teredo.IsMulticast(dst) {
		return h.drop(DropDstMulticast)
	}
	if !teredo.IsRoutable(dst) {
		return h.drop(DropDstNotGlobal)
	}
	if ip[7] <= 1 {
		return h.drop(DropHopLimit)
	}
	if !h.limit.allow(src4, s.cfg.Now()) {
		return h.drop(DropRateLimited)
	}
	ip[7]--
	bump(&c.forwarded[ForwardICMPv6ToNative])
	bumpN(&c.forwardedBytes, len(ip))
	return outcome{v: ToIPv6, off: off + p.Offset, n: len(ip)}
}

func (h *Handler) handoff() outcome {
	bump(&h.c.relayHandoffs)
	return outcome{v: Relay}
}

// answerRS builds the RA in place of the RS (RFC 4380 §5.3.2): the UDP
// payload becomes [authentication] origin indication RA, where the
// authentication indicator, when the RS had one, echoes the client
// identifier and nonce with no authentication value and confirmation 0
// (secure qualification is not offered). The RA goes to the RS's outer
// source, from the other server address when the RS source has the cone bit.
func (h *Handler) answerRS(buf []byte, off, local int, from netip.AddrPort, head int) outcome {
	s := h.s
	p := &h.pkt
	if !h.limit.allow(from.Addr().As4(), s.cfg.Now()) {
		return h.drop(DropRateLimited)
	}
	if off < head {
		return h.drop(DropNoHeadroom)
	}
	rsSrc := teredo.Src(p.IPv6)
	cone := rsSrc[8]&0x80 != 0 // flags field, FlagCone
	authLen := 0
	if p.HasAuth {
		authLen = teredo.AuthMinLen + len(p.Auth.ClientID)
	}
	total := authLen + teredo.OriginLen + teredo.RALen
	if off+total > len(buf) {
		return h.drop(DropNoTailroom)
	}
	if p.HasAuth {
		// The indicator stays where it is: type and ID-len are unchanged and
		// the client identifier is already in place; the nonce moves over
		// the (dropped) authentication value.
		a := buf[off : off+authLen]
		a[3] = 0
		id := len(p.Auth.ClientID)
		nonce := p.Auth.Nonce
		copy(a[4+id:], nonce[:])
		a[12+id] = 0
	}
	teredo.PutOrigin(buf[off+authLen:], from)
	teredo.PutRA(buf[off+authLen+teredo.OriginLen:], s.cfg.Primary, netip.AddrFrom16(rsSrc), s.cfg.MTU)
	o := outcome{v: ToIPv4, off: off, n: total, src: local, dst: from}
	kind := RASameAddress
	if cone {
		o.src, kind = 1-local, RAOtherAddress
	}
	bump(&h.c.raSent[kind])
	return o
}

// forwardTeredo encapsulates a bubble or ICMPv6 packet to the mapping of its
// Teredo destination (RFC 4380 §5.3.1), with an origin indication holding
// from when the destination is a client of this server. The IPv6 packet and
// any RFC 6081 trailers (which peers' bubbles may carry) stay in place.
func (h *Handler) forwardTeredo(buf []byte, off int, from netip.AddrPort, head int, bubble bool) outcome {
	s := h.s
	c := &h.c
	p := &h.pkt
	dst := teredo.DstPtr(p.IPv6)
	mapped := [4]byte{^dst[12], ^dst[13], ^dst[14], ^dst[15]}
	port := ^(uint16(dst[10])<<8 | uint16(dst[11]))
	if port == 0 || !s.bogons.GlobalUnicast4(mapped) {
		return h.drop(DropDstMappedBogon)
	}
	if s.isSelf(mapped) {
		return h.drop(DropDstSelf)
	}
	if !h.limit.allow(from.Addr().As4(), s.cfg.Now()) {
		return h.drop(DropRateLimited)
	}
	ipOff := off + p.Offset
	n := len(p.IPv6) + len(p.Trailer)
	start := ipOff
	origin := s.ownsTeredo(dst)
	if origin {
		start -= teredo.OriginLen
	}
	if start < head {
		return h.drop(DropNoHeadroom)
	}
	kind := ForwardICMPv6ToTeredo
	if bubble {
		kind = ForwardBubble
	}
	bump(&c.forwarded[kind])
	bumpN(&c.forwardedBytes, len(p.IPv6))
	if origin {
		teredo.PutOrigin(buf[start:ipOff], from)
		bump(&c.originAdded)
	}
	return outcome{v: ToIPv4, off: start, n: ipOff + n - start, src: primary,
		dst: netip.AddrPortFrom(netip.AddrFrom4(mapped), port)}
}
