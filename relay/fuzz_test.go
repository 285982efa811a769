package relay

import (
	"testing"

	"github.com/teredorelay/teredorelay/cache"
	"github.com/teredorelay/teredorelay/relay/relaytest"
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
		if v == ToIPv6 && buf[off]>>4 != 6 {
			t.Fatalf("to_ipv6 result is not IPv6: % x", buf[off:off+8])
		}
		if v == ToIPv4 && buf[off] != 0x45 {
			t.Fatalf("to_ipv4 result is not IPv4: % x", buf[off:off+8])
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
	h := newHarness(f, func(c *Config, _ *cache.Config) { c.AcceptSymmetricNAT = true })
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
