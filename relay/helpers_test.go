package relay

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"net/netip"
	"testing"
	"time"

	"github.com/teredorelay/teredorelay/cache"
	"github.com/teredorelay/teredorelay/internal/pcapfile"
	"github.com/teredorelay/teredorelay/relay/relaytest"
	"github.com/teredorelay/teredorelay/teredo"
)

// Addresses of the testbed capture (../testdata/miredo-relay.pcap): a
// Miredo client behind NAT 203.0.113.1, server 192.0.2.1, relay 198.51.100.1.
var (
	relayIPv4   = netip.MustParseAddr("198.51.100.1")
	relayAP     = netip.AddrPortFrom(relayIPv4, teredo.Port)
	relayIPv6   = netip.MustParseAddr("2001:db8:ffff::1")
	serverIPv4  = netip.MustParseAddr("192.0.2.1")
	serverAP    = netip.AddrPortFrom(serverIPv4, teredo.Port)
	clientMap   = netip.MustParseAddrPort("203.0.113.1:46240")
	clientAddr  = netip.MustParseAddr("2001:0:c000:201:3cc4:4b5f:34ff:8efe") // vector T8
	nativeHost  = netip.MustParseAddr("2001:db8:3::7")
	nativeOther = netip.MustParseAddr("2001:db8:2::1")
	testKey     = bytes.Repeat([]byte{0x5a}, KeySize)
)

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// harness is an engine on a fake clock and a recording output. Tests drive
// the slow path synchronously (drain, tick) instead of running Run.
type harness struct {
	t     testing.TB
	clock *relaytest.Clock
	out   *relaytest.Output
	peers *cache.Cache
	e     *Engine
	w     *Worker
}

func newHarness(t testing.TB, modify func(*Config, *cache.Config)) *harness {
	t.Helper()
	clock := relaytest.NewClock(1000 * time.Second)
	cfg := Config{IPv4Addr: relayIPv4, IPv6Addr: relayIPv6, Key: testKey, Now: clock.Now}
	ccfg := cache.Config{Capacity: 1024, Now: clock.Now}
	if modify != nil {
		modify(&cfg, &ccfg)
	}
	peers, err := cache.New(ccfg)
	if err != nil {
		t.Fatal(err)
	}
	out := &relaytest.Output{}
	e, err := NewEngine(cfg, peers, out)
	if err != nil {
		t.Fatal(err)
	}
	e.slow.start(clock.Now())
	w := e.NewWorker()
	w.ipID = 0 // workers start at a random IPv4 ID; a test compares outputs
	return &harness{t: t, clock: clock, out: out, peers: peers, e: e, w: w}
}

// decap runs Decap on a copy of the IPv4 packet in a fresh frame and
// returns the verdict and the resulting bytes (copied).
func (h *harness) decap(ipv4 []byte) (Verdict, []byte) {
	buf, off := relaytest.Frame(ipv4)
	v, o, n := h.w.Decap(buf, off, len(ipv4))
	if v == ToIPv6 {
		return v, append([]byte(nil), buf[o:o+n]...)
	}
	return v, nil
}

// encap runs Encap on a copy of the IPv6 packet in a fresh frame.
func (h *harness) encap(ipv6 []byte) (Verdict, []byte) {
	buf, off := relaytest.Frame(ipv6)
	v, o, n := h.w.Encap(buf, off, len(ipv6))
	if v == ToIPv4 {
		return v, append([]byte(nil), buf[o:o+n]...)
	}
	return v, nil
}

// fromClient wraps an IPv6 packet (or any Teredo payload) in IPv4/UDP from
// the client mapping to the relay, with a UDP checksum.
func fromClient(payload []byte) []byte {
	return relaytest.IPv4UDP(clientMap, relayAP, payload, true)
}

// advance moves the clock and runs the slow-path timers.
func (h *harness) advance(d time.Duration) {
	h.clock.Advance(d)
	h.e.slow.tick(h.clock.Now())
}

// drain runs the slow path over everything queued.
func (h *harness) drain() { h.e.slow.drain() }

// trustClient makes clientAddr a trusted peer at mapping directly in the
// cache (the handshake itself is covered by TestHandshake).
func (h *harness) trustClient(mapping netip.AddrPort) {
	h.t.Helper()
	k := clientAddr.As16()
	if _, err := h.peers.InsertPending(&k, mapping, h.clock.Now()); err != nil {
		h.t.Fatal(err)
	}
	if !h.peers.Trust(&k, mapping, -1, h.clock.Now(), nil) {
		h.t.Fatal("trust failed")
	}
}

func (h *harness) counters() Counters { return h.e.Counters() }

// checkIPv4UDP verifies the outer headers the relay wrote.
func checkIPv4UDP(t testing.TB, pkt []byte, dst netip.AddrPort, payloadLen int) {
	t.Helper()
	if len(pkt) != teredo.EncapLen+payloadLen {
		t.Fatalf("datagram length %d, want %d", len(pkt), teredo.EncapLen+payloadLen)
	}
	var ip teredo.IPv4Header
	if err := ip.Decode(pkt); err != nil {
		t.Fatalf("outer IPv4 header: %v", err)
	}
	if pkt[0] != 0x45 || ip.Flags&teredo.IPv4FlagDF != 0 || ip.Protocol != teredo.ProtoUDP || ip.TTL != 64 {
		t.Fatalf("outer IPv4 header % x: want 0x45, DF clear, UDP, TTL 64", pkt[:20])
	}
	if ip.SrcAddr() != relayIPv4 || ip.DstAddr() != dst.Addr() {
		t.Fatalf("outer IPv4 %v -> %v, want %v -> %v", ip.SrcAddr(), ip.DstAddr(), relayIPv4, dst.Addr())
	}
	if sp, dp := binary.BigEndian.Uint16(pkt[20:22]), binary.BigEndian.Uint16(pkt[22:24]); sp != teredo.Port || dp != dst.Port() {
		t.Fatalf("UDP ports %d -> %d, want %d -> %d", sp, dp, teredo.Port, dst.Port())
	}
	if l := binary.BigEndian.Uint16(pkt[24:26]); int(l) != teredo.UDPHeaderLen+payloadLen {
		t.Fatalf("UDP length %d, want %d", l, teredo.UDPHeaderLen+payloadLen)
	}
}

// relayPcap is the testbed capture of Miredo's relay.
const relayPcap = "../testdata/miredo-relay.pcap"

// pcapFrames returns what follows the link header of each frame of a capture
// (the IP packet, or ARP); index 0 is frame 1 as tcpdump numbers them.
func pcapFrames(t testing.TB, path string) [][]byte {
	t.Helper()
	var frames [][]byte
	for _, f := range pcapfile.ReadTestFile(t, path, pcapfile.LinkTypeEthernet) {
		frames = append(frames, f.Network())
	}
	return frames
}
