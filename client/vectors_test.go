package client

import (
	"encoding/hex"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/teredorelay/teredorelay/teredo"
)

// Datagrams of the project testbed captures (testdata/ at the repository root,
// teredo-spec.md §8.3): UDP payloads, hex.
const (
	// T10: miredo-server's RA to 203.0.113.1:46240 (miredo-server.pcap).
	captureRA = "0001000043c84a662f0adcb300" + "00004b5f34ff8efe" +
		"6000000000383afffe800000000000008000f2273ffffdfefe80000000000000" +
		"0000ffffffffffff860095 4c0000000000000000000007d0030440 40ffffffffffffffff00000000" +
		"2001 0000 c000 0201 0000 0000 0000 0000 0501 0000 0000 0500"
	captureRANonce = "43c84a662f0adcb3"
	// Miredo client's connectivity-test Echo Request via the server, and
	// the Echo Reply the relay sent back (miredo-server.pcap, miredo-relay.pcap).
	captureEchoRequest = "60000000001a3a80200100 00c00002013cc44b5f34ff8efe20010db8000100000000000000 0000fe" +
		"8000d5dc231b4a066b0a18aa7c9c4643716e868784e4a2b079b1"
	captureEchoReply = "600d333e001a3a3f20010db8000100000000000000 0000fe200100 00c00002013cc44b5f34ff8efe" +
		"8100d4dc231b4a066b0a18aa7c9c4643716e868784e4a2b079b1"
	// The relay's Destination Unreachable (address unreachable) quoting an
	// echo request to 2001:db8:3::5 (miredo-relay.pcap).
	captureUnreachable = "600fb248004a3a3f20010db8000100000000000000 0000fe200100 00c00002013cc44b5f34ff8efe" +
		"010307570000000060000000001a3a7f200100 00c00002013cc44b5f34ff8efe20010db80003000000000000 00000005" +
		"80006945231b4a036b0affc629854efe015e8127cae737a3e4fc"
	// T12: the relay's indirect bubble as forwarded by the server.
	captureIndirectBubble = "0000f22739cc9bfe" + "6000000000003b00fe800000000000004439a801d52932ad20010000c00002013cc44b5f34ff8efe"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatalf("bad hex: %v", err)
	}
	return b
}

var (
	captureClient = netip.MustParseAddr("2001:0:c000:201:3cc4:4b5f:34ff:8efe")
	captureNative = netip.MustParseAddr("2001:db8:1::fe")
)

func TestCheckRAVectors(t *testing.T) {
	var nonce [8]byte
	copy(nonce[:], unhex(t, captureRANonce))
	good := raExpect{
		linkLocal: netip.MustParseAddr("fe80::ffff:ffff:ffff"),
		prefix:    teredo.ServerPrefix(netip.MustParseAddr("192.0.2.1")),
		sent:      []sentRS{{nonce: [8]byte{1}}, {nonce: nonce}},
	}
	for _, tc := range []struct {
		name    string
		payload string
		exp     raExpect
		mutate  func(exp *raExpect)
		want    error
		mapped  string
		idx     int
	}{
		{name: "T10 miredo-server RA", payload: captureRA, mapped: "203.0.113.1:46240", idx: 1},
		{name: "T10 other nonce", payload: captureRA, mutate: func(e *raExpect) { e.sent = e.sent[:1] }, want: ErrNonceMismatch},
		{name: "T10 to the cone address", payload: captureRA, mutate: func(e *raExpect) { e.linkLocal = teredo.ClientLinkLocal(true) }, want: ErrWrongDestination},
		{name: "T10 other server", payload: captureRA, mutate: func(e *raExpect) { e.prefix = teredo.ServerPrefix(netip.MustParseAddr("192.0.2.2")) }, want: ErrWrongPrefix},
		{name: "T12 bubble is no RA", payload: captureIndirectBubble, want: ErrNotRA},
	} {
		t.Run(tc.name, func(t *testing.T) {
			exp := good
			exp.sent = append([]sentRS(nil), good.sent...)
			if tc.mutate != nil {
				tc.mutate(&exp)
			}
			var p teredo.Packet
			if err := p.Decode(unhex(t, tc.payload)); err != nil {
				t.Fatalf("decode: %v", err)
			}
			ra, idx, err := checkRA(&p, &exp)
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
			if tc.want != nil {
				return
			}
			if ra.mapped.String() != tc.mapped || idx != tc.idx || ra.mtu != 1280 || ra.prefix.String() != "2001:0:c000:201::/64" {
				t.Errorf("ra %+v idx %d", ra, idx)
			}
		})
	}
}

func TestEchoVectors(t *testing.T) {
	req := unhex(t, captureEchoRequest)
	m, err := parseEcho(req, true)
	if err != nil || m.Type != teredo.ICMPv6EchoRequest || m.ID != 0x231b || m.Seq != 0x4a06 || m.Src != captureClient || m.Dst != captureNative || len(m.Data) != 18 {
		t.Fatalf("request %+v: %v", m, err)
	}
	// Our builder reproduces Miredo's request byte for byte (its hop limit
	// is 128, ours 64).
	b := make([]byte, 128)
	n := putEchoRequest(b, m.Src, m.Dst, m.ID, m.Seq, m.Data)
	b[7] = 128
	if hex.EncodeToString(b[:n]) != hex.EncodeToString(req) {
		t.Errorf("built\n%x\nwant\n%x", b[:n], req)
	}

	// The relay's reply matches the request it answers...
	var nonce [EchoNonceLen]byte
	e := &echoCheck{target: captureNative, self: captureClient, id: 0x231b}
	reply := unhex(t, captureEchoReply)
	if _, err := e.matchReply(reply); !errors.Is(err, ErrNotEcho) {
		t.Errorf("reply to an unknown seq: %v", err)
	}
	// ... when the data is the nonce sent (Miredo's 18-byte authenticator
	// stands in for our 16-byte nonce: compare against the exact bytes).
	copy(nonce[:], m.Data)
	e.sent = []sentEcho{{seq: 0x4a06, nonce: nonce}}
	if _, err := e.matchReply(reply); !errors.Is(err, ErrNonceMismatch) {
		t.Errorf("18-byte data against a 16-byte nonce: %v", err)
	}
	r, err := parseEcho(reply, true)
	if err != nil || r.Type != teredo.ICMPv6EchoReply || r.ID != 0x231b || r.Seq != 0x4a06 || string(r.Data) != string(m.Data) {
		t.Errorf("reply %+v: %v", r, err)
	}
	for _, bad := range []struct {
		name string
		b    []byte
	}{
		{"bad checksum", func() []byte { x := unhex(t, captureEchoReply); x[45] ^= 1; return x }()},
		{"truncated", unhex(t, captureEchoReply)[:60]},
		{"bubble", unhex(t, captureIndirectBubble)[8:]},
		{"unreachable", unhex(t, captureUnreachable)},
	} {
		if _, err := parseEcho(bad.b, true); !errors.Is(err, ErrNotEcho) {
			t.Errorf("%s: %v", bad.name, err)
		}
	}

	// The relay's Destination Unreachable quotes Miredo's request.
	un := unhex(t, captureUnreachable)
	ie, ok := parseICMPv6Error(un)
	if !ok || ie.Type != teredo.ICMPv6DestUnreachable || ie.Code != teredo.CodeAddrUnreachable || ie.Src != captureNative {
		t.Fatalf("unreachable %+v %v", ie, ok)
	}
	q, err := parseEcho(ie.Invoking, false)
	if err != nil || q.Dst != netip.MustParseAddr("2001:db8:3::5") || q.Seq != 0x4a03 {
		t.Errorf("quoted %+v: %v", q, err)
	}
	if icmpErrorName(ie.Type, ie.Code) != "destination unreachable (address unreachable)" {
		t.Errorf("name %q", icmpErrorName(ie.Type, ie.Code))
	}
}

func TestDescribe(t *testing.T) {
	for _, tc := range []struct{ payload, want string }{
		{captureRA, "[auth nonce 43c84a662f0adcb3 conf 0] [origin 203.0.113.1:46240] router advertisement fe80::8000:f227:3fff:fdfe -> fe80::ffff:ffff:ffff"},
		{captureIndirectBubble, "[origin 198.51.100.1:3544] bubble fe80::4439:a801:d529:32ad -> 2001:0:c000:201:3cc4:4b5f:34ff:8efe"},
		{captureEchoReply, "echo reply id 0x231b seq 18950 2001:db8:1::fe -> 2001:0:c000:201:3cc4:4b5f:34ff:8efe"},
		{captureUnreachable, "destination unreachable (address unreachable) 2001:db8:1::fe -> 2001:0:c000:201:3cc4:4b5f:34ff:8efe"},
		{"0002", "2 bytes, undecodable: teredo: not a teredo packet"},
		// ICMPv6 with one byte and with none: a host anywhere can send
		// these through the server; describe used to read ip[41].
		{"6000000000013a40" + "20010db8000100000000000000000010" + "20010000c00002013cc44b5f34ff8efe" + "80",
			"ICMPv6 with 1 byte(s) of header 2001:db8:1::10 -> 2001:0:c000:201:3cc4:4b5f:34ff:8efe"},
		{"6000000000003a40" + "20010db8000100000000000000000010" + "20010000c00002013cc44b5f34ff8efe",
			"ICMPv6 with 0 byte(s) of header 2001:db8:1::10 -> 2001:0:c000:201:3cc4:4b5f:34ff:8efe"},
	} {
		d := datagram{raw: unhex(t, tc.payload)}
		d.err = d.pkt.Decode(d.raw)
		if got := describe(&d); got != tc.want {
			t.Errorf("describe\n got %q\nwant %q", got, tc.want)
		}
	}
	e := Event{Kind: EventRejected, Step: "qualify", Peer: fakePrimary, Err: ErrNoOrigin, Time: time.Unix(0, 0)}
	if got := e.String(); got != "qualify   rejected   192.0.2.1:3544: origin indication missing" {
		t.Errorf("event %q", got)
	}
}

// FuzzCheckRA feeds arbitrary UDP payloads to the client's RA checks: no
// panic, and an accepted RA satisfies every rule.
func FuzzCheckRA(f *testing.F) {
	for _, s := range []string{captureRA, captureIndirectBubble, captureEchoReply} {
		f.Add(unhex(f, s))
	}
	var nonce [8]byte
	copy(nonce[:], unhex(f, captureRANonce))
	exp := raExpect{
		linkLocal: netip.MustParseAddr("fe80::ffff:ffff:ffff"),
		prefix:    teredo.ServerPrefix(netip.MustParseAddr("192.0.2.1")),
		sent:      []sentRS{{nonce: nonce}},
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var p teredo.Packet
		if p.Decode(b) != nil {
			return
		}
		ra, idx, err := checkRA(&p, &exp)
		if err != nil {
			return
		}
		if idx != 0 || !p.HasAuth || p.Auth.Nonce != nonce || p.Auth.Confirm != 0 || !p.HasOrigin || ra.mapped != p.Origin || ra.prefix != exp.prefix {
			t.Fatalf("accepted %x: %+v", b, ra)
		}
	})
}

// FuzzParseEcho feeds arbitrary IPv6 packets to the echo and ICMPv6 error
// parsers: no panic, and a verified echo request rebuilds to the same bytes
// when its header has no traffic class or flow label.
func FuzzParseEcho(f *testing.F) {
	for _, s := range []string{captureEchoRequest, captureEchoReply, captureUnreachable} {
		f.Add(unhex(f, s))
	}
	e := &echoCheck{target: captureNative, self: captureClient, id: 0x231b, sent: []sentEcho{{seq: 0x4a03}, {seq: 0x4a06}}}
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = e.matchReply(b)
		_, _ = e.matchError(b)
		if ie, ok := parseICMPv6Error(b); ok {
			_, _ = parseEcho(ie.Invoking, false)
		}
		m, err := parseEcho(b, true)
		if err != nil || m.Type != teredo.ICMPv6EchoRequest || len(b) < 4 || b[0] != 0x60 || b[1] != 0 || b[2] != 0 || b[3] != 0 {
			return
		}
		out := make([]byte, len(b)+64)
		n := putEchoRequest(out, m.Src, m.Dst, m.ID, m.Seq, m.Data)
		out[7] = b[7]
		if hex.EncodeToString(out[:n]) != hex.EncodeToString(b[:n]) {
			t.Fatalf("rebuilt %x from %x", out[:n], b)
		}
	})
}

// FuzzDescribe feeds arbitrary UDP payloads to the trace's packet
// description: it must never panic, whatever a host sends through the server.
func FuzzDescribe(f *testing.F) {
	for _, s := range []string{captureRA, captureIndirectBubble, captureEchoReply, captureUnreachable,
		"6000000000013a40" + "20010db8000100000000000000000010" + "20010000c00002013cc44b5f34ff8efe" + "80"} {
		f.Add(unhex(f, s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		d := datagram{raw: b}
		d.err = d.pkt.Decode(b)
		if describe(&d) == "" {
			t.Fatalf("empty description of %x", b)
		}
	})
}
