package dataplane

import (
	"bytes"
	"net/netip"
	"testing"

	"github.com/teredorelay/teredorelay/relay"
	"github.com/teredorelay/teredorelay/server"
	"github.com/teredorelay/teredorelay/teredo"
)

var (
	srvPrimary = netip.MustParseAddr("192.0.2.1")
	srvNAT     = netip.MustParseAddrPort("203.0.113.1:46240")
	srvClient  = teredo.Addr{Server: srvPrimary, Flags: 0, Mapped: srvNAT}.IP()
	srvRelay   = netip.MustParseAddrPort("198.51.100.1:3544")
	srvCookie  = netip.MustParseAddr("fe80::4439:a801:d529:32ad")
	srvNative  = netip.MustParseAddr("2001:db8:1::10")
)

// srvRelayRecorder is a Relay that records what reaches it.
type srvRelayRecorder struct {
	decaps, encaps [][]byte
}

func (r *srvRelayRecorder) Decap(buf []byte, off, n int) (relay.Verdict, int, int) {
	r.decaps = append(r.decaps, bytes.Clone(buf[off:off+n]))
	return relay.Drop, 0, 0
}

func (r *srvRelayRecorder) Encap(buf []byte, off, n int) (relay.Verdict, int, int) {
	r.encaps = append(r.encaps, bytes.Clone(buf[off:off+n]))
	return relay.Drop, 0, 0
}

// srvOutput records relay.Output calls.
type srvOutput struct {
	udp  []netip.AddrPort
	ipv6 int
}

func (o *srvOutput) SendUDP(dst netip.AddrPort, _ []byte) error {
	o.udp = append(o.udp, dst)
	return nil
}
func (o *srvOutput) SendIPv6([]byte) error { o.ipv6++; return nil }

func newTestServer(t testing.TB, relayAddr netip.Addr) *server.Server {
	t.Helper()
	s, err := server.New(server.Config{Primary: srvPrimary, RelayAddr: relayAddr})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func srvDatagram(src, dst netip.AddrPort, payload []byte) []byte {
	b := make([]byte, teredo.EncapLen+len(payload))
	teredo.PutIPv4UDP(b, src, dst, len(payload), 7, 64)
	copy(b[teredo.EncapLen:], payload)
	return b
}

func srvRS() []byte {
	a := &teredo.Auth{Nonce: [8]byte{1, 2, 3}}
	b := make([]byte, a.Len()+teredo.RSLen)
	teredo.PutAuth(b, a)
	teredo.PutRS(b[a.Len():], teredo.ClientLinkLocal(true))
	return b
}

func srvFrame(pkt []byte) ([]byte, int) {
	buf := make([]byte, frameSize)
	off := rxOffset + 14
	copy(buf[off:], pkt)
	return buf, off
}

func TestServerPathDispatch(t *testing.T) {
	primary := netip.AddrPortFrom(srvPrimary, teredo.Port)
	data := make([]byte, 60)
	data[0], data[6], data[7] = 0x60, 17, 64
	data[5] = 20
	c, n := srvClient.As16(), srvNative.As16()
	copy(data[8:24], c[:])
	copy(data[24:40], n[:])

	t.Run("cone RS answered from the secondary", func(t *testing.T) {
		s := newTestServer(t, netip.Addr{})
		rec := &srvRelayRecorder{}
		p := NewServerPath(s, s.NewHandler(), rec)
		pkt := srvDatagram(srvNAT, primary, srvRS())
		buf, off := srvFrame(pkt)
		v, o, l := p.Decap(buf, off, len(pkt))
		if v != relay.ToIPv4 || len(rec.decaps) != 0 {
			t.Fatalf("verdict %v, relay saw %d", v, len(rec.decaps))
		}
		var ip4 teredo.IPv4Header
		if err := ip4.Decode(buf[o : o+l]); err != nil || ip4.SrcAddr() != s.Secondary().Addr() || ip4.DstAddr() != srvNAT.Addr() {
			t.Fatalf("RA header %+v: %v", ip4, err)
		}
		if got := s.Counters().RASent[server.RAOtherAddress]; got != 1 {
			t.Fatalf("RASent other %d", got)
		}
	})
	t.Run("relay address goes to the relay", func(t *testing.T) {
		s := newTestServer(t, srvRelay.Addr())
		rec := &srvRelayRecorder{}
		p := NewServerPath(s, s.NewHandler(), rec)
		pkt := srvDatagram(srvNAT, srvRelay, data)
		buf, off := srvFrame(pkt)
		if v, _, _ := p.Decap(buf, off, len(pkt)); v != relay.Drop || len(rec.decaps) != 1 || !bytes.Equal(rec.decaps[0], pkt) {
			t.Fatalf("verdict %v, relay saw %d", v, len(rec.decaps))
		}
		if s.Counters().Packets != 0 {
			t.Fatal("the server saw a relay frame")
		}
	})
	t.Run("shared address: relay business handed over unchanged", func(t *testing.T) {
		s := newTestServer(t, srvPrimary)
		rec := &srvRelayRecorder{}
		p := NewServerPath(s, s.NewHandler(), rec)
		pkt := srvDatagram(srvNAT, primary, data)
		buf, off := srvFrame(pkt)
		if v, _, _ := p.Decap(buf, off, len(pkt)); v != relay.Drop || len(rec.decaps) != 1 || !bytes.Equal(rec.decaps[0], pkt) {
			t.Fatalf("verdict %v, relay saw %v", v, rec.decaps)
		}
		if s.Counters().RelayHandoffs != 1 {
			t.Fatalf("%+v", s.Counters())
		}
		ip6 := make([]byte, 40)
		buf, off = srvFrame(ip6)
		p.Encap(buf, off, len(ip6))
		if len(rec.encaps) != 1 {
			t.Fatal("Encap did not reach the relay")
		}
	})
	t.Run("server only: IPv6 frames counted as server drops", func(t *testing.T) {
		s := newTestServer(t, netip.Addr{})
		p := NewServerPath(s, s.NewHandler(), nil)
		ip6 := make([]byte, 40)
		ip6[0] = 0x60
		buf, off := srvFrame(ip6)
		if v, _, _ := p.Encap(buf, off, len(ip6)); v != relay.Drop {
			t.Fatalf("verdict %v", v)
		}
		pkt := srvDatagram(srvNAT, srvRelay, data)
		buf, off = srvFrame(pkt)
		if v, _, _ := p.Decap(buf, off, len(pkt)); v != relay.Drop {
			t.Fatalf("verdict %v", v)
		}
		c := s.Counters()
		if c.Drops[server.DropIPv4Malformed] != 1 || c.Drops[server.DropWrongDestination] != 1 {
			t.Fatalf("drops %v", c.Drops)
		}
	})
}

func TestServerPathZeroAllocs(t *testing.T) {
	if testing.CoverMode() != "" {
		t.Skip("coverage instrumentation allocates")
	}
	s := newTestServer(t, netip.Addr{})
	p := NewServerPath(s, s.NewHandler(), &srvRelayRecorder{})
	pkt := srvDatagram(srvNAT, netip.AddrPortFrom(srvPrimary, teredo.Port), srvRS())
	buf, off := srvFrame(pkt)
	orig := bytes.Clone(buf)
	allocs := testing.AllocsPerRun(500, func() {
		copy(buf, orig)
		p.Decap(buf, off, len(pkt))
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per RS", allocs)
	}
}

func TestServerLoop(t *testing.T) {
	for _, c := range []struct {
		name      string
		relayAddr netip.Addr
	}{
		{"relay with its own address", srvRelay.Addr()},
		{"relay sharing the primary", srvPrimary},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := newTestServer(t, c.relayAddr)
			next := &srvOutput{}
			raw := &fakeKernel{}
			from := netip.AddrPortFrom(c.relayAddr, teredo.Port)
			loop := NewServerLoop(next, s, from, raw)

			// Not for the server: passed on.
			if err := loop.SendUDP(srvNAT, []byte{1}); err != nil || len(next.udp) != 1 {
				t.Fatalf("pass-through: %v %v", err, next.udp)
			}
			if err := loop.SendIPv6([]byte{2}); err != nil || next.ipv6 != 1 {
				t.Fatal("SendIPv6 not passed on")
			}
			// The relay's indirect bubble to a client of this server: sent
			// to the client's mapping from the primary with the relay's
			// address as origin.
			b := make([]byte, 40)
			teredo.PutBubble(b, srvCookie, srvClient)
			if err := loop.SendUDP(netip.AddrPortFrom(srvPrimary, teredo.Port), b); err != nil {
				t.Fatal(err)
			}
			if len(raw.v4) != 1 || len(next.udp) != 1 {
				t.Fatalf("raw %d, next %d", len(raw.v4), len(next.udp))
			}
			var ip4 teredo.IPv4Header
			var udp teredo.UDPHeader
			out := raw.v4[0]
			if err := ip4.Decode(out); err != nil {
				t.Fatal(err)
			}
			if err := udp.Decode(out[20:]); err != nil {
				t.Fatal(err)
			}
			var pkt teredo.Packet
			if err := pkt.Decode(out[28:]); err != nil {
				t.Fatal(err)
			}
			if ip4.SrcAddr() != srvPrimary || udp.SrcPort != teredo.Port || ip4.DstAddr() != srvNAT.Addr() ||
				udp.DstPort != srvNAT.Port() || pkt.Origin != from || !bytes.Equal(pkt.IPv6, b) {
				t.Fatalf("forwarded %+v %+v origin %v", ip4, udp, pkt.Origin)
			}
			// A client's echo through the kernel path goes out natively.
			e := make([]byte, 48)
			e[0], e[5], e[6], e[7] = 0x60, 8, 58, 64
			cc, nn := srvClient.As16(), srvNative.As16()
			copy(e[8:24], cc[:])
			copy(e[24:40], nn[:])
			e[40] = teredo.ICMPv6EchoRequest
			if toRelay, err := loop.Deliver(srvPrimary, srvNAT, e); toRelay || err != nil || len(raw.v6) != 1 || raw.v6[0][7] != 63 {
				t.Fatalf("echo: %v, %d sent", err, len(raw.v6))
			}
			// A reassembled datagram of relay business (a client's data, not
			// a bubble nor ICMPv6) on the shared address is handed on; on an
			// address the relay does not share it is the server's (dropped).
			shared := c.relayAddr == srvPrimary
			data := make([]byte, 48)
			copy(data, e)
			data[6] = 17                               // UDP
			for _, n := range []int{len(data), 2000} { // 2000: beyond the loop buffer
				d := append(bytes.Clone(data), make([]byte, n-len(data))...)
				d[4], d[5] = byte((n-40)>>8), byte(n-40)
				toRelay, err := loop.Deliver(srvPrimary, srvNAT, d)
				if toRelay != shared || (shared && err != nil) {
					t.Fatalf("%d-byte client data on the primary: to relay %v (%v), want %v", n, toRelay, err, shared)
				}
			}
			if toRelay, _ := loop.Deliver(s.Secondary().Addr(), srvNAT, data); toRelay {
				t.Fatal("client data on the secondary handed to the relay")
			}
		})
	}
}
