package relay

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/teredorelay/teredorelay/cache"
	"github.com/teredorelay/teredorelay/teredo"
)

// Output sends what the slow path and the HandleUDP path produce. The daemon
// implements it with a UDP socket bound to the relay address and port and a
// raw IPv6 socket. Implementations must be safe for concurrent use (the
// slow path and HandleUDP call it from different goroutines) and must not
// keep pkt or payload after returning.
type Output interface {
	// SendUDP sends payload (an IPv6 packet) in a UDP datagram from the
	// relay address:port to dst.
	SendUDP(dst netip.AddrPort, payload []byte) error
	// SendIPv6 sends a complete IPv6 packet to the native side.
	SendIPv6(pkt []byte) error
}

// quoteMax is how much of an invoking packet an ICMPv6 error can quote
// without exceeding 1280 bytes (RFC 4443 §2.4 (c)).
const quoteMax = teredo.MinMTU - teredo.ICMPv6ErrorHeaderLen

// minSlotSize is the smallest slow-path slot: 2 KiB holds any packet up to
// the default MTU plus room to spare.
const minSlotSize = 2048

// Engine is the I/O-free relay state machine: it owns the configuration, the
// slow path and the counters, and hands out one Worker per fast-path thread.
type Engine struct {
	cfg     Config
	peers   *cache.Cache
	out     Output
	bogons  *teredo.Bogons
	relay4  [4]byte
	relayAP netip.AddrPort
	// relay4s holds the relay's IPv4 addresses, relay4 first; nRelay4 is
	// how many are in use (1 unless Config.IPv4Addrs adds some).
	relay4s [MaxIPv4Addrs][4]byte
	nRelay4 int
	// clientLimit bounds the slow-path work per client IPv4 address; shared
	// by every worker and the HandleUDP path.
	clientLimit *sourceLimiter
	ipv6Src     netip.Addr
	now         func() int64
	validFor    int64
	q           *slowQueue

	mu      sync.Mutex // guards workers
	workers []*Worker

	udpMu     sync.Mutex // serialises HandleUDP
	udpWorker *Worker

	slow    *slowPath
	running atomic.Bool
}

// NewEngine validates cfg (after applying defaults) and builds an engine on
// the peer cache peers, sending through out.
func NewEngine(cfg Config, peers *cache.Cache, out Output) (*Engine, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if peers == nil {
		return nil, errors.New("relay: nil peer cache")
	}
	if out == nil {
		return nil, errors.New("relay: nil output")
	}
	key := make([]byte, len(cfg.Key))
	copy(key, cfg.Key)
	cfg.Key = key
	slotSize := max(minSlotSize, (cfg.MTU+63)&^63)
	e := &Engine{
		cfg:      cfg,
		peers:    peers,
		out:      out,
		bogons:   teredo.NewBogons(cfg.ExtraBogons),
		relay4:   cfg.IPv4Addr.As4(),
		relayAP:  netip.AddrPortFrom(cfg.IPv4Addr, cfg.Port),
		ipv6Src:  cfg.IPv6Addr,
		now:      cfg.Now,
		validFor: int64(cfg.PeerValidity),
		q:        newSlowQueue(cfg.SlowPathQueueLen, slotSize),

		clientLimit: newSourceLimiter(cfg.ClientSlowPathRate, cfg.ClientSlowPathBurst, cfg.ClientSlowPathTableSize),
	}
	for _, a := range cfg.relayIPv4Addrs() {
		e.relay4s[e.nRelay4] = a.As4()
		e.nRelay4++
	}
	e.cfg.IPv4Addrs = append([]netip.Addr(nil), cfg.IPv4Addrs...) // the caller's slice may change
	e.udpWorker = e.newWorker()
	e.slow = newSlowPath(e)
	return e, nil
}

// Config returns the effective configuration (defaults applied). The key is
// not included.
func (e *Engine) Config() Config {
	c := e.cfg
	c.Key = nil
	c.IPv4Addrs = append([]netip.Addr(nil), c.IPv4Addrs...)
	c.ExtraBogons = append([]netip.Prefix(nil), c.ExtraBogons...)
	return c
}

// isRelayAddr reports whether a is one of the relay's IPv4 addresses. The
// primary address is compared first, so with one address this is a single
// comparison.
func (e *Engine) isRelayAddr(a [4]byte) bool {
	if a == e.relay4 {
		return true
	}
	for i := 1; i < e.nRelay4; i++ {
		if a == e.relay4s[i] {
			return true
		}
	}
	return false
}

// Cookie returns the link-local address the relay uses as the source of
// bubbles sent to the Teredo address peer, the address the peer's direct
// bubble answers to. It is safe for concurrent use but allocates; it is
// meant for tests and diagnostics.
func (e *Engine) Cookie(peer netip.Addr) netip.Addr {
	k := peer.As16()
	return newCookie(e.cfg.Key).addr(&k)
}

// NewWorker returns a fast-path worker. Each Worker must be used by one
// goroutine at a time (one per RX queue); any number may run in parallel.
func (e *Engine) NewWorker() *Worker {
	w := e.newWorker()
	e.mu.Lock()
	e.workers = append(e.workers, w)
	e.mu.Unlock()
	return w
}

func (e *Engine) newWorker() *Worker {
	return &Worker{e: e, cookie: newCookie(e.cfg.Key)}
}

// HandleUDP processes a datagram that arrived on the kernel UDP socket (IPv4
// fragments reassembled by the kernel, or anything the XDP program passed):
// the same rules as Decap from the Teredo payload on. A packet to forward is
// written with Output.SendIPv6. payload is modified (hop limit) and not kept
// after return. HandleUDP is safe for concurrent use; calls are serialised.
func (e *Engine) HandleUDP(from netip.AddrPort, payload []byte) {
	e.udpMu.Lock()
	defer e.udpMu.Unlock()
	w := e.udpWorker
	c := &w.c
	bump(&c.decapPackets)
	bumpN(&c.decapBytes, len(payload))
	from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
	if !from.Addr().Is4() {
		c.drop(DropIPv4Malformed)
		return
	}
	v, off, n := w.decapPayload(payload, 0, len(payload), from)
	if v != ToIPv6 {
		return
	}
	if err := e.out.SendIPv6(payload[off : off+n]); err != nil {
		c.drop(DropOutputError)
		return
	}
	bump(&c.decapForwarded)
	bumpN(&c.decapForwardedBytes, n)
}

// Run is the slow path: it processes queued events (bubbles, pending queues,
// ICMPv6 errors) and runs the timers (bubble retries, expiries, the idle
// sweep) until ctx is done, then returns nil. Only one Run may be active.
func (e *Engine) Run(ctx context.Context) error {
	if !e.running.CompareAndSwap(false, true) {
		return errors.New("relay: run: already running")
	}
	defer e.running.Store(false)
	tick := time.NewTicker(e.cfg.TimerTick)
	defer tick.Stop()
	e.slow.start(e.now())
	for {
		select {
		case <-ctx.Done():
			return nil
		case i := <-e.q.work:
			e.slow.process(i)
			// Drain what is already there before looking at the timers again.
			for range e.q.len() {
				e.slow.process(<-e.q.work)
			}
		case <-tick.C:
			e.slow.tick(e.now())
		}
	}
}

// QueueDepth returns the number of events waiting for the slow path.
func (e *Engine) QueueDepth() int { return e.q.len() }

// pendingPeers returns the number of peers the slow path is verifying with
// bubbles. Only valid on the slow-path goroutine or while Run is stopped
// (tests).
func (e *Engine) pendingPeers() int { return len(e.slow.pending) }

// Counters returns a snapshot of all counters: every worker, the HandleUDP
// path and the slow path.
func (e *Engine) Counters() Counters {
	var s Counters
	e.mu.Lock()
	for _, w := range e.workers {
		w.c.addTo(&s)
	}
	e.mu.Unlock()
	e.udpWorker.c.addTo(&s)
	e.slow.c.addTo(&s)
	return s
}

// String describes the engine for logs.
func (e *Engine) String() string {
	extra := ""
	if e.nRelay4 > 1 {
		extra = fmt.Sprintf(" +%d addresses", e.nRelay4-1)
	}
	return fmt.Sprintf("teredo relay %v%s (icmpv6 source %v, mtu %d)", e.relayAP, extra, e.ipv6Src, e.cfg.MTU)
}
