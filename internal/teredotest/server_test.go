package teredotest

import (
	"bytes"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/teredorelay/teredorelay/teredo"
)

// rs sends a Router Solicitation with an authentication nonce from a
// loopback socket to srv and returns the socket and the request.
func rs(t *testing.T, srv netip.Addr) (*net.UDPConn, []byte) {
	t.Helper()
	conn, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(srv, 0)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	auth := teredo.Auth{Nonce: [8]byte{1, 2, 3, 4, 5, 6, 7, 8}}
	b := make([]byte, 128)
	n := teredo.PutAuth(b, &auth)
	n += teredo.PutRS(b[n:], teredo.ClientLinkLocal(true))
	if _, err := conn.WriteToUDPAddrPort(b[:n], netip.AddrPortFrom(srv, teredo.Port)); err != nil {
		t.Fatal(err)
	}
	return conn, b[:n]
}

func TestLoopbackServerAnswers(t *testing.T) {
	srv := LoopbackServer(t, true)
	conn, _ := rs(t, srv)
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 2048)
	n, from, err := conn.ReadFromUDPAddrPort(buf)
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	var p teredo.Packet
	if err := p.Decode(buf[:n]); err != nil {
		t.Fatal(err)
	}
	local := conn.LocalAddr().(*net.UDPAddr).AddrPort()
	local = netip.AddrPortFrom(local.Addr().Unmap(), local.Port())
	if from != netip.AddrPortFrom(srv, teredo.Port) || !p.HasAuth || !p.HasOrigin || p.Origin != local ||
		!bytes.Equal(p.Auth.Nonce[:], []byte{1, 2, 3, 4, 5, 6, 7, 8}) {
		t.Fatalf("answer from %v: auth %v nonce %x, origin %v (want %v)", from, p.HasAuth, p.Auth.Nonce, p.Origin, local)
	}
	var ra teredo.RA
	if err := teredo.ParseRA(p.IPv6, &ra); err != nil {
		t.Fatalf("not an RA: %v", err)
	}
	if ra.Prefix != teredo.ServerPrefix(srv) || ra.Dst != teredo.ClientLinkLocal(true) || ra.MTU != teredo.MinMTU {
		t.Fatalf("RA %+v, want prefix %v to %v, MTU %d", ra, teredo.ServerPrefix(srv), teredo.ClientLinkLocal(true), teredo.MinMTU)
	}
}

func TestLoopbackServerSilent(t *testing.T) {
	srv := LoopbackServer(t, false)
	conn, _ := rs(t, srv)
	conn.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if n, _, err := conn.ReadFromUDPAddrPort(make([]byte, 2048)); err == nil {
		t.Fatalf("silent server answered with %d bytes", n)
	}
}
