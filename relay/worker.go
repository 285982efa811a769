package relay

import (
	"encoding/binary"
	"net/netip"

	"github.com/teredorelay/teredorelay/cache"
	"github.com/teredorelay/teredorelay/teredo"
)

// Worker runs the fast path for one RX queue. It owns its parser state and
// counters; it never allocates, logs or takes a lock of its own. Peer
// lookups are lock-free; only a packet for a peer under verification reads
// that peer under its cache shard's mutex (queuedFor). A Worker is not safe
// for concurrent use.
type Worker struct {
	e      *Engine
	c      pathCounters      // the worker's own, plain adds
	pub    publishedCounters // c as of the last publish, for Counters
	pkt    teredo.Packet
	ip4    teredo.IPv4Header
	udp    teredo.UDPHeader
	cookie *cookie
	ipID   uint16

	// The current batch (batch.go).
	batch    *cache.Batch
	inBatch  bool
	cursor   int   // next prepared slot to consider
	txSlot   int   // slot of the last lookupTx, -1 when it had none
	batchNow int64 // the clock, read once per batch
}

// publish makes the worker's counters visible to Counters: once per batch
// (EndBatch), or after every packet outside a batch.
func (w *Worker) publish() { w.pub.publish(&w.c) }

// drop counts r and returns the Drop verdict.
func (w *Worker) drop(r DropReason) (Verdict, int, int) {
	w.c.drop(r)
	return Drop, 0, 0
}

// Decap handles an IPv4 packet from the IPv4 side (client → native, RFC 4380
// §5.4.2): buf is the whole frame, the packet is buf[off:off+n] and starts
// with the IPv4 header. On ToIPv6 the IPv6 packet is buf[newOff:newOff+newLen]
// (newOff = off + IPv4 header + UDP header + Teredo indicators; nothing is
// copied; RFC 6081 trailers and frame padding are cut off) with its hop limit
// decremented.
func (w *Worker) Decap(buf []byte, off, n int) (v Verdict, newOff, newLen int) {
	v, newOff, newLen = w.decap(buf, off, n)
	if !w.inBatch {
		w.publish()
	}
	return v, newOff, newLen
}

func (w *Worker) decap(buf []byte, off, n int) (v Verdict, newOff, newLen int) {
	c := &w.c
	pol := w.e.pol.Load()
	c.decapPackets++
	c.decapBytes += uint64(n)
	if off < 0 || n < 0 || off > len(buf)-n {
		return w.drop(DropIPv4Malformed)
	}
	b := buf[off : off+n]
	if err := w.ip4.Decode(b); err != nil {
		switch err {
		case teredo.ErrFragment:
			return w.drop(DropIPv4Fragment)
		case teredo.ErrChecksum:
			return w.drop(DropIPv4Checksum)
		}
		return w.drop(DropIPv4Malformed)
	}
	if w.ip4.Protocol != teredo.ProtoUDP {
		return w.drop(DropNotUDP)
	}
	if !w.e.isRelayAddr(pol, w.ip4.Dst) {
		return w.drop(DropWrongDestination)
	}
	hl := w.ip4.HeaderLen
	dgram := b[hl:w.ip4.TotalLen]
	if err := w.udp.Decode(dgram); err != nil {
		return w.drop(DropUDPMalformed)
	}
	if w.udp.DstPort != w.e.cfg.Port {
		return w.drop(DropWrongDestination)
	}
	dgram = dgram[:w.udp.Length]
	if w.udp.Checksum != 0 && pol.cfg.VerifyUDPChecksum &&
		teredo.UDPChecksum(w.ip4.Src, w.ip4.Dst, dgram) != 0 {
		return w.drop(DropUDPChecksum)
	}
	from := netip.AddrPortFrom(netip.AddrFrom4(w.ip4.Src), w.udp.SrcPort)
	v, newOff, newLen = w.decapPayload(pol, buf, off+hl+teredo.UDPHeaderLen, w.udp.Length-teredo.UDPHeaderLen, from)
	if v == ToIPv6 {
		c.decapForwarded++
		c.decapForwardedBytes += uint64(newLen)
	}
	return v, newOff, newLen
}

// decapPayload applies the Teredo reception rules of policy pol to the UDP
// payload at buf[off:off+n] received from from. On ToIPv6 the packet is at
// buf[newOff:newOff+newLen]; forwarding counters are left to the caller.
func (w *Worker) decapPayload(pol *policy, buf []byte, off, n int, from netip.AddrPort) (Verdict, int, int) {
	c := &w.c
	e := w.e
	p := &w.pkt
	if err := p.Decode(buf[off : off+n]); err != nil {
		switch err {
		case teredo.ErrBadVersion, teredo.ErrLength:
			return w.drop(DropIPv6Malformed)
		}
		return w.drop(DropTeredoMalformed)
	}
	if p.HasAuth {
		return w.drop(DropAuthHeader)
	}
	if p.HasOrigin {
		return w.drop(DropOriginIndication)
	}
	if len(p.Trailer) != 0 && teredo.CheckTrailers(p.Trailer) != nil {
		return w.drop(DropTrailerDiscard)
	}
	ip := p.IPv6
	src, dst := teredo.SrcPtr(ip), teredo.DstPtr(ip)
	if !teredo.IsTeredo(src) {
		return w.drop(DropSrcNotTeredo)
	}
	mismatch := !teredo.MatchesSource(src, from)
	if mismatch && pol.cfg.StrictMapping {
		return w.drop(DropMappingMismatch)
	}
	if teredo.IsBubble(ip) {
		// Bubbles are consumed here: never forwarded, never answered with
		// an ICMPv6 error (vector T13), never a reason to create state.
		now := w.now()
		rx := w.observeRx(src, from, len(ip), now)
		switch rx {
		case cache.RxTrusted:
			c.bubblesReceived++
			return Drop, 0, 0
		case cache.RxUnknown:
			return w.drop(DropUnknownPeer)
		}
		if !w.mappingAllowed(pol, from) {
			return w.drop(DropSrcMappingInvalid)
		}
		if mismatch {
			// From a mapping other than the one in the address (a
			// symmetric NAT): only a bubble to a fresh cookie counts, and
			// only while the peer is being verified, pending or trusted
			// and bubbled again after idle. A trusted peer in use is never
			// re-pointed this way.
			if !w.cookie.matches(src, dst, e.epoch(now)) {
				return w.drop(DropBadCookie)
			}
			if rx == cache.RxMappingChanged && !e.reverifying(src) {
				return w.drop(DropMappingMismatch)
			}
		}
		if !w.clientAllowed(pol, from, now) {
			return w.drop(DropClientRateLimited)
		}
		c.bubblesReceived++
		if w.notify(evTrust, src, from) {
			return SlowPath, 0, 0
		}
		return Drop, 0, 0
	}
	switch {
	case teredo.IsMulticast(dst):
		return w.drop(DropDstMulticast)
	case teredo.IsTeredo(dst):
		return w.drop(DropDstTeredoLoop)
	case !teredo.IsRoutable(dst):
		return w.drop(DropDstNotServed)
	case hasRoutingHeader0(ip):
		return w.drop(DropRoutingHeader0)
	}
	now := w.now()
	rx := w.observeRx(src, from, len(ip), now)
	if rx != cache.RxTrusted && !w.mappingAllowed(pol, from) {
		// Whatever comes next (trust, learn, an ICMPv6 error) would send
		// to from: never to a mapping the relay must not send to.
		return w.drop(DropSrcMappingInvalid)
	}
	switch rx {
	case cache.RxTrusted:
	case cache.RxTrustedQueued:
		// Trusted at exactly this mapping, with packets queued while its
		// trust was stale: the slow path releases them.
		w.limitedNotify(pol, evTrust, src, from, now)
	case cache.RxUnknown:
		if mismatch {
			return w.drop(DropMappingMismatch)
		}
		if !pol.cfg.AcceptUnknownPeers {
			return w.drop(DropUnknownPeer)
		}
		w.limitedNotify(pol, evLearn, src, from, now)
	default: // RxPending, RxMappingChanged
		if mismatch {
			return w.drop(DropMappingMismatch)
		}
		w.limitedNotify(pol, evTrust, src, from, now)
	}
	hop := ip[7]
	if hop <= 1 {
		if !w.clientAllowed(pol, from, now) {
			return w.drop(DropClientRateLimited)
		}
		return w.icmpHandoff(pol, icmpTimeExceeded, src, false, from, ip[:min(len(ip), quoteMax)], now)
	}
	ip[7] = hop - 1
	return ToIPv6, off + p.Offset, len(ip)
}

// mappingAllowed reports whether from may become a peer's mapping, the
// address the relay then sends to (RFC 4380 §5.4.1: global unicast): not in
// the RFC 4380 §5.2.4 list or ExtraBogons, not one of the relay's own
// addresses nor the co-located server's, and not port 0. Checked before any
// trust, learn or hand-off the packet could cause; a peer already trusted
// at from was checked when it was trusted.
func (w *Worker) mappingAllowed(pol *policy, from netip.AddrPort) bool {
	a := from.Addr().As4()
	return from.Port() != 0 && pol.bogons.GlobalUnicast4(a) && !w.e.isRelayAddr(pol, a) && a != w.e.localServer
}

// reverifying reports whether the trusted peer k is being verified again
// with bubbles (its trust went stale): bubbles were sent to it and nothing
// came from its mapping since.
func (e *Engine) reverifying(k *[16]byte) bool {
	p, ok := e.peers.Get(k)
	return ok && p.State == cache.Trusted && p.Bubbles > 0 && p.FirstBubble >= p.LastRx
}

// hasRoutingHeader0 reports whether the IPv6 packet ip (at least 40 bytes)
// carries a type 0 routing header (RFC 5095: deprecated, a traffic
// amplifier), directly after the fixed header or after hop-by-hop and
// destination options headers. For a packet without extension headers this
// is one switch on the next header, inlined.
func hasRoutingHeader0(ip []byte) bool {
	switch ip[6] {
	case teredo.ProtoRouting, teredo.ProtoHopByHop, teredo.ProtoDestOpts:
		return routingHeader0InChain(ip, ip[6])
	}
	return false
}

// maxOptionHeaders bounds the option headers walked before a routing header.
const maxOptionHeaders = 4

// routingHeader0InChain walks the extension headers of ip from the first,
// of type nh. A chain truncated before the routing type is not judged here
// (the destination sees a malformed packet either way). Not inlined, so
// that hasRoutingHeader0 is.
//
//go:noinline
func routingHeader0InChain(ip []byte, nh uint8) bool {
	off := teredo.IPv6HeaderLen
	for range maxOptionHeaders {
		if nh != teredo.ProtoHopByHop && nh != teredo.ProtoDestOpts {
			break
		}
		if off+2 > len(ip) {
			return false
		}
		nh = ip[off]
		off += (int(ip[off+1]) + 1) * 8
	}
	// Routing header: next header, length, routing type, segments left.
	return nh == teredo.ProtoRouting && off+3 <= len(ip) && ip[off+2] == 0
}

// clientAllowed takes a token from the client's slow-path budget
// (Config.ClientSlowPathRate).
func (w *Worker) clientAllowed(pol *policy, from netip.AddrPort, now int64) bool {
	a := from.Addr().As4()
	return w.e.clientLimit.allow(pol.client, uint64(binary.BigEndian.Uint32(a[:])), now)
}

// limitedNotify posts a notice about a packet that is forwarded anyway,
// within the client's slow-path budget.
func (w *Worker) limitedNotify(pol *policy, kind eventKind, key *[16]byte, from netip.AddrPort, now int64) {
	if !w.clientAllowed(pol, from, now) {
		w.c.slowPathNoticesLimited++
		return
	}
	w.notify(kind, key, from)
}

// notify posts a packet-less event (trust, learn) to the slow path.
func (w *Worker) notify(kind eventKind, key *[16]byte, from netip.AddrPort) bool {
	if w.e.q.notify(kind, key, from) {
		w.c.slowPathNotices++
		return true
	}
	w.c.slowPathNoticesLost++
	return false
}

// icmpError describes one ICMPv6 error a hand-off asks the slow path for.
type icmpError struct {
	ev     eventKind
	kind   ICMPv6Kind
	reason DropReason // the packet's drop reason, the error sent or not
	typ    uint8
	code   uint8
}

var (
	icmpTimeExceeded = icmpError{evTimeExceeded, ICMPv6TimeExceeded, DropHopLimit, teredo.ICMPv6TimeExceeded, teredo.CodeHopLimitExceeded}
	icmpTooBig       = icmpError{evTooBig, ICMPv6PacketTooBig, DropPacketTooBig, teredo.ICMPv6PacketTooBig, 0}
)

// icmpHandoff hands quote to the slow path to be answered with the ICMPv6
// error ie, after everything that could refuse the error has been asked,
// in the worker: the error is allowed at all (DisableICMPv6Errors, RFC 4443
// §2.4 (e)), the destination's hand-off budget (perDest, for native
// packets, keyed by key), and a token of the ICMPv6 rate limit. A refused
// packet is dropped under ie.reason with its error counted as suppressed,
// as the slow path would count it, without costing a slot.
func (w *Worker) icmpHandoff(pol *policy, ie icmpError, key *[16]byte, perDest bool, from netip.AddrPort, quote []byte, now int64) (Verdict, int, int) {
	e := w.e
	if pol.cfg.DisableICMPv6Errors || teredo.ICMPv6ErrorEligible(ie.typ, ie.code, quote) != nil ||
		perDest && !e.destHandoffs.allow16(pol.destHandoff, key, now) {
		return w.suppress(ie)
	}
	if !pol.icmp.take(&e.icmpCap, now, 1) {
		if perDest {
			e.destHandoffs.refund16(pol.destHandoff, key, now)
		}
		return w.suppress(ie)
	}
	if !e.q.post(ie.ev, key, from, quote) {
		pol.icmp.refund(&e.icmpCap, now)
		if perDest {
			e.destHandoffs.refund16(pol.destHandoff, key, now)
		}
		return w.drop(DropSlowPathQueue)
	}
	w.c.slowPathHandoffs++
	return SlowPath, 0, 0
}

// suppress drops a packet whose ICMPv6 error is not sent.
func (w *Worker) suppress(ie icmpError) (Verdict, int, int) {
	w.c.suppressed(ie.kind)
	return w.drop(ie.reason)
}

// handoff copies pkt to the slow path and returns SlowPath, or counts a
// slow-path queue drop.
func (w *Worker) handoff(kind eventKind, key *[16]byte, from netip.AddrPort, pkt []byte) (Verdict, int, int) {
	if !w.e.q.post(kind, key, from, pkt) {
		return w.drop(DropSlowPathQueue)
	}
	w.c.slowPathHandoffs++
	return SlowPath, 0, 0
}

// Encap handles an IPv6 packet from the native side (native → client, RFC
// 4380 §5.4.1): buf is the whole frame, the packet is buf[off:off+n] and at
// least 28 bytes of headroom precede it. For a trusted, valid peer the
// IPv4 and UDP headers are written in place in buf[off-28:off] and the
// result is buf[newOff:newOff+newLen] (ToIPv4). Anything else is dropped or
// handed to the slow path.
func (w *Worker) Encap(buf []byte, off, n int) (v Verdict, newOff, newLen int) {
	v, newOff, newLen = w.encap(buf, off, n)
	if !w.inBatch {
		w.publish()
	}
	return v, newOff, newLen
}

func (w *Worker) encap(buf []byte, off, n int) (v Verdict, newOff, newLen int) {
	c := &w.c
	e := w.e
	pol := e.pol.Load()
	c.encapPackets++
	c.encapBytes += uint64(n)
	if off < 0 || n < 0 || off > len(buf)-n {
		return w.drop(DropIPv6Malformed)
	}
	if off < teredo.EncapLen {
		return w.drop(DropNoHeadroom)
	}
	ip := buf[off : off+n]
	if n < teredo.IPv6HeaderLen || ip[0]>>4 != 6 {
		return w.drop(DropIPv6Malformed)
	}
	l := teredo.IPv6HeaderLen + teredo.PayloadLen(ip)
	if l > n {
		return w.drop(DropIPv6Malformed)
	}
	ip = ip[:l] // frame padding is not part of the packet
	src, dst := teredo.SrcPtr(ip), teredo.DstPtr(ip)
	switch {
	case teredo.IsMulticast(dst):
		return w.drop(DropDstMulticast)
	case !teredo.IsTeredo(dst):
		return w.drop(DropDstNotTeredo)
	case teredo.IsTeredo(src):
		return w.drop(DropSrcTeredoLoop)
	case teredo.IsMulticast(src) || !teredo.IsRoutable(src):
		return w.drop(DropSrcInvalid)
	case hasRoutingHeader0(ip):
		return w.drop(DropRoutingHeader0)
	}
	// RFC 4380 §5.4.1: the mapped IPv4 MUST be global unicast; the server
	// IPv4 is checked too since indirect bubbles go there.
	mapped := [4]byte{^dst[12], ^dst[13], ^dst[14], ^dst[15]}
	if (dst[10] == 0xff && dst[11] == 0xff) || !pol.bogons.GlobalUnicast4(mapped) {
		return w.drop(DropDstMappedBogon)
	}
	if e.isRelayAddr(pol, mapped) {
		return w.drop(DropDstSelf)
	}
	server := [4]byte(dst[4:8])
	if !pol.bogons.GlobalUnicast4(server) {
		return w.drop(DropDstServerBogon)
	}
	// Indirect bubbles go to server:3544: never to ourselves (Miredo
	// MTFL-SA-0603), unless a server in this process owns that address.
	if e.isRelayAddr(pol, server) && server != e.localServer {
		return w.drop(DropDstSelf)
	}
	now := w.now()
	if l > e.cfg.MTU {
		return w.icmpHandoff(pol, icmpTooBig, dst, true, netip.AddrPort{}, ip[:quoteMax], now)
	}
	hop := ip[7]
	if hop <= 1 {
		return w.icmpHandoff(pol, icmpTimeExceeded, dst, true, netip.AddrPort{}, ip[:min(l, quoteMax)], now)
	}
	ip[7] = hop - 1
	if mapping, ok := w.lookupTx(dst, l, now); ok {
		outerSum := !pol.cfg.DisableEncapUDPChecksum
		s, completed := teredo.InnerChecksum(ip, outerSum)
		if completed {
			c.checksumsCompleted++
		}
		newOff = off - teredo.EncapLen
		if outerSum {
			teredo.PutIPv4UDPSum(buf[newOff:off], e.relayAP, mapping, l, w.ipID, e.cfg.TTL, s)
		} else {
			teredo.PutIPv4UDP(buf[newOff:off], e.relayAP, mapping, l, w.ipID, e.cfg.TTL)
		}
		w.ipID++
		c.encapForwarded++
		c.encapForwardedBytes += uint64(l + teredo.EncapLen)
		return ToIPv4, newOff, l + teredo.EncapLen
	}
	queued, known := w.queuedFor(dst)
	if !known {
		return w.handoffNewPeer(pol, dst, ip, now)
	}
	// A peer being verified (or verified again): the slow path queues the
	// packet. When the queue is already full it would drop it; so do we,
	// here. The destination's hand-off budget bounds what passes before
	// the slow path has queued the packets in flight.
	if queued+l > e.peers.PeerQueueBytes() {
		return w.drop(DropPeerQueueFull)
	}
	if !e.destHandoffs.allow16(pol.destHandoff, dst, now) {
		return w.drop(DropDestHandoffLimited)
	}
	w.completeChecksum(ip)
	if v, o, n := w.handoff(evEncap, dst, netip.AddrPort{}, ip); v == SlowPath {
		return v, o, n
	}
	e.destHandoffs.refund16(pol.destHandoff, dst, now)
	return Drop, 0, 0
}

// completeChecksum completes a partial inner checksum of a native packet the
// slow path will queue or send through a kernel socket (which computes the
// outer checksum, not the inner one).
func (w *Worker) completeChecksum(ip []byte) {
	if _, completed := teredo.InnerChecksum(ip, false); completed {
		w.c.checksumsCompleted++
	}
}

// handoffNewPeer hands the slow path a native packet for a destination
// without a cache entry, which starts a verification there. The source /64
// pays its new-peer token here, in the worker, so a spray of packets to
// random Teredo destinations from one /64 is dropped at line rate
// (new_peer_rate_limited) before it can take the slow-path slots that other
// sources need; the slow path does not charge the event again, and refunds
// the token when the destination turns out to be verified or under way by
// then.
func (w *Worker) handoffNewPeer(pol *policy, dst *[16]byte, ip []byte, now int64) (Verdict, int, int) {
	e := w.e
	src64 := binary.BigEndian.Uint64(ip[8:16])
	if !e.newPeers.allow(pol.newPeer, src64, now) {
		return w.drop(DropNewPeerRateLimited)
	}
	if !e.destHandoffs.allow16(pol.destHandoff, dst, now) {
		e.newPeers.refund(pol.newPeer, src64, now)
		return w.drop(DropDestHandoffLimited)
	}
	w.completeChecksum(ip)
	if !e.q.post(evEncapNew, dst, netip.AddrPort{}, ip) {
		e.newPeers.refund(pol.newPeer, src64, now)
		e.destHandoffs.refund16(pol.destHandoff, dst, now)
		return w.drop(DropSlowPathQueue)
	}
	w.c.slowPathHandoffs++
	return SlowPath, 0, 0
}
