//go:build linux

package lab

import (
	"context"
	"encoding/binary"
	"net/netip"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/teredorelay/teredorelay/internal/pcapfile"
)

// relIPv4 is the IPv4 packet of an Ethernet frame captured in the lab, or
// nil.
func relIPv4(frame []byte) []byte {
	et, off := pcapfile.NetworkOffset(pcapfile.LinkTypeEthernet, frame)
	if et != 0x0800 || off < 0 || len(frame) < off+20 || frame[off]>>4 != 4 {
		return nil
	}
	return frame[off:]
}

// relICMPv4 builds an IPv4 ICMP packet (header checksum left to the kernel)
// of type and code whose body quotes the IPv4 header and first 8 bytes of
// quoted.
func relICMPv4(src, dst netip.Addr, typ, code uint8, quoted []byte) []byte {
	body := quoted[:min(len(quoted), 28)]
	p := make([]byte, 20+8+len(body))
	p[0] = 0x45
	binary.BigEndian.PutUint16(p[2:4], uint16(len(p)))
	p[8] = 64
	p[9] = 1 // ICMP
	s, d := src.As4(), dst.As4()
	copy(p[12:16], s[:])
	copy(p[16:20], d[:])
	icmp := p[20:]
	icmp[0], icmp[1] = typ, code
	copy(icmp[8:], body)
	binary.BigEndian.PutUint16(icmp[2:4], finish(sumWords(0, icmp)))
	return p
}

// TestReliabilityNativeSideGuards (reliability.md C4, C7, C9 and B8 end to
// end): crafted packets from the native side, each of which the relay must
// refuse to carry to the IPv4 side. Each is counted once under its reason
// and nothing is emitted on the relay's IPv4 side:
//   - C4: a 1400-byte packet for the trusted client: Packet Too Big with
//     MTU 1280 back to the sender, no IPv4 fragmentation by the relay;
//   - C7: a native packet whose source is in 2001::/32 (loop guard);
//   - C9: destinations whose mapped address is the relay's own address and
//     port, whose mapped or server address is in the relay's IX prefix
//     (configured extra_bogons), and whose server is the relay itself (no
//     bubble to the relay's own address: the MTFL-SA-0603 loop guard);
//   - B8: a packet with a type 0 routing header.
func TestReliabilityNativeSideGuards(t *testing.T) {
	ix := netip.MustParsePrefix("198.51.100.64/26") // the IX router's part of the relay link
	l := relLab(t, OneArmed, "extra_bogons:\n  - "+ix.String()+"\n")
	client := l.ClientAddr()
	relPing(t, l, Native, client, 2, 2)
	v4core, _ := l.CoreRelayIfaces()
	relayCap := relCapture(t, l, Core, v4core, "udp", "or", "(ip", "and", "ip[6:2]", "&", "0x3fff", "!=", "0)")
	nativeCap := relCapture(t, l, Native, HostIface, "icmp6")
	native := l.NativeAddr()
	self := netip.AddrPortFrom(RelayIPv4, TeredoPort)
	ixRouter := RelayGatewayV4 // 198.51.100.126, in the IX prefix
	rh0 := make([]byte, 24+8)  // routing header type 0, one address, then an echo request
	rh0[0], rh0[1], rh0[2], rh0[3] = ProtoICMPv6, 2, 0, 1
	copy(rh0[8:24], native.AsSlice())
	rh0[24] = 128
	big := make([]byte, 1400-48)
	cases := []struct {
		name, reason string
		pkt          []byte
	}{
		{"C4 1400-byte packet", "packet_too_big", EchoRequest(native, client, 64, 0x7e11, 1, big)},
		{"C7 native source in 2001::/32", "src_teredo_loop", EchoRequest(TeredoAddr(ServerIPv4, 0, netip.MustParseAddrPort("203.0.113.77:4000")), client, 64, 0x7e12, 1, nil)},
		{"C9 mapped address is the relay", "dst_self", EchoRequest(native, TeredoAddr(ServerIPv4, 0, self), 64, 0x7e13, 1, nil)},
		{"C9 mapped address in the IX prefix", "dst_mapped_bogon", EchoRequest(native, TeredoAddr(ServerIPv4, 0, netip.AddrPortFrom(ixRouter, 4000)), 64, 0x7e14, 1, nil)},
		{"C9 server address in the IX prefix", "dst_server_bogon", EchoRequest(native, TeredoAddr(ixRouter, 0, netip.AddrPortFrom(AttackerIPv4, 4000)), 64, 0x7e15, 1, nil)},
		{"B8 routing header type 0", "routing_header_type0", IPv6Packet(native, client, 43, 64, rh0)},
	}
	before := relaydMetrics(t, l)
	want := map[string]float64{}
	for _, c := range cases {
		if err := l.SendRawIPv6(Native, c.pkt); err != nil {
			t.Fatalf("inject %s: %v", c.name, err)
		}
		want[c.reason]++
	}
	relWait(t, l, 3*time.Second, "the Packet Too Big sent", func(m map[string]float64) bool { return m[relTooBig] > before[relTooBig] })
	time.Sleep(300 * time.Millisecond)
	m := relaydMetrics(t, l)
	for reason, n := range want {
		if got := m[relDrop(reason)] - before[relDrop(reason)]; got != n {
			t.Errorf("%s grew by %v, want %v", relDrop(reason), got, n)
		}
	}
	for _, k := range []string{relV6ToV4, relIndirect, relDirect, relPending} {
		if m[k] != before[k] {
			t.Errorf("%s changed %v -> %v: a refused packet was carried or started a verification", k, before[k], m[k])
		}
	}
	if got := m[relTooBig] - before[relTooBig]; got != 1 {
		t.Errorf("Packet Too Big sent %v times, want 1", got)
	}
	relayFrames, err := relayCap.Stop()
	if err != nil {
		t.Fatal(err)
	}
	nativeFrames, err := nativeCap.Stop()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range relayFrames {
		ip := relIPv4(f.Data)
		if ip == nil || netip.AddrFrom4([4]byte(ip[12:16])) != RelayIPv4 {
			continue
		}
		if binary.BigEndian.Uint16(ip[6:8])&0x3fff != 0 {
			t.Errorf("relay emitted an IPv4 fragment to %v", netip.AddrFrom4([4]byte(ip[16:20])))
		} else {
			t.Errorf("relay emitted an IPv4 datagram to %v (%d bytes) for a refused packet", netip.AddrFrom4([4]byte(ip[16:20])), len(ip))
		}
	}
	var ptb int
	for _, f := range nativeFrames {
		p, ok := DecodeIPv6(f.Data)
		if !ok || len(p) < 48+40 || p[6] != ProtoICMPv6 || p[40] != 2 {
			continue
		}
		ptb++
		if src := IPv6Src(p); src != RelayIPv6 {
			t.Errorf("Packet Too Big from %v, want the relay %v", src, RelayIPv6)
		}
		if mtu := binary.BigEndian.Uint32(p[44:48]); mtu != 1280 {
			t.Errorf("Packet Too Big MTU %d, want 1280", mtu)
		}
		if q := p[48:]; IPv6Dst(q) != client || len(p) > 1280 {
			t.Errorf("Packet Too Big quotes a packet to %v, %d bytes in all", IPv6Dst(q), len(p))
		}
	}
	if ptb != 1 {
		t.Errorf("native host received %d Packet Too Big messages, want 1", ptb)
	}
	relPing(t, l, Native, client, 2, 2)

	// C9, the MTFL-SA-0603 guard: a destination whose Teredo server is the
	// relay itself would make the relay send its indirect bubbles to its own
	// address and port. It must be refused like a mapped address of the
	// relay's (dst_self) or a bogon server (dst_server_bogon), with no
	// verification started.
	before = relaydMetrics(t, l)
	selfServer := TeredoAddr(RelayIPv4, 0, netip.AddrPortFrom(AttackerIPv4, 4001))
	if err := l.SendRawIPv6(Native, EchoRequest(native, selfServer, 64, 0x7e16, 1, nil)); err != nil {
		t.Fatal(err)
	}
	relWait(t, l, 3*time.Second, "the packet to "+selfServer.String()+" handled", func(m map[string]float64) bool {
		return m["teredo_relay_queue_rx_packets_total{interface=\""+RelayOneArmedIface+"\",queue=\"0\"}"] > before["teredo_relay_queue_rx_packets_total{interface=\""+RelayOneArmedIface+"\",queue=\"0\"}"]
	})
	time.Sleep(200 * time.Millisecond)
	m = relaydMetrics(t, l)
	refused := m[relDrop("dst_self")] - before[relDrop("dst_self")] + m[relDrop("dst_server_bogon")] - before[relDrop("dst_server_bogon")]
	if refused != 1 || m[relIndirect] != before[relIndirect] || m[relPending] != before[relPending] {
		t.Errorf("destination %v (server = the relay's own address): dst_self + dst_server_bogon grew by %v (want 1), indirect bubbles %v -> %v, pending %v -> %v: the relay bubbles its own address",
			selfServer, refused, before[relIndirect], m[relIndirect], before[relPending], m[relPending])
	}
}

// TestReliabilityInboundBubbleFloodAndICMPv4 (reliability.md D6, D7): from
// the IPv4 side, 2000 unsolicited bubbles from 2000 self-consistent Teredo
// sources create no state and get no answer (each counted once), and
// spoofed ICMPv4 port-unreachable errors that quote the relay's datagrams
// to the trusted client's mapping do not tear the client down: the daemon
// ignores ICMPv4 for peer state, keeps running and keeps forwarding.
func TestReliabilityInboundBubbleFloodAndICMPv4(t *testing.T) {
	l := relLab(t, OneArmed, "")
	client, native := l.ClientAddr(), l.NativeAddr()
	relPing(t, l, Native, client, 2, 2)
	relPing(t, l, Client, native, 2, 2)
	attackerCap := relCapture(t, l, Attacker, HostIface, "udp")
	flooder := relNewFlooder(t, l, Attacker, unix.AF_INET)
	relay := netip.AddrPortFrom(RelayIPv4, TeredoPort)
	before := relaydMetrics(t, l)
	const n = 2000
	relLegitDuring(t, l, func() {
		for i := range n {
			src := netip.AddrPortFrom(AttackerIPv4, uint16(30000+i))
			if err := flooder.send(IPv4UDP(src, relay, uint16(i), 64, Bubble(TeredoAddr(ServerIPv4, 0, src), RelayIPv6))); err != nil {
				t.Fatalf("flood: %v", err)
			}
			if i%250 == 249 {
				time.Sleep(100 * time.Millisecond)
			}
		}
	})
	refused := func(m map[string]float64) float64 {
		return m[relDrop("unknown_peer")] - before[relDrop("unknown_peer")] + m[relDrop("client_rate_limited")] - before[relDrop("client_rate_limited")]
	}
	m := relWait(t, l, 5*time.Second, "every unsolicited bubble counted", func(m map[string]float64) bool { return refused(m) >= n })
	t.Logf("%d unsolicited bubbles: unknown_peer +%v, client_rate_limited +%v", n,
		m[relDrop("unknown_peer")]-before[relDrop("unknown_peer")], m[relDrop("client_rate_limited")]-before[relDrop("client_rate_limited")])
	if got := refused(m); got != n {
		t.Errorf("unknown_peer + client_rate_limited grew by %v, want exactly %d", got, n)
	}
	if m[relPending] != 0 || m[relTrusted] != 1 || m[relIndirect] != before[relIndirect] || m[relDirect] != before[relDirect] {
		t.Errorf("unsolicited bubbles changed state: pending %v trusted %v, bubbles sent %v/%v -> %v/%v",
			m[relPending], m[relTrusted], before[relIndirect], before[relDirect], m[relIndirect], m[relDirect])
	}
	frames, err := attackerCap.Stop()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range frames {
		if u, err := DecodeUDP4(f.Data); err == nil && u.Src == relay {
			t.Errorf("relay answered an unsolicited bubble: %d bytes to %v", len(u.Payload), u.Dst)
			break
		}
	}

	// D7: ICMPv4 port unreachable "from" the client's NAT, quoting the
	// relay's datagram to the client's mapping.
	_, mapping, _ := TeredoMapping(client)
	quoted := IPv4UDP(relay, mapping, 1, 64, Bubble(RelayIPv6, client))
	pid := l.relay.cmd.Process.Pid
	for range 20 {
		if err := l.SendRawIPv4(Attacker, relICMPv4(mapping.Addr(), RelayIPv4, 3, 3, quoted)); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(200 * time.Millisecond)
	if p := relPeer(t, l, client); p == nil || p.State != "trusted" {
		t.Fatalf("the client after spoofed ICMPv4 errors: %+v, want still trusted", p)
	}
	if !l.RelayRunning() || l.relay.cmd.Process.Pid != pid {
		t.Fatalf("teredo-relayd did not survive spoofed ICMPv4 errors:\n%s", l.ProcessLog("relay"))
	}
	m2 := relaydMetrics(t, l)
	if got := m2[relXDP("pass", "pass_ipv4_other")] - m[relXDP("pass", "pass_ipv4_other")]; got < 20 {
		t.Errorf("ICMPv4 errors passed to the kernel by XDP: %v, want the 20 sent", got)
	}
	relPing(t, l, Native, client, 3, 3)
	relPing(t, l, Client, native, 3, 3)
}

// TestReliabilityFragmentedPath (reliability.md C5, D8, RFC 4380 §5.1.2):
// the link between the core router and the client's NAT gets a 1000-byte
// MTU, so full-size Teredo datagrams (1280 + 28 bytes) are fragmented on
// the way in both directions. The relay must carry TCP both ways intact:
// client → relay fragments go to the kernel (XDP passes them) and reach the
// daemon through its UDP socket; relay → client datagrams must leave
// without DF so the core can fragment them. Then 3000 bogus first
// fragments flood the relay's address: the kernel's reassembly absorbs
// them (bounded by ipfrag_high_thresh) while the client keeps working.
func TestReliabilityFragmentedPath(t *testing.T) {
	l := relLab(t, OneArmed, "")
	client, native := l.ClientAddr(), l.NativeAddr()
	relPing(t, l, Native, client, 2, 2)
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	if _, err := l.Exec(ctx, Core, "ip", "link", "set", coreNAT, "mtu", "1000"); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Exec(ctx, NAT, "ip", "link", "set", NATOutsideIface, "mtu", "1000"); err != nil {
		t.Fatal(err)
	}
	v4core, _ := l.CoreRelayIfaces()
	relayCap := relCapture(t, l, Core, v4core, "ip", "and", "src", "host", RelayIPv4.String())
	before := relaydMetrics(t, l)
	for _, dir := range []struct {
		from, to Node
		dst      netip.Addr
	}{{Client, Native, native}, {Native, Client, client}} {
		tr, err := l.TCPTransfer(ctx, dir.from, dir.to, dir.dst, 1<<20)
		if err != nil || !tr.Intact() || tr.Received != 1<<20 {
			t.Fatalf("TCP %s -> %s over the fragmenting path: %v %v", dir.from, dir.to, err, tr)
		}
		t.Logf("%v", tr)
	}
	m := relaydMetrics(t, l)
	frags := m[relXDP("pass", "pass_ipv4_fragment")] - before[relXDP("pass", "pass_ipv4_fragment")]
	t.Logf("fragments passed to the kernel by XDP: %v; forwarded v4_to_v6 +%v, v6_to_v4 +%v", frags,
		m[relV4ToV6]-before[relV4ToV6], m[relV6ToV4]-before[relV6ToV4])
	// 1 MiB from the client is about 860 full-size segments of two
	// fragments each; at least half of the data must have come fragmented.
	if frags < (1<<20)/1280 {
		t.Errorf("only %v IPv4 fragments reached the relay for 1 MiB sent by the client in full-size packets", frags)
	}
	frames, err := relayCap.Stop()
	if err != nil {
		t.Fatal(err)
	}
	var df, big int
	for _, f := range frames {
		ip := relIPv4(f.Data)
		if ip == nil || ip[9] != ProtoUDP {
			continue
		}
		if binary.BigEndian.Uint16(ip[2:4]) > 1000 {
			big++
			if ip[6]&0x40 != 0 {
				df++
			}
		}
	}
	if big == 0 || df != 0 {
		t.Errorf("relay's datagrams over 1000 bytes: %d, %d of them with DF set (want many, none with DF)", big, df)
	}

	// D8: a flood of first fragments that never complete.
	flooder := relNewFlooder(t, l, Attacker, unix.AF_INET)
	relay := netip.AddrPortFrom(RelayIPv4, TeredoPort)
	before = relaydMetrics(t, l)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		relLegitDuring(t, l, func() {})
	}()
	for i := range 3000 {
		p := IPv4UDP(netip.AddrPortFrom(AttackerIPv4, uint16(50000+i%1000)), relay, uint16(i), 64, make([]byte, 1000))
		binary.BigEndian.PutUint16(p[6:8], 0x2000) // MF, offset 0
		if err := flooder.send(p); err != nil {
			t.Fatalf("fragment flood: %v", err)
		}
		if i%300 == 299 {
			time.Sleep(100 * time.Millisecond)
		}
	}
	wg.Wait()
	m = relaydMetrics(t, l)
	if got := m[relXDP("pass", "pass_ipv4_fragment")] - before[relXDP("pass", "pass_ipv4_fragment")]; got < 3000 {
		t.Errorf("first fragments passed to the kernel: %v, want the 3000 sent", got)
	}
	out, err := l.Exec(ctx, Relay, "cat", "/proc/net/sockstat")
	if err == nil {
		t.Logf("relay namespace after the fragment flood:\n%s", out)
	}
	relPing(t, l, Client, native, 3, 3)
}
