package client

import (
	"context"
	"crypto/rand"
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/teredorelay/teredorelay/teredo"
)

// loopbackServer is a minimal Teredo server on a random 127/8 address, port
// 3544, built on teredo.PutRA: enough to drive UDPTransport for real.
func loopbackServer(t *testing.T, answer bool) netip.Addr {
	t.Helper()
	var r [3]byte
	if _, err := rand.Read(r[:]); err != nil {
		t.Fatal(err)
	}
	addr := netip.AddrFrom4([4]byte{127, r[0], r[1], r[2] | 1})
	conn, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(addr, teredo.Port)))
	if err != nil {
		t.Skipf("cannot bind %v:3544 on loopback: %v", addr, err)
	}
	t.Cleanup(func() { conn.Close() })
	go func() {
		buf := make([]byte, 2048)
		out := make([]byte, 512)
		for {
			n, from, err := conn.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			var p teredo.Packet
			if !answer || p.Decode(buf[:n]) != nil || !teredo.IsRS(p.IPv6) {
				continue
			}
			auth := teredo.Auth{Nonce: p.Auth.Nonce}
			m := teredo.PutAuth(out, &auth)
			teredo.PutOrigin(out[m:], from)
			m += teredo.OriginLen
			m += teredo.PutRA(out[m:], addr, netip.AddrFrom16(teredo.Src(p.IPv6)), 0)
			if _, err := conn.WriteToUDPAddrPort(out[:m], from); err != nil {
				return
			}
		}
	}()
	return addr
}

func TestUDPTransportQualify(t *testing.T) {
	srv := loopbackServer(t, true)
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
	srv := loopbackServer(t, false)
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
	srv := loopbackServer(t, false)
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
