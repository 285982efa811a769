package client

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"net/netip"
	"time"

	"github.com/teredorelay/teredorelay/teredo"
)

// RelayResult is the result of the direct IPv6 connectivity test.
type RelayResult struct {
	Target netip.Addr `json:"target"`
	// Relay is the IPv4 endpoint of the relay serving Target: the source of
	// the Echo Reply that carried the nonce.
	Relay netip.AddrPort `json:"relay"`
	// RTT is from the Echo Request (through the server) to the Echo Reply
	// (from the relay), bubble exchange included.
	RTT      time.Duration `json:"rtt_ns"`
	Attempts int           `json:"attempts"`
	// Unreachable is set when an ICMPv6 error quoting our Echo Request
	// ended the test instead of an Echo Reply: what the error said and who
	// sent it. RTT is then zero: nothing was answered.
	Unreachable string `json:"unreachable,omitempty"`
	// BubbleOrigins lists the origins of the indirect bubbles the server
	// relayed during the test (each one answered with a direct bubble):
	// normally the relay, before it sends the queued Echo Reply.
	BubbleOrigins []netip.AddrPort `json:"bubble_origins,omitempty"`
}

// sentEcho remembers one Echo Request.
type sentEcho struct {
	seq   uint16
	nonce [EchoNonceLen]byte
	at    time.Time
}

// echoCheck is what a received packet must match to answer one of sent.
type echoCheck struct {
	target, self netip.Addr
	id           uint16
	sent         []sentEcho
}

// matchReply checks that ipv6 is an Echo Reply from target to us with our
// identifier and the data of one of the Echo Requests sent [RFC 4380 §5.2.9,
// §5.2.3 case 2]. It returns the index of that request.
func (e *echoCheck) matchReply(ipv6 []byte) (int, error) {
	m, err := parseEcho(ipv6, true)
	if err != nil {
		return -1, err
	}
	switch {
	case m.Type != teredo.ICMPv6EchoReply:
		return -1, fmt.Errorf("%w: echo request, not reply", ErrNotEcho)
	case m.Src != e.target:
		return -1, fmt.Errorf("%w: from %v, want %v", ErrNotEcho, m.Src, e.target)
	case m.Dst != e.self:
		return -1, fmt.Errorf("%w: %v, our address is %v", ErrWrongDestination, m.Dst, e.self)
	case m.ID != e.id:
		return -1, fmt.Errorf("%w: identifier %#04x, want %#04x", ErrNotEcho, m.ID, e.id)
	}
	for i := range e.sent {
		if e.sent[i].seq == m.Seq {
			if !bytes.Equal(m.Data, e.sent[i].nonce[:]) {
				return -1, fmt.Errorf("%w: seq %d", ErrNonceMismatch, m.Seq)
			}
			return i, nil
		}
	}
	return -1, fmt.Errorf("%w: unknown seq %d", ErrNotEcho, m.Seq)
}

// matchError recognises an ICMPv6 error that quotes one of our Echo Requests
// (with its nonce): the path to target is broken at the node that says so.
func (e *echoCheck) matchError(ipv6 []byte) (icmpError, bool) {
	ie, ok := parseICMPv6Error(ipv6)
	if !ok {
		return icmpError{}, false
	}
	if netip.AddrFrom16(teredo.Dst(ipv6)) != e.self {
		return icmpError{}, false
	}
	q, err := parseEcho(ie.Invoking, false)
	if err != nil || q.Type != teredo.ICMPv6EchoRequest || q.Src != e.self || q.Dst != e.target || q.ID != e.id {
		return icmpError{}, false
	}
	for i := range e.sent {
		if e.sent[i].seq == q.Seq && bytes.HasPrefix(e.sent[i].nonce[:], q.Data) && len(q.Data) >= 8 {
			return ie, true
		}
	}
	return icmpError{}, false
}

// newEchoCheck picks a random identifier for a series of Echo Requests.
func (c *Client) newEchoCheck(target netip.Addr) (*echoCheck, error) {
	var id [2]byte
	if err := c.random(id[:]); err != nil {
		return nil, err
	}
	return &echoCheck{target: target, self: c.q.Address, id: binary.BigEndian.Uint16(id[:])}, nil
}

// sendEcho sends the next Echo Request of e to dst.
func (c *Client) sendEcho(step string, e *echoCheck, seq uint16, dst netip.AddrPort, via string) error {
	s := sentEcho{seq: seq}
	if err := c.random(s.nonce[:]); err != nil {
		return fmt.Errorf("%s: nonce: %w", step, err)
	}
	n := putEchoRequest(c.tx, e.self, e.target, e.id, seq, s.nonce[:])
	s.at = c.now()
	e.sent = append(e.sent, s)
	return c.send(step, dst, c.tx[:n], fmt.Sprintf("echo request id %#04x seq %d %v -> %v %s", e.id, seq, e.self, e.target, via))
}

// CheckTarget refuses targets the direct IPv6 connectivity test cannot
// handle: anything but a global IPv6 unicast address outside 2001::/32.
func CheckTarget(target netip.Addr) error {
	if !target.Is6() || target.Is4In6() || !target.IsGlobalUnicast() {
		return fmt.Errorf("target %v is not a global IPv6 unicast address", target)
	}
	if teredo.Prefix.Contains(target) {
		return fmt.Errorf("target %v is a Teredo address: use bubbles (ReachPeer), not a relay", target)
	}
	return nil
}

// ConnectivityTest runs the direct IPv6 connectivity test [RFC 4380 §5.2.9]
// towards a native IPv6 host: an ICMPv6 Echo Request carrying a random
// 128-bit nonce goes through the client's server; the Echo Reply comes back
// through the relay nearest to target, which first sends an indirect bubble
// (answered by listen with a direct bubble, opening the NAT). The relay is the
// IPv4 source of the reply carrying the nonce. Up to EchoRetries requests are
// sent, EchoTimeout apart.
func (c *Client) ConnectivityTest(ctx context.Context, target netip.Addr) (RelayResult, error) {
	const step = "echo-test"
	if !c.qualified {
		return RelayResult{}, fmt.Errorf("%s: %w", step, ErrNotQualified)
	}
	if err := CheckTarget(target); err != nil {
		return RelayResult{}, fmt.Errorf("%s: %w", step, err)
	}
	e, err := c.newEchoCheck(target)
	if err != nil {
		return RelayResult{}, fmt.Errorf("%s: %w", step, err)
	}
	server := netip.AddrPortFrom(c.cfg.Server, teredo.Port)
	res := RelayResult{Target: target}
	fail := &NoAnswerError{Step: step, Dst: server, Wait: c.cfg.EchoTimeout}
	for seq := uint16(1); int(seq) <= c.cfg.EchoRetries; seq++ {
		if err := c.sendEcho(step, e, seq, server, "via the server"); err != nil {
			return res, err
		}
		res.Attempts++
		fail.Sent++
		var stop error
		done := false
		timedOut, err := c.listen(ctx, step, e.sent[len(e.sent)-1].at.Add(c.cfg.EchoTimeout), func(d *datagram) bool {
			if d.err != nil {
				return false
			}
			if d.pkt.IsBubble() {
				if d.pkt.HasOrigin && c.isServer(d.from) {
					res.BubbleOrigins = appendUnique(res.BubbleOrigins, d.pkt.Origin)
				}
				return false
			}
			if ie, ok := e.matchError(d.pkt.IPv6); ok {
				res.Relay = d.from
				res.Unreachable = fmt.Sprintf("%s from %v", icmpErrorName(ie.Type, ie.Code), ie.Src)
				stop = fmt.Errorf("%s: %w: %s from %v for %v, relayed by %v", step, ErrUnreachable, icmpErrorName(ie.Type, ie.Code), ie.Src, target, d.from)
				c.trace(EventRejected, step, d.from, "", stop)
				done = true
				return true
			}
			i, err := e.matchReply(d.pkt.IPv6)
			if err != nil {
				fail.Rejected = append(fail.Rejected, Rejection{From: d.from, Err: err})
				c.trace(EventRejected, step, d.from, "", err)
				return false
			}
			res.Relay, res.RTT, done = d.from, d.at.Sub(e.sent[i].at), true
			c.trace(EventAccepted, step, d.from, fmt.Sprintf("echo reply with our nonce: relay for %v is %v (rtt %v)", target, d.from, res.RTT), nil)
			return true
		})
		if err != nil {
			return res, err
		}
		if done {
			return res, stop
		}
		if timedOut {
			c.trace(EventTimeout, step, server, fmt.Sprintf("no echo reply within %v", c.cfg.EchoTimeout), nil)
		}
	}
	return res, fail
}

// PingReply is one answered Echo Request of Ping.
type PingReply struct {
	Seq uint16        `json:"seq"`
	RTT time.Duration `json:"rtt_ns"`
}

// PingResult summarises Ping.
type PingResult struct {
	Target  netip.Addr     `json:"target"`
	Relay   netip.AddrPort `json:"relay"`
	Sent    int            `json:"sent"`
	Replies []PingReply    `json:"replies"`
	// Rejected counts datagrams that looked like answers but failed a check.
	Rejected []Rejection `json:"-"`
}

// Received is the number of answered requests.
func (r PingResult) Received() int { return len(r.Replies) }

// Stats returns the minimum, mean and maximum round-trip time of the replies.
func (r PingResult) Stats() (lo, mean, hi time.Duration) {
	if len(r.Replies) == 0 {
		return 0, 0, 0
	}
	lo = r.Replies[0].RTT
	var sum time.Duration
	for _, p := range r.Replies {
		lo, hi = min(lo, p.RTT), max(hi, p.RTT)
		sum += p.RTT
	}
	return lo, sum / time.Duration(len(r.Replies)), hi
}

// Ping sends count Echo Requests to target directly to relay (the relay found
// by ConnectivityTest: the client's peer entry for target is trusted with
// that mapping, RFC 4380 §5.2.4 case 1), interval apart, and collects the
// replies that come back from relay with the right nonce (interval <= 0
// means 1 s). It waits EchoTimeout
// after the last request. Ping returns an error only when it cannot send or
// ctx ends; lost replies are in the result.
func (c *Client) Ping(ctx context.Context, relay netip.AddrPort, target netip.Addr, count int, interval time.Duration) (PingResult, error) {
	const step = "ping"
	res := PingResult{Target: target, Relay: relay}
	if !c.qualified {
		return res, fmt.Errorf("%s: %w", step, ErrNotQualified)
	}
	if err := CheckTarget(target); err != nil {
		return res, fmt.Errorf("%s: %w", step, err)
	}
	if count <= 0 || count > 0xffff {
		return res, fmt.Errorf("%s: count %d out of range 1..65535", step, count)
	}
	if interval <= 0 {
		interval = time.Second
	}
	e, err := c.newEchoCheck(target)
	if err != nil {
		return res, fmt.Errorf("%s: %w", step, err)
	}
	answered := make(map[uint16]bool, count)
	handle := func(d *datagram) bool {
		if d.err != nil || d.pkt.IsBubble() {
			return false
		}
		if ie, ok := e.matchError(d.pkt.IPv6); ok {
			err := fmt.Errorf("%w: %s from %v, relayed by %v", ErrUnreachable, icmpErrorName(ie.Type, ie.Code), ie.Src, d.from)
			res.Rejected = append(res.Rejected, Rejection{From: d.from, Err: err})
			c.trace(EventRejected, step, d.from, "", err)
			return false
		}
		i, err := e.matchReply(d.pkt.IPv6)
		if err == nil && d.from != relay {
			err = fmt.Errorf("%w: reply from %v, the relay is %v", ErrUnexpectedSource, d.from, relay)
		}
		if err == nil && answered[e.sent[i].seq] {
			err = fmt.Errorf("%w: duplicate reply to seq %d", ErrNotEcho, e.sent[i].seq)
		}
		if err != nil {
			res.Rejected = append(res.Rejected, Rejection{From: d.from, Err: err})
			c.trace(EventRejected, step, d.from, "", err)
			return false
		}
		s := e.sent[i]
		answered[s.seq] = true
		r := PingReply{Seq: s.seq, RTT: d.at.Sub(s.at)}
		res.Replies = append(res.Replies, r)
		c.trace(EventAccepted, step, d.from, fmt.Sprintf("echo reply seq %d rtt %v", r.Seq, r.RTT), nil)
		return len(answered) == count
	}
	for seq := uint16(1); int(seq) <= count; seq++ {
		if err := c.sendEcho(step, e, seq, relay, "via the relay"); err != nil {
			return res, err
		}
		res.Sent++
		wait := interval
		if int(seq) == count {
			wait = c.cfg.EchoTimeout
		}
		if _, err := c.listen(ctx, step, e.sent[len(e.sent)-1].at.Add(wait), handle); err != nil {
			return res, err
		}
	}
	if lost := res.Sent - res.Received(); lost > 0 {
		c.trace(EventTimeout, step, relay, fmt.Sprintf("%d of %d echo requests unanswered", lost, res.Sent), nil)
	}
	return res, nil
}

func appendUnique(list []netip.AddrPort, a netip.AddrPort) []netip.AddrPort {
	for _, x := range list {
		if x == a {
			return list
		}
	}
	return append(list, a)
}
