package client

import (
	"context"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/teredorelay/teredorelay/internal/teredotest"
	"github.com/teredorelay/teredorelay/teredo"
)

func TestUDPTransportQualify(t *testing.T) {
	srv := teredotest.LoopbackServer(t, true)
	c, err := Listen(netip.AddrPortFrom(srv, 0), Config{Server: srv, QualifyTimeout: time.Second})
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	defer c.Close()
	q, err := c.Qualify(context.Background())
	if err != nil {
		t.Fatalf("qualify over loopback: %v", err)
	}
	if q.Mapped != c.LocalAddr() || q.NAT != NATNone || q.RAFrom != netip.AddrPortFrom(srv, teredo.Port) {
		t.Errorf("mapped %v (local %v) NAT %v from %v", q.Mapped, c.LocalAddr(), q.NAT, q.RAFrom)
	}
	a, ok := teredo.ParseAddr(q.Address)
	if !ok || a.Server != srv || a.Mapped != c.LocalAddr() {
		t.Errorf("address %v", q.Address)
	}
}

func TestUDPTransportTimeout(t *testing.T) {
	srv := teredotest.LoopbackServer(t, false)
	c, err := Listen(netip.AddrPortFrom(srv, 0), Config{Server: srv, QualifyTimeout: 30 * time.Millisecond, QualifyRetries: 2})
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	defer c.Close()
	_, err = c.Qualify(context.Background())
	var na *NoAnswerError
	if !errors.As(err, &na) || na.Sent != 2 {
		t.Fatalf("error %v", err)
	}
}

func TestUDPTransportCancel(t *testing.T) {
	srv := teredotest.LoopbackServer(t, false)
	c, err := Listen(netip.AddrPortFrom(srv, 0), Config{Server: srv, QualifyTimeout: time.Hour})
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	defer c.Close()
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(20*time.Millisecond, cancel)
	if _, err := c.Qualify(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
}

func TestListenUDPNeedsIPv4(t *testing.T) {
	if _, err := ListenUDP(netip.MustParseAddrPort("[::1]:0")); err == nil {
		t.Error("IPv6 service port accepted")
	}
}
