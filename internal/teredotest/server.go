package teredotest

import (
	"crypto/rand"
	"net"
	"net/netip"
	"testing"

	"github.com/teredorelay/teredorelay/teredo"
)

// LoopbackServer starts a minimal Teredo server on a random 127/8 address,
// port 3544, for the life of t and returns the address. With answer it
// replies to each Router Solicitation like miredo-server: authentication
// indicator echoing the nonce, origin indication of the sender, and the RA
// teredo.PutRA builds for the RS source; without it, it ignores them. It
// skips t when the address cannot be bound.
func LoopbackServer(t testing.TB, answer bool) netip.Addr {
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
		buf, out := make([]byte, 2048), make([]byte, 512)
		for {
			n, from, err := conn.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			var p teredo.Packet
			if !answer || p.Decode(buf[:n]) != nil || !teredo.IsRS(p.IPv6) {
				continue
			}
			m := teredo.PutAuth(out, &teredo.Auth{Nonce: p.Auth.Nonce})
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
