package client

import (
	"context"
	"encoding/hex"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/teredorelay/teredorelay/teredo"
)

func TestQualifyRestricted(t *testing.T) {
	n := newFakeNet(t, natRestricted)
	srv := newFakeTeredoServer(n)
	c, events := newFakeClient(t, n, Config{})
	q, err := c.Qualify(context.Background())
	if err != nil {
		t.Fatalf("qualify: %v", err)
	}
	wantMapped := netip.MustParseAddrPort("203.0.113.1:46240")
	// Without a secondary address the NAT type is unknown.
	if q.Mapped != wantMapped || q.NAT != NATUnknown || q.Solicitations != 1 || srv.rs != 1 {
		t.Errorf("mapped %v NAT %v solicitations %d (server saw %d), want %v unknown 1", q.Mapped, q.NAT, q.Solicitations, srv.rs, wantMapped)
	}
	if q.Prefix != netip.MustParsePrefix("2001:0:c000:201::/64") || q.MTU != 1280 || q.RAFrom != fakePrimary || q.RTT != fakeHop {
		t.Errorf("prefix %v mtu %d from %v rtt %v", q.Prefix, q.MTU, q.RAFrom, q.RTT)
	}
	// RFC 5991 flags: cone, z, U, G clear; the address embeds them and the
	// obfuscated mapping (T8 layout: ...:<flags>:4b5f:34ff:8efe).
	if q.Flags&^teredo.FlagRandomMask != 0 || q.Flags == 0 {
		t.Errorf("flags %#04x: want only random bits, some set", q.Flags)
	}
	a, ok := teredo.ParseAddr(q.Address)
	if !ok || a.Server != fakeServer1 || a.Flags != q.Flags || a.Mapped != wantMapped {
		t.Errorf("address %v decodes to %+v", q.Address, a)
	}
	if !strings.HasSuffix(q.Address.String(), ":4b5f:34ff:8efe") || !strings.HasPrefix(q.Address.String(), "2001:0:c000:201:") {
		t.Errorf("address %v, want 2001:0:c000:201:<flags>:4b5f:34ff:8efe", q.Address)
	}
	// The RS on the wire: 13-byte auth header (ID-len = AU-len = 0) + RS
	// from fe80::ffff:ffff:ffff to ff02::2, like Miredo's (T9).
	rs := n.sentTo(fakePrimary)
	if len(rs) != 1 || len(rs[0].payload) != teredo.AuthMinLen+teredo.RSLen {
		t.Fatalf("sent %d RS, first %d bytes, want 1 of 61", len(rs), len(rs[0].payload))
	}
	var p teredo.Packet
	if err := p.Decode(rs[0].payload); err != nil || !p.HasAuth || p.HasOrigin || !teredo.IsRS(p.IPv6) ||
		len(p.Auth.ClientID) != 0 || len(p.Auth.Value) != 0 || p.Auth.Confirm != 0 || p.Auth.Nonce == [8]byte{} {
		t.Errorf("RS %x: decode %v, %+v", rs[0].payload, err, p)
	}
	if netip.AddrFrom16(teredo.Src(p.IPv6)) != netip.MustParseAddr("fe80::ffff:ffff:ffff") {
		t.Errorf("RS source %v", netip.AddrFrom16(teredo.Src(p.IPv6)))
	}
	if got, ok := c.Qualification(); !ok || got != q {
		t.Errorf("Qualification() = %+v, %v", got, ok)
	}
	if !hasEvent(*events, EventSent, "qualify") || !hasEvent(*events, EventAccepted, "qualify") {
		t.Errorf("trace lacks sent/accepted: %v", *events)
	}
}

// The RS the client builds for Miredo's nonce is byte for byte the one in the
// testbed capture (teredo-spec.md T9).
func TestRSMatchesCapture(t *testing.T) {
	want, _ := hex.DecodeString("00010000" + "43c84a662f0adcb3" + "00" +
		"6000000000083aff" + "fe800000000000000000ffffffffffff" + "ff020000000000000000000000000002" +
		"85007d3700000000")
	nonce, _ := hex.DecodeString("43c84a662f0adcb3")
	n := newFakeNet(t, natRestricted)
	c, _ := newFakeClient(t, n, Config{QualifyRetries: 1, Rand: fixedReader(nonce)})
	_, err := c.Qualify(context.Background())
	if !errors.Is(err, ErrNoAnswer) {
		t.Fatalf("qualify without server: %v", err)
	}
	if got := n.sentTo(fakePrimary); len(got) != 1 || hex.EncodeToString(got[0].payload) != hex.EncodeToString(want) {
		t.Errorf("RS\n got %x\nwant %x", got[0].payload, want)
	}
}

// fixedReader returns b again and again.
type fixedReader []byte

func (f fixedReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = f[i%len(f)]
	}
	return len(p), nil
}

func TestQualifyRejects(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fault raFault
		want  error
	}{
		{"nonce mismatch", raWrongNonce, ErrNonceMismatch},
		{"missing origin", raNoOrigin, ErrNoOrigin},
		{"wrong prefix", raWrongPrefix, ErrWrongPrefix},
		{"wrong destination", raWrongDst, ErrWrongDestination},
		{"missing auth", raNoAuth, ErrNoAuth},
		{"confirmation byte", raConfirm, ErrConfirmation},
		{"MTU below 1280", raBadMTU, ErrBadMTU},
		{"bad checksum", raBadChecksum, teredo.ErrNotRA},
		{"two prefixes", raTwoPrefixes, teredo.ErrNotRA},
		{"wrong source port", raFromOtherPort, ErrUnexpectedSource},
		{"not teredo", raGarbage, teredo.ErrNotTeredo},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := newFakeNet(t, natRestricted)
			srv := newFakeTeredoServer(n)
			srv.fault = tc.fault
			c, events := newFakeClient(t, n, Config{})
			q, err := c.Qualify(context.Background())
			if err == nil {
				t.Fatalf("qualified as %+v despite the bad RA", q)
			}
			if !errors.Is(err, ErrNoAnswer) || !errors.Is(err, tc.want) {
				t.Fatalf("error %v: want ErrNoAnswer and %v", err, tc.want)
			}
			var na *NoAnswerError
			if !errors.As(err, &na) || na.Sent != DefaultQualifyRetries || len(na.Rejected) != DefaultQualifyRetries || na.Step != "qualify" {
				t.Fatalf("NoAnswerError %+v", na)
			}
			// Each RS waited the full T after a rejected RA.
			if got := n.clock.t.Sub(fakeEpoch); got != DefaultQualifyRetries*DefaultQualifyTimeout {
				t.Errorf("qualification took %v of fake time, want %v", got, DefaultQualifyRetries*DefaultQualifyTimeout)
			}
			if _, ok := c.Qualification(); ok {
				t.Error("client says it is qualified")
			}
			if !hasEvent(*events, EventRejected, "qualify") || !hasEvent(*events, EventTimeout, "qualify") {
				t.Errorf("trace lacks the rejection: %v", *events)
			}
			if !strings.Contains(err.Error(), "rejected") {
				t.Errorf("error text does not name the rejections: %v", err)
			}
		})
	}
}

func TestQualifyTimeoutOnFakeClock(t *testing.T) {
	n := newFakeNet(t, natRestricted) // no server at all
	c, _ := newFakeClient(t, n, Config{QualifyTimeout: 250 * time.Millisecond, QualifyRetries: 5})
	_, err := c.Qualify(context.Background())
	var na *NoAnswerError
	if !errors.As(err, &na) || na.Sent != 5 || na.Wait != 250*time.Millisecond || na.Dst != fakePrimary || len(na.Rejected) != 0 {
		t.Fatalf("error %v (%+v)", err, na)
	}
	if got := n.clock.t.Sub(fakeEpoch); got != 5*250*time.Millisecond {
		t.Errorf("took %v, want 1.25s", got)
	}
	rs := n.sentTo(fakePrimary)
	if len(rs) != 5 {
		t.Fatalf("%d RS sent", len(rs))
	}
	for i := 1; i < len(rs); i++ {
		if d := rs[i].at.Sub(rs[i-1].at); d != 250*time.Millisecond {
			t.Errorf("RS %d sent %v after the previous one", i, d)
		}
		if string(rs[i].payload[4:12]) == string(rs[i-1].payload[4:12]) {
			t.Errorf("RS %d reuses the nonce", i)
		}
	}
}

func TestQualifyRetries(t *testing.T) {
	n := newFakeNet(t, natRestricted)
	srv := newFakeTeredoServer(n)
	srv.silent[fakeServer1] = 2 // the first two RS get lost
	c, _ := newFakeClient(t, n, Config{})
	q, err := c.Qualify(context.Background())
	if err != nil {
		t.Fatalf("qualify: %v", err)
	}
	if q.Solicitations != 3 || q.RTT != fakeHop || n.clock.t.Sub(fakeEpoch) != 2*DefaultQualifyTimeout+fakeHop {
		t.Errorf("solicitations %d rtt %v elapsed %v", q.Solicitations, q.RTT, n.clock.t.Sub(fakeEpoch))
	}
}

// A late RA answering an earlier RS of the same phase is still valid: its
// nonce is one the client sent.
func TestQualifyAcceptsEarlierNonce(t *testing.T) {
	n := newFakeNet(t, natRestricted)
	srv := newFakeTeredoServer(n)
	var first []byte
	n.hosts[fakePrimary] = func(from netip.AddrPort, payload []byte) {
		if first == nil {
			first = payload // hold the answer to the first RS
			return
		}
		srv.handle(fakePrimary, from, first)
	}
	c, _ := newFakeClient(t, n, Config{})
	q, err := c.Qualify(context.Background())
	if err != nil {
		t.Fatalf("qualify: %v", err)
	}
	if q.Solicitations != 2 || q.RTT != DefaultQualifyTimeout+fakeHop {
		t.Errorf("solicitations %d rtt %v", q.Solicitations, q.RTT)
	}
}

func TestQualifySymmetricNAT(t *testing.T) {
	n := newFakeNet(t, natSymmetric)
	newFakeTeredoServer(n)
	c, events := newFakeClient(t, n, Config{Secondary: fakeServer2})
	q, err := c.Qualify(context.Background())
	if err != nil {
		t.Fatalf("qualify: %v", err)
	}
	if q.NAT != NATSymmetric || q.Secondary != fakeServer2 || q.SecondaryMapped == q.Mapped || q.Solicitations != 2 {
		t.Errorf("NAT %v secondary %v mapped %v / %v solicitations %d", q.NAT, q.Secondary, q.Mapped, q.SecondaryMapped, q.Solicitations)
	}
	if q.Mapped != n.mapped(fakeServer1) || q.SecondaryMapped != n.mapped(fakeServer2) {
		t.Errorf("mapped %v %v, want %v %v", q.Mapped, q.SecondaryMapped, n.mapped(fakeServer1), n.mapped(fakeServer2))
	}
	if !hasEvent(*events, EventNote, "secondary") {
		t.Error("no note about the symmetric NAT")
	}
}

func TestQualifyRestrictedWithSecondary(t *testing.T) {
	n := newFakeNet(t, natRestricted)
	newFakeTeredoServer(n)
	c, _ := newFakeClient(t, n, Config{Secondary: fakeServer2})
	q, err := c.Qualify(context.Background())
	if err != nil {
		t.Fatalf("qualify: %v", err)
	}
	if q.NAT != NATRestricted || q.SecondaryMapped != q.Mapped || len(n.sentTo(fakeSecond)) != 1 {
		t.Errorf("NAT %v mapped %v / %v", q.NAT, q.Mapped, q.SecondaryMapped)
	}
}

func TestQualifySecondarySilent(t *testing.T) {
	n := newFakeNet(t, natRestricted)
	srv := newFakeTeredoServer(n)
	srv.silent[fakeServer2] = 100
	c, _ := newFakeClient(t, n, Config{Secondary: fakeServer2, QualifyRetries: 2})
	q, err := c.Qualify(context.Background())
	var na *NoAnswerError
	if !errors.As(err, &na) || na.Step != "secondary" || na.Sent != 2 {
		t.Fatalf("error %v, want the secondary step's NoAnswerError", err)
	}
	if _, ok := c.Qualification(); !ok || q.NAT != NATUnknown || !q.Address.IsValid() {
		t.Errorf("primary qualification lost: %+v", q)
	}
}

func TestQualifyNoNAT(t *testing.T) {
	n := newFakeNet(t, natNone)
	newFakeTeredoServer(n)
	c, _ := newFakeClient(t, n, Config{})
	q, err := c.Qualify(context.Background())
	if err != nil || q.NAT != NATNone || q.Mapped != fakeLocal {
		t.Fatalf("qualify: %v, NAT %v mapped %v", err, q.NAT, q.Mapped)
	}
}

// Without a secondary address a port-randomising NAT cannot be told from a
// restricted one: the type is unknown, never "restricted" (the README's own
// example used to report a random-port NAT as restricted).
func TestQualifyWithoutSecondaryIsUnknown(t *testing.T) {
	for _, nat := range []natKind{natRestricted, natPortRestricted, natSymmetric} {
		n := newFakeNet(t, nat)
		newFakeTeredoServer(n)
		c, events := newFakeClient(t, n, Config{})
		q, err := c.Qualify(context.Background())
		if err != nil || q.NAT != NATUnknown {
			t.Errorf("NAT kind %d: %v, NAT %v; want unknown", nat, err, q.NAT)
		}
		if !hasEvent(*events, EventNote, "qualify") {
			t.Errorf("no note that the symmetric check was skipped")
		}
	}
}

// The filtering probe (ConeProbe) runs from sibling sockets only: the
// service port sends only restricted solicitations, so no NAT state the probe
// leaves behind can move its mapping.
func TestConeProbe(t *testing.T) {
	for _, tc := range []struct {
		name string
		nat  natKind
		want NATType
		// solicitations: qualify + secondary + cone probe (+ port probe)
		solicitations int
	}{
		{"cone NAT", natCone, NATCone, 1 + 1 + 1},
		{"address-restricted NAT", natRestricted, NATRestricted, 1 + 1 + DefaultQualifyRetries + 1},
		{"port-restricted NAT", natPortRestricted, NATPortRestricted, 1 + 1 + 2*DefaultQualifyRetries},
		{"symmetric NAT: no probe", natSymmetric, NATSymmetric, 1 + 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := newFakeNet(t, tc.nat)
			newFakeTeredoServer(n)
			c, events := newFakeClient(t, n, Config{ConeProbe: true, Secondary: fakeServer2})
			q, err := c.Qualify(context.Background())
			if err != nil {
				t.Fatalf("qualify: %v", err)
			}
			if q.NAT != tc.want || q.Flags&teredo.FlagCone != 0 || q.RAFrom != fakePrimary || q.Solicitations != tc.solicitations {
				t.Errorf("NAT %v flags %#04x from %v solicitations %d; want %v, no cone bit, from %v, %d",
					q.NAT, q.Flags, q.RAFrom, q.Solicitations, tc.want, fakePrimary, tc.solicitations)
			}
			// The service port sent one restricted RS to each server address.
			for _, d := range n.sent {
				var p teredo.Packet
				if p.Decode(d.payload) != nil || !teredo.IsRS(p.IPv6) || netip.AddrFrom16(teredo.Src(p.IPv6)) != teredo.ClientLinkLocal(false) {
					t.Errorf("service port sent %x to %v", d.payload, d.peer)
				}
			}
			if tc.nat != natSymmetric {
				if len(n.siblings) == 0 || q.Mapped != n.mapped(fakeServer1) ||
					!(hasEvent(*events, EventNote, "cone-probe") || hasEvent(*events, EventNote, "port-probe")) {
					t.Errorf("siblings %d, mapped %v", len(n.siblings), q.Mapped)
				}
			}
		})
	}
	t.Run("RA from the same address proves nothing", func(t *testing.T) {
		n := newFakeNet(t, natCone)
		srv := newFakeTeredoServer(n)
		srv.coneFromSame = true
		c, events := newFakeClient(t, n, Config{ConeProbe: true, QualifyRetries: 1})
		q, err := c.Qualify(context.Background())
		if err != nil || q.NAT != NATUnknown || q.Solicitations != 2 {
			t.Fatalf("NAT %v solicitations %d err %v", q.NAT, q.Solicitations, err)
		}
		if !hasEvent(*events, EventRejected, "cone-probe") {
			t.Error("the same-address RA to the cone RS was not rejected")
		}
	})
}

func TestConfigValidation(t *testing.T) {
	for _, cfg := range []Config{
		{},
		{Server: netip.MustParseAddr("2001:db8::1")},
		{Server: fakeServer1, Secondary: fakeServer1},
		{Server: fakeServer1, Secondary: netip.MustParseAddr("2001:db8::2")},
	} {
		if _, err := New(newFakeNet(t, natNone), cfg); err == nil {
			t.Errorf("New accepted %+v", cfg)
		}
	}
}

func TestQualifyContextCancelled(t *testing.T) {
	n := newFakeNet(t, natRestricted)
	c, _ := newFakeClient(t, n, Config{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.Qualify(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
}
