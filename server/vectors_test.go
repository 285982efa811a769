package server

import (
	"bytes"
	"encoding/hex"
	"net/netip"
	"strings"
	"testing"

	"github.com/teredorelay/teredorelay/teredo"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.NewReplacer(" ", "", "\n", "", "\t", "").Replace(s))
	if err != nil {
		t.Fatalf("hex: %v", err)
	}
	return b
}

// T9: the RS UDP payload of the testbed capture (teredo-spec.md §8.3).
const t9RS = "0001 0000 43c84a662f0adcb3 00" +
	"6000 0000 0008 3aff fe80 0000 0000 0000 0000 ffff ffff ffff ff02 0000 0000 0000 0000 0000 0000 0002" +
	"8500 7d37 0000 0000"

// T11: the relay's indirect bubble 198.51.100.1:3544 → 192.0.2.1:3544.
const t11Bubble = "6000000000003b00 fe80000000000000 4439a801d52932ad 20010000c0000201 3cc44b5f34ff8efe"

// TestVectorT9T10 answers the T9 RS and checks the RA against T10 field by
// field: authentication echoed (nonce 43c84a662f0adcb3, confirmation 0),
// origin 203.0.113.1:46240, source fe80::8000:f227:3fff:fdfe (T15), PIO
// 2001:0:c000:201::/64, MTU option 1280, retrans timer 2000 ms, router
// lifetime 0, from the address the RS came to (cone bit clear).
func TestVectorT9T10(t *testing.T) {
	h := newHarness(t, nil)
	rs := unhex(t, t9RS)
	if len(rs) != 61 {
		t.Fatalf("T9 is %d bytes, want 61", len(rs))
	}
	v, out := h.handle(ipv4udp(natAP, primaryAP(), rs))
	if v != ToIPv4 {
		t.Fatalf("verdict %v, want to_ipv4", v)
	}
	src, dst, p := outer(t, out)
	if src != primaryAP() || dst != natAP {
		t.Fatalf("RA %v → %v, want %v → %v", src, dst, primaryAP(), natAP)
	}
	if len(p) != 117 {
		t.Fatalf("RA payload %d bytes, want 117 (T10)", len(p))
	}
	want := map[string]struct {
		at  int
		hex string
	}{
		"auth (nonce echoed, conf 0)":                       {0, "0001 0000 43c84a662f0adcb3 00"},
		"origin 203.0.113.1:46240":                          {13, "0000 4b5f 34ff 8efe"},
		"ipv6 header":                                       {21, "6000 0000 0038 3aff"},
		"src fe80::8000:f227:3fff:fdfe (T15)":               {29, "fe80 0000 0000 0000 8000 f227 3fff fdfe"},
		"dst = RS source":                                   {45, "fe80 0000 0000 0000 0000 ffff ffff ffff"},
		"RA type/code":                                      {61, "8600"},
		"hop, flags, lifetime 0, reachable 0, retrans 2000": {65, "00 00 0000 00000000 000007d0"},
		"PIO 2001:0:c000:201::/64":                          {77, "03 04 40 40 ffffffff ffffffff 00000000 20010000c0000201 0000000000000000"},
		"MTU 1280":                                          {109, "05 01 0000 00000500"},
	}
	for name, w := range want {
		b := unhex(t, w.hex)
		if got := p[w.at : w.at+len(b)]; !bytes.Equal(got, b) {
			t.Errorf("%s: % x, want % x", name, got, b)
		}
	}
	var pkt teredo.Packet
	if err := pkt.Decode(p); err != nil || !pkt.HasAuth || !pkt.HasOrigin || pkt.Origin != natAP {
		t.Fatalf("RA payload decode: %v %+v", err, pkt)
	}
	var ra teredo.RA
	if err := teredo.ParseRA(pkt.IPv6, &ra); err != nil {
		t.Fatalf("ParseRA (checksum, options): %v", err)
	}
	if ra.Prefix != netip.MustParsePrefix("2001:0:c000:201::/64") || ra.MTU != 1280 {
		t.Fatalf("RA %+v", ra)
	}
	c := h.s.Counters()
	if c.RSReceived != 1 || c.RASent[RASameAddress] != 1 || c.TotalDrops() != 0 {
		t.Fatalf("counters %+v", c)
	}
}

// TestVectorT11T12 forwards the relay's indirect bubble (T11) to the client
// with the origin indication of the relay (T12), from the primary address.
func TestVectorT11T12(t *testing.T) {
	h := newHarness(t, nil)
	in := unhex(t, t11Bubble)
	v, out := h.handle(ipv4udp(relayAP, primaryAP(), in))
	if v != ToIPv4 {
		t.Fatalf("verdict %v, want to_ipv4", v)
	}
	src, dst, p := outer(t, out)
	if src != primaryAP() || dst != natAP {
		t.Fatalf("forward %v → %v, want %v → %v", src, dst, primaryAP(), natAP)
	}
	want := append(unhex(t, "0000f22739cc9bfe"), in...)
	if !bytes.Equal(p, want) {
		t.Fatalf("T12 payload\n got % x\nwant % x", p, want)
	}
	c := h.s.Counters()
	if c.Forwarded[ForwardBubble] != 1 || c.OriginIndications != 1 || c.TotalDrops() != 0 {
		t.Fatalf("counters %+v", c)
	}
}

// TestVectorsT14toT17 checks the server link-local address (RA source) and
// the advertised prefix in RAs built by servers with the vectors' addresses.
func TestVectorsT14toT17(t *testing.T) {
	for _, c := range []struct {
		id, server, ll, prefix string
	}{
		{"T14", "65.54.227.126", "fe80::8000:f227:bec9:1c81", "2001:0:4136:e37e::/64"},
		{"T15", "192.0.2.1", "fe80::8000:f227:3fff:fdfe", "2001:0:c000:201::/64"},
		{"T16/T17", "203.0.113.120", "fe80::8000:f227:34ff:8e87", "2001:0:cb00:7178::/64"},
	} {
		t.Run(c.id, func(t *testing.T) {
			srv := netip.MustParseAddr(c.server)
			h := newHarness(t, func(cfg *Config) { cfg.Primary = srv })
			if got := h.s.LinkLocal().String(); got != c.ll {
				t.Errorf("LinkLocal %s, want %s", got, c.ll)
			}
			if got := h.s.Prefix().String(); got != c.prefix {
				t.Errorf("Prefix %s, want %s", got, c.prefix)
			}
			v, out := h.handle(ipv4udp(natAP, netip.AddrPortFrom(srv, teredo.Port), rsPayload(false, &teredo.Auth{})))
			if v != ToIPv4 {
				t.Fatalf("verdict %v", v)
			}
			_, _, p := outer(t, out)
			var pkt teredo.Packet
			var ra teredo.RA
			if err := pkt.Decode(p); err != nil {
				t.Fatal(err)
			}
			if err := teredo.ParseRA(pkt.IPv6, &ra); err != nil {
				t.Fatal(err)
			}
			if ra.Src.String() != c.ll || ra.Prefix.String() != c.prefix {
				t.Fatalf("RA from %s with prefix %s, want %s and %s", ra.Src, ra.Prefix, c.ll, c.prefix)
			}
		})
	}
}

// TestCaptureReplay replays every datagram the client and the relay sent to
// Miredo's server in the testbed capture and compares our output with the
// frame Miredo sent next: the RA (T10) and the forwarded bubble (T12) byte
// for byte (UDP payload, addresses, ports); the client's echo requests to
// native hosts byte for byte except the hop limit, which we decrement as a
// router (Miredo sends them unchanged through a raw socket).
func TestCaptureReplay(t *testing.T) {
	h := newHarness(t, nil)
	pkts := readPcap(t, serverPcap)
	checked := map[string]int{}
	for i, in := range pkts {
		if in.v6 || len(in.l3) < 28 || [4]byte(in.l3[16:20]) != serverIP.As4() {
			continue
		}
		if i+1 >= len(pkts) {
			t.Fatalf("frame %d has no answer in the capture", in.index)
		}
		next := pkts[i+1]
		v, out := h.handle(in.l3)
		switch {
		case next.v6:
			if v != ToIPv6 {
				t.Fatalf("frame %d: verdict %v, want to_ipv6 like frame %d", in.index, v, next.index)
			}
			want := append([]byte(nil), next.l3...)
			want[7]--
			if !bytes.Equal(out, want) {
				t.Fatalf("frame %d: IPv6\n got % x\nwant % x", in.index, out, want)
			}
			checked["to_ipv6"]++
		default:
			if v != ToIPv4 {
				t.Fatalf("frame %d: verdict %v, want to_ipv4 like frame %d", in.index, v, next.index)
			}
			src, dst, p := outer(t, out)
			wsrc, wdst, wp := outer(t, next.l3)
			if src != wsrc || dst != wdst || !bytes.Equal(p, wp) {
				t.Fatalf("frame %d: %v → %v % x\nwant %v → %v % x", in.index, src, dst, p, wsrc, wdst, wp)
			}
			kind, vector := "forward", t11Bubble
			if len(p) > 100 {
				kind, vector = "ra", t9RS
			}
			if !bytes.Equal(in.l3[28:], unhex(t, vector)) {
				t.Fatalf("frame %d is not the spec's vector (T9/T11): % x", in.index, in.l3[28:])
			}
			checked[kind]++
		}
	}
	if checked["ra"] != 1 || checked["forward"] != 1 || checked["to_ipv6"] < 4 {
		t.Fatalf("replay covered %v, want 1 RA, 1 forward, ≥ 4 echoes", checked)
	}
	c := h.s.Counters()
	if c.TotalDrops() != 0 || c.Packets != c.TotalRASent()+c.TotalForwarded() {
		t.Fatalf("counters %+v", c)
	}
}
