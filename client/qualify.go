package client

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/teredorelay/teredorelay/teredo"
)

// NATType is the client's guess of the NAT between it and the server.
type NATType uint8

// NAT types [RFC 4380 §5.2.1], refined by the filtering probe (FilteringProbe).
const (
	// NATUnknown: not determined: no secondary server address to compare
	// mappings with, or it did not answer.
	NATUnknown NATType = iota
	// NATNone: the mapped address equals the local address.
	NATNone
	// NATCone: an RA sent from the server's other address, which the
	// client's port never sent to, got through (filtering probe).
	NATCone
	// NATRestricted: one mapping for both server addresses. With the
	// filtering probe: an address-restricted cone NAT (a reply from
	// another port of an address the client sent to gets through);
	// without it, restricted or port-restricted (RFC 5991 §3.2 clients
	// skip the probe and treat both alike).
	NATRestricted
	// NATPortRestricted: one mapping for both server addresses, and the
	// filtering probe showed that only the exact address and port the
	// client sent to can answer (Linux netfilter MASQUERADE).
	NATPortRestricted
	// NATSymmetric: the primary and secondary server saw different mapped
	// addresses. RFC 4380 Teredo cannot work; RFC 6081 clients and relays
	// that accept cookie bubbles from any mapping can.
	NATSymmetric
)

var natNames = [...]string{"unknown", "none", "cone", "restricted", "port-restricted", "symmetric"}

func (n NATType) String() string {
	if int(n) < len(natNames) {
		return natNames[n]
	}
	return fmt.Sprintf("NATType(%d)", uint8(n))
}

// MarshalText makes the type readable in JSON.
func (n NATType) MarshalText() ([]byte, error) { return []byte(n.String()), nil }

// UnmarshalText reads a NAT type name.
func (n *NATType) UnmarshalText(b []byte) error {
	for i, name := range natNames {
		if name == string(b) {
			*n = NATType(i)
			return nil
		}
	}
	return fmt.Errorf("unknown NAT type %q", b)
}

// Filters reports whether the NAT drops packets from hosts the client did
// not send to first: everything but none and cone (unknown counts as
// filtering, the safe guess).
func (n NATType) Filters() bool { return n != NATNone && n != NATCone }

// Qualification is the result of Qualify.
type Qualification struct {
	Server netip.Addr     `json:"server"`
	Local  netip.AddrPort `json:"local"`  // local service endpoint (address resolved when bound to 0.0.0.0)
	Mapped netip.AddrPort `json:"mapped"` // from the RA's origin indication
	// Address is the Teredo address: the RA's prefix, Flags, and the
	// obfuscated mapped port and address.
	Address netip.Addr   `json:"address"`
	Flags   uint16       `json:"flags"`
	Prefix  netip.Prefix `json:"prefix"`
	MTU     uint32       `json:"mtu,omitempty"` // the RA's MTU option, 0 if absent
	// RAFrom is where the accepted RA came from; RTT is its round trip.
	RAFrom netip.AddrPort `json:"ra_from"`
	RTT    time.Duration  `json:"rtt_ns"`
	NAT    NATType        `json:"nat"`
	// ConeProbed says the RFC 4380 cone probe ran.
	ConeProbed bool `json:"cone_probed"`
	// Secondary and SecondaryMapped are set when the symmetric-NAT check
	// ran and got an answer.
	Secondary       netip.Addr     `json:"secondary,omitzero"`
	SecondaryMapped netip.AddrPort `json:"secondary_mapped,omitzero"`
	// Solicitations counts the Router Solicitations sent in all phases.
	Solicitations int `json:"solicitations"`
}

// sentRS remembers one Router Solicitation of the current phase.
type sentRS struct {
	nonce [8]byte
	at    time.Time
}

// raExpect is what a Router Advertisement must match.
type raExpect struct {
	linkLocal netip.Addr   // the RS source
	prefix    netip.Prefix // 2001:0:<server>::/64
	sent      []sentRS     // nonces of this phase
}

// raInfo is what the client takes from a valid RA.
type raInfo struct {
	from   netip.AddrPort
	mapped netip.AddrPort
	prefix netip.Prefix
	mtu    uint32
	rtt    time.Duration
}

// checkRA applies the client's checks to a decoded datagram that should be a
// Router Advertisement [RFC 4380 §5.2.1, §5.2.2]: an ICMPv6 RA, an
// authentication header whose nonce is one of the phase's and whose
// confirmation byte is 0, an origin indication, a valid RA (RFC 4861, one
// /64 Prefix Information option in 2001::/32), destination = the RS's
// link-local source, prefix = 2001:0:<server>::/64 and an MTU, if present,
// in [1280, 65535]. It returns the index of the matching RS.
func checkRA(p *teredo.Packet, exp *raExpect) (raInfo, int, error) {
	ip := p.IPv6
	if teredo.NextHeader(ip) != teredo.ProtoICMPv6 || len(ip) <= teredo.IPv6HeaderLen || ip[teredo.IPv6HeaderLen] != teredo.ICMPv6RouterAdvert {
		return raInfo{}, -1, fmt.Errorf("%w: not a router advertisement", ErrNotRA)
	}
	if !p.HasAuth {
		return raInfo{}, -1, ErrNoAuth
	}
	idx := -1
	for i := range exp.sent {
		if exp.sent[i].nonce == p.Auth.Nonce {
			idx = i
			break
		}
	}
	if idx < 0 {
		want := ""
		if n := len(exp.sent); n > 0 {
			want = hex.EncodeToString(exp.sent[n-1].nonce[:])
		}
		return raInfo{}, -1, fmt.Errorf("%w: got %s, sent %s", ErrNonceMismatch, hex.EncodeToString(p.Auth.Nonce[:]), want)
	}
	if p.Auth.Confirm != 0 {
		return raInfo{}, -1, fmt.Errorf("%w: %d", ErrConfirmation, p.Auth.Confirm)
	}
	if !p.HasOrigin {
		return raInfo{}, -1, ErrNoOrigin
	}
	var ra teredo.RA
	if err := teredo.ParseRA(ip, &ra); err != nil {
		return raInfo{}, -1, fmt.Errorf("%w: %w", ErrNotRA, err)
	}
	if ra.Dst != exp.linkLocal {
		return raInfo{}, -1, fmt.Errorf("%w: %v, the solicitation came from %v", ErrWrongDestination, ra.Dst, exp.linkLocal)
	}
	if ra.Prefix != exp.prefix {
		return raInfo{}, -1, fmt.Errorf("%w: %v, want %v", ErrWrongPrefix, ra.Prefix, exp.prefix)
	}
	if ra.MTU != 0 && (ra.MTU < teredo.MinMTU || ra.MTU > 65535) {
		return raInfo{}, -1, fmt.Errorf("%w: %d", ErrBadMTU, ra.MTU)
	}
	return raInfo{mapped: p.Origin, prefix: ra.Prefix, mtu: ra.MTU}, idx, nil
}

// solicit runs one qualification phase: up to QualifyRetries Router
// Solicitations from the link-local address with the given cone bit to
// dst:3544, each followed by a wait of QualifyTimeout for a valid RA whose
// IPv4 source passes from. sent counts the solicitations.
func (c *Client) solicit(ctx context.Context, step string, dst netip.Addr, cone bool, from func(netip.AddrPort) error, sent *int) (raInfo, error) {
	ll := teredo.ClientLinkLocal(cone)
	exp := raExpect{linkLocal: ll, prefix: teredo.ServerPrefix(c.cfg.Server)}
	to := netip.AddrPortFrom(dst, teredo.Port)
	fail := &NoAnswerError{Step: step, Dst: to, Wait: c.cfg.QualifyTimeout}
	for range c.cfg.QualifyRetries {
		var rs sentRS
		if err := c.random(rs.nonce[:]); err != nil {
			return raInfo{}, fmt.Errorf("%s: nonce: %w", step, err)
		}
		auth := teredo.Auth{Nonce: rs.nonce}
		n := teredo.PutAuth(c.tx, &auth)
		n += teredo.PutRS(c.tx[n:], ll)
		rs.at = c.now()
		exp.sent = append(exp.sent, rs)
		if err := c.send(step, to, c.tx[:n], fmt.Sprintf("[auth nonce %s] router solicitation %v -> %v",
			hex.EncodeToString(rs.nonce[:]), ll, teredo.AllRouters)); err != nil {
			return raInfo{}, err
		}
		fail.Sent++
		*sent++
		var got raInfo
		found := false
		timedOut, err := c.listen(ctx, step, rs.at.Add(c.cfg.QualifyTimeout), func(d *datagram) bool {
			reject := func(err error) bool {
				fail.Rejected = append(fail.Rejected, Rejection{From: d.from, Err: err})
				c.trace(EventRejected, step, d.from, "", err)
				return false
			}
			if d.err != nil {
				return reject(fmt.Errorf("%w: %w", ErrMalformed, d.err))
			}
			if err := from(d.from); err != nil {
				return reject(err)
			}
			ra, idx, err := checkRA(&d.pkt, &exp)
			if err != nil {
				return reject(err)
			}
			ra.from = d.from
			ra.rtt = d.at.Sub(exp.sent[idx].at)
			got, found = ra, true
			c.trace(EventAccepted, step, d.from, fmt.Sprintf("mapped %v, prefix %v, rtt %v", ra.mapped, ra.prefix, ra.rtt), nil)
			return true
		})
		if err != nil {
			return raInfo{}, err
		}
		if found {
			return got, nil
		}
		if timedOut {
			c.trace(EventTimeout, step, to, fmt.Sprintf("no valid router advertisement within %v", c.cfg.QualifyTimeout), nil)
		}
	}
	return raInfo{}, fail
}

// fromExactly accepts datagrams from want only.
func fromExactly(want netip.AddrPort) func(netip.AddrPort) error {
	return func(got netip.AddrPort) error {
		if got != want {
			return fmt.Errorf("%w: %v, want %v", ErrUnexpectedSource, got, want)
		}
		return nil
	}
}

// Qualify runs the qualification procedure [RFC 4380 §5.2.1, RFC 5991 §3.2]:
// the restricted-NAT phase towards the primary server and, when a secondary
// address is configured, the same towards it to detect a symmetric NAT. With
// Config.ConeProbe the filtering probe (FilteringProbe) then tells cone,
// restricted and port-restricted NATs apart from fresh sockets. On success the
// client is qualified: its Teredo address has RFC 5991 random flag bits and a
// clear cone bit.
//
// If the secondary server does not answer, Qualify still returns the primary
// qualification (NAT type unknown) together with an error.
func (c *Client) Qualify(ctx context.Context) (Qualification, error) {
	c.qualified = false
	q := Qualification{Server: c.cfg.Server, Local: c.tr.LocalAddr()}
	if r, ok := c.tr.(SourceResolver); ok && q.Local.Addr().IsUnspecified() {
		if src, err := r.SourceFor(c.cfg.Server); err == nil {
			q.Local = netip.AddrPortFrom(src, q.Local.Port())
		} else {
			c.trace(EventNote, "qualify", netip.AddrPort{}, "cannot tell the local source address", err)
		}
	}
	serverPort := netip.AddrPortFrom(c.cfg.Server, teredo.Port)
	ra, err := c.solicit(ctx, "qualify", c.cfg.Server, false, fromExactly(serverPort), &q.Solicitations)
	if err != nil {
		return q, err // names its step already
	}
	var rnd [2]byte
	if err := c.random(rnd[:]); err != nil {
		return q, fmt.Errorf("qualify: flags: %w", err)
	}
	q.Mapped, q.Prefix, q.MTU, q.RAFrom, q.RTT = ra.mapped, ra.prefix, ra.mtu, ra.from, ra.rtt
	q.Flags = teredo.RandomFlags(binary.BigEndian.Uint16(rnd[:]), false)
	q.Address = teredo.Addr{Server: c.cfg.Server, Flags: q.Flags, Mapped: q.Mapped}.IP()
	var secondaryErr error
	switch {
	case !c.cfg.Secondary.IsValid():
		q.NAT = NATUnknown
		c.trace(EventNote, "qualify", q.RAFrom, "no secondary server address: a symmetric NAT cannot be told from a cone or restricted one", nil)
	default:
		r, err := c.solicit(ctx, "secondary", c.cfg.Secondary, false, fromExactly(netip.AddrPortFrom(c.cfg.Secondary, teredo.Port)), &q.Solicitations)
		switch {
		case err == nil:
			q.Secondary, q.SecondaryMapped = c.cfg.Secondary, r.mapped
			q.NAT = NATRestricted
			if r.mapped != q.Mapped {
				q.NAT = NATSymmetric
				c.trace(EventNote, "secondary", r.from, fmt.Sprintf("mapped %v differs from %v seen by the primary: symmetric NAT", r.mapped, q.Mapped), nil)
			}
		case errors.Is(err, ErrNoAnswer):
			q.NAT = NATUnknown
			secondaryErr = fmt.Errorf("symmetric NAT check: %w", err)
		default:
			return q, err
		}
	}
	if q.NAT != NATSymmetric && q.Mapped == q.Local {
		q.NAT = NATNone
	}
	if c.cfg.ConeProbe && (q.NAT == NATRestricted || q.NAT == NATUnknown) {
		if o, ok := c.tr.(SiblingOpener); ok {
			q.ConeProbed = true
			nat, err := FilteringProbe(ctx, o, c.cfg, &q.Solicitations)
			if err != nil {
				return q, err
			}
			if nat != NATUnknown {
				q.NAT = nat
			}
		} else {
			c.trace(EventNote, "cone-probe", serverPort, "this transport cannot open a second socket: filtering probe skipped", nil)
		}
	}
	c.q, c.qualified = q, true
	c.trace(EventNote, "qualify", q.RAFrom, fmt.Sprintf("qualified as %v (mapped %v, NAT %v)", q.Address, q.Mapped, q.NAT), nil)
	return q, secondaryErr
}

// FilteringProbe tells cone, restricted and port-restricted NATs apart
// [RFC 4380 §5.2.1's cone test, extended]. Each test runs from a fresh socket
// that o opens next to the service port, never from the service port itself:
// a NAT that keeps state for an answer it dropped (Linux netfilter does) would
// otherwise give the service port's next flow to that address a new port, and
// the secondary check would see a symmetric NAT.
//
//  1. A Router Solicitation with the cone bit goes to the primary address;
//     the server answers from its other address, which this socket never
//     sent to. An answer means a cone NAT.
//  2. With a secondary address: a fresh socket first sends a bubble to the
//     secondary address on port 3545 (not the Teredo port), then the cone
//     RS to the primary. The answer from secondary:3544 gets through an
//     address-restricted NAT (restricted), not a port-restricted one.
//
// It returns NATUnknown when the tests cannot decide (no secondary address
// and no cone answer). sent counts the solicitations.
func FilteringProbe(ctx context.Context, o SiblingOpener, cfg Config, sent *int) (NATType, error) {
	if err := cfg.setDefaults(); err != nil {
		return NATUnknown, err
	}
	other := func(got netip.AddrPort) error {
		if got.Port() != teredo.Port || got.Addr() == cfg.Server ||
			(cfg.Secondary.IsValid() && got.Addr() != cfg.Secondary) {
			return fmt.Errorf("%w: %v, want the server's other address on port %d", ErrUnexpectedSource, got, teredo.Port)
		}
		return nil
	}
	// conePhase solicits from a fresh socket, after first sending a bubble
	// to opener when it is valid.
	conePhase := func(step string, opener netip.AddrPort) (bool, error) {
		tr, err := o.OpenSibling()
		if err != nil {
			return false, fmt.Errorf("%s: open a second socket: %w", step, err)
		}
		side, err := New(tr, cfg)
		if err != nil {
			tr.Close()
			return false, err
		}
		defer side.Close()
		if opener.IsValid() {
			n := teredo.PutBubble(side.tx, teredo.ClientLinkLocal(false), teredo.ServerLinkLocal(cfg.Server))
			if err := side.send(step, opener, side.tx[:n], fmt.Sprintf("bubble to %v: opens this socket's NAT state towards that address only", opener)); err != nil {
				return false, err
			}
		}
		_, err = side.solicit(ctx, step, cfg.Server, true, other, sent)
		switch {
		case err == nil:
			return true, nil
		case errors.Is(err, ErrNoAnswer):
			return false, nil
		}
		return false, err
	}
	ok, err := conePhase("cone-probe", netip.AddrPort{})
	if err != nil || ok {
		if ok {
			cfg.trace(EventNote, "cone-probe", netip.AddrPort{}, "answer from the server's other address: cone NAT")
			return NATCone, nil
		}
		return NATUnknown, err
	}
	if !cfg.Secondary.IsValid() {
		cfg.trace(EventNote, "cone-probe", netip.AddrPort{}, "no answer from the server's other address: not a cone NAT (no secondary address to test port filtering)")
		return NATUnknown, nil
	}
	ok, err = conePhase("port-probe", netip.AddrPortFrom(cfg.Secondary, PortProbePort))
	if err != nil {
		return NATUnknown, err
	}
	if ok {
		cfg.trace(EventNote, "port-probe", netip.AddrPort{}, fmt.Sprintf("the answer from %v:%d got through after a datagram to port %d only: address-restricted NAT", cfg.Secondary, teredo.Port, PortProbePort))
		return NATRestricted, nil
	}
	cfg.trace(EventNote, "port-probe", netip.AddrPort{}, fmt.Sprintf("the answer from %v:%d was filtered although the socket had sent to port %d of that address: port-restricted NAT", cfg.Secondary, teredo.Port, PortProbePort))
	return NATPortRestricted, nil
}

// PortProbePort is where the filtering probe's port test sends its bubble on
// the server's secondary address: any port but 3544 (servers ignore it).
const PortProbePort = 3545
