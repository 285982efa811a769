package server

import (
	"net/netip"
	"sync/atomic"
	"testing"

	"github.com/teredorelay/teredorelay/internal/pcapfile"
	"github.com/teredorelay/teredorelay/relay/relaytest"
	"github.com/teredorelay/teredorelay/teredo"
)

// Addresses of the testbed capture (miredo-server.pcap) and of the tests.
var (
	serverIP    = netip.MustParseAddr("192.0.2.1")
	serverIP2   = netip.MustParseAddr("192.0.2.2")
	natAP       = netip.MustParseAddrPort("203.0.113.1:46240") // the client's NAT mapping (T8)
	clientAddr  = netip.MustParseAddr("2001:0:c000:201:3cc4:4b5f:34ff:8efe")
	relayAP     = netip.MustParseAddrPort("198.51.100.1:3544")
	relayCookie = netip.MustParseAddr("fe80::4439:a801:d529:32ad")
	nativeHost  = netip.MustParseAddr("2001:db8:3::5")
)

// fakeClock is an injectable monotonic clock.
type fakeClock struct{ ns atomic.Int64 }

func (c *fakeClock) now() int64                  { return c.ns.Load() }
func (c *fakeClock) advance(d int64)             { c.ns.Add(d) }
func newClock() *fakeClock                       { c := &fakeClock{}; c.ns.Store(1e9); return c }
func primaryAP() netip.AddrPort                  { return netip.AddrPortFrom(serverIP, teredo.Port) }
func secondaryAP() netip.AddrPort                { return netip.AddrPortFrom(serverIP2, teredo.Port) }
func apFrom4(a [4]byte, p uint16) netip.AddrPort { return netip.AddrPortFrom(netip.AddrFrom4(a), p) }

type harness struct {
	t     testing.TB
	s     *Server
	h     *Handler
	clock *fakeClock
}

func newHarness(t testing.TB, mod func(*Config)) *harness {
	t.Helper()
	clock := newClock()
	cfg := Config{Primary: serverIP, Now: clock.now}
	if mod != nil {
		mod(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return &harness{t: t, s: s, h: s.NewHandler(), clock: clock}
}

// frameHeadroom mirrors the AF_XDP frame: XDP headroom plus an Ethernet header.
const frameHeadroom = 256 + 14

// frame places pkt in a 2048-byte chunk after the headroom.
func frame(pkt []byte) (buf []byte, off int) {
	buf = make([]byte, 2048)
	copy(buf[frameHeadroom:], pkt)
	return buf, frameHeadroom
}

// ipv4udp builds IPv4+UDP around payload (UDP checksum 0).
func ipv4udp(src, dst netip.AddrPort, payload []byte) []byte {
	b := make([]byte, teredo.EncapLen+len(payload))
	teredo.PutIPv4UDP(b, src, dst, len(payload), 1, 64)
	copy(b[teredo.EncapLen:], payload)
	return b
}

// Packet builders shared with the relay's tests: IPv6 packets, bubbles
// (teredo.PutBubble) and Teredo addresses.
var (
	ipv6       = relaytest.IPv6
	bubble     = relaytest.Bubble
	teredoAddr = relaytest.TeredoAddr
)

// echo builds an ICMPv6 echo request (identifier and sequence 0) with size
// bytes of ICMPv6 message, message byte i being i from byte 8 on.
func echo(src, dst netip.Addr, hop uint8, size int) []byte {
	data := make([]byte, size-8)
	for i := range data {
		data[i] = byte(8 + i)
	}
	return relaytest.Echo(src, dst, hop, 0, 0, data)
}

// rsPayload builds a client's RS UDP payload: an authentication indicator
// (when auth is non-nil) and the RS from the client link-local address.
func rsPayload(cone bool, auth *teredo.Auth) []byte {
	var out []byte
	if auth != nil {
		a := make([]byte, auth.Len())
		teredo.PutAuth(a, auth)
		out = a
	}
	rs := make([]byte, teredo.RSLen)
	teredo.PutRS(rs, teredo.ClientLinkLocal(cone))
	return append(out, rs...)
}

// handle runs Handle on a copy of pkt in a fresh frame and returns the output.
func (h *harness) handle(pkt []byte) (Verdict, []byte) {
	buf, off := frame(pkt)
	v, o, n := h.h.Handle(buf, off, len(pkt))
	if v == Drop {
		if o != 0 || n != 0 {
			h.t.Fatalf("Drop with output %d+%d", o, n)
		}
		return v, nil
	}
	if o < 0 || n < 0 || o+n > len(buf) {
		h.t.Fatalf("output %d+%d outside the %d-byte frame", o, n, len(buf))
	}
	return v, buf[o : o+n]
}

// outer decodes the IPv4/UDP header of a ToIPv4 output and returns the UDP
// payload.
func outer(t testing.TB, pkt []byte) (src, dst netip.AddrPort, payload []byte) {
	t.Helper()
	var ip4 teredo.IPv4Header
	var udp teredo.UDPHeader
	if err := ip4.Decode(pkt); err != nil {
		t.Fatalf("output IPv4: %v", err)
	}
	if ip4.Protocol != teredo.ProtoUDP || ip4.HeaderLen != 20 || ip4.TotalLen != len(pkt) || ip4.Flags&teredo.IPv4FlagDF != 0 {
		t.Fatalf("output IPv4 header %+v (len %d)", ip4, len(pkt))
	}
	if err := udp.Decode(pkt[20:]); err != nil || udp.Length != len(pkt)-20 {
		t.Fatalf("output UDP %+v: %v", udp, err)
	}
	return apFrom4(ip4.Src, udp.SrcPort), apFrom4(ip4.Dst, udp.DstPort), pkt[28:]
}

// countersDelta returns after-before for every named counter that changed.
func countersDelta(before, after Counters) map[string]uint64 {
	m := map[string]uint64{}
	b := map[string]uint64{}
	before.Each(func(n string, v uint64) { b[n] = v })
	after.Each(func(n string, v uint64) {
		if d := v - b[n]; d != 0 {
			m[n] = d
		}
	})
	delete(m, "packets")
	delete(m, "bytes")
	delete(m, "forwarded_bytes")
	return m
}

// serverPcap is the testbed capture of Miredo's server.
const serverPcap = "../testdata/miredo-server.pcap"

// pcapPkt is one IPv4 or IPv6 frame of a capture.
type pcapPkt struct {
	index int    // 1-based frame number
	l3    []byte // IP packet
	v6    bool
}

// readPcap returns the IPv4 and IPv6 packets of an Ethernet capture.
func readPcap(t testing.TB, path string) []pcapPkt {
	t.Helper()
	var out []pcapPkt
	for _, fr := range pcapfile.ReadTestFile(t, path, pcapfile.LinkTypeEthernet) {
		if ip := fr.IP(); ip != nil {
			out = append(out, pcapPkt{index: fr.Index, l3: ip, v6: fr.IsIPv6()})
		}
	}
	return out
}
