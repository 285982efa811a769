package client

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/teredorelay/teredorelay/internal/teredotest"
	"github.com/teredorelay/teredorelay/teredo"
)

// chanDevice is a TUN device fed from a channel.
type chanDevice struct {
	in     chan []byte
	mu     sync.Mutex
	addrs  []netip.Addr
	writes int
	closed chan struct{}
}

func (d *chanDevice) Read(b []byte) (int, error) {
	select {
	case p := <-d.in:
		return copy(b, p), nil
	case <-d.closed:
		return 0, errors.New("closed")
	}
}

func (d *chanDevice) WriteTUN([]byte) error {
	d.mu.Lock()
	d.writes++
	d.mu.Unlock()
	return nil
}

func (d *chanDevice) SetAddress(a netip.Addr) error {
	d.mu.Lock()
	d.addrs = append(d.addrs, a)
	d.mu.Unlock()
	return nil
}

// The runner over a real UDP socket and a loopback Teredo server: it
// qualifies (no NAT), answers Snapshot while packets flow, and removes the
// address when it stops.
func TestRunnerLoopback(t *testing.T) {
	srv := teredotest.LoopbackServer(t, true)
	tr, err := ListenUDP(netip.AddrPortFrom(srv, 0))
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	dev := &chanDevice{in: make(chan []byte, 16), closed: make(chan struct{})}
	tn, err := NewTunnel(TunnelConfig{Primary: srv, QualifyTimeout: time.Second, IdleTimeout: -1}, tr, dev)
	if err != nil {
		t.Fatal(err)
	}
	r := NewRunner(tn, tr, dev, RunConfig{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	var s Snapshot
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if s, err = r.Snapshot(ctx); err != nil {
			t.Fatal(err)
		}
		if s.State == StateQualified {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if s.State != StateQualified || s.NAT != NATNone || s.ExternalMapping != tr.LocalAddr() {
		t.Fatalf("snapshot %+v", s)
	}
	// Packets from the host to a multicast group are dropped and counted,
	// concurrently with snapshots.
	for range 10 {
		p := make([]byte, 40)
		teredo.PutBubble(p, s.Address, netip.MustParseAddr("ff02::16"))
		dev.in <- p
		r.Snapshot(ctx)
	}
	for time.Now().Before(deadline) && tn.Counters().Drops[DropMulticast].Load() < 10 {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	tr.Close()
	close(dev.closed)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	r.Wait()
	dev.mu.Lock()
	defer dev.mu.Unlock()
	if tn.Counters().Drops[DropMulticast].Load() != 10 || len(dev.addrs) < 2 || dev.addrs[0] != s.Address || dev.addrs[len(dev.addrs)-1].IsValid() {
		t.Errorf("drops %d, addresses set %v", tn.Counters().Drops[DropMulticast].Load(), dev.addrs)
	}
}

// ProbeManaged: a listening port means a managed network.
func TestProbeManaged(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Skip(err)
	}
	defer ln.Close()
	if !ProbeManaged(context.Background(), []string{"127.0.0.1:1", ln.Addr().String()}, time.Second) {
		t.Error("a reachable probe was not found")
	}
	if ProbeManaged(context.Background(), []string{"127.0.0.1:1"}, 200*time.Millisecond) {
		t.Error("an unreachable probe counted")
	}
}
