//go:build linux

package lab

import (
	"net/netip"
	"testing"
	"time"
)

// TestRelaydSpoofedMappings (issue 10, section 4; RFC 4380 §5.4.1): with
// accept_unknown_peers, a datagram whose (spoofed) outer source is an
// address the relay must not send to, and consistent with the Teredo
// address inside, made the relay learn that mapping and answer it: a
// hop-limit-1 one got a 1280-byte Time Exceeded sent to 10.0.0.5:53. Now
// every such source (private, the relay's own, multicast, broadcast) is
// dropped as src_mapping_invalid and nothing is sent to it; a valid source
// still is learnt. The datagrams are put on the relay's LAN as frames (a
// router would not forward multicast or broadcast sources).
func TestRelaydSpoofedMappings(t *testing.T) {
	l := relLab(t, OneArmed, "accept_unknown_peers: true\n")
	v4, relayMAC, coreMAC := relayLink(t, l)
	capture := relCapture(t, l, Core, v4, "udp")
	relay := netip.AddrPortFrom(RelayIPv4, TeredoPort)
	send := func(src netip.AddrPort, ipv6 []byte) {
		t.Helper()
		frame := append(append(append([]byte{}, relayMAC...), coreMAC...), 0x08, 0x00)
		if err := l.SendFrame(Core, v4, append(frame, IPv4UDP(src, relay, 0x2222, 64, ipv6)...)); err != nil {
			t.Fatalf("inject from %v: %v", src, err)
		}
	}
	spoofed := []netip.AddrPort{
		netip.MustParseAddrPort("10.0.0.5:53"),
		netip.AddrPortFrom(RelayIPv4, 3544),
		netip.MustParseAddrPort("224.0.0.1:3544"),
		netip.MustParseAddrPort("255.255.255.255:3544"),
	}
	before := relaydMetrics(t, l)
	for i, src := range spoofed {
		inner := TeredoAddr(ServerIPv4, 0, src)
		for _, hop := range []uint8{1, 64} {
			send(src, EchoRequest(inner, l.NativeAddr(), hop, 0x7e20, uint16(i), nil))
		}
	}
	// A valid source is learnt, and its hop-limit-1 datagram answered.
	valid := netip.AddrPortFrom(AttackerIPv4, 40020)
	send(valid, EchoRequest(TeredoAddr(ServerIPv4, 0, valid), l.NativeAddr(), 1, 0x7e21, 1, nil))
	time.Sleep(500 * time.Millisecond)
	frames, err := capture.Stop()
	if err != nil {
		t.Fatal(err)
	}
	m := relaydMetrics(t, l)
	if d := m[relDrop("src_mapping_invalid")] - before[relDrop("src_mapping_invalid")]; d != float64(2*len(spoofed)) {
		logNonZeroMetrics(t, m)
		t.Errorf("src_mapping_invalid moved by %v, want %d", d, 2*len(spoofed))
	}
	var toValid int
	for _, f := range frames {
		u, err := DecodeUDP4(f.Data)
		if err != nil || u.Src != relay || u.Dst == relay { // not the injected ones
			continue
		}
		for _, s := range spoofed {
			if u.Dst.Addr() == s.Addr() {
				t.Errorf("the relay sent %d bytes to the spoofed mapping %v", len(u.Payload), u.Dst)
			}
		}
		if u.Dst == valid {
			toValid++
		}
	}
	if toValid != 1 {
		t.Errorf("%d datagrams to the valid source, want its Time Exceeded", toValid)
	}
}
