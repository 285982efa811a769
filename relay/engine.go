package relay

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
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
	// cfg is the configuration the engine started with. Its fixed fields
	// are read from here; the reloadable ones only through pol.
	cfg    Config
	pol    atomic.Pointer[policy]
	peers  *cache.Cache
	out    Output
	relay4 [4]byte // primary IPv4 address (fixed)
	// localServer is Config.LocalServer, or the zero array (never a relay
	// address) without a server in this process.
	localServer [4]byte
	relayAP     netip.AddrPort
	// clientLimit bounds the slow-path work per client IPv4 address; shared
	// by every worker and the HandleUDP path.
	clientLimit *sourceLimiter
	// newPeers bounds the verifications per native source /64; the workers
	// take its tokens for destinations without a cache entry (so a flood is
	// dropped before it takes slow-path slots), the slow path for stale
	// peers verified again.
	newPeers *sourceLimiter
	// destHandoffs bounds, per Teredo destination, the native packets the
	// workers hand to the slow path (Config.DestinationHandoffRate).
	destHandoffs *sourceLimiter
	// bubbleServers and bubbleDests hold the shares of the bubble cap of
	// each embedded server IPv4 and each mapped IPv4 (Config.BubbleShare);
	// only the slow path uses them.
	bubbleServers, bubbleDests *sourceLimiter
	// icmpCap is the ICMPv6 error limiter's cell (Config.ICMPv6Rate): the
	// workers take a token before they hand a packet over for an error,
	// the slow path for the errors it decides on itself.
	icmpCap atomic.Int64
	ipv6Src netip.Addr
	now     func() int64
	// wallOffset is the wall clock minus now() at NewEngine: cookie epochs
	// count wall-clock time (cookieEpoch), so they outlive a restart.
	wallOffset int64
	validFor   int64
	q          *slowQueue

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
		relay4:   cfg.IPv4Addr.As4(),
		relayAP:  netip.AddrPortFrom(cfg.IPv4Addr, cfg.Port),
		ipv6Src:  cfg.IPv6Addr,
		now:      cfg.Now,
		validFor: int64(cfg.PeerValidity),
		q:        newSlowQueue(cfg.SlowPathQueueLen, slotSize),

		clientLimit:  newSourceLimiter(cfg.ClientSlowPathTableSize),
		newPeers:     newSourceLimiter(cfg.NewPeerTableSize),
		destHandoffs: newSourceLimiter(DefaultRateLimitTableSize),

		bubbleServers: newSourceLimiter(DefaultRateLimitTableSize),
		bubbleDests:   newSourceLimiter(DefaultRateLimitTableSize),
	}
	if cfg.LocalServer.Is4() {
		e.localServer = cfg.LocalServer.As4()
	}
	e.wallOffset = time.Now().UnixNano() - cfg.Now()
	e.pol.Store(newPolicy(cfg))
	// The caller's slices may change; e.cfg keeps no reloadable values that
	// could be read by mistake.
	e.cfg.IPv4Addrs, e.cfg.ExtraBogons = nil, nil
	e.udpWorker = e.newWorker()
	e.slow = newSlowPath(e)
	return e, nil
}

// Config returns the effective configuration (defaults applied), with the
// policy settings of the last Reconfigure. The key is not included.
func (e *Engine) Config() Config {
	c := e.pol.Load().cfg
	c.IPv4Addrs = slices.Clone(c.IPv4Addrs)
	c.ExtraBogons = slices.Clone(c.ExtraBogons)
	return c
}

// Cookie returns the link-local address the relay uses now as the source of
// bubbles sent to the Teredo address peer, the address the peer's direct
// bubble answers to (valid for CookieValidity). It is safe for concurrent
// use but allocates; it is meant for tests and diagnostics.
func (e *Engine) Cookie(peer netip.Addr) netip.Addr {
	k := peer.As16()
	return newCookie(e.cfg.Key).addr(&k, e.epoch(e.now()))
}

// epoch returns the cookie epoch of monotonic time now.
func (e *Engine) epoch(now int64) int64 { return cookieEpoch(now, e.wallOffset) }

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
	// The IPv4 ID of encapsulated datagrams starts at a random value in
	// every worker: IDs that start at 0 with each process and queue tell
	// an observer how long the relay has run and how busy each queue is,
	// and collide between workers and restarts.
	return &Worker{e: e, cookie: newCookie(e.cfg.Key), batch: e.peers.NewBatch(), ipID: uint16(rand.Uint32())}
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
	defer w.publish()
	c := &w.c
	c.decapPackets++
	c.decapBytes += uint64(len(payload))
	from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
	if !from.Addr().Is4() {
		c.drop(DropIPv4Malformed)
		return
	}
	v, off, n := w.decapPayload(e.pol.Load(), payload, 0, len(payload), from)
	if v != ToIPv6 {
		return
	}
	if err := e.out.SendIPv6(payload[off : off+n]); err != nil {
		c.drop(DropOutputError)
		return
	}
	c.decapForwarded++
	c.decapForwardedBytes += uint64(n)
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
		case n := <-e.q.notices:
			e.slow.notice(n)
			e.slow.drain()
		case i := <-e.q.work:
			e.slow.process(i)
			e.slow.drain()
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
		w.pub.addTo(&s)
	}
	e.mu.Unlock()
	e.udpWorker.pub.addTo(&s)
	e.slow.c.addTo(&s)
	return s
}

// String describes the engine for logs.
func (e *Engine) String() string {
	extra := ""
	if n := e.pol.Load().nRelay4; n > 1 {
		extra = fmt.Sprintf(" +%d addresses", n-1)
	}
	return fmt.Sprintf("teredo relay %v%s (icmpv6 source %v, mtu %d)", e.relayAP, extra, e.ipv6Src, e.cfg.MTU)
}
