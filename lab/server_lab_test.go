//go:build linux

package lab

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/teredorelay/teredorelay/teredo"
)

// The Teredo server role of teredo-relayd, proven with a real Miredo client:
// the lab starts as usual (miredo-server in the server namespace), then
// miredo-server is stopped, teredo-relayd takes over 192.0.2.1 and 192.0.2.2
// with the server role, and the Miredo client is restarted so that it
// qualifies against our server.

// ourServerConfig is teredo-relayd's configuration for the server namespace:
// the server role alone, or the relay role too, sharing the primary address.
func ourServerConfig(dir string, alsoRelay bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "interfaces:\n  one_armed: %s\nqueues: [0]\n", HostIface)
	if alsoRelay {
		fmt.Fprintf(&b, "roles: [relay, server]\nipv4:\n  address: %s\n", ServerIPv4)
	} else {
		b.WriteString("roles: [server]\n")
	}
	fmt.Fprintf(&b, "server:\n  primary: %s\n  secondary: %s\n", ServerIPv4, ServerIPv4Second)
	fmt.Fprintf(&b, "ipv6:\n  address: %s\n", ServerIPv6)
	fmt.Fprintf(&b, "bubbles:\n  key_file: %s/ourserver-bubble.key\n", dir)
	fmt.Fprintf(&b, "api:\n  socket: %s/ourserver.sock\n", dir)
	b.WriteString("metrics:\n  listen: 127.0.0.1:9542\n")
	return b.String()
}

// procNamed returns the last process the lab started under name.
func (l *Lab) procNamed(name string) *process {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := len(l.procs) - 1; i >= 0; i-- {
		if l.procs[i].name == name {
			return l.procs[i]
		}
	}
	return nil
}

// useOurServer replaces miredo-server with teredo-relayd and requalifies the
// client against it. It returns the daemon's process.
func useOurServer(t *testing.T, l *Lab, bin string, alsoRelay bool) *process {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, name := range []string{"client", "server"} {
		p := l.procNamed(name)
		if p == nil {
			t.Fatalf("no %s process in the lab", name)
		}
		if err := p.stop(syscall.SIGTERM, 3*time.Second); err != nil {
			t.Fatalf("stop %s: %v", name, err)
		}
	}
	conf := ourServerConfig(l.dir, alsoRelay)
	path, ready := l.dir+"/ourserver.yaml", l.dir+"/ourserver.ready"
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := startProcess(l.dir, "ourserver", l.Namespace(Server), []string{bin, "--config", path, "--ready-file", ready})
	if err != nil {
		t.Fatal(err)
	}
	l.addProcess(p)
	err = waitFor(ctx, 30*time.Second, "teredo-relayd (server role) ready file", func() (bool, error) {
		if p.exited() {
			return false, fmt.Errorf("teredo-relayd exited: %v", p.err)
		}
		return fileExists(ready)
	})
	if err != nil {
		t.Fatalf("%v\nconfig:\n%s\nlog:\n%s", err, conf, p.logTail(4000))
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("--- our server log ---\n%s", p.logTail(6000))
		}
	})
	// Nothing but teredo-relayd may answer in the server namespace.
	pids, err := namespacePIDs(l.Namespace(Server))
	if err != nil {
		t.Fatal(err)
	}
	for _, pid := range pids {
		comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
		if err == nil && !strings.HasPrefix(string(comm), "teredo-relayd") {
			t.Fatalf("process %d (%s) runs in the server namespace besides teredo-relayd", pid, bytes.TrimSpace(comm))
		}
	}
	old := l.clientAddr
	if err := l.startClient(ctx); err != nil {
		t.Fatalf("requalify the client against teredo-relayd: %v\nserver log:\n%s", err, p.logTail(4000))
	}
	server, mapped, ok := TeredoMapping(l.ClientAddr())
	if !ok || server != ServerIPv4 || mapped.Addr() != NATOutside || mapped.Port() == 0 {
		t.Fatalf("client qualified as %v: server %v mapped %v, want server %v and the NAT's outside address %v",
			l.ClientAddr(), server, mapped, ServerIPv4, NATOutside)
	}
	t.Logf("client qualified against teredo-relayd as %v (mapped %v; with miredo-server it was %v)", l.ClientAddr(), mapped, old)
	return p
}

// pingBothWays pings native → client and client → native (5/5 each).
func pingBothWays(t *testing.T, l *Lab) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	for _, dir := range []struct {
		from Node
		dst  netip.Addr
	}{{Client, l.NativeAddr()}, {Native, l.ClientAddr()}} {
		res, err := l.Ping6(ctx, dir.from, dir.dst, 5)
		if err != nil {
			t.Fatalf("ping %s -> %v: %v", dir.from, dir.dst, err)
		}
		t.Logf("%s -> %v:\n%s", dir.from, dir.dst, res)
		assertPing(t, res, dir.dst)
	}
}

// rsExchange sends an RS (cone bit as given) from the attacker namespace to
// to and returns the source of the RA that comes back and its payload.
func rsExchange(t *testing.T, l *Lab, to netip.AddrPort, cone bool) (netip.AddrPort, []byte) {
	t.Helper()
	conn := attackerUDP(t, l)
	defer conn.Close()
	auth := &teredo.Auth{Nonce: [8]byte{0x5e, 0x4e, 0x3e, 0x2e, 0x1e, 0x0e, byte(to.Addr().As4()[3]), map[bool]byte{true: 1}[cone]}}
	rs := make([]byte, auth.Len()+teredo.RSLen)
	teredo.PutAuth(rs, auth)
	teredo.PutRS(rs[auth.Len():], teredo.ClientLinkLocal(cone))
	buf := make([]byte, 2048)
	for try := range 3 {
		if _, err := conn.WriteToUDPAddrPort(rs, to); err != nil {
			t.Fatalf("send RS: %v", err)
		}
		conn.SetReadDeadline(time.Now().Add(time.Second))
		n, from, err := conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			t.Logf("RS to %v (cone %v) try %d: %v", to, cone, try, err)
			continue
		}
		var p teredo.Packet
		if err := p.Decode(buf[:n]); err != nil || !p.HasAuth || p.Auth.Nonce != auth.Nonce || !p.HasOrigin {
			t.Fatalf("answer from %v is not our RA: %v % x", from, err, buf[:n])
		}
		return netip.AddrPortFrom(from.Addr().Unmap(), from.Port()), bytes.Clone(buf[:n])
	}
	t.Fatalf("no RA for the RS to %v (cone %v)", to, cone)
	return netip.AddrPort{}, nil
}

// assertConeRS: a cone RS is answered from the other server address, a
// restricted one from the address it was sent to (RFC 4380 §5.3.2), and the
// RA carries the attacker's address as origin and the server's prefix.
func assertConeRS(t *testing.T, l *Lab) {
	t.Helper()
	primary, secondary := netip.AddrPortFrom(ServerIPv4, TeredoPort), netip.AddrPortFrom(ServerIPv4Second, TeredoPort)
	for _, c := range []struct {
		to   netip.AddrPort
		cone bool
		want netip.AddrPort
	}{
		{primary, false, primary},
		{secondary, false, secondary},
		{primary, true, secondary},
		{secondary, true, primary},
	} {
		from, payload := rsExchange(t, l, c.to, c.cone)
		if from != c.want {
			t.Errorf("RS (cone %v) to %v answered from %v, want %v", c.cone, c.to, from, c.want)
		}
		var p teredo.Packet
		var ra teredo.RA
		if err := p.Decode(payload); err != nil || p.Origin.Addr() != AttackerIPv4 {
			t.Errorf("RA origin %v: %v", p.Origin, err)
			continue
		}
		if err := teredo.ParseRA(p.IPv6, &ra); err != nil || ra.Prefix != ClientPrefix || ra.MTU != 1280 {
			t.Errorf("RA %+v: %v", ra, err)
		}
	}
}

// TestServerRoleMiredoRelay: our server, Miredo's relay in the relay
// namespace; plus the cone-bit test with crafted RSs.
func TestServerRoleMiredoRelay(t *testing.T) {
	bin := relaydBinary(t)
	l := startLab(t, Options{Relay: RelayMiredo})
	useOurServer(t, l, bin, false)
	assertConeRS(t, l)
	exerciseDataPlane(t, l)
}

// TestServerRoleOurRelay: our server, teredo-relayd as the relay in the
// relay namespace.
func TestServerRoleOurRelay(t *testing.T) {
	bin := relaydBinary(t)
	l := startLab(t, Options{Relay: RelayTeredod, RelaydBinary: bin})
	useOurServer(t, l, bin, false)
	exerciseDataPlane(t, l)
	if !l.RelayRunning() {
		t.Errorf("teredo-relayd (relay) exited:\n%s", l.ProcessLog("relay"))
	}
}

// TestServerAndRelayOnOneBox: teredo-relayd with both roles on the server
// box, the relay sharing the primary address; the core routes 2001::/32 to
// it and the relay namespace's Miredo relay is stopped, so every packet
// between the client and the native host crosses our box.
func TestServerAndRelayOnOneBox(t *testing.T) {
	bin := relaydBinary(t)
	l := startLab(t, Options{Relay: RelayMiredo})
	p := useOurServer(t, l, bin, true)
	if err := l.procNamed("relay").stop(syscall.SIGTERM, 3*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := l.ipIn(Core, "-6", "route", "replace", TeredoPrefix.String(), "via", ServerIPv6.String(), "dev", coreServer); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	capture, err := l.StartCapture(ctx, Core, coreServer, "udp", "port", "3544")
	if err != nil {
		t.Fatalf("capture: %v", err)
	}
	pingBothWays(t, l)
	frames, err := capture.Stop()
	if err != nil {
		t.Fatal(err)
	}
	_, mapped, _ := TeredoMapping(l.ClientAddr())
	box := netip.AddrPortFrom(ServerIPv4, TeredoPort)
	var toClient, fromClient, withOrigin int
	for _, f := range frames {
		u, err := DecodeUDP4(f.Data)
		if err != nil {
			continue
		}
		if _, err := ParseTeredo(u.Payload); err != nil {
			t.Errorf("non-Teredo payload %v -> %v: %v", u.Src, u.Dst, err)
			continue
		}
		switch {
		case u.Src == box && u.Dst == mapped:
			toClient++
			if len(u.Payload) > 0 && u.Payload[0] == 0 {
				withOrigin++
			}
		case u.Src == mapped && u.Dst == box:
			fromClient++
		}
	}
	t.Logf("box <-> client mapping: %d to the client (%d with an indicator), %d from the client", toClient, withOrigin, fromClient)
	if toClient < 5 || fromClient < 5 || withOrigin == 0 {
		t.Errorf("expected the pings and the relay's origin-indicated bubble through the box: %d to, %d with origin, %d from",
			toClient, withOrigin, fromClient)
	}
	if p.exited() {
		t.Errorf("teredo-relayd exited: %v", p.err)
	}
}
