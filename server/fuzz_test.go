package server

import (
	"net/netip"
	"testing"

	"github.com/teredorelay/teredorelay/teredo"
)

// FuzzHandle feeds arbitrary UDP payloads (from the capture's sources and an
// arbitrary one) through both paths, with the relay sharing the primary, and
// checks: no panic, the output stays in the buffer, every datagram is
// accounted for exactly once, a ToIPv4 output is a valid IPv4/UDP datagram
// from a server address:3544 to a global unicast destination that is not
// ours, and a ToIPv6 output is a well-formed IPv6 packet.
func FuzzHandle(f *testing.F) {
	for _, c := range fastCases() {
		f.Add(c.pkt[28:], uint16(46240), uint8(0))
	}
	for _, c := range dropCases() {
		if len(c.pkt) > 28 {
			f.Add(c.pkt[28:], uint16(3544), uint8(1))
		}
	}
	f.Add(unhexMust(t9RS), uint16(46240), uint8(0))
	f.Add(unhexMust(t11Bubble), uint16(3544), uint8(2))
	f.Fuzz(func(t *testing.T, payload []byte, port uint16, pick uint8) {
		if len(payload) > 1400 {
			return
		}
		froms := []netip.AddrPort{natAP, relayAP, netip.AddrPortFrom(netip.MustParseAddr("203.0.113.9"), port), primaryAP()}
		from := froms[int(pick)%len(froms)]
		to := []netip.AddrPort{primaryAP(), secondaryAP()}[int(pick>>4)%2]
		h := newHarness(t, func(c *Config) { c.RelayAddr = serverIP; c.RateTableSize = 64 })

		pkt := ipv4udp(from, to, payload)
		buf, off := frame(pkt)
		v, o, n := h.h.Handle(buf, off, len(pkt))
		checkOutput(t, h, v, buf, o, n, true)

		dbuf := make([]byte, 2048)
		copy(dbuf[64:], payload)
		r := h.h.HandleDatagram(to.Addr(), from, dbuf, 64, len(payload))
		checkOutput(t, h, r.Verdict, dbuf, r.Off, r.Len, false)
		if r.Verdict == ToIPv4 && (h.s.addrIndex(r.Src.Addr().As4()) < 0 || r.Src.Port() != teredo.Port) {
			t.Fatalf("datagram path sends from %v", r.Src)
		}

		c := h.s.Counters()
		if c.Packets != 2 || c.TotalRASent()+c.TotalForwarded()+c.RelayHandoffs+c.TotalDrops() != 2 {
			t.Fatalf("accounting: %v", countersDelta(Counters{}, c))
		}
	})
}

func checkOutput(t *testing.T, h *harness, v Verdict, buf []byte, o, n int, frame bool) {
	t.Helper()
	if v == Drop || v == Relay {
		return
	}
	if o < 0 || n < 0 || o+n > len(buf) {
		t.Fatalf("%v output %d+%d outside %d bytes", v, o, n, len(buf))
	}
	out := buf[o : o+n]
	switch v {
	case ToIPv6:
		if n < 40 || out[0]>>4 != 6 || 40+teredo.PayloadLen(out) != n || teredo.IsTeredo(teredo.DstPtr(out)) {
			t.Fatalf("bad IPv6 output % x", out)
		}
	case ToIPv4:
		payload := out
		if frame {
			src, dst, p := outer(t, out)
			if h.s.addrIndex(src.Addr().As4()) < 0 || src.Port() != teredo.Port {
				t.Fatalf("sent from %v", src)
			}
			if !teredo.IsGlobalUnicast(dst.Addr()) || h.s.isSelf(dst.Addr().As4()) || dst.Port() == 0 {
				t.Fatalf("sent to %v", dst)
			}
			payload = p
		}
		var pkt teredo.Packet
		if err := pkt.Decode(payload); err != nil {
			t.Fatalf("output payload does not decode: %v", err)
		}
	}
}
