package loadgen

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"testing"

	"github.com/teredorelay/teredorelay/bench/internal/benchbpf"
	"github.com/teredorelay/teredorelay/teredo"
)

var testEP = Endpoints{
	Relay:      netip.MustParseAddrPort("198.51.100.1:3544"),
	Server:     netip.MustParseAddr("192.0.2.1"),
	GenMAC:     net.HardwareAddr{2, 0, 0, 0, 0, 1},
	RelayV4MAC: net.HardwareAddr{2, 0, 0, 0, 0, 2},
	RelayV6MAC: net.HardwareAddr{2, 0, 0, 0, 0, 3},
	NativeMAC:  net.HardwareAddr{2, 0, 0, 0, 0, 4},
}

func TestClients(t *testing.T) {
	cs := Clients(300, testEP.Server)
	// Client 0: 203.0.113.1:20000 behind 192.0.2.1, flags 0. Teredo address
	// per RFC 4380 §4: 2001:0:<server>:<flags>:<~port>:<~addr>.
	if got, want := cs[0].Addr, netip.MustParseAddr("2001:0:c000:201:0:b1df:34ff:8efe"); got != want {
		t.Errorf("client 0 address %v, want %v", got, want)
	}
	seen := map[netip.Addr]bool{}
	for i, c := range cs {
		a, ok := teredo.ParseAddr(c.Addr)
		if !ok || a.Mapped != c.Mapped || a.Server != testEP.Server {
			t.Fatalf("client %d: %v does not decode to %v behind %v", i, c.Addr, c.Mapped, testEP.Server)
		}
		if !netip.MustParsePrefix("203.0.113.0/24").Contains(c.Mapped.Addr()) {
			t.Fatalf("client %d mapped outside 203.0.113.0/24: %v", i, c.Mapped)
		}
		if seen[c.Addr] {
			t.Fatalf("client %d repeats %v", i, c.Addr)
		}
		seen[c.Addr] = true
	}
}

// decodeSlot checks a slot header against the frame it was built from and
// returns the frame with the slot's header applied, as the XDP program does.
func frameOf(t *testing.T, tr *Traffic, i int) []byte {
	t.Helper()
	f := append([]byte(nil), tr.Frame...)
	copy(f, tr.Slots[i].Hdr[:])
	return f
}

func TestDecapFrame(t *testing.T) {
	cs := Clients(4, testEP.Server)
	tr, err := Decap(testEP, cs, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(tr.Frame) != 14+28+100 || len(tr.Slots) != 4 {
		t.Fatalf("frame %d bytes, %d slots", len(tr.Frame), len(tr.Slots))
	}
	for i := range tr.Slots {
		f := frameOf(t, &tr, i)
		if binary.BigEndian.Uint16(f[12:14]) != 0x0800 || net.HardwareAddr(f[0:6]).String() != testEP.RelayV4MAC.String() {
			t.Fatalf("slot %d: bad Ethernet header % x", i, f[:14])
		}
		var ip teredo.IPv4Header
		if err := ip.Decode(f[14:]); err != nil {
			t.Fatalf("slot %d: IPv4: %v", i, err)
		}
		if ip.SrcAddr() != cs[i].Mapped.Addr() || ip.DstAddr() != testEP.Relay.Addr() {
			t.Errorf("slot %d: IPv4 %v → %v", i, ip.SrcAddr(), ip.DstAddr())
		}
		var u teredo.UDPHeader
		if err := u.Decode(f[34:]); err != nil {
			t.Fatal(err)
		}
		if u.SrcPort != cs[i].Mapped.Port() || u.DstPort != 3544 {
			t.Errorf("slot %d: UDP %d → %d", i, u.SrcPort, u.DstPort)
		}
		var p teredo.Packet
		if err := p.Decode(f[42:]); err != nil {
			t.Fatalf("slot %d: Teredo payload: %v", i, err)
		}
		src := teredo.Src(p.IPv6)
		if !teredo.MatchesSource(&src, cs[i].Mapped) {
			t.Errorf("slot %d: Teredo source %v does not match the mapping %v", i, netip.AddrFrom16(src), cs[i].Mapped)
		}
		if dst := netip.AddrFrom16(teredo.Dst(p.IPv6)); dst != NativeHost(i) {
			t.Errorf("slot %d: destination %v", i, dst)
		}
		if off := int(tr.Slots[i].ProbeOff); off != 14+28+40+8 || tr.Slots[i].Egress != egressTX {
			t.Errorf("slot %d: probe at %d, egress %d", i, off, tr.Slots[i].Egress)
		}
		if Kind(tr.Slots[i].Flags>>benchbpf.KindShift) != KindDecap {
			t.Errorf("slot %d: kind %v", i, Kind(tr.Slots[i].Flags>>benchbpf.KindShift))
		}
	}
}

func TestEncapAndMixedFrames(t *testing.T) {
	cs := Clients(3, testEP.Server)
	enc, err := Encap(testEP, cs, 100)
	if err != nil {
		t.Fatal(err)
	}
	for i := range enc.Slots {
		f := frameOf(t, &enc, i)
		if binary.BigEndian.Uint16(f[12:14]) != 0x86DD || f[14]>>4 != 6 {
			t.Fatalf("slot %d: not IPv6", i)
		}
		if dst := netip.AddrFrom16(teredo.Dst(f[14:])); dst != cs[i].Addr {
			t.Errorf("slot %d: destination %v, want %v", i, dst, cs[i].Addr)
		}
		if enc.Slots[i].Egress != egressRedirect || enc.Slots[i].ProbeOff != 14+40+8 {
			t.Errorf("slot %d: egress %d probe %d", i, enc.Slots[i].Egress, enc.Slots[i].ProbeOff)
		}
	}
	mix, err := Mixed(testEP, cs, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(mix.Slots) != 6 || mix.Kinds[KindDecap] != 3 || mix.Kinds[KindEncap] != 3 {
		t.Fatalf("mixed: %d slots, kinds %v", len(mix.Slots), mix.Kinds)
	}
	// The encap packet is 28 bytes longer so that both fill the same frame.
	f := frameOf(t, &mix, 1)
	if got := teredo.PayloadLen(f[14:]) + 40; got != 128 || len(mix.Frame) != 14+128 {
		t.Errorf("mixed encap IPv6 length %d, frame %d", got, len(mix.Frame))
	}
	if mix.SentIn(KindEncap, 0, 7) != 3 || mix.SentIn(KindDecap, 0, 7) != 4 {
		t.Errorf("SentIn(0, 7): decap %d encap %d, want 4 and 3", mix.SentIn(KindDecap, 0, 7), mix.SentIn(KindEncap, 0, 7))
	}
	// Starting on an encap slot (sequence 1): 1, 3, 5 are encap, 2, 4 decap.
	if mix.SentIn(KindEncap, 1, 5) != 3 || mix.SentIn(KindDecap, 1, 5) != 2 {
		t.Errorf("SentIn(1, 5): decap %d encap %d, want 2 and 3", mix.SentIn(KindDecap, 1, 5), mix.SentIn(KindEncap, 1, 5))
	}
}

func TestGarbageFrames(t *testing.T) {
	cs := Clients(8, testEP.Server)
	tr, err := Garbage(testEP, cs, 100, 5)
	if err != nil {
		t.Fatal(err)
	}
	if len(tr.Slots) != 48 || tr.Kinds[KindDecap] != 8 || tr.Kinds[KindSpoofed]+tr.Kinds[KindMalformed] != 40 {
		t.Fatalf("%d slots, kinds %v", len(tr.Slots), tr.Kinds)
	}
	for i := range tr.Slots {
		k := Kind(tr.Slots[i].Flags >> benchbpf.KindShift)
		f := frameOf(t, &tr, i)
		var p teredo.Packet
		err := p.Decode(f[42:])
		switch k {
		case KindDecap:
			if err != nil {
				t.Errorf("slot %d: legit packet does not decode: %v", i, err)
			}
		case KindMalformed:
			if err == nil {
				t.Errorf("slot %d: malformed packet decodes", i)
			}
		case KindSpoofed:
			if err != nil {
				t.Errorf("slot %d: spoofed packet should be well formed: %v", i, err)
				continue
			}
			// Either the source is not Teredo, or its mapping is not the
			// UDP source, or the client never did a handshake.
			src := teredo.Src(p.IPv6)
			var u teredo.UDPHeader
			u.Decode(f[34:])
			var ip teredo.IPv4Header
			ip.Decode(f[14:])
			from := netip.AddrPortFrom(ip.SrcAddr(), u.SrcPort)
			known := false
			for _, c := range cs {
				known = known || c.Mapped == from
			}
			if teredo.IsTeredo(&src) && teredo.MatchesSource(&src, from) && known {
				t.Errorf("slot %d: spoofed packet is a legitimate one from %v", i, from)
			}
		default:
			t.Errorf("slot %d: unexpected kind %v", i, k)
		}
	}
}

func TestBubbleFrames(t *testing.T) {
	cs := Clients(2, testEP.Server)
	tr, err := Bubbles(testEP, cs)
	if err != nil {
		t.Fatal(err)
	}
	f := frameOf(t, &tr, 1)
	var ip teredo.IPv4Header
	if err := ip.Decode(f[14:]); err != nil {
		t.Fatal(err)
	}
	var p teredo.Packet
	if err := p.Decode(f[42 : 14+int(ip.TotalLen)]); err != nil || !p.IsBubble() {
		t.Fatalf("not a bubble: %v", err)
	}
	if int(ip.TotalLen) != 68 || len(f) != benchbpf.SlotHdr+benchbpf.ProbeLen {
		t.Errorf("IPv4 length %d, frame %d (Ethernet trailer holds the probe)", ip.TotalLen, len(f))
	}
}

func TestTrafficLimits(t *testing.T) {
	cs := Clients(2, testEP.Server)
	if _, err := Decap(testEP, nil, 100); err == nil {
		t.Error("decap without clients accepted")
	}
	if _, err := Encap(testEP, cs, 60); err == nil {
		t.Error("encap packet too short for the slot header accepted")
	}
	if _, err := Garbage(testEP, Clients(20000, testEP.Server), 100, 5); err == nil {
		t.Error("more than 65536 slots accepted")
	}
	// Mixed frames of 122 bytes: the decap probe (bytes 90–122) spills
	// past the 96-byte slot header, where the generator clears only in
	// frames of at least 128 bytes.
	if _, err := Mixed(testEP, cs, 80); err == nil {
		t.Error("mixed frames too short for the probe-spill clearing accepted")
	}
	if _, err := Decap(testEP, cs, 80); err != nil {
		t.Errorf("decap frames of 122 bytes (one probe offset) refused: %v", err)
	}
}

// onesSum adds b as big-endian 16-bit words (one's complement, folded).
func onesSum(sum uint32, b []byte) uint32 {
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	if len(b)%2 == 1 {
		sum += uint32(b[len(b)-1]) << 8
	}
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return sum
}

// checkUDP6 verifies the UDP checksum of the IPv6 packet ip6 (RFC 8200 §8.1).
func checkUDP6(t *testing.T, what string, ip6 []byte) {
	t.Helper()
	plen := int(binary.BigEndian.Uint16(ip6[4:6]))
	u := ip6[40 : 40+plen]
	sum := onesSum(0, ip6[8:40])
	sum = onesSum(sum+uint32(len(u))+uint32(teredo.ProtoUDP), u)
	if sum != 0xffff {
		t.Errorf("%s: UDP checksum %#04x does not verify (sum %#04x)", what, binary.BigEndian.Uint16(u[6:8]), sum)
	}
}

// probeOf decodes the probe record at off.
func probeOf(f []byte, off int) (flags uint32, seq, ts uint64, peer uint32) {
	p := f[off:]
	if binary.LittleEndian.Uint32(p) != benchbpf.Magic {
		return 0, 0, 0, ^uint32(0)
	}
	return binary.LittleEndian.Uint32(p[4:]), binary.LittleEndian.Uint64(p[8:]), binary.LittleEndian.Uint64(p[16:]), binary.LittleEndian.Uint32(p[24:])
}

// TestPeerVariation writes frames of the one-slot peer traffics for peers
// near the edges of the mapping formula and checks each frame against the
// teredo decoder and the checksums: decap frames come from ClientAt(p) with
// a matching Teredo source, encap frames go to its Teredo address, every
// IPv4 header and inner UDP checksum verifies (probe record included), and
// the probe names the peer.
func TestPeerVariation(t *testing.T) {
	dec, err := DecapPeers(testEP, MaxPeers, 0)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := EncapPeers(testEP, MaxPeers, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := DecapPeers(testEP, MaxPeers+1, 0); err == nil {
		t.Error("more peers than the mapping formula names accepted")
	}
	f := make([]byte, 2048)
	for _, p := range []uint64{0, 1, 249, 250, 251, 65535, 999_999, 1_000_000, MaxPeers - 1} {
		c := ClientAt(int(p), testEP.Server)
		ts := uint64(0)
		if p%2 == 1 {
			ts = 123456789 + p // a probe
		}
		// Decap: one slot, so frame p is peer p.
		dec.writeFrame(f, p, ts)
		fr := f[:len(dec.Frame)]
		var ip teredo.IPv4Header
		if err := ip.Decode(fr[14:]); err != nil {
			t.Fatalf("peer %d: IPv4: %v", p, err)
		}
		if onesSum(0, fr[14:34]) != 0xffff {
			t.Errorf("peer %d: IPv4 header checksum does not verify", p)
		}
		var u teredo.UDPHeader
		u.Decode(fr[34:])
		if from := netip.AddrPortFrom(ip.SrcAddr(), u.SrcPort); from != c.Mapped {
			t.Errorf("peer %d: outer source %v, want %v", p, from, c.Mapped)
		}
		var pkt teredo.Packet
		if err := pkt.Decode(fr[42:]); err != nil {
			t.Fatalf("peer %d: Teredo: %v", p, err)
		}
		src := teredo.Src(pkt.IPv6)
		if netip.AddrFrom16(src) != c.Addr || !teredo.MatchesSource(&src, c.Mapped) {
			t.Errorf("peer %d: Teredo source %v, want %v", p, netip.AddrFrom16(src), c.Addr)
		}
		if dst := netip.AddrFrom16(teredo.Dst(pkt.IPv6)); dst != NativeHost(int(p%16)) {
			t.Errorf("peer %d: native destination %v", p, dst)
		}
		checkUDP6(t, fmt.Sprintf("decap peer %d", p), pkt.IPv6)
		if flags, seq, gotTS, peer := probeOf(fr, decapProbeOff); seq != p || peer != uint32(p) || gotTS != ts || (flags&benchbpf.FlagProbe != 0) != (ts != 0) {
			t.Errorf("peer %d: probe seq %d peer %d ts %d flags %#x", p, seq, peer, gotTS, flags)
		}

		enc.writeFrame(f, p, ts)
		fr = f[:len(enc.Frame)]
		if dst := netip.AddrFrom16(teredo.Dst(fr[14:])); dst != c.Addr {
			t.Errorf("peer %d: encap destination %v, want %v", p, dst, c.Addr)
		}
		if src := netip.AddrFrom16(teredo.Src(fr[14:])); src != NativeHost(int(p%16)) {
			t.Errorf("peer %d: encap source %v", p, src)
		}
		checkUDP6(t, fmt.Sprintf("encap peer %d", p), fr[14:])
		if _, _, _, peer := probeOf(fr, encapProbeOff); peer != uint32(p) {
			t.Errorf("peer %d: encap probe names peer %d", p, peer)
		}
	}
}

// TestLadderFramesChecksums: the slot-per-client traffics keep correct
// checksums too once the probe record is written.
func TestLadderFramesChecksums(t *testing.T) {
	cs := Clients(5, testEP.Server)
	mix, err := Mixed(testEP, cs, 100)
	if err != nil {
		t.Fatal(err)
	}
	f := make([]byte, len(mix.Frame))
	for seq := range uint64(10) {
		mix.writeFrame(f, seq, seq*1000)
		ip6 := f[14:]
		if seq%2 == 0 {
			ip6 = f[42:]
		}
		checkUDP6(t, fmt.Sprintf("mixed frame %d", seq), ip6)
		if _, _, _, peer := probeOf(f, int(mix.Slots[seq%10].ProbeOff)); peer != uint32(seq/2) {
			t.Errorf("frame %d names peer %d, want %d", seq, peer, seq/2)
		}
	}
}
