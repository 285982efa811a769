//go:build linux

package lab

import (
	"encoding/binary"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/teredorelay/teredorelay/teredo"
)

// ipv4Fragments splits the IPv4 packet pkt (no options, as IPv4UDP builds
// it) into two fragments with identifier id, the first carrying first bytes
// of its payload (a multiple of 8).
func ipv4Fragments(pkt []byte, id uint16, first int) [][]byte {
	hdr, data := pkt[:20], pkt[20:]
	frag := func(part []byte, offset int, more bool) []byte {
		f := append(append([]byte(nil), hdr...), part...)
		binary.BigEndian.PutUint16(f[2:4], uint16(len(f)))
		binary.BigEndian.PutUint16(f[4:6], id)
		fo := uint16(offset / 8)
		if more {
			fo |= 0x2000
		}
		binary.BigEndian.PutUint16(f[6:8], fo)
		f[10], f[11] = 0, 0
		binary.BigEndian.PutUint16(f[10:12], finish(sumWords(0, f[:20])))
		return f
	}
	return [][]byte{frag(data[:first], 0, true), frag(data[first:], first, false)}
}

// attackerUDP opens a UDP socket on an ephemeral port of the attacker
// namespace, closed when the test ends.
func attackerUDP(t *testing.T, l *Lab) *net.UDPConn {
	t.Helper()
	var conn *net.UDPConn
	if err := l.Do(Attacker, func() error {
		var err error
		conn, err = net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(AttackerIPv4, 0)))
		return err
	}); err != nil {
		t.Fatalf("attacker socket: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// TestServerAndRelayFragmentedRS (issue 10, section 6): with the server and
// the relay on one box sharing the primary address, a Router Solicitation
// that reaches it in IPv4 fragments (which XDP leaves to the kernel, and the
// kernel reassembles for the daemon's UDP sockets) is answered, on the
// shared primary and on the secondary address alike. Before, the kernel
// socket of the shared address fed the relay alone (which drops an RS), and
// the secondary had no kernel socket at all.
func TestServerAndRelayFragmentedRS(t *testing.T) {
	bin := relaydBinary(t)
	l := startLab(t, Options{Relay: RelayMiredo})
	useOurServer(t, l, bin, true)
	conn := attackerUDP(t, l)
	src := conn.LocalAddr().(*net.UDPAddr).AddrPort()
	for i, to := range []netip.AddrPort{netip.AddrPortFrom(ServerIPv4, TeredoPort), netip.AddrPortFrom(ServerIPv4Second, TeredoPort)} {
		auth := &teredo.Auth{ClientID: make([]byte, 16), Nonce: [8]byte{0xf7, 0xa6, byte(i)}}
		rs := make([]byte, auth.Len()+teredo.RSLen)
		teredo.PutAuth(rs, auth)
		teredo.PutRS(rs[auth.Len():], teredo.ClientLinkLocal(false))
		frags := ipv4Fragments(IPv4UDP(src, to, 0, 64, rs), uint16(0x4240+i), 32)
		buf := make([]byte, 2048)
		answered := false
		for try := 0; try < 3 && !answered; try++ {
			for _, f := range frags {
				if err := l.SendRawIPv4(Attacker, f); err != nil {
					t.Fatalf("send fragment: %v", err)
				}
			}
			conn.SetReadDeadline(time.Now().Add(time.Second))
			n, from, err := conn.ReadFromUDPAddrPort(buf)
			if err != nil {
				t.Logf("fragmented RS to %v, try %d: %v", to, try, err)
				continue
			}
			var p teredo.Packet
			if err := p.Decode(buf[:n]); err != nil || !p.HasAuth || p.Auth.Nonce != auth.Nonce || !p.HasOrigin || p.Origin != src {
				t.Fatalf("answer from %v to the fragmented RS is not our RA: %v % x", from, err, buf[:n])
			}
			if from.Addr().Unmap() != to.Addr() {
				t.Errorf("RA from %v, want %v (a restricted RS is answered from the address it reached)", from, to)
			}
			answered = true
		}
		if !answered {
			t.Errorf("no RA for the RS sent in fragments to %v", to)
		}
	}
	// The fragments went through the kernel, not the AF_XDP path.
	m := serverMetrics(t, l)
	if m[relXDP("pass", "pass_ipv4_fragment")] < 4 {
		t.Errorf("pass_ipv4_fragment %v, want the 4 fragments or more", m[relXDP("pass", "pass_ipv4_fragment")])
	}
}

// serverMetrics scrapes the metrics of teredo-relayd in the server namespace
// (useOurServer).
func serverMetrics(t *testing.T, l *Lab) map[string]float64 {
	t.Helper()
	return scrapeMetrics(t, l, Server, "127.0.0.1:9542")
}
