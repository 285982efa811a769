package server

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/teredorelay/teredorelay/teredo"
)

// TestConeRSOtherAddress: an RS whose source has the cone bit set is answered
// from the other server address, one without from the address it reached
// (RFC 4380 §5.3.2, RFC 5991 §3.2), whichever address that is.
func TestConeRSOtherAddress(t *testing.T) {
	for _, c := range []struct {
		name     string
		to       netip.AddrPort
		cone     bool
		wantFrom netip.AddrPort
		kind     RAKind
	}{
		{"restricted to primary", primaryAP(), false, primaryAP(), RASameAddress},
		{"restricted to secondary", secondaryAP(), false, secondaryAP(), RASameAddress},
		{"cone to primary", primaryAP(), true, secondaryAP(), RAOtherAddress},
		{"cone to secondary", secondaryAP(), true, primaryAP(), RAOtherAddress},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, nil)
			v, out := h.handle(ipv4udp(natAP, c.to, rsPayload(c.cone, &teredo.Auth{Nonce: [8]byte{9}})))
			if v != ToIPv4 {
				t.Fatalf("verdict %v", v)
			}
			src, dst, p := outer(t, out)
			if src != c.wantFrom || dst != natAP {
				t.Fatalf("RA %v → %v, want %v → %v", src, dst, c.wantFrom, natAP)
			}
			var pkt teredo.Packet
			var ra teredo.RA
			if err := pkt.Decode(p); err != nil {
				t.Fatal(err)
			}
			if err := teredo.ParseRA(pkt.IPv6, &ra); err != nil {
				t.Fatal(err)
			}
			// The RA goes to the RS source (cone or not) and always advertises
			// the primary's prefix from the primary's link-local address.
			if ra.Dst != teredo.ClientLinkLocal(c.cone) || ra.Src != teredo.ServerLinkLocal(serverIP) ||
				ra.Prefix != teredo.ServerPrefix(serverIP) || pkt.Auth.Nonce != [8]byte{9} {
				t.Fatalf("RA %+v auth %+v", ra, pkt.Auth)
			}
			if got := h.s.Counters().RASent; got[c.kind] != 1 || got[1-c.kind] != 0 {
				t.Fatalf("RASent %v", got)
			}
		})
	}
}

// TestSecondaryDefault: the secondary address defaults to primary + 1 and
// must differ from the primary.
func TestSecondaryDefault(t *testing.T) {
	h := newHarness(t, nil)
	if h.s.Secondary() != secondaryAP() {
		t.Fatalf("secondary %v", h.s.Secondary())
	}
	for _, cfg := range []Config{
		{},
		{Primary: netip.MustParseAddr("10.0.0.1")},
		{Primary: serverIP, Secondary: serverIP},
		{Primary: serverIP, Secondary: netip.MustParseAddr("192.168.1.1")},
		{Primary: netip.MustParseAddr("2001:db8::1")},
		{Primary: serverIP, MTU: 1000},
		{Primary: serverIP, RateTableSize: 1},
		{Primary: serverIP, RelayAddr: netip.MustParseAddr("2001:db8::1")},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) accepted", cfg)
		}
	}
}

// TestRAAuth: the RA echoes the client identifier and nonce with no
// authentication value and confirmation 0; an RS without an authentication
// indicator gets an RA without one. No byte of the RS's authentication value
// leaks into the RA.
func TestRAAuth(t *testing.T) {
	for _, c := range []struct {
		name string
		auth *teredo.Auth
	}{
		{"none", nil},
		{"empty", &teredo.Auth{Nonce: [8]byte{1, 2, 3, 4, 5, 6, 7, 8}}},
		{"id and value", &teredo.Auth{ClientID: []byte("client-7"), Value: bytes.Repeat([]byte{0xee}, 20), Nonce: [8]byte{8, 7, 6, 5, 4, 3, 2, 1}, Confirm: 3}},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, nil)
			v, out := h.handle(fromClient(rsPayload(false, c.auth)))
			if v != ToIPv4 {
				t.Fatalf("verdict %v", v)
			}
			_, _, p := outer(t, out)
			var pkt teredo.Packet
			if err := pkt.Decode(p); err != nil {
				t.Fatal(err)
			}
			if !pkt.HasOrigin || pkt.Origin != natAP {
				t.Fatalf("origin %v %v", pkt.HasOrigin, pkt.Origin)
			}
			if c.auth == nil {
				if pkt.HasAuth || len(p) != teredo.OriginLen+teredo.RALen {
					t.Fatalf("RA to an RS without auth has auth %v, %d bytes", pkt.HasAuth, len(p))
				}
				return
			}
			a := pkt.Auth
			if !pkt.HasAuth || !bytes.Equal(a.ClientID, c.auth.ClientID) || len(a.Value) != 0 || a.Nonce != c.auth.Nonce || a.Confirm != 0 {
				t.Fatalf("auth %+v", a)
			}
			if bytes.Contains(p, []byte{0xee, 0xee}) {
				t.Fatalf("authentication value leaked: % x", p)
			}
		})
	}
}

// TestForwarding covers what the server forwards besides T11/T12.
func TestForwarding(t *testing.T) {
	otherClientMap := netip.MustParseAddrPort("198.51.100.77:5000")
	ourClient := teredoAddr(serverIP, 0x8000, otherClientMap)
	foreignClient := teredoAddr(netip.MustParseAddr("198.51.100.99"), 0, otherClientMap)

	t.Run("client echo to native: hop limit decremented, trailers cut", func(t *testing.T) {
		h := newHarness(t, nil)
		in := echo(clientAddr, nativeHost, 64, 88) // at the 88-byte cap
		v, out := h.handle(fromClient(append(append([]byte(nil), in...), 0x01, 0x04, 1, 2, 3, 4)))
		want := edit(in, func(b []byte) { b[7] = 63 })
		if v != ToIPv6 || !bytes.Equal(out, want) {
			t.Fatalf("%v % x", v, out)
		}
	})
	t.Run("client to our client: origin added, trailers kept", func(t *testing.T) {
		h := newHarness(t, nil)
		in := append(bubble(clientAddr, ourClient), 0x01, 0x04, 1, 2, 3, 4)
		v, out := h.handle(fromClient(in))
		src, dst, p := outer(t, out)
		var origin [8]byte
		teredo.PutOrigin(origin[:], natAP)
		if v != ToIPv4 || src != primaryAP() || dst != otherClientMap || !bytes.Equal(p, append(origin[:], in...)) {
			t.Fatalf("%v %v → %v % x", v, src, dst, p)
		}
	})
	t.Run("client to another server's client: no origin", func(t *testing.T) {
		h := newHarness(t, nil)
		in := echo(clientAddr, foreignClient, 0, 20) // hop limit not checked on the Teredo link
		v, out := h.handle(fromClient(in))
		src, dst, p := outer(t, out)
		if v != ToIPv4 || src != primaryAP() || dst != otherClientMap || !bytes.Equal(p, in) {
			t.Fatalf("%v %v → %v % x", v, src, dst, p)
		}
		c := h.s.Counters()
		if c.Forwarded[ForwardICMPv6ToTeredo] != 1 || c.OriginIndications != 0 {
			t.Fatalf("%+v", c)
		}
	})
	t.Run("arrived on the secondary: forwarded from the primary", func(t *testing.T) {
		h := newHarness(t, nil)
		v, out := h.handle(ipv4udp(relayAP, secondaryAP(), bubble(relayCookie, clientAddr)))
		if src, dst, _ := outer(t, out); v != ToIPv4 || src != primaryAP() || dst != natAP {
			t.Fatalf("%v %v → %v", v, src, dst)
		}
	})
}

// TestRelayHandoff: on the address a co-located relay shares, relay business
// gets the Relay verdict with the frame untouched; server business is still
// handled by the server; on the other address nothing is handed off.
func TestRelayHandoff(t *testing.T) {
	shared := func(c *Config) { c.RelayAddr = serverIP }
	data := ipv6(clientAddr, nativeHost, 17, 64, make([]byte, 100))
	cases := []struct {
		name string
		pkt  []byte
		mod  func(*Config)
		want Verdict
		drop DropReason
	}{
		{"data on the shared address", fromClient(data), shared, Relay, 0},
		{"data from a spoofed source (the relay checks it)", ipv4udp(relayAP, primaryAP(), data), shared, Relay, 0},
		{"big ICMPv6 to native", fromClient(echo(clientAddr, nativeHost, 64, 500)), shared, Relay, 0},
		{"bubble to the relay's cookie", fromClient(bubble(clientAddr, relayCookie)), shared, Relay, 0},
		{"bubble to a native address", fromClient(bubble(clientAddr, nativeHost)), shared, Relay, 0},
		{"RS stays with the server", fromClient(rsPayload(false, &teredo.Auth{})), shared, ToIPv4, 0},
		{"small echo to native stays with the server", fromClient(echo(clientAddr, nativeHost, 64, 16)), shared, ToIPv6, 0},
		{"indirect bubble stays with the server", ipv4udp(relayAP, primaryAP(), bubble(relayCookie, clientAddr)), shared, ToIPv4, 0},
		{"big ICMPv6 to a Teredo peer is dropped", fromClient(echo(clientAddr, teredoAddr(serverIP, 0, relayAP), 64, 500)), shared, Drop, DropICMPv6TooBig},
		{"data on the other address", ipv4udp(natAP, secondaryAP(), data), shared, Drop, DropNotBubbleOrICMPv6},
		{"relay with its own address", fromClient(data), func(c *Config) { c.RelayAddr = netip.MustParseAddr("192.0.2.50") }, Drop, DropNotBubbleOrICMPv6},
		{"mismatched bubble to native is not handed off", ipv4udp(netip.MustParseAddrPort("203.0.113.9:1"), primaryAP(), bubble(clientAddr, relayCookie)), shared, Drop, DropMappingMismatch},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, c.mod)
			buf, off := frame(c.pkt)
			orig := append([]byte(nil), buf...)
			v, o, n := h.h.Handle(buf, off, len(c.pkt))
			if v != c.want {
				t.Fatalf("verdict %v, want %v (%v)", v, c.want, countersDelta(Counters{}, h.s.Counters()))
			}
			cnt := h.s.Counters()
			switch v {
			case Relay:
				if o != off || n != len(c.pkt) || !bytes.Equal(buf, orig) || cnt.RelayHandoffs != 1 {
					t.Fatalf("hand-off changed the frame or the bounds (%d,%d) or counters %+v", o, n, cnt)
				}
			case Drop:
				if cnt.Drops[c.drop] != 1 {
					t.Fatalf("drops %v", countersDelta(Counters{}, cnt))
				}
			}
		})
	}
}

// TestHandleDatagram: the kernel-socket path gives the UDP payload, local
// address and sender; the result says what to send from where to where.
func TestHandleDatagram(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.RelayAddr = serverIP })
	buf := make([]byte, 2048)
	const off = 64

	rs := rsPayload(true, &teredo.Auth{Nonce: [8]byte{4}})
	copy(buf[off:], rs)
	r := h.h.HandleDatagram(serverIP2, natAP, buf, off, len(rs))
	if r.Verdict != ToIPv4 || r.Src != primaryAP() || r.Dst != natAP || r.Off != off || r.Len != 13+8+teredo.RALen {
		t.Fatalf("cone RS on the secondary: %+v", r)
	}

	// The co-located relay's indirect bubble, looped back by this host's
	// kernel from the shared address, passes the loop guard.
	b := bubble(relayCookie, clientAddr)
	copy(buf[off:], b)
	r = h.h.HandleDatagram(serverIP, primaryAP(), buf, off, len(b))
	if r.Verdict != ToIPv4 || r.Dst != natAP || r.Off != off-8 || r.Len != 48 {
		t.Fatalf("looped-back relay bubble: %+v", r)
	}
	var pkt teredo.Packet
	if err := pkt.Decode(buf[r.Off : r.Off+r.Len]); err != nil || pkt.Origin != primaryAP() {
		t.Fatalf("origin %v %v", pkt.Origin, err)
	}
	// The same from the secondary's address:3544 is a loop.
	copy(buf[off:], b)
	if r = h.h.HandleDatagram(serverIP, secondaryAP(), buf, off, len(b)); r.Verdict != Drop {
		t.Fatalf("from the secondary:3544: %+v", r)
	}
	// IPv4-mapped addresses from dual-stack sockets are unmapped.
	e := echo(clientAddr, nativeHost, 64, 16)
	copy(buf[off:], e)
	mapped := netip.AddrPortFrom(netip.AddrFrom16(natAP.Addr().As16()), natAP.Port())
	if r = h.h.HandleDatagram(netip.AddrFrom16(serverIP.As16()), mapped, buf, off, len(e)); r.Verdict != ToIPv6 || r.Off != off || r.Len != len(e) {
		t.Fatalf("mapped addresses: %+v", r)
	}
	// Not one of our addresses.
	if r = h.h.HandleDatagram(netip.MustParseAddr("192.0.2.77"), natAP, buf, off, len(e)); r.Verdict != Drop {
		t.Fatalf("other local address: %+v", r)
	}
	if c := h.s.Counters(); c.Drops[DropLoop] != 1 || c.Drops[DropWrongDestination] != 1 || c.Packets != 5 {
		t.Fatalf("counters %v", countersDelta(Counters{}, c))
	}
}

// TestRateLimit: each source gets RateBurst datagrams at once, then
// RatePerSource per second; other sources are not affected.
func TestRateLimit(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.RatePerSource = 10; c.RateBurst = 5; c.RateTableSize = 64 })
	rs := rsPayload(false, nil)
	send := func(from netip.AddrPort) Verdict {
		v, _ := h.handle(ipv4udp(from, primaryAP(), rs))
		return v
	}
	for i := range 5 {
		if v := send(natAP); v != ToIPv4 {
			t.Fatalf("burst packet %d: %v", i, v)
		}
	}
	if v := send(natAP); v != Drop {
		t.Fatalf("over burst: %v", v)
	}
	other := netip.MustParseAddrPort("198.51.100.200:1")
	if v := send(other); v != ToIPv4 {
		t.Fatalf("other source: %v", v)
	}
	h.clock.advance(100e6) // one token
	if v := send(natAP); v != ToIPv4 {
		t.Fatalf("after 100 ms: %v", v)
	}
	if v := send(natAP); v != Drop {
		t.Fatalf("second after 100 ms: %v", v)
	}
	h.clock.advance(10e9) // refilled to the burst, not beyond
	for i := range 5 {
		if v := send(natAP); v != ToIPv4 {
			t.Fatalf("refilled burst packet %d: %v", i, v)
		}
	}
	if v := send(natAP); v != Drop {
		t.Fatalf("over refilled burst: %v", v)
	}
	if got := h.s.Counters().Drops[DropRateLimited]; got != 3 {
		t.Fatalf("rate_limited %d, want 3", got)
	}
}

// TestRateLimiterTable: an oversubscribed table keeps working (sources take
// the idler of two slots) and the limit holds for a source that keeps
// sending while four times as many others as there are slots come and go.
func TestRateLimiterTable(t *testing.T) {
	l := newSourceLimiter(1, 2, 256, 12345)
	now := int64(1e9)
	victim := [4]byte{203, 0, 113, 1}
	allowed := 0
	for i := range 1000 {
		if l.allow(victim, now) {
			allowed++
		}
		l.allow([4]byte{198, 51, byte(i >> 8), byte(i)}, now)
		now += 1e6 // 1 ms: 1 s in all
	}
	// 2 at once plus 1 per second; an eviction would hand out a fresh burst.
	if allowed > 6 {
		t.Fatalf("victim got %d datagrams in 1 s at 1/s burst 2", allowed)
	}
	if off := newSourceLimiter(-1, 1, 8, 0); !off.allow(victim, 0) {
		t.Fatal("disabled limiter refused")
	}
}

// TestIPv4IDRandomStart (issue 10, section 6): every handler starts the
// IPv4 IDs of what it sends at a random value, then counts up.
func TestIPv4IDRandomStart(t *testing.T) {
	h := newHarness(t, nil)
	rs := fromClient(rsPayload(false, nil))
	firsts := map[uint16]bool{}
	for range 16 {
		h.h = h.s.NewHandler()
		v, out := h.handle(rs)
		_, out2 := h.handle(rs)
		if v != ToIPv4 || len(out) < 20 || len(out2) < 20 {
			t.Fatalf("RS: %v", v)
		}
		first := binary.BigEndian.Uint16(out[4:6])
		if next := binary.BigEndian.Uint16(out2[4:6]); next != first+1 {
			t.Fatalf("IDs %d then %d: want consecutive", first, next)
		}
		firsts[first] = true
	}
	if len(firsts) < 2 {
		t.Fatalf("16 handlers started their IPv4 IDs at %v", firsts)
	}
}
