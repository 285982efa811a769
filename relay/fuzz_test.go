package relay

import (
	"net/netip"
	"testing"

	"github.com/teredorelay/teredorelay/relay/relaytest"
	"github.com/teredorelay/teredorelay/teredo"
)

// fuzzCheck asserts the invariants of a fast-path result on any input: the
// returned window lies inside the frame, forwarded results have the right
// shape, and nothing was sent synchronously.
func fuzzCheck(t *testing.T, h *harness, buf []byte, v Verdict, off, n int, wantForward Verdict) {
	switch v {
	case Drop, SlowPath:
		if off != 0 || n != 0 {
			t.Fatalf("%v with window %d+%d", v, off, n)
		}
	case wantForward:
		if off < 0 || n < 40 || off+n > len(buf) {
			t.Fatalf("%v window %d+%d outside frame of %d", v, off, n, len(buf))
		}
		if v == ToIPv6 {
			// Exactly one IPv6 packet from a Teredo source to a served
			// destination (trailers and padding cut off).
			ip := buf[off : off+n]
			if ip[0]>>4 != 6 || n != teredo.IPv6HeaderLen+teredo.PayloadLen(ip) {
				t.Fatalf("to_ipv6 result is not one IPv6 packet (%d bytes): % x", n, ip[:8])
			}
			src, dst := teredo.SrcPtr(ip), teredo.DstPtr(ip)
			if !teredo.IsTeredo(src) || teredo.IsTeredo(dst) || teredo.IsMulticast(dst) || !teredo.IsRoutable(dst) ||
				teredo.IsBubble(ip) || teredo.HopLimit(ip) == 0 {
				t.Fatalf("to_ipv6 forwarded %v -> %v hop limit %d", netip.AddrFrom16(*src), netip.AddrFrom16(*dst), teredo.HopLimit(ip))
			}
		}
		if v == ToIPv4 {
			// A valid IPv4/UDP datagram from the relay to a global unicast
			// mapping, lengths matching the window.
			var ip4 teredo.IPv4Header
			var udp teredo.UDPHeader
			if err := ip4.Decode(buf[off : off+n]); err != nil || buf[off] != 0x45 || ip4.TotalLen != n {
				t.Fatalf("to_ipv4 result is not one IPv4 packet (%v): % x", err, buf[off:off+20])
			}
			if err := udp.Decode(buf[off+20 : off+n]); err != nil || udp.Length != n-20 || udp.SrcPort != relayAP.Port() {
				t.Fatalf("to_ipv4 UDP header %+v (%v)", udp, err)
			}
			if ip4.SrcAddr() != relayIPv4 || !teredo.IsGlobalUnicast(ip4.DstAddr()) || ip4.DstAddr() == relayIPv4 {
				t.Fatalf("to_ipv4 %v -> %v", ip4.SrcAddr(), ip4.DstAddr())
			}
			// The UDP checksum is there and verifies, unless the inner
			// TCP, UDP or ICMPv6 checksum it is derived from is wrong
			// (teredo.InnerChecksum).
			if valid, l4 := innerL4Check(buf[off+28 : off+n]); udp.Checksum == 0 || !outerUDPValid(buf[off:off+n]) && (valid || !l4) {
				t.Fatalf("to_ipv4 UDP checksum %#x does not verify", udp.Checksum)
			}
		}
	default:
		t.Fatalf("unexpected verdict %v", v)
	}
	if h.out.Len() != 0 {
		t.Fatal("fast path sent a packet")
	}
}

// FuzzDecap feeds arbitrary IPv4 packets to Decap (threat B1) with a trusted
// peer in the cache, then lets the slow path process whatever was queued.
func FuzzDecap(f *testing.F) {
	frames := pcapFrames(f, relayPcap)
	for _, fr := range frames {
		if len(fr) > 0 && fr[0]>>4 == 4 {
			f.Add(fr)
		}
	}
	f.Add(fromClient(relaytest.Echo(clientAddr, nativeHost, 1, 1, 1, nil)))
	f.Add(fromClient(relaytest.WithOrigin(serverAP, relaytest.Bubble(clientAddr, nativeHost))))
	nh, ext := extChain("hbh", "rh0")
	f.Add(fromClient(relaytest.IPv6(clientAddr, nativeHost, nh, 64, ext)))
	h := newHarness(f, nil)
	h.trustClient(clientMap)
	f.Fuzz(func(t *testing.T, pkt []byte) {
		buf, off := relaytest.Frame(pkt)
		v, o, n := h.w.Decap(buf, off, len(pkt))
		fuzzCheck(t, h, buf, v, o, n, ToIPv6)
		h.drain()
		h.out.Take()
	})
}

// FuzzEncap feeds arbitrary IPv6 packets to Encap (threat B2).
func FuzzEncap(f *testing.F) {
	frames := pcapFrames(f, relayPcap)
	for _, fr := range frames {
		if len(fr) > 0 && fr[0]>>4 == 6 {
			f.Add(fr)
		}
	}
	f.Add(relaytest.Echo(nativeHost, clientAddr, 1, 1, 1, nil))
	f.Add(relaytest.UDPPayload(nativeHost, clientAddr, 64, 1400))
	f.Add(relaytest.TCPSegment(nativeHost, clientAddr, 64, 100, true))
	nh, ext := extChain("dst", "rh0")
	f.Add(relaytest.IPv6(nativeHost, clientAddr, nh, 64, ext))
	h := newHarness(f, nil)
	h.trustClient(clientMap)
	f.Fuzz(func(t *testing.T, pkt []byte) {
		buf, off := relaytest.Frame(pkt)
		v, o, n := h.w.Encap(buf, off, len(pkt))
		fuzzCheck(t, h, buf, v, o, n, ToIPv4)
		if v == ToIPv4 && n != 40+(int(pkt[4])<<8|int(pkt[5]))+28 {
			t.Fatalf("encapsulated length %d for a %d-byte packet", n, len(pkt))
		}
		h.drain()
		h.out.Take()
	})
}
