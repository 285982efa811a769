//go:build linux

package lab

import (
	"context"
	"encoding/binary"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// relFloodLimits are the slow-path limits of the flood tests: small enough
// that a flood of a few thousand packets from the lab crosses them.
const relFloodLimits = `rate_limits:
  new_peer_rate: 20
  new_peer_burst: 40
  bubble_rate: 100
  bubble_burst: 100
icmpv6:
  rate: 20
  burst: 10
`

// relBubbleShareDrops sums the new verifications refused by the shares of
// the bubble cap (per server and per mapped IPv4).
func relBubbleShareDrops(m map[string]float64) float64 {
	return m[relDrop("bubble_server_limited")] + m[relDrop("bubble_destination_limited")]
}

// relLegitDuring pings both ways between the Miredo client and the native
// host while flood runs, and fails unless every ping was answered.
func relLegitDuring(t *testing.T, l *Lab, flood func()) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	results := make([]PingResult, 2)
	errs := make([]error, 2)
	for i, dir := range []struct {
		from Node
		dst  netip.Addr
	}{{Native, l.ClientAddr()}, {Client, l.NativeAddr()}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = l.Ping6(ctx, dir.from, dir.dst, 8)
		}()
	}
	flood()
	wg.Wait()
	for i := range results {
		if errs[i] != nil || results[i].Received() != results[i].Sent || results[i].Sent != 8 {
			t.Errorf("legitimate ping during the flood: %v\n%s", errs[i], results[i])
		}
	}
}

// TestReliabilityNativeFlood (reliability.md D2, D3, D4, D9, D10 and the slow
// path under a flood from the native side): with small configured limits,
// the attacker's IPv6 host sprays new Teredo destinations, first from its
// own /64, then from 200 spoofed /64s, then sends packets whose hop limit
// runs out at the relay. Throughout, the Miredo client and the native host
// ping each other without loss, and afterwards:
//   - verifications started (pending peers) stay within the /64's new-peer
//     budget, the rest is counted new_peer_rate_limited;
//   - bubbles sent stay within the global bubble budget, refusals counted;
//   - Time Exceeded messages stay within the ICMPv6 budget, every expired
//     packet counted hop_limit;
//   - every flood destination embeds the attacker's own IPv4 address (the
//     reflection "victim"): the relay sends nothing to it directly, and what
//     reaches it (indirect bubbles relayed by the Teredo server) is fewer
//     packets and bytes than were sent (amplification ≤ 1);
//   - the client stays trusted, the daemon's log does not grow per packet,
//     and its memory does not grow with the flood.
func TestReliabilityNativeFlood(t *testing.T) {
	l := relLab(t, OneArmed, relFloodLimits)
	client := l.ClientAddr()
	relPing(t, l, Native, client, 2, 2)
	relPing(t, l, Client, l.NativeAddr(), 2, 2)
	flooder := relNewFlooder(t, l, Attacker, unix.AF_INET6)
	data := []byte("reliability flood")
	rss0 := relRSS(t, l)
	logLines0 := strings.Count(l.ProcessLog("relay"), "\n")
	// Every flood destination embeds the attacker's own IPv4 address: it
	// plays the victim of a reflection attempt (D3/D4).
	victimCap := relCapture(t, l, Attacker, HostIface, "udp", "and", "dst", "host", AttackerIPv4.String())
	var floodBytes int
	maxPending := 0.0
	watch := func(m map[string]float64) {
		maxPending = max(maxPending, m[relPending])
	}

	// Phase 1: one /64, 2000 new destinations over about a second.
	const n1 = 2000
	before := relaydMetrics(t, l)
	start := time.Now()
	relLegitDuring(t, l, func() {
		for i := range n1 {
			pkt := EchoRequest(AttackerIPv6, relTeredoDst(i), 64, 0x7a01, uint16(i), data)
			if err := flooder.send(pkt); err != nil {
				t.Fatalf("flood: %v", err)
			}
			floodBytes += len(pkt)
			if i%200 == 199 {
				watch(relaydMetrics(t, l))
				time.Sleep(100 * time.Millisecond)
			}
		}
	})
	elapsed := time.Since(start).Seconds()
	m := relWait(t, l, 5*time.Second, "every flood packet of phase 1 accounted for", func(m map[string]float64) bool {
		limited := m[relDrop("new_peer_rate_limited")] - before[relDrop("new_peer_rate_limited")]
		queueFull := m[relDrop("slowpath_queue_full")] - before[relDrop("slowpath_queue_full")]
		// Every destination is under the lab's server and embeds the
		// victim's address: their shares of the bubble cap bind too.
		shares := relBubbleShareDrops(m) - relBubbleShareDrops(before)
		return limited+queueFull+shares+m[relPending]+m[relExpiries]-before[relExpiries] >= n1
	})
	watch(m)
	budget := 40 + 20*elapsed + 1
	limited := m[relDrop("new_peer_rate_limited")] - before[relDrop("new_peer_rate_limited")]
	t.Logf("phase 1 (%.1f s): %v rate limited, max %v pending, %v indirect bubbles", elapsed, limited, maxPending, m[relIndirect]-before[relIndirect])
	if maxPending > budget {
		t.Errorf("pending peers reached %v, over the /64's budget %.0f (burst 40 + 20/s)", maxPending, budget)
	}
	if limited < n1-budget {
		t.Errorf("new_peer_rate_limited grew by %v, want at least %.0f of %d", limited, n1-budget, n1)
	}

	// Phase 2: 200 spoofed /64s, 10 new destinations each: the per-/64
	// budget no longer binds, the global bubble budget does.
	before = m
	relLegitDuring(t, l, func() {
		for i := range 2000 {
			src := netip.MustParseAddr(fmt.Sprintf("2001:db8:ff00:%x::1", i%200))
			pkt := EchoRequest(src, relTeredoDst(n1+i), 64, 0x7a02, uint16(i), data)
			if err := flooder.send(pkt); err != nil {
				t.Fatalf("flood: %v", err)
			}
			floodBytes += len(pkt)
			if i%200 == 199 {
				watch(relaydMetrics(t, l))
				time.Sleep(100 * time.Millisecond)
			}
		}
	})
	elapsed = time.Since(start).Seconds()
	m = relaydMetrics(t, l)
	watch(m)
	bubbles := m[relIndirect] + m[relDirect]
	bubbleBudget := 100 + 100*elapsed + 1
	refused := m[relDrop("bubble_rate_limited")] + relBubbleShareDrops(m) - before[relDrop("bubble_rate_limited")] - relBubbleShareDrops(before)
	t.Logf("phase 2 (%.1f s since the start): %v bubbles sent in all, %v new verifications refused by the bubble budget (%v by the global cap, the rest by the shares of the lab's server and of the victim's address), %v retry rounds skipped",
		elapsed, bubbles, refused, m[relDrop("bubble_rate_limited")]-before[relDrop("bubble_rate_limited")], m[relLimited("bubble")]-m[relDrop("bubble_rate_limited")])
	if bubbles > bubbleBudget {
		t.Errorf("%v bubbles sent in %.1f s, over the global budget %.0f (burst 100 + 100/s)", bubbles, elapsed, bubbleBudget)
	}
	if refused == 0 {
		t.Errorf("2000 new destinations from 200 /64s in about a second: no verification refused by the bubble budget")
	}

	// Phase 3: 300 packets whose hop limit runs out at the relay.
	before = m
	p3 := time.Now()
	relLegitDuring(t, l, func() {
		for i := range 300 {
			if err := flooder.send(EchoRequest(AttackerIPv6, client, 2, 0x7a03, uint16(i), data)); err != nil {
				t.Fatalf("flood: %v", err)
			}
			if i%100 == 99 {
				time.Sleep(100 * time.Millisecond)
			}
		}
	})
	m = relWait(t, l, 5*time.Second, "every hop-limit packet counted", func(m map[string]float64) bool {
		return m[relDrop("hop_limit")]-before[relDrop("hop_limit")] >= 300
	})
	sent := m[relTimeExceeded] - before[relTimeExceeded]
	icmpBudget := 10 + 20*time.Since(p3).Seconds() + 1
	t.Logf("phase 3: %v hop_limit drops, %v Time Exceeded sent, %v ICMPv6 errors suppressed", m[relDrop("hop_limit")]-before[relDrop("hop_limit")], sent,
		m[relLimited("icmpv6")]-before[relLimited("icmpv6")])
	if got := m[relDrop("hop_limit")] - before[relDrop("hop_limit")]; got != 300 {
		t.Errorf("hop_limit drops grew by %v, want exactly 300", got)
	}
	if sent > icmpBudget || sent == 0 {
		t.Errorf("%v Time Exceeded sent, want between 1 and the ICMPv6 budget %.0f (burst 10 + 20/s)", sent, icmpBudget)
	}

	if p := relPeer(t, l, client); p == nil || p.State != "trusted" {
		t.Errorf("the client after the floods: %+v, want trusted", p)
	}
	frames, err := victimCap.Stop()
	if err != nil {
		t.Fatal(err)
	}
	var toVictim, fromRelay int
	for _, f := range frames {
		if ip := relIPv4(f.Data); ip != nil {
			toVictim += int(binary.BigEndian.Uint16(ip[2:4]))
			if netip.AddrFrom4([4]byte(ip[12:16])) == RelayIPv4 {
				fromRelay++
			}
		}
	}
	t.Logf("reflection: %d datagrams (%d bytes) reached the victim, for %d packets (%d bytes) sent at it", len(frames), toVictim, 4000, floodBytes)
	if fromRelay != 0 {
		t.Errorf("the relay sent %d datagrams straight to the victim (direct bubbles are off)", fromRelay)
	}
	if len(frames) > 4000 || toVictim > floodBytes {
		t.Errorf("amplification towards the victim: %d datagrams / %d bytes out for 4000 packets / %d bytes in", len(frames), toVictim, floodBytes)
	}
	if grew := strings.Count(l.ProcessLog("relay"), "\n") - logLines0; grew > 5 {
		t.Errorf("the daemon's log grew by %d lines during the floods (want no per-packet logging):\n%s", grew, l.ProcessLog("relay"))
	}
	rss := relRSS(t, l)
	t.Logf("daemon RSS %d KiB before the floods, %d KiB after", rss0, rss)
	if rss-rss0 > 32<<10 {
		t.Errorf("daemon RSS grew by %d KiB during the floods", rss-rss0)
	}
}

// TestReliabilityPeerTableFull (reliability.md B12/E8 in the lab): a relay
// with a 16-entry peer table, the Miredo client trusted in it, and a flood
// of 200 new Teredo destinations from the native side (the per-/64 budget
// raised so that the table, not the rate limit, is what binds). The table
// never holds more than its capacity; every newcomer is either a pending
// peer, or was evicted as pending (pending_full), or was refused as
// cache_full — the relay verifies at most as many peers at once as the
// table holds; the trusted client is never evicted (trusted_full stays 0)
// and keeps working both ways during and after the flood.
func TestReliabilityPeerTableFull(t *testing.T) {
	l := relLab(t, OneArmed, "peers:\n  capacity: 16\nrate_limits:\n  new_peer_burst: 1000\n  new_peer_rate: 1000\n")
	client := l.ClientAddr()
	relPing(t, l, Native, client, 2, 2)
	relPing(t, l, Client, l.NativeAddr(), 2, 2)
	m := relaydMetrics(t, l)
	if m["teredo_relay_peers_capacity"] != 16 || m[relTrusted] != 1 {
		t.Fatalf("capacity %v trusted %v, want 16 and 1", m["teredo_relay_peers_capacity"], m[relTrusted])
	}
	flooder := relNewFlooder(t, l, Attacker, unix.AF_INET6)
	const n = 200
	maxPeers := 0.0
	relLegitDuring(t, l, func() {
		for i := range n {
			if err := flooder.send(EchoRequest(AttackerIPv6, relTeredoDst(i), 64, 0x7b01, uint16(i), []byte("table full"))); err != nil {
				t.Fatalf("flood: %v", err)
			}
			if i%20 == 19 {
				m := relaydMetrics(t, l)
				maxPeers = max(maxPeers, m[relTrusted]+m[relPending])
				time.Sleep(50 * time.Millisecond)
			}
		}
	})
	accounted := func(m map[string]float64) float64 {
		return m[relPending] + m[relExpiries] + m[relEviction("pending_full")] + m[relDrop("cache_full")]
	}
	m = relWait(t, l, 5*time.Second, "every newcomer accounted for", func(m map[string]float64) bool { return accounted(m) >= n })
	maxPeers = max(maxPeers, m[relTrusted]+m[relPending])
	t.Logf("after %d new destinations: %v pending, %v trusted, %v expired, evictions pending_full %v trusted_full %v, cache_full drops %v, max peers seen %v",
		n, m[relPending], m[relTrusted], m[relExpiries], m[relEviction("pending_full")], m[relEviction("trusted_full")], m[relDrop("cache_full")], maxPeers)
	if got := accounted(m); got != n {
		t.Errorf("pending + expired + pending_full + cache_full = %v, want exactly the %d newcomers", got, n)
	}
	if maxPeers > 16 {
		t.Errorf("the table held %v peers, over its capacity 16", maxPeers)
	}
	if m[relDrop("cache_full")] == 0 {
		t.Errorf("200 newcomers into a 16-entry table: none refused as cache_full")
	}
	if m[relEviction("trusted_full")] != 0 {
		t.Errorf("%v trusted peers evicted by pending pressure", m[relEviction("trusted_full")])
	}
	if p := relPeer(t, l, client); p == nil || p.State != "trusted" {
		t.Fatalf("the client after the flood: %+v, want trusted", p)
	}
	relPing(t, l, Native, client, 3, 3)
}
