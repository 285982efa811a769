package client

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
	"time"
)

// TunnelDevice is the host's TUN device: packets in and out, and the
// interface configuration.
type TunnelDevice interface {
	TunnelHost
	// Read reads one IPv6 packet the host sent into the tunnel.
	Read(b []byte) (int, error)
}

// RunConfig configures RunTunnel's I/O around a Tunnel.
type RunConfig struct {
	// ManagedProbes are host:port pairs reachable (TCP) only inside the
	// organisation's network; if any answers within ManagedTimeout the
	// network is managed. Checked at start and every ManagedInterval.
	ManagedProbes   []string
	ManagedTimeout  time.Duration // default 1 s
	ManagedInterval time.Duration // default 5 min
	// Opener opens the sockets of the filtering probe (the NAT type); nil
	// skips the probe. QualifyTimeout and QualifyRetries bound it.
	Opener         SiblingOpener
	QualifyTimeout time.Duration
	QualifyRetries int
}

// buffer sizes: a Teredo datagram carries at most a 1280-byte IPv6 packet
// plus indicators (a relay may send more); the TUN MTU is 1280.
const (
	udpBufSize = 4096
	tunBufSize = 2048
)

// Runner runs a Tunnel: one goroutine reads the service port and one the TUN
// device, each handing its packet to the tunnel under one mutex (no hand-off
// between goroutines per packet); the loop runs the tunnel's timers, the
// managed-network checks and the filtering probe's results under the same
// mutex. Snapshot may be called from any goroutine.
type Runner struct {
	t   *Tunnel
	tr  Transport
	dev TunnelDevice
	cfg RunConfig

	mu        sync.Mutex // serialises every call into t
	scheduled time.Time  // when the loop's timer fires next (under mu)
	kick      chan struct{}
	managed   chan bool
	nat       chan NATType
	wg        sync.WaitGroup
}

// NewRunner prepares the loop for t, which must use tr and dev.
func NewRunner(t *Tunnel, tr Transport, dev TunnelDevice, cfg RunConfig) *Runner {
	if cfg.ManagedTimeout <= 0 {
		cfg.ManagedTimeout = time.Second
	}
	if cfg.ManagedInterval <= 0 {
		cfg.ManagedInterval = 5 * time.Minute
	}
	return &Runner{t: t, tr: tr, dev: dev, cfg: cfg,
		kick: make(chan struct{}, 1), managed: make(chan bool, 1), nat: make(chan NATType, 1)}
}

// Snapshot returns the current state.
func (r *Runner) Snapshot(ctx context.Context) (Snapshot, error) {
	if err := ctx.Err(); err != nil {
		return Snapshot{}, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.t.Snapshot(time.Now()), nil
}

// handled runs under mu after each packet: it wakes the loop only when the
// packet gave the tunnel a deadline earlier than the loop's timer.
func (r *Runner) handled(now time.Time) {
	if !r.t.NextDeadline(now).Before(r.scheduled) {
		return
	}
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// Run runs until ctx ends or a reader fails, then removes the Teredo address
// and returns. It does not close tr or dev.
func (r *Runner) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	readErr := make(chan error, 2)
	r.mu.Lock()
	now := time.Now()
	r.t.Start(now, len(r.cfg.ManagedProbes) > 0)
	next := r.t.NextDeadline(now)
	r.scheduled = next
	r.mu.Unlock()
	r.wg.Add(2)
	go r.readUDP(ctx, readErr)
	go r.readTUN(ctx, readErr)
	if len(r.cfg.ManagedProbes) > 0 {
		r.wg.Add(1)
		go r.checkManaged(ctx)
	}
	timer := time.NewTimer(time.Until(next))
	defer timer.Stop()
	var err error
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case err = <-readErr:
			break loop
		case <-timer.C:
			r.mu.Lock()
			r.t.Tick(time.Now())
			r.mu.Unlock()
		case <-r.kick:
		case m := <-r.managed:
			r.mu.Lock()
			r.t.SetNetwork(time.Now(), m)
			r.mu.Unlock()
		case n := <-r.nat:
			r.mu.Lock()
			r.t.SetNAT(n)
			r.mu.Unlock()
		}
		r.mu.Lock()
		p, s, probe := r.t.TakeFilteringProbe()
		now := time.Now()
		next := r.t.NextDeadline(now)
		r.scheduled = next
		r.mu.Unlock()
		if probe && r.cfg.Opener != nil {
			r.wg.Add(1)
			go r.filteringProbe(ctx, p, s)
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(max(0, next.Sub(now)))
	}
	cancel()
	r.mu.Lock()
	had := r.t.Address().IsValid()
	r.mu.Unlock()
	if aerr := r.dev.SetAddress(netip.Addr{}); aerr != nil && had {
		err = errors.Join(err, fmt.Errorf("remove the Teredo address: %w", aerr))
	}
	return err
}

// Wait waits for the reader goroutines after Run returned and the transport
// and device were closed (which unblocks them).
func (r *Runner) Wait() { r.wg.Wait() }

func (r *Runner) readUDP(ctx context.Context, errc chan<- error) {
	defer r.wg.Done()
	b := make([]byte, udpBufSize)
	for {
		n, from, err := r.tr.Receive(ctx, b, time.Time{})
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if !errors.Is(err, os.ErrDeadlineExceeded) {
				errc <- fmt.Errorf("read the Teredo service port: %w", err)
				return
			}
			continue
		}
		r.mu.Lock()
		now := time.Now()
		r.t.HandleUDP(now, from, b[:n])
		r.handled(now)
		r.mu.Unlock()
	}
}

func (r *Runner) readTUN(ctx context.Context, errc chan<- error) {
	defer r.wg.Done()
	b := make([]byte, tunBufSize)
	for {
		n, err := r.dev.Read(b)
		if err != nil {
			if ctx.Err() == nil {
				errc <- fmt.Errorf("read the TUN device: %w", err)
			}
			return
		}
		r.mu.Lock()
		now := time.Now()
		r.t.HandleTUN(now, b[:n])
		r.handled(now)
		r.mu.Unlock()
	}
}

// checkManaged runs the managed-network detection now and every interval.
func (r *Runner) checkManaged(ctx context.Context) {
	defer r.wg.Done()
	for {
		managed := ProbeManaged(ctx, r.cfg.ManagedProbes, r.cfg.ManagedTimeout)
		select {
		case r.managed <- managed:
		case <-ctx.Done():
			return
		}
		select {
		case <-time.After(r.cfg.ManagedInterval):
		case <-ctx.Done():
			return
		}
	}
}

// ProbeManaged reports whether any of probes (host:port) accepts a TCP
// connection within timeout: such hosts are reachable only inside the
// organisation, so the network is managed.
func ProbeManaged(ctx context.Context, probes []string, timeout time.Duration) bool {
	found := make(chan bool, len(probes))
	for _, p := range probes {
		go func() {
			d := net.Dialer{Timeout: timeout}
			c, err := d.DialContext(ctx, "tcp", p)
			if err == nil {
				c.Close()
			}
			found <- err == nil
		}()
	}
	managed := false
	for range probes {
		managed = <-found || managed
	}
	return managed
}

func (r *Runner) filteringProbe(ctx context.Context, primary, secondary netip.Addr) {
	defer r.wg.Done()
	n := 0
	nat, err := FilteringProbe(ctx, r.cfg.Opener, Config{
		Server: primary, Secondary: secondary,
		QualifyTimeout: r.cfg.QualifyTimeout, QualifyRetries: r.cfg.QualifyRetries,
	}, &n)
	if err != nil {
		r.t.cfg.Log("NAT filtering probe: %v", err)
		return
	}
	select {
	case r.nat <- nat:
	case <-ctx.Done():
	}
}
