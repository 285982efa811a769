package client

import (
	"fmt"
	"net/netip"
	"time"
)

// The tunnel's peer table [RFC 4380 §5.2]: one entry per IPv6 address the
// host talks to, a Teredo peer (reached directly after bubbles) or a native
// host (reached through the relay the direct IPv6 connectivity test found).
//
// It is a small client-side table, not package cache: cache is the relay's
// fixed-capacity, sharded peer cache keyed for millions of Teredo clients,
// with no room for what a client keeps per peer (the echo test's nonce and
// ping count, RFC 6081 nonces, an incoming queue whose packets wait for the
// connectivity test, the kind of peer), and its internals are being reworked
// for the relay's fast path. A host talks to tens of peers: a map with an LRU
// bound is enough.

// PeerKind tells how a peer is reached.
type PeerKind uint8

// Peer kinds.
const (
	PeerTeredo PeerKind = iota + 1 // another Teredo client, direct after bubbles
	PeerNative                     // a native IPv6 host, through a relay
)

func (k PeerKind) String() string {
	switch k {
	case PeerTeredo:
		return "teredo"
	case PeerNative:
		return "native"
	}
	return "unknown"
}

// MarshalText makes the kind readable in JSON.
func (k PeerKind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// queued is one packet waiting in a peer's queue; from is the datagram's
// source for incoming packets (they are delivered only if it turns out to be
// the peer's relay).
type queued struct {
	pkt  []byte
	from netip.AddrPort
}

// packetQueue is a FIFO bounded in bytes [RFC 4380 §5.2.4: queue while the
// path is being opened].
type packetQueue struct {
	pkts  []queued
	bytes int
}

// push copies pkt into the queue; false when it does not fit in limit.
func (q *packetQueue) push(pkt []byte, from netip.AddrPort, limit int) bool {
	if q.bytes+len(pkt) > limit {
		return false
	}
	q.pkts = append(q.pkts, queued{pkt: append([]byte(nil), pkt...), from: from})
	q.bytes += len(pkt)
	return true
}

// take empties the queue and returns its packets in order.
func (q *packetQueue) take() []queued {
	p := q.pkts
	q.pkts, q.bytes = nil, 0
	return p
}

// peer is one entry of the table.
type peer struct {
	addr    netip.Addr
	kind    PeerKind
	trusted bool
	mapping netip.AddrPort // where packets to this peer go (the relay for a native peer)
	lastRx  time.Time      // zero: never
	lastTx  time.Time
	created time.Time
	// Opening the path: bubbles (Teredo peer) or echo requests (native
	// peer) sent since the last packet received from the peer, and when.
	attempts    int
	gaveUp      bool // the last attempt went unanswered
	lastAttempt time.Time
	firstAtt    time.Time
	nonce       [EchoNonceLen]byte // echo test nonce (native peer)
	echoSeq     uint16
	nonceSent   [4]byte // RFC 6081 nonce trailer of our indirect bubbles (Teredo peer)
	hasNonce    bool
	out, in     packetQueue
	rxPackets   uint64
	txPackets   uint64
}

// valid reports whether the entry may be used to send [RFC 4380 §5.2.4:
// trusted and something received in the last 30 s].
func (p *peer) valid(now time.Time) bool {
	return p.trusted && !p.lastRx.IsZero() && now.Sub(p.lastRx) < PeerValidity
}

// lastActivity is the later of the last reception, transmission and creation.
func (p *peer) lastActivity() time.Time {
	t := p.created
	if p.lastRx.After(t) {
		t = p.lastRx
	}
	if p.lastTx.After(t) {
		t = p.lastTx
	}
	return t
}

// PeerValidity is how long a trusted peer stays usable after the last
// packet received from it [RFC 4380 §5.2.4].
const PeerValidity = 30 * time.Second

// peerTable is the bounded table.
type peerTable struct {
	m   map[netip.Addr]*peer
	max int
}

func newPeerTable(max int) peerTable { return peerTable{m: make(map[netip.Addr]*peer), max: max} }

func (t *peerTable) get(a netip.Addr) *peer { return t.m[a] }

// add creates the entry for a, evicting the least recently active one when
// the table is full; evicted is that entry (nil if none).
func (t *peerTable) add(a netip.Addr, kind PeerKind, now time.Time) (p, evicted *peer) {
	if len(t.m) >= t.max {
		for _, q := range t.m {
			if evicted == nil || q.lastActivity().Before(evicted.lastActivity()) {
				evicted = q
			}
		}
		delete(t.m, evicted.addr)
	}
	p = &peer{addr: a, kind: kind, created: now}
	t.m[a] = p
	return p, evicted
}

// PeerInfo is one peer as show state and the control API report it.
type PeerInfo struct {
	Address     netip.Addr     `json:"address"`
	Kind        PeerKind       `json:"kind"`
	Trusted     bool           `json:"trusted"`
	Mapping     netip.AddrPort `json:"mapping,omitzero"` // the relay for a native peer
	LastRxAgo   time.Duration  `json:"last_rx_ago_ns,omitempty"`
	LastTxAgo   time.Duration  `json:"last_tx_ago_ns,omitempty"`
	Attempts    int            `json:"attempts"` // bubbles or echo requests since the last reception
	QueuedOut   int            `json:"queued_out_bytes"`
	QueuedIn    int            `json:"queued_in_bytes"`
	RxPackets   uint64         `json:"rx_packets"`
	TxPackets   uint64         `json:"tx_packets"`
	ValidForSec float64        `json:"valid_for_seconds"` // time left before the entry needs re-verification
}

func (p *peer) info(now time.Time) PeerInfo {
	i := PeerInfo{
		Address: p.addr, Kind: p.kind, Trusted: p.trusted, Mapping: p.mapping, Attempts: p.attempts,
		QueuedOut: p.out.bytes, QueuedIn: p.in.bytes, RxPackets: p.rxPackets, TxPackets: p.txPackets,
	}
	if !p.lastRx.IsZero() {
		i.LastRxAgo = now.Sub(p.lastRx)
		if p.trusted {
			i.ValidForSec = max(0, (PeerValidity - i.LastRxAgo).Seconds())
		}
	}
	if !p.lastTx.IsZero() {
		i.LastTxAgo = now.Sub(p.lastTx)
	}
	return i
}

// UnmarshalText reads a peer kind name.
func (k *PeerKind) UnmarshalText(b []byte) error {
	for _, v := range []PeerKind{PeerTeredo, PeerNative} {
		if v.String() == string(b) {
			*k = v
			return nil
		}
	}
	return fmt.Errorf("unknown peer kind %q", b)
}
