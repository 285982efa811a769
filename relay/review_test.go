package relay

import (
	"bytes"
	"encoding/binary"
	"github.com/teredorelay/teredorelay/cache"
	"net/netip"
	"testing"

	"github.com/teredorelay/teredorelay/relay/relaytest"
	"github.com/teredorelay/teredorelay/teredo"
)

// TestDecapLengths: the IPv6 packet is found behind IPv4 options (IHL > 5)
// and cut to 40 + payload length, whatever follows it: RFC 6081 trailers,
// bytes inside the IPv4 packet after the UDP datagram, frame padding after
// the IPv4 total length.
func TestDecapLengths(t *testing.T) {
	data := relaytest.Echo(clientAddr, nativeHost, 64, 1, 1, []byte("payload"))
	want := append([]byte(nil), data...)
	want[7] = 63
	// withOptions rebuilds an IPv4/UDP datagram with 4 (IHL 6) or 8 (IHL 7)
	// bytes of IPv4 options (NOPs and an end-of-list).
	withOptions := func(udpPayload []byte, optLen, ipExtra int) []byte {
		plain := relaytest.IPv4UDP(clientMap, relayAP, udpPayload, false)
		b := make([]byte, 0, len(plain)+optLen+ipExtra)
		b = append(b, plain[:20]...)
		for range optLen - 1 {
			b = append(b, 1) // NOP
		}
		b = append(b, 0) // end of option list
		b = append(b, plain[20:]...)
		b = append(b, make([]byte, ipExtra)...)
		b[0] = 0x40 | byte((20+optLen)/4)
		binary.BigEndian.PutUint16(b[2:4], uint16(len(b)))
		return fixIPv4Checksum(b)
	}
	trailer := []byte{0x01, 0x04, 0xde, 0xad, 0xbe, 0xef} // nonce trailer, skippable
	cases := []struct {
		name    string
		frame   []byte
		padding int
		off     int // offset of the IPv6 packet in the IPv4 packet
	}{
		{name: "plain", frame: fromClient(data), off: 28},
		{name: "ihl 6", frame: withOptions(data, 4, 0), off: 32},
		{name: "ihl 7 with trailer", frame: withOptions(append(append([]byte(nil), data...), trailer...), 8, 0), off: 36},
		{name: "bytes after the udp datagram", frame: withOptions(data, 4, 5), off: 32},
		{name: "frame padding", frame: fromClient(data), padding: 18, off: 28},
		{name: "ihl 6, trailer, padding", frame: withOptions(append(append([]byte(nil), data...), trailer...), 4, 0), padding: 7, off: 32},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, nil)
			h.trustClient(clientMap)
			frame := append(append([]byte(nil), c.frame...), bytes.Repeat([]byte{0xee}, c.padding)...)
			buf, off := relaytest.Frame(frame)
			v, o, n := h.w.Decap(buf, off, len(frame))
			if v != ToIPv6 {
				t.Fatalf("verdict %v, counters %+v", v, h.counters())
			}
			if o != off+c.off || !bytes.Equal(buf[o:o+n], want) {
				t.Fatalf("got offset %d\n% x\nwant offset %d\n% x", o-off, buf[o:o+n], c.off, want)
			}
		})
	}
}

// TestEncapFramePadding: bytes after 40 + payload length (Ethernet padding)
// are not encapsulated, and the UDP and IPv4 lengths describe the IPv6
// packet alone.
func TestEncapFramePadding(t *testing.T) {
	h := newHarness(t, nil)
	h.trustClient(clientMap)
	pkt := relaytest.Echo(nativeHost, clientAddr, 64, 1, 1, []byte("x"))
	framed := append(append([]byte(nil), pkt...), bytes.Repeat([]byte{0xee}, 13)...)
	buf, off := relaytest.Frame(framed)
	v, o, n := h.w.Encap(buf, off, len(framed))
	if v != ToIPv4 {
		t.Fatalf("verdict %v", v)
	}
	got := buf[o : o+n]
	checkIPv4UDP(t, got, clientMap, len(pkt))
	want := append([]byte(nil), pkt...)
	want[7] = 63
	if !bytes.Equal(got[28:], want) {
		t.Fatalf("payload\n% x\nwant\n% x", got[28:], want)
	}
}

// TestConeBitIgnored (RFC 5991 §3.2): a destination with the cone bit set is
// verified like any other: queued, an indirect bubble to its server, nothing
// sent to its mapping, until it answers.
func TestConeBitIgnored(t *testing.T) {
	mapped := netip.MustParseAddrPort("203.0.113.5:40000")
	cone := relaytest.TeredoAddr(serverIPv4, teredo.FlagCone|0x1234&teredo.FlagRandomMask, mapped)
	h := newHarness(t, nil)
	pkt := relaytest.Echo(nativeHost, cone, 64, 1, 1, []byte("hi"))
	if v, _ := h.encap(pkt); v != SlowPath {
		t.Fatalf("verdict %v", v)
	}
	h.drain()
	sent := h.out.Take()
	if len(sent) != 1 || sent[0].Dst != serverAP || !teredo.IsBubble(sent[0].Data) {
		t.Fatalf("sent %+v, want only an indirect bubble to %v", sent, serverAP)
	}
	k := cone.As16()
	if p, ok := h.peers.Get(&k); !ok || p.State.String() != "pending" || p.QueuedPackets != 1 {
		t.Fatalf("peer %+v, want pending with the packet queued", p)
	}
	// The answer from the embedded mapping releases the packet there.
	if v, _ := h.decap(relaytest.IPv4UDP(mapped, relayAP, relaytest.Bubble(cone, h.e.Cookie(cone)), true)); v != SlowPath {
		t.Fatalf("bubble verdict %v", v)
	}
	h.drain()
	if sent := h.out.Take(); len(sent) != 1 || sent[0].Dst != mapped || teredo.IsBubble(sent[0].Data) {
		t.Fatalf("release sent %+v", sent)
	}
}

// TestDestinationsNotServed: from a Teredo client the relay forwards only to
// the global IPv6 Internet: unique local addresses (fc00::/7, RFC 4193 §4.1:
// not routed globally) are not served, like link-local and site-local ones;
// and a native sender with a unique local source gets nothing encapsulated.
func TestDestinationsNotServed(t *testing.T) {
	for _, dst := range []string{"fc00::1", "fd12:3456:789a::1", "fdff:ffff::1", "fe80::1", "fec0::1", "::", "::1"} {
		t.Run(dst, func(t *testing.T) {
			h := newHarness(t, nil)
			h.trustClient(clientMap)
			before := h.counters()
			v, _ := h.decap(fromClient(relaytest.Echo(clientAddr, netip.MustParseAddr(dst), 64, 1, 1, nil)))
			if v != Drop {
				t.Fatalf("verdict %v", v)
			}
			checkDrops(t, before, h.counters(), map[DropReason]uint64{DropDstNotServed: 1})
		})
	}
	for _, ok := range []string{"2001:db8::1", "2400::1", "fb00::1", "fe00::1", "2002:c000:201::1"} {
		h := newHarness(t, nil)
		h.trustClient(clientMap)
		if v, _ := h.decap(fromClient(relaytest.Echo(clientAddr, netip.MustParseAddr(ok), 64, 1, 1, nil))); v != ToIPv6 {
			t.Errorf("destination %s: verdict %v, want to_ipv6", ok, v)
		}
	}
	h := newHarness(t, nil)
	h.trustClient(clientMap)
	before := h.counters()
	if v, _ := h.encap(relaytest.Echo(netip.MustParseAddr("fd00::7"), clientAddr, 64, 1, 1, nil)); v != Drop {
		t.Fatalf("unique local source: verdict %v", v)
	}
	checkDrops(t, before, h.counters(), map[DropReason]uint64{DropSrcInvalid: 1})
}

// A Teredo destination whose server field is the relay's own address would
// send the indirect bubble from relay:3544 to relay:3544 (Miredo
// MTFL-SA-0603): dropped as dst_self, no peer, no bubble — unless a Teredo
// server in this process owns that address (Config.LocalServer), which
// receives the bubble in process.
func TestServerFieldIsRelayAddress(t *testing.T) {
	ours := relaytest.TeredoAddr(relayIPv4, 0, clientMap)
	pkt := relaytest.Echo(nativeHost, ours, 64, 1, 1, nil)

	h := newHarness(t, nil)
	before := h.counters()
	if v, _ := h.encap(pkt); v != Drop {
		t.Fatalf("verdict %v, want drop", v)
	}
	h.drain()
	checkDrops(t, before, h.counters(), map[DropReason]uint64{DropDstSelf: 1})
	if sent := h.out.Take(); len(sent) != 0 {
		t.Fatalf("sent %+v, want nothing", sent)
	}
	if st := h.e.peers.Stats(); st.Pending != 0 {
		t.Fatalf("%d pending peers, want 0", st.Pending)
	}

	h = newHarness(t, func(c *Config, _ *cache.Config) { c.LocalServer = relayIPv4 })
	if v, _ := h.encap(pkt); v != SlowPath {
		t.Fatalf("with a local server: verdict %v, want slow_path", v)
	}
	h.drain()
	sent := h.out.Take()
	if len(sent) != 1 || sent[0].Dst != relayAP {
		t.Fatalf("with a local server: sent %+v, want one indirect bubble to %v", sent, relayAP)
	}
}
