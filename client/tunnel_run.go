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
// plus indicators (and a relay may send more); the TUN MTU is 1280.
const (
	udpBufSize = 4096
	tunBufSize = 2048
	numBuffers = 64
)

// event is one input of the loop.
type event struct {
	udp  bool
	from netip.AddrPort
	buf  []byte
	n    int
}

// Runner runs a Tunnel: one goroutine reads the service port, one the TUN
// device, and the loop feeds the tunnel, its timers, the managed-network
// checks and the filtering probe's results, in order. Snapshot may be
// called from any goroutine.
type Runner struct {
	t   *Tunnel
	tr  Transport
	dev TunnelDevice
	cfg RunConfig

	events  chan event
	free    chan []byte // returned buffers (udp and tun sizes alike)
	snaps   chan chan Snapshot
	managed chan bool
	nat     chan NATType
	wg      sync.WaitGroup
}

// NewRunner prepares the loop for t, which must use tr and dev.
func NewRunner(t *Tunnel, tr Transport, dev TunnelDevice, cfg RunConfig) *Runner {
	if cfg.ManagedTimeout <= 0 {
		cfg.ManagedTimeout = time.Second
	}
	if cfg.ManagedInterval <= 0 {
		cfg.ManagedInterval = 5 * time.Minute
	}
	r := &Runner{
		t: t, tr: tr, dev: dev, cfg: cfg,
		events: make(chan event, numBuffers), free: make(chan []byte, 2*numBuffers),
		snaps: make(chan chan Snapshot), managed: make(chan bool, 1), nat: make(chan NATType, 1),
	}
	for range 2 * numBuffers {
		r.free <- make([]byte, udpBufSize)
	}
	return r
}

// Snapshot asks the loop for the current state.
func (r *Runner) Snapshot(ctx context.Context) (Snapshot, error) {
	reply := make(chan Snapshot, 1)
	select {
	case r.snaps <- reply:
	case <-ctx.Done():
		return Snapshot{}, ctx.Err()
	}
	select {
	case s := <-reply:
		return s, nil
	case <-ctx.Done():
		return Snapshot{}, ctx.Err()
	}
}

// Run runs until ctx ends or a reader fails, then removes the Teredo address
// and returns. It does not close tr or dev.
func (r *Runner) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	readErr := make(chan error, 2)
	r.wg.Add(2)
	go r.readUDP(ctx, readErr)
	go r.readTUN(ctx, readErr)
	if len(r.cfg.ManagedProbes) > 0 {
		r.wg.Add(1)
		go r.checkManaged(ctx)
	}
	now := time.Now()
	r.t.Start(now, len(r.cfg.ManagedProbes) > 0)
	timer := time.NewTimer(time.Until(r.t.NextDeadline(now)))
	defer timer.Stop()
	var err error
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case err = <-readErr:
			break loop
		case e := <-r.events:
			if e.udp {
				r.t.HandleUDP(time.Now(), e.from, e.buf[:e.n])
			} else {
				r.t.HandleTUN(time.Now(), e.buf[:e.n])
			}
			r.free <- e.buf
		case <-timer.C:
			r.t.Tick(time.Now())
		case m := <-r.managed:
			r.t.SetNetwork(time.Now(), m)
		case n := <-r.nat:
			r.t.SetNAT(n)
		case reply := <-r.snaps:
			reply <- r.t.Snapshot(time.Now())
		}
		if p, s, ok := r.t.TakeFilteringProbe(); ok && r.cfg.Opener != nil {
			r.wg.Add(1)
			go r.filteringProbe(ctx, p, s)
		}
		now := time.Now()
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(max(0, r.t.NextDeadline(now).Sub(now)))
	}
	cancel()
	if aerr := r.dev.SetAddress(netip.Addr{}); aerr != nil && r.t.Address().IsValid() {
		err = errors.Join(err, fmt.Errorf("remove the Teredo address: %w", aerr))
	}
	return err
}

// Wait waits for the reader goroutines after Run returned and the transport
// and device were closed (which unblocks them).
func (r *Runner) Wait() { r.wg.Wait() }

func (r *Runner) buffer(ctx context.Context) ([]byte, bool) {
	select {
	case b := <-r.free:
		return b, true
	case <-ctx.Done():
		return nil, false
	}
}

func (r *Runner) readUDP(ctx context.Context, errc chan<- error) {
	defer r.wg.Done()
	for {
		b, ok := r.buffer(ctx)
		if !ok {
			return
		}
		n, from, err := r.tr.Receive(ctx, b, time.Time{})
		if err != nil {
			if ctx.Err() == nil && !errors.Is(err, os.ErrDeadlineExceeded) {
				errc <- fmt.Errorf("read the Teredo service port: %w", err)
			}
			if ctx.Err() != nil {
				return
			}
			r.free <- b
			continue
		}
		select {
		case r.events <- event{udp: true, from: from, buf: b, n: n}:
		case <-ctx.Done():
			return
		}
	}
}

func (r *Runner) readTUN(ctx context.Context, errc chan<- error) {
	defer r.wg.Done()
	for {
		b, ok := r.buffer(ctx)
		if !ok {
			return
		}
		n, err := r.dev.Read(b[:tunBufSize])
		if err != nil {
			if ctx.Err() == nil {
				errc <- fmt.Errorf("read the TUN device: %w", err)
			}
			return
		}
		select {
		case r.events <- event{buf: b, n: n}:
		case <-ctx.Done():
			return
		}
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
