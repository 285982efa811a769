//go:build linux

package lab

import (
	"context"
	"net/netip"
	"testing"
	"time"
)

// TestRelaydSymmetricNAT (issue 10, section 2): a Miredo client behind a
// symmetric NAT (iptables SNAT --random-fully: a random source port per
// flow, so the client reaches the relay from another port than the one its
// Teredo address names) reaches a native host through teredo-relayd with
// the default configuration, TCP included; the relay trusts it at the
// mapping it observed, proven by a bubble to a fresh cookie. After the
// client idled past the relay's validity period and its NAT gave it yet
// another port, the next native packet is still delivered. With
// accept_symmetric_nat: false (strict RFC 4380 mapping checks) the same
// client gets nothing: the twin proves the NAT really is symmetric.
func TestRelaydSymmetricNAT(t *testing.T) {
	bin := relaydBinary(t)
	t.Run("default", func(t *testing.T) {
		l := startLab(t, Options{Relay: RelayTeredod, Mode: OneArmed, RelaydBinary: bin, NATRandomFully: true})
		// The client->relay flow's NAT mapping lives 35 s without traffic
		// (many home and carrier-grade NATs keep UDP less); the client's
		// server flow is refreshed by Miredo every 30 s and stays.
		if err := l.sysctl(NAT, "netfilter/nf_conntrack_udp_timeout_stream", "35", "netfilter/nf_conntrack_udp_timeout", "35"); err != nil {
			t.Fatal(err)
		}
		relPing(t, l, Native, l.ClientAddr(), 5, 5)
		relPing(t, l, Client, l.NativeAddr(), 5, 5)
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		for _, dir := range []struct {
			from, to Node
			dst      netip.Addr
		}{{Client, Native, l.NativeAddr()}, {Native, Client, l.ClientAddr()}} {
			tr, err := l.TCPTransfer(ctx, dir.from, dir.to, dir.dst, transferSize)
			if err != nil || !tr.Intact() || tr.Received != transferSize {
				t.Fatalf("tcp %s -> %s behind a symmetric NAT: %v (%v)", dir.from, dir.to, err, tr)
			}
			t.Logf("tcp %v", tr)
		}
		first := symmetricPeer(t, l)

		// Idle past the relay's validity period (30 s) and the NAT's
		// mapping of the client->relay flow (35 s).
		t.Log("idle 40 s")
		time.Sleep(40 * time.Second)
		res := relPingAny(t, l, Native, l.ClientAddr(), 5)
		if res.Received() < 3 {
			t.Fatalf("native -> client after idle and a NAT rebind: %d of %d answered\n%s", res.Received(), res.Sent, res)
		}
		second := symmetricPeer(t, l)
		if second == first {
			t.Logf("the NAT kept port %d after the idle period", first.Port())
		} else {
			t.Logf("served at %v after idle (was %v)", second, first)
		}
		m := relaydMetrics(t, l)
		if m[relDrop("peer_expired")] != 0 {
			t.Errorf("%v queued packets lost with an expired peer", m[relDrop("peer_expired")])
		}
	})
	t.Run("strict", func(t *testing.T) {
		l := startLab(t, Options{Relay: RelayTeredod, Mode: OneArmed, RelaydBinary: bin, NATRandomFully: true,
			RelaydConfig: func(env RelaydEnv) ([]byte, error) {
				b, err := DefaultRelaydConfig(env)
				return append(b, "accept_symmetric_nat: false\n"...), err
			}})
		if res := relPingAny(t, l, Native, l.ClientAddr(), 3); res.Received() != 0 {
			t.Fatalf("strict mapping checks: %d replies from a client behind a symmetric NAT", res.Received())
		}
		if m := relaydMetrics(t, l); m[relDrop("mapping_mismatch")] == 0 {
			logNonZeroMetrics(t, m)
			t.Fatal("no mapping_mismatch: the NAT did not change the client's port")
		}
	})
}

// symmetricPeer returns the mapping the relay trusts the lab's client at,
// failing unless it is trusted at a port other than its address names.
func symmetricPeer(t *testing.T, l *Lab) netip.AddrPort {
	t.Helper()
	p := relPeer(t, l, l.ClientAddr())
	if p == nil || p.State != "trusted" || !p.MappingDiffers || p.ObservedMapping.Addr() != NATOutside || p.ObservedMapping == p.Mapped {
		t.Fatalf("relay's entry for the client: %+v; want trusted at an observed mapping of %v other than its address's", p, NATOutside)
	}
	return p.ObservedMapping
}
