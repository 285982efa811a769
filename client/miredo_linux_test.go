//go:build linux

package client

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/teredorelay/teredorelay/internal/miredo"
	"github.com/teredorelay/teredorelay/internal/netnsutil"
	"github.com/teredorelay/teredorelay/internal/testenv"
	"github.com/teredorelay/teredorelay/teredo"
)

// The real-server test: a namespace pair, the real miredo-server on
// 192.0.2.1 and 192.0.2.2 in one, the client at 203.0.113.10 in the other,
// one veth between them. Names carry the tag "tprb" and a random suffix;
// everything is deleted in t.Cleanup.

var (
	nsServerAddr1 = netip.MustParseAddr("192.0.2.1")
	nsServerAddr2 = netip.MustParseAddr("192.0.2.2")
	nsClientAddr  = netip.MustParseAddr("203.0.113.10")
)

func run(t *testing.T, argv ...string) {
	t.Helper()
	out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(argv, " "), err, out)
	}
}

type miredoPair struct {
	serverNS, clientNS string
	natNS              string // "" without a NAT
	clientAddr         netip.Addr
	dir                string
}

// NAT modes of startMiredoPair.
const (
	noNAT        = ""
	natMasq      = "masquerade"   // Linux MASQUERADE: keeps the port, one mapping (restricted)
	natMasqRand  = "random-fully" // a fresh random port per destination (symmetric)
	natOutside   = "203.0.113.1"
	natInside    = "198.51.100.129"
	natClientLAN = "198.51.100.130"
)

// startMiredoPair builds the namespaces and starts miredo-server. With a NAT
// mode the client sits behind a third namespace doing iptables NAT.
func startMiredoPair(t *testing.T, nat string) *miredoPair {
	t.Helper()
	testenv.RequireRoot(t)
	testenv.RequireBinary(t, "ip", "miredo-server")
	if nat != noNAT {
		testenv.RequireBinary(t, "iptables")
	}
	var r [3]byte
	if _, err := rand.Read(r[:]); err != nil {
		t.Fatal(err)
	}
	tag := "tprb" + hex.EncodeToString(r[:])
	p := &miredoPair{serverNS: tag + "-s", clientNS: tag + "-c", clientAddr: nsClientAddr, dir: t.TempDir()}
	if err := os.Chmod(p.dir, 0o755); err != nil { // miredo drops privileges
		t.Fatal(err)
	}
	netnsutil.AddForTest(t, p.serverNS)
	netnsutil.AddForTest(t, p.clientNS)
	// The namespace facing the server: the client itself, or the NAT box.
	front, frontAddr := p.clientNS, nsClientAddr.String()
	if nat != noNAT {
		p.natNS = tag + "-n"
		netnsutil.AddForTest(t, p.natNS)
		front, frontAddr = p.natNS, natOutside
		p.clientAddr = netip.MustParseAddr(natClientLAN)
	}
	vs, vf := tag+"s", tag+"f"
	run(t, "ip", "link", "add", vs, "netns", p.serverNS, "type", "veth", "peer", "name", vf, "netns", front)
	cmds := [][]string{
		{p.serverNS, "link", "set", vs, "up"},
		{p.serverNS, "addr", "add", nsServerAddr1.String() + "/24", "dev", vs},
		{p.serverNS, "addr", "add", nsServerAddr2.String() + "/24", "dev", vs},
		{p.serverNS, "route", "add", "203.0.113.0/24", "dev", vs},
		{front, "link", "set", vf, "up"},
		{front, "addr", "add", frontAddr + "/24", "dev", vf},
		{front, "route", "add", "192.0.2.0/24", "dev", vf},
	}
	if nat != noNAT {
		vn, vc := tag+"n", tag+"c"
		run(t, "ip", "link", "add", vn, "netns", p.natNS, "type", "veth", "peer", "name", vc, "netns", p.clientNS)
		cmds = append(cmds,
			[]string{p.natNS, "link", "set", vn, "up"},
			[]string{p.natNS, "addr", "add", natInside + "/25", "dev", vn},
			[]string{p.clientNS, "link", "set", vc, "up"},
			[]string{p.clientNS, "addr", "add", natClientLAN + "/25", "dev", vc},
			[]string{p.clientNS, "route", "add", "default", "via", natInside},
		)
	}
	for _, c := range cmds {
		run(t, append([]string{"ip", "-n", c[0]}, c[1:]...)...)
	}
	if nat != noNAT {
		run(t, "ip", "netns", "exec", p.natNS, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1")
		rule := []string{"ip", "netns", "exec", p.natNS, "iptables", "-w", "-t", "nat", "-A", "POSTROUTING", "-o", vf, "-j", "MASQUERADE"}
		if nat == natMasqRand {
			rule = append(rule, "--random-fully")
		}
		run(t, rule...)
	}

	conf := filepath.Join(p.dir, "miredo-server.conf")
	if err := os.WriteFile(conf, []byte(miredo.ServerConfig(nsServerAddr1, nsServerAddr2)), 0o644); err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	cmd := netnsutil.Command(context.Background(), p.serverNS, miredo.Argv("miredo-server", conf, filepath.Join(p.dir, "server.pid"))...)
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatalf("start miredo-server: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(unix.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("miredo-server log:\n%s", log.String())
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		bound, err := netnsutil.UDPBoundIn(p.serverNS, netip.AddrPortFrom(nsServerAddr1, teredo.Port), netip.AddrPortFrom(nsServerAddr2, teredo.Port))
		if err != nil {
			t.Fatal(err)
		}
		if bound {
			break
		}
		select {
		case err := <-exited:
			t.Fatalf("miredo-server exited: %v\n%s", err, log.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("miredo-server did not bind 3544 within 10 s\n%s", log.String())
		}
	}
	return p
}

// client opens the client's socket inside the client namespace.
func (p *miredoPair) client(t *testing.T, cfg Config) *Client {
	t.Helper()
	var tr *UDPTransport
	err := netnsutil.Do(p.clientNS, func() error {
		conn, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(p.clientAddr, 0)))
		if err != nil {
			return err
		}
		tr = NewUDPTransport(conn)
		return nil
	})
	if err != nil {
		t.Fatalf("client socket: %v", err)
	}
	cfg.Server = nsServerAddr1
	cfg.QualifyTimeout = time.Second
	inner := cfg.Trace
	cfg.Trace = func(e Event) {
		t.Log(e)
		if inner != nil {
			inner(e)
		}
	}
	c, err := New(tr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestMiredoServerQualify(t *testing.T) {
	p := startMiredoPair(t, noNAT)
	for _, tc := range []struct {
		name string
		cfg  Config
		cone bool
	}{
		{"restricted phase with secondary", Config{Secondary: nsServerAddr2}, false},
		// No NAT: the filtering probe has nothing to tell, and the address
		// never carries the cone bit (RFC 5991 §3.2).
		{"cone probe", Config{ConeProbe: true, Secondary: nsServerAddr2}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := p.client(t, tc.cfg)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			q, err := c.Qualify(ctx)
			if err != nil {
				t.Fatalf("qualify against miredo-server: %v", err)
			}
			local := c.LocalAddr()
			if q.Mapped != local || q.NAT != NATNone || q.MTU != 1280 {
				t.Errorf("mapped %v (local %v) NAT %v MTU %d", q.Mapped, local, q.NAT, q.MTU)
			}
			if !strings.HasPrefix(q.Address.String(), "2001:0:c000:201:") || q.Prefix.String() != "2001:0:c000:201::/64" {
				t.Errorf("address %v prefix %v", q.Address, q.Prefix)
			}
			a, _ := teredo.ParseAddr(q.Address)
			if a.Mapped != local || a.Server != nsServerAddr1 || a.Cone() != tc.cone || a.Flags&(teredo.FlagReserved|teredo.FlagUniversal|teredo.FlagGroup) != 0 {
				t.Errorf("address %v decodes to %+v", q.Address, a)
			}
			// Miredo's RA comes from the address solicited, or from the
			// other one for the cone probe.
			wantFrom := netip.AddrPortFrom(nsServerAddr1, teredo.Port)
			if tc.cone {
				wantFrom = netip.AddrPortFrom(nsServerAddr2, teredo.Port)
			} else if q.SecondaryMapped != local {
				t.Errorf("secondary saw %v", q.SecondaryMapped)
			}
			if q.RAFrom != wantFrom {
				t.Errorf("RA from %v, want %v", q.RAFrom, wantFrom)
			}
		})
	}
}

// Behind a real Linux NAT: MASQUERADE keeps one mapping for both server
// addresses (restricted); --random-fully picks a new port per destination,
// which the secondary-server check reports as a symmetric NAT. With the
// filtering probe MASQUERADE is port-restricted (conntrack matches the whole
// 5-tuple).
func TestMiredoServerNATType(t *testing.T) {
	for _, tc := range []struct {
		name, nat string
		cone      bool
		want      NATType
	}{
		{"masquerade", natMasq, false, NATRestricted},
		{"random-fully", natMasqRand, false, NATSymmetric},
		// The RA to the cone RS comes from 192.0.2.2 and the NAT drops it,
		// but netfilter keeps a conntrack entry for it. Sent from the
		// service port, the next RS to 192.0.2.2 would clash with that
		// entry and get a new port: a "symmetric" NAT. The probe runs
		// from sibling sockets, so the service port keeps its mapping
		// and the NAT is found port-restricted.
		{"masquerade with cone probe", natMasq, true, NATPortRestricted},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := startMiredoPair(t, tc.nat)
			cfg := Config{Secondary: nsServerAddr2, ConeProbe: tc.cone}
			if tc.cone {
				cfg.QualifyRetries = 1
			}
			var events strings.Builder
			cfg.Trace = func(e Event) {
				if e.Kind == EventNote && (e.Step == "secondary" || e.Step == "port-probe") {
					events.WriteString(e.Detail + "\n")
				}
			}
			c := p.client(t, cfg)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			q, err := c.Qualify(ctx)
			if err != nil {
				t.Fatalf("qualify: %v", err)
			}
			if q.NAT != tc.want || q.Mapped.Addr() != netip.MustParseAddr(natOutside) || q.SecondaryMapped.Addr() != q.Mapped.Addr() {
				t.Errorf("NAT %v, mapped %v / %v; want %v behind %s", q.NAT, q.Mapped, q.SecondaryMapped, tc.want, natOutside)
			}
			if tc.cone && (q.Solicitations != 4 || q.Flags&teredo.FlagCone != 0) {
				t.Errorf("solicitations %d flags %#04x: want qualify, secondary, cone and port probes", q.Solicitations, q.Flags)
			}
			if tc.cone && !strings.Contains(events.String(), "port-restricted NAT") {
				t.Errorf("no note about the port probe:\n%s", events.String())
			}
			if (q.SecondaryMapped == q.Mapped) != (tc.want != NATSymmetric) {
				t.Errorf("mapped %v and %v", q.Mapped, q.SecondaryMapped)
			}
			if a, _ := teredo.ParseAddr(q.Address); a.Mapped != q.Mapped {
				t.Errorf("address %v embeds %v, mapped %v", q.Address, a.Mapped, q.Mapped)
			}
		})
	}
}
