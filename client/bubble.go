package client

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/teredorelay/teredorelay/teredo"
)

// answerIndirectBubble answers a bubble that the client's server relayed with
// an origin indication — a relay's or a peer's indirect bubble — with a direct
// bubble to the origin, source and destination swapped. RFC 4380 §5.2.3 only
// says the client MAY send a bubble towards a packet's source; Miredo does
// exactly this, and without it a client behind a restricted NAT never lets
// the relay in (teredo-spec.md §3.9).
func (c *Client) answerIndirectBubble(step string, d *datagram) error {
	if !c.qualified || d.err != nil || !d.pkt.HasOrigin || !d.pkt.IsBubble() || !c.isServer(d.from) {
		return nil
	}
	src, dst := netip.AddrFrom16(teredo.Src(d.pkt.IPv6)), netip.AddrFrom16(teredo.Dst(d.pkt.IPv6))
	origin := d.pkt.Origin
	switch {
	case dst != c.q.Address:
		c.trace(EventRejected, step, d.from, "indirect bubble not answered", fmt.Errorf("%w: %v, our address is %v", ErrWrongDestination, dst, c.q.Address))
		return nil
	case !teredo.IsGlobalUnicast(origin.Addr()):
		c.trace(EventRejected, step, d.from, "indirect bubble not answered", fmt.Errorf("origin %v: %w", origin, ErrNotGlobal))
		return nil
	}
	n := teredo.PutBubble(c.tx, c.q.Address, src)
	return c.send(step, origin, c.tx[:n], fmt.Sprintf("direct bubble %v -> %v (answer to the indirect bubble with origin %v)", c.q.Address, src, origin))
}

// CheckPeer returns the Teredo fields of peer, checking that it is a Teredo
// address whose mapped IPv4 address is global unicast [RFC 4380 §5.2.4 cases 4, 5].
func CheckPeer(peer netip.Addr) (teredo.Addr, error) {
	a, ok := teredo.ParseAddr(peer)
	if !ok {
		return teredo.Addr{}, fmt.Errorf("peer %v is not a Teredo address", peer)
	}
	if !teredo.IsGlobalUnicast(a.Mapped.Addr()) {
		return teredo.Addr{}, fmt.Errorf("peer %v: mapped address %v: %w", peer, a.Mapped, ErrNotGlobal)
	}
	return a, nil
}

// SendDirectBubble sends a bubble from the client's Teredo address to the
// mapped IPv4 address and port embedded in peer, a Teredo address: it opens
// the client's NAT towards the peer [RFC 4380 §5.2.6].
func (c *Client) SendDirectBubble(peer netip.Addr) error {
	if !c.qualified {
		return fmt.Errorf("direct bubble: %w", ErrNotQualified)
	}
	a, err := CheckPeer(peer)
	if err != nil {
		return fmt.Errorf("direct bubble: %w", err)
	}
	n := teredo.PutBubble(c.tx, c.q.Address, peer)
	return c.send("bubble", a.Mapped, c.tx[:n], fmt.Sprintf("direct bubble %v -> %v", c.q.Address, peer))
}

// SendIndirectBubble sends a bubble to peer through the peer's Teredo server
// (the IPv4 address in bits 32-63 of peer, port 3544), which relays it with an
// origin indication so that the peer answers with a direct bubble
// [RFC 4380 §5.2.6, §5.3.1].
func (c *Client) SendIndirectBubble(peer netip.Addr) error {
	if !c.qualified {
		return fmt.Errorf("indirect bubble: %w", ErrNotQualified)
	}
	a, err := CheckPeer(peer)
	if err != nil {
		return fmt.Errorf("indirect bubble: %w", err)
	}
	if !teredo.IsGlobalUnicast(a.Server) {
		return fmt.Errorf("indirect bubble: peer's server %v: %w", a.Server, ErrNotGlobal)
	}
	n := teredo.PutBubble(c.tx, c.q.Address, peer)
	return c.send("bubble", netip.AddrPortFrom(a.Server, teredo.Port), c.tx[:n],
		fmt.Sprintf("indirect bubble %v -> %v via server %v", c.q.Address, peer, a.Server))
}

// PeerPath is the result of ReachPeer.
type PeerPath struct {
	Peer netip.Addr `json:"peer"`
	// Mapping is the IPv4 endpoint the peer's packet came from; it equals
	// the mapping embedded in the peer's address.
	Mapping netip.AddrPort `json:"mapping"`
	// Bubble is true when the peer answered with a bubble (false: another
	// packet).
	Bubble bool          `json:"bubble"`
	RTT    time.Duration `json:"rtt_ns"` // since the last bubbles were sent
	Tries  int           `json:"tries"`
}

// ReachPeer opens the path to another Teredo client as RFC 4380 §5.2.4 case 5
// does: a direct bubble to the peer's mapping (unless the client is behind no
// NAT or a cone NAT) and an indirect bubble through its server, repeated up to EchoRetries times EchoTimeout apart, until a
// packet from peer arrives directly from the mapping its address embeds. The
// cone bit of the peer is ignored (RFC 5991 §3.2).
func (c *Client) ReachPeer(ctx context.Context, peer netip.Addr) (PeerPath, error) {
	if !c.qualified {
		return PeerPath{}, fmt.Errorf("reach peer: %w", ErrNotQualified)
	}
	a, err := CheckPeer(peer)
	if err != nil {
		return PeerPath{}, fmt.Errorf("reach peer: %w", err)
	}
	fail := &NoAnswerError{Step: "bubble", Dst: a.Mapped, Wait: c.cfg.EchoTimeout}
	res := PeerPath{Peer: peer}
	// Only a client whose NAT filters needs to open it with a direct
	// bubble; without one the peer's answer gets in anyway, and an early
	// direct bubble can make the peer's NAT pick another mapping for its
	// answer (its conntrack entry clashes).
	direct := c.q.NAT.Filters()
	if !direct {
		c.trace(EventNote, "bubble", a.Mapped, fmt.Sprintf("NAT %v: no direct bubble needed, indirect bubbles only", c.q.NAT), nil)
	}
	for range c.cfg.EchoRetries {
		if direct {
			if err := c.SendDirectBubble(peer); err != nil {
				return res, fmt.Errorf("reach peer: %w", err)
			}
		}
		if err := c.SendIndirectBubble(peer); err != nil {
			return res, fmt.Errorf("reach peer: %w", err)
		}
		res.Tries++
		fail.Sent++
		sent := c.now()
		found := false
		timedOut, err := c.listen(ctx, "bubble", sent.Add(c.cfg.EchoTimeout), func(d *datagram) bool {
			if d.err != nil || c.isServer(d.from) {
				return false // relayed bubbles were answered by listen
			}
			src := teredo.Src(d.pkt.IPv6)
			if netip.AddrFrom16(src) != peer {
				return false
			}
			if !teredo.MatchesSource(&src, d.from) {
				err := fmt.Errorf("%w: %v, the peer's address embeds %v", ErrUnexpectedSource, d.from, a.Mapped)
				fail.Rejected = append(fail.Rejected, Rejection{From: d.from, Err: err})
				c.trace(EventRejected, "bubble", d.from, "", err)
				return false
			}
			res.Mapping, res.Bubble, res.RTT, found = d.from, d.pkt.IsBubble(), d.at.Sub(sent), true
			c.trace(EventAccepted, "bubble", d.from, fmt.Sprintf("peer %v reached directly", peer), nil)
			return true
		})
		if err != nil {
			return res, fmt.Errorf("reach peer: %w", err)
		}
		if found {
			return res, nil
		}
		if timedOut {
			c.trace(EventTimeout, "bubble", a.Mapped, fmt.Sprintf("nothing from %v within %v", peer, c.cfg.EchoTimeout), nil)
		}
	}
	return res, fmt.Errorf("reach peer: %w", fail)
}
