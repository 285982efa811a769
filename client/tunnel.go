package client

import (
	"cmp"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/netip"
	"slices"
	"time"

	"github.com/teredorelay/teredorelay/teredo"
)

// Tunnel defaults.
const (
	// DefaultRefreshInterval is RFC 4380 §5.2's refresh interval; each
	// refresh waits a random 75-100 % of it after the last packet from the
	// server.
	DefaultRefreshInterval = 30 * time.Second
	// DefaultOfflineRetry is the wait before qualifying again after the
	// server stopped answering.
	DefaultOfflineRetry = 30 * time.Second
	// DefaultDormantCheck is how often a dormant client checks that the
	// server still answers and its mapping still holds.
	DefaultDormantCheck = 5 * time.Minute
	// DefaultIdleTimeout sends a qualified client without IPv6 traffic back
	// to dormant (Windows: 60 minutes).
	DefaultIdleTimeout = time.Hour
	// DefaultMaxPeers bounds the peer table.
	DefaultMaxPeers = 1024
	// DefaultPeerExpiry removes peers idle this long.
	DefaultPeerExpiry = 5 * time.Minute
	// DefaultPunchTTL is the IPv4 TTL of the first direct bubble to a
	// Teredo peer: enough to pass the client's own NAT, too little to reach
	// the peer's. See Tunnel's doc.
	DefaultPunchTTL = 2
	// PeerQueueBytes bounds each peer's queue (each direction), as Miredo.
	PeerQueueBytes = 1280
	// ActivationQueueBytes bounds the packets held while a dormant client
	// qualifies.
	ActivationQueueBytes = 8 * 1280
	// bubbleWindow and maxBubbles: at most 4 bubbles in 300 s without an
	// answer [RFC 4380 §5.2.6]; bubbleSpacing between two of them.
	bubbleWindow  = 300 * time.Second
	maxBubbles    = 4
	bubbleSpacing = 2 * time.Second
	// icmpRate is the ICMPv6 errors per second written to the host.
	icmpRate = 10
)

// TunnelConfig configures a Tunnel.
type TunnelConfig struct {
	// Primary and Secondary are the server's addresses (Secondary may be
	// invalid). ServerName is what the operator configured (shown in the
	// state). Resolve, when set, is called before each qualification that
	// follows an offline period, to re-resolve a server name.
	Primary, Secondary netip.Addr
	ServerName         string
	Resolve            func() (primary, secondary netip.Addr, err error)
	Type               ClientType
	// Interface is the TUN device's name (shown in the state).
	Interface string

	RefreshInterval time.Duration // default 30 s
	QualifyTimeout  time.Duration // T, default 4 s
	QualifyRetries  int           // N, default 3
	EchoTimeout     time.Duration // connectivity test and bubble retry, default 2 s
	EchoRetries     int           // repeats after the first, default 3
	OfflineRetry    time.Duration // default 30 s
	// IdleTimeout: a qualified client with no IPv6 traffic for this long
	// goes dormant. Negative: never dormant (qualified from the start,
	// like Miredo). Zero: DefaultIdleTimeout.
	IdleTimeout  time.Duration
	DormantCheck time.Duration // default 5 min
	MaxPeers     int           // default 1024
	PeerExpiry   time.Duration // default 5 min
	PunchTTL     int           // default 2; negative disables the low-TTL bubble

	// Rand is the source of nonces and flag bits (default crypto/rand).
	Rand io.Reader
	// Log receives one line per state change and notable event.
	Log func(format string, args ...any)
}

func (c *TunnelConfig) setDefaults() error {
	if !c.Primary.Is4() && c.Resolve == nil {
		return fmt.Errorf("tunnel config: server %v is not an IPv4 address", c.Primary)
	}
	if c.Secondary.IsValid() && (!c.Secondary.Is4() || c.Secondary == c.Primary) {
		return fmt.Errorf("tunnel config: secondary server %v must be another IPv4 address than %v", c.Secondary, c.Primary)
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.RefreshInterval, DefaultRefreshInterval)
	def(&c.QualifyTimeout, DefaultQualifyTimeout)
	def(&c.EchoTimeout, DefaultEchoTimeout)
	def(&c.OfflineRetry, DefaultOfflineRetry)
	def(&c.DormantCheck, DefaultDormantCheck)
	def(&c.PeerExpiry, DefaultPeerExpiry)
	if c.IdleTimeout == 0 {
		c.IdleTimeout = DefaultIdleTimeout
	}
	if c.QualifyRetries <= 0 {
		c.QualifyRetries = DefaultQualifyRetries
	}
	if c.EchoRetries <= 0 {
		c.EchoRetries = DefaultEchoRetries
	}
	if c.MaxPeers <= 0 {
		c.MaxPeers = DefaultMaxPeers
	}
	if c.PunchTTL == 0 {
		c.PunchTTL = DefaultPunchTTL
	}
	if c.Rand == nil {
		c.Rand = rand.Reader
	}
	if c.Log == nil {
		c.Log = func(string, ...any) {}
	}
	return nil
}

// TunnelHost is the host side of the tunnel: the TUN device and its
// configuration.
type TunnelHost interface {
	// WriteTUN hands one IPv6 packet to the host's stack.
	WriteTUN(pkt []byte) error
	// SetAddress configures the interface with the Teredo address (its
	// /32 route and the low-priority default route), replacing the
	// previous one; an invalid addr removes them (offline).
	SetAddress(addr netip.Addr) error
}

// TTLSender is implemented by transports that can send one datagram with a
// given IPv4 TTL (the low-TTL bubble that opens the client's own NAT).
type TTLSender interface {
	SendTTL(dst netip.AddrPort, payload []byte, ttl int) error
}

// rsPurpose says why a Router Solicitation exchange runs.
type rsPurpose uint8

const (
	rsQualify   rsPurpose = iota // from offline or at start
	rsActivate                   // dormant -> qualified on traffic
	rsCheck                      // dormant: is the server still there?
	rsRefresh                    // qualified: maintenance [RFC 4380 §5.2.5]
	rsSecondary                  // symmetric-NAT check towards the other address
)

// rsTxn is one running RS/RA exchange.
type rsTxn struct {
	purpose   rsPurpose
	dst       netip.Addr
	tries     int
	deadline  time.Time
	nonces    [][8]byte
	failedOne bool // the first address already failed (fail-over running)
}

// Tunnel is the Teredo client's state machine [RFC 4380 §5.2, RFC 5991,
// RFC 6081 §5.2]: qualification and maintenance, the peer table, packet
// transmission from the host (§5.2.4) and reception from the network
// (§5.2.3). It does no I/O of its own: RunTunnel feeds it datagrams, packets
// from the TUN device and timer ticks from one goroutine, and it sends
// through a Transport and a TunnelHost. Its methods are not safe for
// concurrent use, except Counters and the Snapshot the loop publishes.
//
// Opening a path to another Teredo client behind a NAT that keeps state for
// packets it drops (Linux conntrack does): the first packet to reach the
// other NAT before its host sent anything there leaves an entry that makes
// the other host's later packets to us leave from a new port, which our NAT
// then filters. So the first direct bubble goes out with an IPv4 TTL of
// PunchTTL (2): it opens our NAT (one hop away) and expires before the
// peer's; the indirect bubble through the peer's server, which carries an
// RFC 6081 nonce, makes the peer answer with a direct bubble that our NAT now
// lets in. A direct bubble whose source mapping differs from the peer's
// address is accepted when it echoes that nonce (RFC 6081 symmetric NAT
// support).
type Tunnel struct {
	cfg TunnelConfig
	tr  Transport
	tun TunnelHost
	c   Counters

	state   State
	err     string // why offline
	network string // managed, unmanaged, unknown
	// Servers: the configured pair and the one the client is qualified with.
	primary, secondary, server netip.Addr

	// Qualification.
	local        netip.AddrPort
	mapped       netip.AddrPort
	prefix       netip.Prefix
	mtu          uint32
	flags        uint16
	addr         netip.Addr
	nat          NATType
	lastServerRx time.Time
	nextRefresh  time.Time
	retryAt      time.Time
	rs, sec      *rsTxn
	wantTraffic  bool // host traffic is waiting for the tunnel (dormant/probe)
	lastTraffic  time.Time
	activation   packetQueue
	filterProbe  bool // a filtering probe should run (RunTunnel takes it)

	peers      peerTable
	echoID     uint16
	tx         []byte // send buffer
	icmp       []byte // ICMPv6 error buffer
	icmpTokens float64
	icmpAt     time.Time
}

// NewTunnel returns a tunnel over tr (the Teredo service port) and tun.
func NewTunnel(cfg TunnelConfig, tr Transport, tun TunnelHost) (*Tunnel, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	t := &Tunnel{
		cfg: cfg, tr: tr, tun: tun, network: "unknown", mtu: teredo.MinMTU, // the link's MTU until an RA says more
		primary: cfg.Primary, secondary: cfg.Secondary,
		peers: newPeerTable(cfg.MaxPeers), tx: make([]byte, 2048), icmp: make([]byte, teredo.MinMTU),
	}
	var id [2]byte
	if err := t.random(id[:]); err != nil {
		return nil, err
	}
	t.echoID = binary.BigEndian.Uint16(id[:])
	return t, nil
}

// Counters returns the tunnel's counters (safe from any goroutine).
func (t *Tunnel) Counters() *Counters { return &t.c }

// State returns the current state.
func (t *Tunnel) State() State { return t.state }

// Address returns the Teredo address (invalid when offline).
func (t *Tunnel) Address() netip.Addr { return t.addr }

func (t *Tunnel) random(b []byte) error {
	if _, err := io.ReadFull(t.cfg.Rand, b); err != nil {
		return fmt.Errorf("read random bytes: %w", err)
	}
	return nil
}

func (t *Tunnel) setState(s State, now time.Time) {
	if s != t.state {
		t.cfg.Log("state %v -> %v", t.state, s)
		t.state = s
	}
}

// Start begins: a qualification, unless a managed-network check must come
// first (SetNetwork then starts it).
func (t *Tunnel) Start(now time.Time, checkNetwork bool) {
	t.lastTraffic = now
	if checkNetwork {
		t.err = "checking whether the network is managed"
		return
	}
	t.beginRS(now, rsQualify, t.primary)
}

// SetNetwork records the managed-network detection's result. On a managed
// network a plain client goes offline and stays so; an enterprise client,
// or any client on an unmanaged network, qualifies.
func (t *Tunnel) SetNetwork(now time.Time, managed bool) {
	prev := t.network
	t.network = "unmanaged"
	if managed {
		t.network = "managed"
	}
	if prev != t.network {
		t.cfg.Log("network is %s", t.network)
	}
	switch {
	case managed && t.cfg.Type == TypeClient:
		if t.state != StateOffline || t.addr.IsValid() || t.rs != nil {
			t.goOffline(now, "client is in a managed network")
		}
		t.err = "client is in a managed network"
		t.retryAt = time.Time{}
	case t.state == StateOffline && t.rs == nil:
		t.err = ""
		t.beginRS(now, rsQualify, t.primary)
	}
}

// beginRS starts an RS/RA exchange towards dst.
func (t *Tunnel) beginRS(now time.Time, purpose rsPurpose, dst netip.Addr) {
	if purpose == rsQualify {
		if t.cfg.Resolve != nil {
			p, s, err := t.cfg.Resolve()
			if err != nil {
				t.cfg.Log("resolve server %s: %v", t.cfg.ServerName, err)
				t.err = "cannot resolve the server: " + err.Error()
				t.retryAt = now.Add(t.cfg.OfflineRetry)
				return
			}
			t.primary, t.secondary, dst = p, s, p
		}
		t.setState(StateProbe, now)
		t.err = ""
	}
	if purpose == rsActivate && t.state == StateDormant {
		t.setState(StateProbe, now)
	}
	if r, ok := t.tr.(SourceResolver); ok {
		if src, err := r.SourceFor(dst); err == nil {
			t.local = netip.AddrPortFrom(src, t.tr.LocalAddr().Port())
		}
	} else {
		t.local = t.tr.LocalAddr()
	}
	txn := &rsTxn{purpose: purpose, dst: dst}
	if purpose == rsSecondary {
		t.sec = txn
	} else {
		t.rs = txn
	}
	t.sendRS(now, txn)
}

func (t *Tunnel) sendRS(now time.Time, txn *rsTxn) {
	var nonce [8]byte
	if err := t.random(nonce[:]); err != nil {
		t.cfg.Log("rs nonce: %v", err)
	}
	txn.nonces = append(txn.nonces, nonce)
	txn.tries++
	txn.deadline = now.Add(t.cfg.QualifyTimeout)
	auth := teredo.Auth{Nonce: nonce}
	n := teredo.PutAuth(t.tx, &auth)
	n += teredo.PutRS(t.tx[n:], teredo.ClientLinkLocal(false))
	if err := t.tr.Send(netip.AddrPortFrom(txn.dst, teredo.Port), t.tx[:n]); err != nil {
		t.cfg.Log("send router solicitation to %v: %v", txn.dst, err)
	}
}

// otherServer is the server address that is not a.
func (t *Tunnel) otherServer(a netip.Addr) netip.Addr {
	if a == t.primary {
		return t.secondary
	}
	return t.primary
}

// rsTimeout handles an RS exchange whose wait ran out.
func (t *Tunnel) rsTimeout(now time.Time, txn *rsTxn) {
	if txn.tries < t.cfg.QualifyRetries {
		t.sendRS(now, txn)
		return
	}
	if txn.purpose == rsSecondary {
		t.sec = nil
		t.cfg.Log("secondary address %v did not answer: NAT type unknown", txn.dst)
		return
	}
	if other := t.otherServer(txn.dst); !txn.failedOne && other.IsValid() {
		t.cfg.Log("server %v did not answer %d solicitations: trying %v", txn.dst, txn.tries, other)
		t.c.Failovers.Add(1)
		txn.dst, txn.tries, txn.failedOne, txn.nonces = other, 0, true, nil
		t.sendRS(now, txn)
		return
	}
	t.rs = nil
	if txn.purpose == rsRefresh {
		t.c.RefreshFailed.Add(1)
	} else {
		t.c.QualifyFailed.Add(1)
	}
	t.goOffline(now, "no answer from the Teredo server")
}

// goOffline removes the address, drops every queue with an ICMPv6 error and
// schedules a new qualification.
func (t *Tunnel) goOffline(now time.Time, why string) {
	t.cfg.Log("offline: %s", why)
	t.err = why
	t.setState(StateOffline, now)
	t.rs, t.sec = nil, nil
	if t.addr.IsValid() {
		if err := t.tun.SetAddress(netip.Addr{}); err != nil {
			t.cfg.Log("remove the Teredo address: %v", err)
		}
	}
	// The mapping and flags are kept: qualifying again with the same
	// mapping gives the same address back.
	t.addr, t.nextRefresh, t.wantTraffic = netip.Addr{}, time.Time{}, false
	t.flushAll(now, DropOffline)
	t.retryAt = now.Add(t.cfg.OfflineRetry)
}

// flushAll empties every queue, answering the host's packets with ICMPv6
// errors, and clears the peer table.
func (t *Tunnel) flushAll(now time.Time, reason DropReason) {
	for _, q := range t.activation.take() {
		t.unreachable(now, q.pkt, teredo.CodeNoRoute, reason)
	}
	for a, p := range t.peers.m {
		t.dropPeer(now, p, reason)
		delete(t.peers.m, a)
	}
}

// dropPeer discards a peer's queues (ICMPv6 errors for the host's packets).
func (t *Tunnel) dropPeer(now time.Time, p *peer, reason DropReason) {
	for _, q := range p.out.take() {
		t.unreachable(now, q.pkt, teredo.CodeAddrUnreachable, reason)
	}
	for range p.in.take() {
		t.c.drop(reason)
	}
}

// handleRA processes a Router Advertisement from a server address: it
// answers the main exchange or the secondary check, whichever sent the
// solicitation its nonce echoes.
func (t *Tunnel) handleRA(now time.Time, from netip.AddrPort, p *teredo.Packet) {
	var lastErr error
	for _, txn := range []*rsTxn{t.rs, t.sec} {
		if txn == nil || from != netip.AddrPortFrom(txn.dst, teredo.Port) {
			continue
		}
		exp := raExpect{linkLocal: teredo.ClientLinkLocal(false), prefix: teredo.ServerPrefix(t.primary)}
		for _, n := range txn.nonces {
			exp.sent = append(exp.sent, sentRS{nonce: n})
		}
		ra, _, err := checkRA(p, &exp)
		if err != nil && txn.dst != t.primary {
			// An independent secondary server advertises its own prefix.
			exp.prefix = teredo.ServerPrefix(txn.dst)
			ra, _, err = checkRA(p, &exp)
		}
		if err != nil {
			lastErr = err
			continue
		}
		if txn == t.sec {
			t.sec = nil
			t.secondaryResult(ra.mapped)
			return
		}
		t.rs = nil
		t.qualified(now, txn, ra)
		return
	}
	if lastErr != nil {
		t.cfg.Log("router advertisement from %v rejected: %v", from, lastErr)
		t.c.drop(DropMalformed)
		return
	}
	t.c.drop(DropUnknownSource) // an RA nobody waits for
}

// qualified applies a valid RA of the main exchange.
func (t *Tunnel) qualified(now time.Time, txn *rsTxn, ra raInfo) {
	t.lastServerRx = now
	t.server = txn.dst
	if ra.mtu != 0 {
		t.mtu = ra.mtu
	} else {
		t.mtu = teredo.MinMTU
	}
	changed := ra.mapped != t.mapped || ra.prefix != t.prefix || !t.addr.IsValid()
	if ra.mapped != t.mapped {
		// RFC 5991: fresh random flag bits with every new mapping.
		var rnd [2]byte
		if err := t.random(rnd[:]); err != nil {
			t.cfg.Log("flags: %v", err)
		}
		t.flags = teredo.RandomFlags(binary.BigEndian.Uint16(rnd[:]), false)
	}
	if changed {
		old := t.addr
		server := netip.AddrFrom4([4]byte(ra.prefix.Addr().AsSlice()[4:8]))
		t.mapped, t.prefix = ra.mapped, ra.prefix
		t.addr = teredo.Addr{Server: server, Flags: t.flags, Mapped: ra.mapped}.IP()
		if err := t.tun.SetAddress(t.addr); err != nil {
			t.cfg.Log("configure %v: %v", t.addr, err)
		}
		if old.IsValid() {
			t.c.AddressChanges.Add(1)
			t.cfg.Log("mapping changed to %v: new address %v (was %v)", ra.mapped, t.addr, old)
			// Peers knew us by the old address: start over [Miredo resets
			// its list too]; packets queued with the old source cannot
			// be delivered.
			t.flushAll(now, DropStaleSource)
		} else {
			t.cfg.Log("qualified with %v: address %v, mapped %v", txn.dst, t.addr, ra.mapped)
		}
		// Learn the NAT type again for the new mapping.
		t.nat = NATUnknown
		if t.mapped == t.local {
			t.nat = NATNone
		} else if other := t.otherServer(txn.dst); other.IsValid() {
			t.beginRS(now, rsSecondary, other)
		} else {
			t.filterProbe = true
		}
	}
	switch txn.purpose {
	case rsRefresh:
		t.c.RefreshOK.Add(1)
	default:
		t.c.QualifyOK.Add(1)
	}
	t.scheduleRefresh(now)
	switch {
	case t.wantTraffic:
		// The host's first packets asked for the tunnel: send them now.
		t.c.Activations.Add(1)
		t.wantTraffic = false
		t.setState(StateQualified, now)
		t.lastTraffic = now
		for _, q := range t.activation.take() {
			t.transmit(now, q.pkt)
		}
	case t.cfg.IdleTimeout < 0:
		t.setState(StateQualified, now) // never dormant
	case txn.purpose == rsQualify || txn.purpose == rsCheck:
		t.setState(StateDormant, now)
	}
}

// secondaryResult compares the mapping seen by the other server address.
func (t *Tunnel) secondaryResult(m netip.AddrPort) {
	if m != t.mapped {
		t.nat = NATSymmetric
		t.cfg.Log("the secondary address saw %v, the primary %v: symmetric NAT (RFC 6081 mode: relays must accept cookie bubbles from any mapping)", m, t.mapped)
		return
	}
	t.nat = NATRestricted
	t.filterProbe = true
}

// SetNAT records the filtering probe's result.
func (t *Tunnel) SetNAT(n NATType) {
	if n != NATUnknown && t.nat != NATSymmetric && t.nat != NATNone {
		t.nat = n
		t.cfg.Log("NAT type: %v", n)
	}
}

// TakeFilteringProbe reports (once) that a filtering probe should run, with
// the server addresses to use.
func (t *Tunnel) TakeFilteringProbe() (primary, secondary netip.Addr, ok bool) {
	if !t.filterProbe {
		return netip.Addr{}, netip.Addr{}, false
	}
	t.filterProbe = false
	return t.server, t.otherServer(t.server), true
}

// scheduleRefresh picks the next refresh: a random 75-100 % of the refresh
// interval after the last packet from the server [RFC 4380 §5.2].
func (t *Tunnel) scheduleRefresh(now time.Time) {
	iv := t.cfg.RefreshInterval
	t.nextRefresh = t.lastServerRx.Add(iv*3/4 + time.Duration(mrand.Int64N(int64(iv/4)+1)))
}

// Tick runs the timers.
func (t *Tunnel) Tick(now time.Time) {
	if t.rs != nil && !now.Before(t.rs.deadline) {
		t.rsTimeout(now, t.rs)
	}
	if t.sec != nil && !now.Before(t.sec.deadline) {
		t.rsTimeout(now, t.sec)
	}
	switch t.state {
	case StateOffline:
		if !t.retryAt.IsZero() && !now.Before(t.retryAt) && t.rs == nil {
			t.retryAt = time.Time{}
			t.beginRS(now, rsQualify, t.primary)
		}
	case StateQualified:
		if t.rs == nil && !now.Before(t.nextRefresh) {
			t.beginRS(now, rsRefresh, t.server)
		}
		if t.cfg.IdleTimeout > 0 && now.Sub(t.lastTraffic) >= t.cfg.IdleTimeout {
			t.cfg.Log("no IPv6 traffic for %v: dormant", t.cfg.IdleTimeout)
			t.setState(StateDormant, now)
		}
	case StateDormant:
		if t.rs == nil && now.Sub(t.lastServerRx) >= t.cfg.DormantCheck {
			t.beginRS(now, rsCheck, t.server)
		}
	}
	t.peerTimers(now)
}

// NextDeadline is when Tick next has work (at most a second away).
func (t *Tunnel) NextDeadline(now time.Time) time.Time {
	next := now.Add(time.Second)
	earlier := func(d time.Time) {
		if !d.IsZero() && d.Before(next) {
			next = d
		}
	}
	if t.rs != nil {
		earlier(t.rs.deadline)
	}
	if t.sec != nil {
		earlier(t.sec.deadline)
	}
	if t.state == StateQualified {
		earlier(t.nextRefresh)
	}
	if t.state == StateOffline {
		earlier(t.retryAt)
	}
	return next
}

// peerTimers retries bubbles and echo tests, gives up on silent peers and
// expires idle ones.
func (t *Tunnel) peerTimers(now time.Time) {
	for a, p := range t.peers.m {
		if !p.valid(now) && p.attempts > 0 && now.Sub(p.lastAttempt) >= t.cfg.EchoTimeout {
			if p.attempts >= t.maxAttempts() {
				// RFC 4380 §5.2.4: no answer after the repeats. The
				// entry stays, so that no new round starts before the
				// 300 s of §5.2.6 are over; what the host sends to it
				// meanwhile gets an ICMPv6 error at the next tick.
				if !p.gaveUp && p.kind == PeerNative {
					t.c.EchoFailed.Add(1)
				}
				p.gaveUp = true
				t.dropPeer(now, p, DropUnreachable)
			} else if p.out.bytes > 0 || p.in.bytes > 0 {
				t.openPath(now, p)
			}
		}
		if now.Sub(p.lastActivity()) >= t.cfg.PeerExpiry {
			t.dropPeer(now, p, DropUnreachable)
			delete(t.peers.m, a)
		}
	}
}

// HandleTUN processes one IPv6 packet the host sent into the tunnel
// [RFC 4380 §5.2.4].
func (t *Tunnel) HandleTUN(now time.Time, pkt []byte) {
	if len(pkt) < teredo.IPv6HeaderLen || pkt[0]>>4 != 6 || teredo.IPv6HeaderLen+teredo.PayloadLen(pkt) > len(pkt) {
		t.c.drop(DropMalformed)
		return
	}
	pkt = pkt[:teredo.IPv6HeaderLen+teredo.PayloadLen(pkt)]
	src, dst := teredo.SrcPtr(pkt), teredo.DstPtr(pkt)
	if teredo.IsMulticast(dst) {
		t.c.drop(DropMulticast) // MLD reports, router solicitations of the host
		return
	}
	if teredo.IsLinkLocal(src) {
		t.c.drop(DropLinkLocalSource)
		return
	}
	switch t.state {
	case StateOffline:
		t.unreachable(now, pkt, teredo.CodeNoRoute, DropOffline)
		return
	case StateDormant, StateProbe:
		if netip.AddrFrom16(*src) != t.addr || !t.addr.IsValid() {
			t.unreachable(now, pkt, teredo.CodeAdminProhibited, DropBadSource)
			return
		}
		// The first packets ask for the tunnel: qualify, then send them.
		if !t.activation.push(pkt, netip.AddrPort{}, ActivationQueueBytes) {
			t.c.drop(DropQueueFull)
			return
		}
		if !t.wantTraffic {
			t.cfg.Log("IPv6 traffic from the host: qualifying")
		}
		t.wantTraffic = true
		if t.rs == nil {
			t.beginRS(now, rsActivate, t.server)
		}
		return
	}
	if netip.AddrFrom16(*src) != t.addr {
		t.unreachable(now, pkt, teredo.CodeAdminProhibited, DropBadSource)
		return
	}
	t.lastTraffic = now
	t.transmit(now, pkt)
}

// transmit sends one packet from the host, or queues it while the path to
// its destination is being opened.
func (t *Tunnel) transmit(now time.Time, pkt []byte) {
	if netip.AddrFrom16(teredo.Src(pkt)) != t.addr {
		t.unreachable(now, pkt, teredo.CodeAdminProhibited, DropStaleSource)
		return
	}
	dstA := netip.AddrFrom16(teredo.Dst(pkt))
	p := t.peers.get(dstA)
	if p != nil && p.valid(now) {
		t.sendData(now, p, pkt)
		return
	}
	if p == nil {
		kind := PeerNative
		if teredo.Prefix.Contains(dstA) {
			kind = PeerTeredo
			a, _ := teredo.ParseAddr(dstA)
			if !teredo.IsGlobalUnicast(a.Mapped.Addr()) || !teredo.IsGlobalUnicast(a.Server) {
				t.unreachable(now, pkt, teredo.CodeAddrUnreachable, DropNotGlobal)
				return
			}
		}
		var evicted *peer
		p, evicted = t.peers.add(dstA, kind, now)
		if evicted != nil {
			t.dropPeer(now, evicted, DropPeerEvicted)
		}
	}
	if !p.out.push(pkt, netip.AddrPort{}, PeerQueueBytes) {
		t.c.drop(DropQueueFull)
		return
	}
	t.openPath(now, p)
}

// sendData sends pkt to a trusted peer.
func (t *Tunnel) sendData(now time.Time, p *peer, pkt []byte) {
	if err := t.tr.Send(p.mapping, pkt); err != nil {
		t.c.drop(DropSendError)
		return
	}
	p.lastTx = now
	p.txPackets++
	t.c.PacketsOut.Add(1)
	t.c.BytesOut.Add(uint64(len(pkt)))
}

// openPath sends the next echo request (native peer) or bubbles (Teredo
// peer), within RFC 4380 §5.2.6's limits: 2 s apart, at most 4 in 300 s
// without an answer.
func (t *Tunnel) openPath(now time.Time, p *peer) {
	if !p.lastAttempt.IsZero() && now.Sub(p.lastAttempt) < min(bubbleSpacing, t.cfg.EchoTimeout) {
		return
	}
	if p.attempts > 0 && now.Sub(p.firstAtt) >= bubbleWindow {
		p.attempts, p.gaveUp = 0, false // a new round after 300 s
	}
	if p.attempts >= t.maxAttempts() {
		return
	}
	if p.attempts == 0 {
		p.firstAtt = now
	}
	p.attempts++
	p.lastAttempt = now
	p.lastTx = now
	if p.kind == PeerNative {
		t.sendEchoTest(p)
		return
	}
	t.sendBubbles(p)
}

// maxAttempts is the number of echo requests or bubble rounds of one attempt
// to open a path: 1 + EchoRetries, at most 4 [RFC 4380 §5.2.4, §5.2.6].
func (t *Tunnel) maxAttempts() int { return min(1+t.cfg.EchoRetries, maxBubbles) }

// sendEchoTest sends the direct IPv6 connectivity test's Echo Request for p
// through the server [RFC 4380 §5.2.9].
func (t *Tunnel) sendEchoTest(p *peer) {
	if p.attempts == 1 {
		// One nonce per test: a late reply to an earlier request of the
		// same test is as good.
		if err := t.random(p.nonce[:]); err != nil {
			t.cfg.Log("echo nonce: %v", err)
		}
	}
	p.echoSeq++
	n := putEchoRequest(t.tx, t.addr, p.addr, t.echoID, p.echoSeq, p.nonce[:])
	if err := t.tr.Send(netip.AddrPortFrom(t.server, teredo.Port), t.tx[:n]); err != nil {
		t.cfg.Log("send echo test for %v: %v", p.addr, err)
		return
	}
	t.c.EchoRequests.Add(1)
}

// sendBubbles opens the path to Teredo peer p: a direct bubble with a low
// TTL when our NAT filters (see Tunnel), and an indirect bubble with an
// RFC 6081 nonce trailer through the peer's server [RFC 4380 §5.2.4 case 5,
// cone bit ignored per RFC 5991].
func (t *Tunnel) sendBubbles(p *peer) {
	a, _ := teredo.ParseAddr(p.addr)
	if t.nat.Filters() {
		n := teredo.PutBubble(t.tx, t.addr, p.addr)
		var err error
		if ts, ok := t.tr.(TTLSender); ok && t.cfg.PunchTTL > 0 && p.attempts == 1 {
			err = ts.SendTTL(a.Mapped, t.tx[:n], t.cfg.PunchTTL)
		} else {
			err = t.tr.Send(a.Mapped, t.tx[:n])
		}
		if err == nil {
			t.c.BubblesDirect.Add(1)
		}
	}
	if !p.hasNonce {
		if err := t.random(p.nonceSent[:]); err != nil {
			t.cfg.Log("bubble nonce: %v", err)
		}
		p.hasNonce = true
	}
	n := teredo.PutBubble(t.tx, t.addr, p.addr)
	n += teredo.PutTrailer(t.tx[n:], teredo.TrailerNonce, p.nonceSent[:])
	if err := t.tr.Send(netip.AddrPortFrom(a.Server, teredo.Port), t.tx[:n]); err == nil {
		t.c.BubblesIndirect.Add(1)
	}
}

// trust marks p trusted at mapping and sends what waited for it.
func (t *Tunnel) trust(now time.Time, p *peer, mapping netip.AddrPort) {
	p.trusted, p.mapping, p.gaveUp = true, mapping, false
	p.lastRx, p.attempts, p.lastAttempt = now, 0, time.Time{}
	for _, q := range p.in.take() {
		if q.from == mapping {
			t.deliver(now, p, q.pkt)
		} else {
			t.c.drop(DropMappingMismatch)
		}
	}
	for _, q := range p.out.take() {
		t.sendData(now, p, q.pkt)
	}
}

// deliver writes a packet from the network to the host.
func (t *Tunnel) deliver(now time.Time, p *peer, pkt []byte) {
	if err := t.tun.WriteTUN(pkt); err != nil {
		t.c.drop(DropSendError)
		return
	}
	p.rxPackets++
	t.c.PacketsIn.Add(1)
	t.c.BytesIn.Add(uint64(len(pkt)))
	t.activity(now)
}

// isServer reports whether from is port 3544 of one of the server's
// addresses.
func (t *Tunnel) isServer(from netip.AddrPort) bool {
	a := from.Addr()
	return from.Port() == teredo.Port && a.IsValid() && (a == t.primary || a == t.secondary || a == t.server)
}

// HandleUDP processes one datagram received on the service port
// [RFC 4380 §5.2.3].
func (t *Tunnel) HandleUDP(now time.Time, from netip.AddrPort, payload []byte) {
	var p teredo.Packet
	if err := p.Decode(payload); err != nil {
		t.c.drop(DropMalformed)
		return
	}
	ip := p.IPv6
	if t.isServer(from) {
		if t.state != StateOffline {
			t.lastServerRx = now
		}
		switch {
		case p.HasAuth:
			t.handleRA(now, from, &p)
		case p.HasOrigin && p.IsBubble():
			t.c.BubblesReceived.Add(1)
			t.answerIndirectBubble(now, &p)
		default:
			t.c.drop(DropUnknownSource)
		}
		return
	}
	if !t.addr.IsValid() {
		t.c.drop(DropNotQualified)
		return
	}
	src, dst := teredo.SrcPtr(ip), teredo.DstPtr(ip)
	if netip.AddrFrom16(*dst) != t.addr {
		t.c.drop(DropWrongDestination)
		return
	}
	bubble := p.IsBubble()
	if bubble {
		t.c.BubblesReceived.Add(1)
	}
	if teredo.IsLinkLocal(src) {
		if !bubble {
			t.c.drop(DropLinkLocalSource) // never let forged RAs reach the host
		}
		return // a relay's direct bubble: nothing to do
	}
	srcA := netip.AddrFrom16(*src)
	pe := t.peers.get(srcA)
	switch {
	case pe != nil && pe.kind == PeerNative && pe.attempts > 0 && t.echoAnswers(pe, ip):
		// Case 2: the echo test's reply (or an ICMPv6 error quoting
		// it, as Miredo accepts) names the relay. It answers our own
		// request: the host never sees it.
		t.c.EchoTrusted.Add(1)
		if !pe.trusted || pe.mapping != from {
			t.cfg.Log("relay for %v is %v", srcA, from)
		}
		t.trust(now, pe, from)
		return
	case pe != nil && pe.trusted && pe.mapping == from:
		// Case 1: trusted entry, same mapping.
		t.received(now, pe, ip, bubble)
		return
	case teredo.IsTeredo(src) && teredo.MatchesSource(src, from):
		// Case 3: a Teredo peer at the mapping its address embeds.
		if pe == nil {
			var evicted *peer
			pe, evicted = t.peers.add(srcA, PeerTeredo, now)
			if evicted != nil {
				t.dropPeer(now, evicted, DropPeerEvicted)
			}
		}
		t.trust(now, pe, from)
		t.received(now, pe, ip, bubble)
		return
	case teredo.IsTeredo(src) && bubble && pe != nil && pe.hasNonce && t.nonceTrailer(&p) == pe.nonceSent:
		// RFC 6081 §5.2: a direct bubble echoing our nonce, from a
		// mapping the peer's NAT chose for us.
		t.cfg.Log("peer %v answered from %v (its address says %v): accepted on its nonce", srcA, from, teredo.DecodeAddr(src).Mapped)
		t.trust(now, pe, from)
		return
	case teredo.IsTeredo(src):
		t.c.drop(DropMappingMismatch)
		return
	}
	if bubble {
		return
	}
	// Case 6: a native source through a relay we have not verified: hold
	// the packet and run the connectivity test towards its source.
	if pe == nil {
		var evicted *peer
		pe, evicted = t.peers.add(srcA, PeerNative, now)
		if evicted != nil {
			t.dropPeer(now, evicted, DropPeerEvicted)
		}
	}
	if !pe.in.push(ip, from, PeerQueueBytes) {
		t.c.drop(DropQueueFull)
		return
	}
	if t.state == StateQualified || t.state == StateDormant {
		t.openPath(now, pe)
	}
}

// received accepts a packet from a trusted peer.
func (t *Tunnel) received(now time.Time, p *peer, ip []byte, bubble bool) {
	p.lastRx, p.attempts, p.gaveUp = now, 0, false
	if !bubble {
		t.deliver(now, p, ip)
	}
	for _, q := range p.out.take() {
		t.sendData(now, p, q.pkt)
	}
}

// activity records IPv6 traffic; a dormant client receiving traffic is in
// use, and its mapping evidently works.
func (t *Tunnel) activity(now time.Time) {
	t.lastTraffic = now
	if t.state == StateDormant {
		t.c.Activations.Add(1)
		t.setState(StateQualified, now)
		t.scheduleRefresh(now)
	}
}

// echoAnswers reports whether ip answers p's connectivity test: an Echo
// Reply carrying the nonce, or an ICMPv6 error quoting the request.
func (t *Tunnel) echoAnswers(p *peer, ip []byte) bool {
	var sent [maxBubbles + 8]sentEcho
	n := 0
	for i := range min(p.attempts, len(sent)) {
		sent[n] = sentEcho{seq: p.echoSeq - uint16(i), nonce: p.nonce}
		n++
	}
	e := echoCheck{target: p.addr, self: t.addr, id: t.echoID, sent: sent[:n]}
	if _, err := e.matchReply(ip); err == nil {
		return true
	}
	if _, ok := e.matchError(ip); ok {
		return true
	}
	return false
}

// nonceTrailer returns the RFC 6081 nonce trailer's value, or zeros.
func (t *Tunnel) nonceTrailer(p *teredo.Packet) (n [4]byte) {
	it := teredo.NewTrailers(p.Trailer)
	for tr, ok := it.Next(); ok; tr, ok = it.Next() {
		if tr.Type == teredo.TrailerNonce && len(tr.Value) == 4 {
			return [4]byte(tr.Value)
		}
	}
	return n
}

// answerIndirectBubble answers a bubble the server relayed with an origin
// indication with a direct bubble to the origin, echoing an RFC 6081 nonce
// trailer: it opens our NAT to a relay or a peer (see bubble.go).
func (t *Tunnel) answerIndirectBubble(now time.Time, p *teredo.Packet) {
	if !t.addr.IsValid() {
		t.c.drop(DropNotQualified)
		return
	}
	src, dst := netip.AddrFrom16(teredo.Src(p.IPv6)), netip.AddrFrom16(teredo.Dst(p.IPv6))
	if dst != t.addr {
		t.c.drop(DropWrongDestination)
		return
	}
	if !teredo.IsGlobalUnicast(p.Origin.Addr()) {
		t.c.drop(DropNotGlobal)
		return
	}
	n := teredo.PutBubble(t.tx, t.addr, src)
	if nonce := t.nonceTrailer(p); nonce != [4]byte{} {
		n += teredo.PutTrailer(t.tx[n:], teredo.TrailerNonce, nonce[:])
	}
	if err := t.tr.Send(p.Origin, t.tx[:n]); err != nil {
		t.c.drop(DropSendError)
		return
	}
	t.c.BubblesReply.Add(1)
	if _, err := CheckPeer(src); err == nil {
		// A Teredo peer wants to talk: keep an entry so that its direct
		// packets find one (they are trusted on their mapping anyway).
		// A peer whose mapped address is not global never gets one: we
		// would send bubbles there [RFC 4380 §5.2.4].
		if t.peers.get(src) == nil {
			if _, evicted := t.peers.add(src, PeerTeredo, now); evicted != nil {
				t.dropPeer(now, evicted, DropPeerEvicted)
			}
		}
	}
}

// unreachable answers a packet from the host with an ICMPv6 Destination
// Unreachable (rate-limited) and counts the drop.
func (t *Tunnel) unreachable(now time.Time, pkt []byte, code uint8, reason DropReason) {
	t.c.drop(reason)
	if t.icmpAt.IsZero() {
		t.icmpTokens = icmpRate
	} else {
		t.icmpTokens = min(icmpRate, t.icmpTokens+now.Sub(t.icmpAt).Seconds()*icmpRate)
	}
	t.icmpAt = now
	if t.icmpTokens < 1 {
		t.c.ICMPSuppressed.Add(1)
		return
	}
	n, err := teredo.PutDestUnreachable(t.icmp, code, TunnelLinkLocal, pkt)
	if err != nil {
		return // never about an error, a bubble or a multicast source
	}
	t.icmpTokens--
	if err := t.tun.WriteTUN(t.icmp[:n]); err == nil {
		t.c.ICMPErrors.Add(1)
	}
}

// TunnelLinkLocal is the interface's link-local address (Miredo's) and the
// source of the ICMPv6 errors the tunnel writes to the host.
var TunnelLinkLocal = teredo.ClientLinkLocal(false)

// Snapshot returns the state for show state.
func (t *Tunnel) Snapshot(now time.Time) Snapshot {
	s := Snapshot{
		Time: now, Type: t.cfg.Type, ServerName: t.cfg.ServerName, Server: t.server,
		Primary: t.primary, Secondary: t.secondary, RefreshInterval: t.cfg.RefreshInterval,
		ClientPort: t.tr.LocalAddr().Port(), State: t.state, Error: t.err, Network: t.network,
		NAT: t.nat, LocalMapping: t.local, ExternalMapping: t.mapped, Address: t.addr,
		Interface: t.cfg.Interface, MTU: t.mtu, Peers: []PeerInfo{}, Relays: []RelayInfo{},
	}
	if s.ServerName == "" {
		s.ServerName = t.primary.String()
	}
	if !t.addr.IsValid() {
		s.ExternalMapping = netip.AddrPort{} // only the last known one
	}
	s.PortPreserving = s.ExternalMapping.IsValid() && t.mapped.Port() == t.local.Port()
	if t.state == StateQualified && !t.nextRefresh.IsZero() {
		s.NextRefresh = max(0, t.nextRefresh.Sub(now))
	}
	if !t.lastServerRx.IsZero() {
		s.LastServerRx = now.Sub(t.lastServerRx)
	}
	relays := map[netip.AddrPort]int{}
	for _, p := range t.peers.m {
		s.Peers = append(s.Peers, p.info(now))
		if p.kind == PeerNative && p.trusted {
			relays[p.mapping]++
		}
	}
	for r, n := range relays {
		s.Relays = append(s.Relays, RelayInfo{Relay: r, Peers: n})
	}
	sortSnapshot(&s)
	return s
}

// sortSnapshot orders peers and relays for stable output.
func sortSnapshot(s *Snapshot) {
	slices.SortFunc(s.Peers, func(a, b PeerInfo) int { return a.Address.Compare(b.Address) })
	slices.SortFunc(s.Relays, func(a, b RelayInfo) int { return cmp.Or(a.Relay.Compare(b.Relay), b.Peers-a.Peers) })
}
