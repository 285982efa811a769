package lab

import (
	"context"
	"net/netip"
	"testing"
	"time"
)

// TestRelaydCountsEachRejection injects one packet per negative case into a
// running teredo-relayd and checks that each is counted under its own drop
// reason (exactly once), that nothing reaches the native host or the
// attacker, and that no bubble gets an answer (no ICMPv6 error, no state).
// It also checks the positive state change of the warm-up: the client's
// entry went pending -> trusted through an indirect bubble.
func TestRelaydCountsEachRejection(t *testing.T) {
	bin := relaydBinary(t)
	l := startLab(t, Options{Relay: RelayTeredod, Mode: OneArmed, RelaydBinary: bin})
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	if res, err := l.Ping6(ctx, Native, l.ClientAddr(), 2); err != nil || res.Received() != 2 {
		t.Fatalf("warm-up ping native -> client: %v (%d received)", err, res.Received())
	}
	before := relaydMetrics(t, l)
	if got := before[`teredo_relay_peers{state="trusted"}`]; got != 1 {
		t.Errorf("trusted peers after the warm-up = %v, want 1 (the client)", got)
	}
	if got := before[`teredo_relay_peers{state="pending"}`]; got != 0 {
		t.Errorf("pending peers after the warm-up = %v, want 0", got)
	}
	if got := before[`teredo_relay_bubbles_sent_total{kind="indirect"}`]; got < 1 {
		t.Errorf("indirect bubbles sent = %v: the client became trusted without one", got)
	}

	relay := netip.AddrPortFrom(RelayIPv4, TeredoPort)
	data := []byte("relayd negative case")
	consistent := netip.AddrPortFrom(AttackerIPv4, 40104)
	bubbleSrc := netip.AddrPortFrom(AttackerIPv4, 40105)
	cases := []struct {
		name, reason string
		send         func() error
	}{
		{"spoofed mapping", "mapping_mismatch", func() error {
			inner := TeredoAddr(ServerIPv4, 0, netip.MustParseAddrPort("203.0.113.9:46240"))
			return l.SendRawUDP(Attacker, netip.AddrPortFrom(AttackerIPv4, 40101), relay, EchoRequest(inner, l.NativeAddr(), 64, 0x7f01, 1, data))
		}},
		{"non-Teredo source", "src_not_teredo", func() error {
			return l.SendRawUDP(Attacker, netip.AddrPortFrom(AttackerIPv4, 40102), relay, EchoRequest(AttackerIPv6, l.NativeAddr(), 64, 0x7f02, 1, data))
		}},
		{"bogon mapped address in the source", "mapping_mismatch", func() error {
			inner := TeredoAddr(ServerIPv4, 0, netip.MustParseAddrPort("10.1.2.3:40103"))
			return l.SendRawUDP(Attacker, netip.AddrPortFrom(AttackerIPv4, 40103), relay, EchoRequest(inner, l.NativeAddr(), 64, 0x7f03, 1, data))
		}},
		{"Teredo destination from the client side", "dst_teredo_loop", func() error {
			inner := TeredoAddr(ServerIPv4, 0, consistent)
			return l.SendRawUDP(Attacker, consistent, relay, EchoRequest(inner, l.ClientAddr(), 64, 0x7f04, 1, data))
		}},
		{"unsolicited bubble", "unknown_peer", func() error {
			return l.SendRawUDP(Attacker, bubbleSrc, relay, Bubble(TeredoAddr(ServerIPv4, 0, bubbleSrc), RelayIPv6))
		}},
		{"bogon mapped destination from the native side", "dst_mapped_bogon", func() error {
			dst := TeredoAddr(ServerIPv4, 0, netip.MustParseAddrPort("224.0.0.1:3544"))
			return l.SendRawIPv6(Attacker, EchoRequest(AttackerIPv6, dst, 64, 0x7f05, 1, data))
		}},
	}
	v4iface, _ := l.CoreRelayIfaces()
	capRelay, err := l.StartCapture(ctx, Core, v4iface, "udp")
	if err != nil {
		t.Fatalf("capture: %v", err)
	}
	capNative, err := l.StartCapture(ctx, Native, HostIface, "icmp6")
	if err != nil {
		t.Fatalf("capture: %v", err)
	}
	want := map[string]float64{}
	for _, c := range cases {
		if err := c.send(); err != nil {
			t.Fatalf("inject %s: %v", c.name, err)
		}
		want[c.reason]++
	}
	time.Sleep(time.Second)
	after := relaydMetrics(t, l)
	relayFrames, err := capRelay.Stop()
	if err != nil {
		t.Fatal(err)
	}
	nativeFrames, err := capNative.Stop()
	if err != nil {
		t.Fatal(err)
	}
	for reason, n := range want {
		key := `teredo_relay_drops_total{layer="relay",reason="` + reason + `"}`
		if got := after[key] - before[key]; got != n {
			t.Errorf("%s grew by %v, want %v", key, got, n)
		}
	}
	for _, k := range []string{
		`teredo_relay_packets_total{direction="v4_to_v6"}`,
		`teredo_relay_packets_total{direction="v6_to_v4"}`,
		`teredo_relay_bubbles_sent_total{kind="indirect"}`,
		`teredo_relay_bubbles_sent_total{kind="direct"}`,
		`teredo_relay_peers{state="pending"}`,
		`teredo_relay_peers{state="trusted"}`,
	} {
		if after[k] != before[k] {
			t.Errorf("%s changed from %v to %v: a rejected packet was forwarded or created state", k, before[k], after[k])
		}
	}
	for k, v := range after {
		if len(k) > 30 && k[:30] == "teredo_relay_icmpv6_errors_sen" && v != before[k] {
			t.Errorf("%s changed from %v to %v: the relay answered with an ICMPv6 error", k, before[k], v)
		}
	}
	for _, f := range relayFrames {
		if u, err := DecodeUDP4(f.Data); err == nil && u.Src == relay && u.Dst.Addr() == AttackerIPv4 {
			t.Errorf("relay sent %d bytes to the attacker %v", len(u.Payload), u.Dst)
		}
	}
	for _, f := range nativeFrames {
		if p, ok := DecodeIPv6(f.Data); ok && len(p) >= 48 && p[40] == 128 && p[44] == 0x7f {
			t.Errorf("native host received injected echo id %#x", uint16(p[44])<<8|uint16(p[45]))
		}
	}
}
