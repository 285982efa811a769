//go:build linux

package lab

import (
	"net"
	"net/netip"
	"testing"
	"time"
)

// TestRelaydOtherHostsFrames (issue 10, section 6): frames on the relay's
// LAN addressed to another host's MAC (an unknown-unicast flood on an IX
// LAN, meant for another relay with the same anycast address) are not
// relayed: the XDP program drops them (drop_not_our_mac) and nothing reaches
// the native host; the same datagram sent to the relay's own MAC is
// relayed, and one to the broadcast MAC goes to the kernel.
func TestRelaydOtherHostsFrames(t *testing.T) {
	bin := relaydBinary(t)
	l := startLab(t, Options{Relay: RelayTeredod, Mode: OneArmed, RelaydBinary: bin})
	// The client is known to the relay, so its datagram would be relayed.
	relPing(t, l, Native, l.ClientAddr(), 2, 2)
	_, mapped, _ := TeredoMapping(l.ClientAddr())
	coreV4, relayMAC, coreMAC := relayLink(t, l)
	frame := func(dst net.HardwareAddr, seq uint16) []byte {
		echo := EchoRequest(l.ClientAddr(), l.NativeAddr(), 64, 0x7e10, seq, []byte("for another host"))
		pkt := IPv4UDP(mapped, netip.AddrPortFrom(RelayIPv4, TeredoPort), 0x1234, 63, echo)
		return append(append(append(append([]byte{}, dst...), coreMAC...), 0x08, 0x00), pkt...)
	}
	capture := relCapture(t, l, Native, HostIface, "icmp6")
	before := relaydMetrics(t, l)
	other := net.HardwareAddr{0x02, 0x00, 0x5e, 0x10, 0x00, 0x09}
	const flood = 50
	for i := range flood {
		if err := l.SendFrame(Core, coreV4, frame(other, uint16(i))); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.SendFrame(Core, coreV4, frame(net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, 1000)); err != nil {
		t.Fatal(err)
	}
	if err := l.SendFrame(Core, coreV4, frame(relayMAC, 2000)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	frames, err := capture.Stop()
	if err != nil {
		t.Fatal(err)
	}
	m := relaydMetrics(t, l)
	if d := m[relXDP("drop", "drop_not_our_mac")] - before[relXDP("drop", "drop_not_our_mac")]; d != flood {
		t.Errorf("drop_not_our_mac moved by %v, want %d", d, flood)
	}
	if d := m[relXDP("pass", "pass_l2_group")] - before[relXDP("pass", "pass_l2_group")]; d != 1 {
		t.Errorf("pass_l2_group moved by %v, want 1", d)
	}
	var own, foreign int
	for _, f := range frames {
		p, ok := DecodeIPv6(f.Data)
		if !ok || len(p) < 48 || p[6] != ProtoICMPv6 || p[40] != 128 || p[44] != 0x7e || p[45] != 0x10 {
			continue
		}
		if seq := uint16(p[46])<<8 | uint16(p[47]); seq == 2000 {
			own++
		} else if seq < flood {
			foreign++
		}
	}
	if foreign != 0 || own != 1 {
		t.Errorf("at the native host: %d echoes sent to another host's MAC (want 0), %d sent to the relay's (want 1)", foreign, own)
	}
}

// relayLink returns the core's interface towards the relay's IPv4 side and
// the MAC addresses of the relay's and the core's ends of that link, for
// frames the core sends to the relay.
func relayLink(t *testing.T, l *Lab) (coreIface string, relayMAC, coreMAC net.HardwareAddr) {
	t.Helper()
	coreIface, _ = l.CoreRelayIfaces()
	relayV4, _ := l.RelayIfaces()
	relayMAC, err := l.InterfaceMAC(Relay, relayV4)
	if err != nil {
		t.Fatal(err)
	}
	coreMAC, err = l.InterfaceMAC(Core, coreIface)
	if err != nil {
		t.Fatal(err)
	}
	return coreIface, relayMAC, coreMAC
}
