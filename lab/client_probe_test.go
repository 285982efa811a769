//go:build linux

package lab_test

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/teredorelay/teredorelay/client"
	"github.com/teredorelay/teredorelay/internal/testenv"
	"github.com/teredorelay/teredorelay/lab"
	"github.com/teredorelay/teredorelay/teredo"
)

// The probe's proofs in the full lab: package client and the teredo-probe
// command, behind the lab's NAT, qualify with the real miredo-server, find
// the relay with the direct IPv6 connectivity test and ping the native host
// through it.

type probeLog struct{ t testing.TB }

func (w probeLog) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func startProbeLab(t *testing.T, opts lab.Options) *lab.Lab {
	t.Helper()
	testenv.RequireRoot(t)
	testenv.RequireBinary(t, "ip", "iptables", "tcpdump", "miredo", "miredo-server")
	opts.Log = probeLog{t}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	l, err := lab.Start(ctx, opts)
	if err != nil {
		t.Fatalf("start lab: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, name := range []string{"server", "relay"} {
				t.Logf("--- %s log ---\n%s", name, l.ProcessLog(name))
			}
		}
		if err := l.Close(); err != nil {
			t.Errorf("close lab: %v", err)
		}
	})
	return l
}

// probeClient opens a client socket on the lab's client host, behind the NAT.
func probeClient(t *testing.T, l *lab.Lab) *client.Client {
	t.Helper()
	var tr *client.UDPTransport
	err := l.Do(lab.Client, func() error {
		conn, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(lab.ClientIPv4, 0)))
		if err != nil {
			return err
		}
		tr = client.NewUDPTransport(conn)
		return nil
	})
	if err != nil {
		t.Fatalf("probe socket in the client namespace: %v", err)
	}
	c, err := client.New(tr, client.Config{
		Server: lab.ServerIPv4, Secondary: lab.ServerIPv4Second,
		QualifyTimeout: 2 * time.Second,
		Trace:          func(e client.Event) { t.Log(e) },
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func exerciseProbe(t *testing.T, l *lab.Lab) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c := probeClient(t, l)
	q, err := c.Qualify(ctx)
	if err != nil {
		t.Fatalf("qualify: %v", err)
	}
	// MASQUERADE keeps one mapping for both server addresses.
	if q.Mapped.Addr() != lab.NATOutside || q.NAT != client.NATRestricted || q.SecondaryMapped != q.Mapped {
		t.Errorf("mapped %v / %v, NAT %v; want %v behind a restricted NAT", q.Mapped, q.SecondaryMapped, q.NAT, lab.NATOutside)
	}
	if !lab.ClientPrefix.Contains(q.Address) {
		t.Errorf("address %v outside %v", q.Address, lab.ClientPrefix)
	}
	if a, _ := teredo.ParseAddr(q.Address); a.Mapped != q.Mapped {
		t.Errorf("address %v embeds %v, mapped is %v", q.Address, a.Mapped, q.Mapped)
	}

	r, err := c.ConnectivityTest(ctx, lab.NativeIPv6)
	if err != nil {
		t.Fatalf("connectivity test: %v", err)
	}
	relay := netip.AddrPortFrom(lab.RelayIPv4, lab.TeredoPort)
	if r.Relay != relay {
		t.Errorf("relay %v, want %v", r.Relay, relay)
	}
	// The relay is behind no NAT but the client is: the echo reply only got
	// in because the client answered the relay's indirect bubble.
	if len(r.BubbleOrigins) == 0 || r.BubbleOrigins[0] != relay {
		t.Errorf("indirect bubble origins %v, want the relay", r.BubbleOrigins)
	}

	p, err := c.Ping(ctx, r.Relay, lab.NativeIPv6, 3, 200*time.Millisecond)
	if err != nil {
		t.Fatalf("ping: %v", err)
	}
	if p.Sent != 3 || p.Received() != 3 || len(p.Rejected) != 0 {
		t.Errorf("ping through %v: sent %d received %d rejected %v", r.Relay, p.Sent, p.Received(), p.Rejected)
	}
}

// exerciseProbeCommand runs the teredo-probe binary on the client host and
// reads its JSON report.
func exerciseProbeCommand(t *testing.T, l *lab.Lab, bin string) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := l.Command(ctx, lab.Client, bin, "ping", "--server", lab.ServerIPv4.String(),
		"--secondary", lab.ServerIPv4Second.String(), "--target", lab.NativeIPv6.String(),
		"--count", "2", "--interval", "200ms", "-o", "json").Output()
	if err != nil {
		t.Fatalf("teredo-probe ping: %v\n%s", err, out)
	}
	var rep struct {
		Qualification struct {
			Address netip.Addr     `json:"address"`
			Mapped  netip.AddrPort `json:"mapped"`
			NAT     string         `json:"nat"`
		} `json:"qualification"`
		Relay struct {
			Relay netip.AddrPort `json:"relay"`
		} `json:"relay"`
		Ping struct {
			Sent     int `json:"sent"`
			Received int `json:"received"`
		} `json:"ping"`
		Events []struct {
			Kind string `json:"kind"`
		} `json:"events"`
		Error string `json:"error"`
	}
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatalf("teredo-probe JSON: %v\n%s", err, out)
	}
	q := rep.Qualification
	if !lab.ClientPrefix.Contains(q.Address) || q.Mapped.Addr() != lab.NATOutside || q.NAT != "restricted" {
		t.Errorf("qualification %+v", q)
	}
	if rep.Relay.Relay != netip.AddrPortFrom(lab.RelayIPv4, lab.TeredoPort) || rep.Ping.Sent != 2 || rep.Ping.Received != 2 || rep.Error != "" || len(rep.Events) == 0 {
		t.Errorf("report %+v\n%s", rep, out)
	}
}

// exercisePeer qualifies from the attacker host (no NAT) and opens the path
// to the lab's Miredo client, behind the NAT, with bubbles.
func exercisePeer(t *testing.T, l *lab.Lab) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var tr *client.UDPTransport
	err := l.Do(lab.Attacker, func() error {
		conn, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(lab.AttackerIPv4, 0)))
		if err != nil {
			return err
		}
		tr = client.NewUDPTransport(conn)
		return nil
	})
	if err != nil {
		t.Fatalf("probe socket in the attacker namespace: %v", err)
	}
	c, err := client.New(tr, client.Config{Server: lab.ServerIPv4, Trace: func(e client.Event) { t.Log(e) }})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	q, err := c.Qualify(ctx)
	if err != nil {
		t.Fatalf("qualify: %v", err)
	}
	if q.NAT != client.NATNone || q.Mapped != c.LocalAddr() {
		t.Errorf("NAT %v mapped %v local %v", q.NAT, q.Mapped, c.LocalAddr())
	}
	peer := l.ClientAddr()
	p, err := c.ReachPeer(ctx, peer)
	if err != nil {
		t.Fatalf("reach the Miredo client %v: %v", peer, err)
	}
	a, _ := teredo.ParseAddr(peer)
	if p.Mapping != a.Mapped || p.Mapping.Addr() != lab.NATOutside || !p.Bubble {
		t.Errorf("peer reached at %v (bubble %v), its address embeds %v", p.Mapping, p.Bubble, a.Mapped)
	}
}

func TestProbeThroughMiredoRelay(t *testing.T) {
	l := startProbeLab(t, lab.Options{Relay: lab.RelayMiredo})
	t.Run("client", func(t *testing.T) { exerciseProbe(t, l) })
	t.Run("peer", func(t *testing.T) { exercisePeer(t, l) })
	t.Run("command", func(t *testing.T) {
		dir := t.TempDir()
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		bin, err := lab.BuildCommand(ctx, "..", "./cmd/teredo-probe", dir)
		if err != nil {
			t.Fatalf("build teredo-probe: %v", err)
		}
		exerciseProbeCommand(t, l, bin)
	})
}

// TestProbeThroughRelayd is the same proof with this project's relay, once
// its daemon is in the tree.
func TestProbeThroughRelayd(t *testing.T) {
	if _, err := os.Stat("../cmd/teredo-relayd/main.go"); errors.Is(err, fs.ErrNotExist) {
		t.Skip("cmd/teredo-relayd does not exist yet")
	}
	testenv.RequireRoot(t)
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	bin, err := lab.BuildCommand(ctx, "..", "./cmd/teredo-relayd", dir)
	if err != nil {
		t.Fatalf("build teredo-relayd: %v", err)
	}
	l := startProbeLab(t, lab.Options{Relay: lab.RelayTeredod, RelaydBinary: bin})
	exerciseProbe(t, l)
}
