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

// NAT types [RFC 4380 §5.2.1].
const (
	// NATUnknown: not determined (the secondary server did not answer).
	NATUnknown NATType = iota
	// NATNone: the mapped address equals the local address.
	NATNone
	// NATCone: an RA sent from the server's other address got through
	// (only known when the cone probe ran).
	NATCone
	// NATRestricted: restricted or port-restricted cone NAT; without the
	// cone probe a cone NAT is reported this way too (RFC 5991 §3.2).
	NATRestricted
	// NATSymmetric: the primary and secondary server saw different mapped
	// addresses; RFC 4380 Teredo cannot work. After a failed cone probe a
	// NAT that keeps state for the dropped answer from the secondary
	// address (Linux netfilter) also looks symmetric: see the trace note.
	NATSymmetric
)

var natNames = [...]string{"unknown", "none", "cone", "restricted", "symmetric"}

func (n NATType) String() string {
	if int(n) < len(natNames) {
		return natNames[n]
	}
	return fmt.Sprintf("NATType(%d)", uint8(n))
}

// MarshalText makes the type readable in JSON.
func (n NATType) MarshalText() ([]byte, error) { return []byte(n.String()), nil }

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
// the optional cone probe, then the restricted-NAT phase towards the primary
// server and, when a secondary address is configured, the same towards it to
// detect a symmetric NAT. On success the client is qualified: its Teredo
// address has RFC 5991 random flag bits.
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
	var (
		ra   raInfo
		cone bool
	)
	if c.cfg.ConeProbe {
		q.ConeProbed = true
		// The server answers a cone RS from its other address: only a cone
		// NAT lets that in [RFC 4380 §5.3.2].
		other := func(got netip.AddrPort) error {
			if got.Port() != teredo.Port || got.Addr() == c.cfg.Server ||
				(c.cfg.Secondary.IsValid() && got.Addr() != c.cfg.Secondary) {
				return fmt.Errorf("%w: %v, want the server's other address on port %d", ErrUnexpectedSource, got, teredo.Port)
			}
			return nil
		}
		r, err := c.solicit(ctx, "cone-probe", c.cfg.Server, true, other, &q.Solicitations)
		switch {
		case err == nil:
			ra, cone = r, true
			c.trace(EventNote, "cone-probe", r.from, "answer from the other server address: cone NAT", nil)
		case errors.Is(err, ErrNoAnswer):
			c.trace(EventNote, "cone-probe", serverPort, "no answer from the other server address: not a cone NAT", err)
		default:
			return q, err
		}
	}
	if !cone {
		r, err := c.solicit(ctx, "qualify", c.cfg.Server, false, fromExactly(serverPort), &q.Solicitations)
		if err != nil {
			return q, err // names its step already
		}
		ra = r
	}
	var rnd [2]byte
	if err := c.random(rnd[:]); err != nil {
		return q, fmt.Errorf("qualify: flags: %w", err)
	}
	q.Mapped, q.Prefix, q.MTU, q.RAFrom, q.RTT = ra.mapped, ra.prefix, ra.mtu, ra.from, ra.rtt
	q.Flags = teredo.RandomFlags(binary.BigEndian.Uint16(rnd[:]), cone)
	q.Address = teredo.Addr{Server: c.cfg.Server, Flags: q.Flags, Mapped: q.Mapped}.IP()
	q.NAT = NATRestricted
	if cone {
		q.NAT = NATCone
	}
	var secondaryErr error
	if !cone && c.cfg.Secondary.IsValid() {
		r, err := c.solicit(ctx, "secondary", c.cfg.Secondary, false, fromExactly(netip.AddrPortFrom(c.cfg.Secondary, teredo.Port)), &q.Solicitations)
		switch {
		case err == nil:
			q.Secondary, q.SecondaryMapped = c.cfg.Secondary, r.mapped
			if r.mapped != q.Mapped {
				q.NAT = NATSymmetric
				c.trace(EventNote, "secondary", r.from, fmt.Sprintf("mapped %v differs from %v seen by the primary: symmetric NAT", r.mapped, q.Mapped), nil)
				if q.ConeProbed {
					c.trace(EventNote, "secondary", r.from, "caution: the failed cone probe may cause this: a NAT that keeps state for the dropped answer from the secondary address (Linux netfilter does) gives the next flow to that address a new port; qualify again without the cone probe to be sure", nil)
				}
			}
		case errors.Is(err, ErrNoAnswer):
			q.NAT = NATUnknown
			secondaryErr = fmt.Errorf("symmetric NAT check: %w", err)
		default:
			return q, err
		}
	}
	if q.NAT != NATSymmetric && q.NAT != NATUnknown && q.Mapped == q.Local {
		q.NAT = NATNone
	}
	c.q, c.qualified = q, true
	c.trace(EventNote, "qualify", q.RAFrom, fmt.Sprintf("qualified as %v (mapped %v, NAT %v)", q.Address, q.Mapped, q.NAT), nil)
	return q, secondaryErr
}
