package client

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"time"

	"github.com/teredorelay/teredorelay/teredo"
)

// Protocol defaults [RFC 4380 §5.2.1, §5.2.4].
const (
	// DefaultQualifyTimeout is T, the wait for a Router Advertisement after
	// each Router Solicitation.
	DefaultQualifyTimeout = 4 * time.Second
	// DefaultQualifyRetries is N, the Router Solicitations sent per
	// qualification phase before the phase fails.
	DefaultQualifyRetries = 3
	// DefaultEchoTimeout is the wait for the Echo Reply of the direct IPv6
	// connectivity test and for a peer's bubble (RFC 4380 §5.2.4 cases 2, 5).
	DefaultEchoTimeout = 2 * time.Second
	// DefaultEchoRetries is how many times those are sent.
	DefaultEchoRetries = 3
	// EchoNonceLen is the size of the random nonce carried in every Echo
	// Request (RFC 4380 §5.2.9 recommends at least 64 bits).
	EchoNonceLen = 16
)

// Config configures a Client.
type Config struct {
	// Server is the Teredo server's primary IPv4 address (required).
	Server netip.Addr
	// Secondary is the server's secondary IPv4 address. When set,
	// qualification repeats the Router Solicitation towards it and compares
	// the mapped addresses to detect a symmetric NAT [RFC 4380 §5.2.1].
	Secondary netip.Addr
	// ConeProbe runs RFC 4380's first phase (RS with the cone bit set,
	// answered from the server's other address). RFC 5991 §3.2 says clients
	// SHOULD skip it, so it is off by default.
	ConeProbe bool

	// QualifyTimeout is T (default 4 s); QualifyRetries is N (default 3).
	QualifyTimeout time.Duration
	QualifyRetries int
	// EchoTimeout and EchoRetries bound the direct connectivity test, each
	// ping and the wait for a peer's bubbles (defaults 2 s and 3).
	EchoTimeout time.Duration
	EchoRetries int

	// Rand is the source of nonces, echo identifiers and the RFC 5991 random
	// flag bits (default crypto/rand.Reader).
	Rand io.Reader
	// Now is the clock (default time.Now); tests pass a fake one together
	// with a Transport that honours it.
	Now func() time.Time
	// Trace, when set, receives every packet sent and received and the
	// verdict on each, in order, for operators and logs.
	Trace func(Event)
}

func (c *Config) setDefaults() error {
	if !c.Server.Is4() {
		return fmt.Errorf("client config: server %v is not an IPv4 address", c.Server)
	}
	if c.Secondary.IsValid() && (!c.Secondary.Is4() || c.Secondary == c.Server) {
		return fmt.Errorf("client config: secondary server %v must be another IPv4 address than %v", c.Secondary, c.Server)
	}
	if c.QualifyTimeout <= 0 {
		c.QualifyTimeout = DefaultQualifyTimeout
	}
	if c.QualifyRetries <= 0 {
		c.QualifyRetries = DefaultQualifyRetries
	}
	if c.EchoTimeout <= 0 {
		c.EchoTimeout = DefaultEchoTimeout
	}
	if c.EchoRetries <= 0 {
		c.EchoRetries = DefaultEchoRetries
	}
	if c.Rand == nil {
		c.Rand = rand.Reader
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return nil
}

// EventKind tells what an Event reports.
type EventKind uint8

// Event kinds.
const (
	EventSent     EventKind = iota + 1 // a datagram was sent
	EventReceived                      // a datagram arrived (before any check)
	EventAccepted                      // the datagram passed the checks of the step
	EventRejected                      // the datagram failed a check (Err says which)
	EventTimeout                       // a wait ended without a valid answer
	EventNote                          // a conclusion or a decision of the step
)

var eventKindNames = [...]string{"", "sent", "received", "accepted", "rejected", "timeout", "note"}

func (k EventKind) String() string {
	if int(k) < len(eventKindNames) && k != 0 {
		return eventKindNames[k]
	}
	return fmt.Sprintf("EventKind(%d)", uint8(k))
}

// MarshalText makes the kind readable in JSON.
func (k EventKind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// Event is one line of the client's trace.
type Event struct {
	Time time.Time
	Kind EventKind
	// Step is the procedure: "qualify", "cone-probe", "secondary",
	// "echo-test", "ping" or "bubble".
	Step string
	// Peer is the IPv4 endpoint the datagram went to or came from.
	Peer netip.AddrPort
	// Detail describes the packet or the conclusion.
	Detail string
	// Err is the failed check of a rejected datagram.
	Err error
}

// trace emits a note from code that has a Config but no Client.
func (c *Config) trace(kind EventKind, step string, peer netip.AddrPort, detail string) {
	if c.Trace != nil {
		c.Trace(Event{Time: c.Now(), Kind: kind, Step: step, Peer: peer, Detail: detail})
	}
}

func (e Event) String() string {
	s := fmt.Sprintf("%-9s %-10s", e.Step, e.Kind)
	if e.Peer.IsValid() {
		s += " " + e.Peer.String()
	}
	if e.Detail != "" {
		s += " " + e.Detail
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Sentinel errors. The checks that reject a received packet wrap one of them
// (errors.Is works on the step's final error too, see NoAnswerError).
var (
	ErrNoAnswer         = errors.New("no valid answer")
	ErrNotQualified     = errors.New("client is not qualified")
	ErrMalformed        = errors.New("malformed teredo packet")
	ErrUnexpectedSource = errors.New("unexpected source")
	ErrNotRA            = errors.New("not a valid router advertisement")
	ErrNoAuth           = errors.New("authentication header missing")
	ErrNonceMismatch    = errors.New("nonce mismatch")
	ErrConfirmation     = errors.New("server asks for a new key (confirmation byte non-zero)")
	ErrNoOrigin         = errors.New("origin indication missing")
	ErrWrongDestination = errors.New("wrong IPv6 destination")
	ErrWrongPrefix      = errors.New("wrong prefix")
	ErrBadMTU           = errors.New("MTU option out of range")
	ErrNotEcho          = errors.New("not a matching echo reply")
	ErrUnreachable      = errors.New("destination unreachable")
	ErrNotGlobal        = errors.New("not a global unicast IPv4 address")
)

// Rejection is one datagram a step discarded and why.
type Rejection struct {
	From netip.AddrPort
	Err  error
}

// NoAnswerError reports a step that ended without a valid answer, with the
// datagrams it rejected on the way (the first clue when debugging a server or
// a relay). It unwraps to ErrNoAnswer and to every rejection's error.
type NoAnswerError struct {
	Step     string         // "qualify", "secondary", "echo-test", ...
	Dst      netip.AddrPort // where the requests went
	Sent     int            // requests sent
	Wait     time.Duration  // wait after each request
	Rejected []Rejection
}

func (e *NoAnswerError) Error() string {
	s := fmt.Sprintf("%s: %v after %d request(s) to %v (%v each)", e.Step, ErrNoAnswer, e.Sent, e.Dst, e.Wait)
	if len(e.Rejected) > 0 {
		s += fmt.Sprintf("; %d datagram(s) rejected:", len(e.Rejected))
		for i, r := range e.Rejected {
			if i == 5 {
				s += fmt.Sprintf(" ... and %d more", len(e.Rejected)-i)
				break
			}
			s += fmt.Sprintf(" [from %v: %v]", r.From, r.Err)
		}
	}
	return s
}

// Unwrap returns ErrNoAnswer followed by the rejection errors.
func (e *NoAnswerError) Unwrap() []error {
	errs := []error{ErrNoAnswer}
	for _, r := range e.Rejected {
		errs = append(errs, r.Err)
	}
	return errs
}

// Client is a Teredo client over a Transport. It is meant for diagnostics: one
// goroutine drives it, one procedure at a time; it is not safe for concurrent
// use.
type Client struct {
	cfg Config
	tr  Transport
	rx  []byte // receive buffer (largest UDP payload)
	tx  []byte // send buffer

	qualified bool
	q         Qualification
}

// New returns a Client that talks through tr. The Client owns tr and closes it
// in Close.
func New(tr Transport, cfg Config) (*Client, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	return &Client{cfg: cfg, tr: tr, rx: make([]byte, 65536), tx: make([]byte, 2048)}, nil
}

// Listen opens a UDP socket on local and returns a Client using it.
func Listen(local netip.AddrPort, cfg Config) (*Client, error) {
	tr, err := ListenUDP(local)
	if err != nil {
		return nil, err
	}
	c, err := New(tr, cfg)
	if err != nil {
		tr.Close()
		return nil, err
	}
	return c, nil
}

// LocalAddr is the client's Teredo service port.
func (c *Client) LocalAddr() netip.AddrPort { return c.tr.LocalAddr() }

// Qualification returns the result of the last successful Qualify.
func (c *Client) Qualification() (Qualification, bool) { return c.q, c.qualified }

// Close closes the transport.
func (c *Client) Close() error { return c.tr.Close() }

func (c *Client) now() time.Time { return c.cfg.Now() }

func (c *Client) trace(kind EventKind, step string, peer netip.AddrPort, detail string, err error) {
	if c.cfg.Trace != nil {
		c.cfg.Trace(Event{Time: c.now(), Kind: kind, Step: step, Peer: peer, Detail: detail, Err: err})
	}
}

func (c *Client) random(b []byte) error {
	if _, err := io.ReadFull(c.cfg.Rand, b); err != nil {
		return fmt.Errorf("read random bytes: %w", err)
	}
	return nil
}

func (c *Client) send(step string, dst netip.AddrPort, payload []byte, detail string) error {
	if err := c.tr.Send(dst, payload); err != nil {
		return fmt.Errorf("%s: %w", step, err)
	}
	c.trace(EventSent, step, dst, detail, nil)
	return nil
}

// datagram is one received UDP payload after Teredo decoding.
type datagram struct {
	at   time.Time
	from netip.AddrPort
	raw  []byte
	pkt  teredo.Packet
	err  error // Packet.Decode error; pkt is empty then
}

// listen reads datagrams until deadline. Each is decoded and traced; a
// relay's or peer's indirect bubble is answered with a direct bubble (see
// answerIndirectBubble); then handle decides. handle returns true to stop.
// listen returns timedOut=true when the deadline passed.
func (c *Client) listen(ctx context.Context, step string, deadline time.Time, handle func(d *datagram) bool) (timedOut bool, err error) {
	var d datagram
	for {
		n, from, err := c.tr.Receive(ctx, c.rx, deadline)
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				return true, nil
			}
			return false, fmt.Errorf("%s: %w", step, err)
		}
		d = datagram{at: c.now(), from: from, raw: c.rx[:n]}
		d.err = d.pkt.Decode(d.raw)
		c.trace(EventReceived, step, from, describe(&d), nil)
		if err := c.answerIndirectBubble(step, &d); err != nil {
			return false, err
		}
		if handle(&d) {
			return false, nil
		}
	}
}

// isServer reports whether from is the Teredo port of one of the server's
// addresses.
func (c *Client) isServer(from netip.AddrPort) bool {
	return from.Port() == teredo.Port && (from.Addr() == c.cfg.Server || (c.cfg.Secondary.IsValid() && from.Addr() == c.cfg.Secondary))
}
