package relay

import (
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/teredorelay/teredorelay/cache"
	"github.com/teredorelay/teredorelay/relay/relaytest"
	"github.com/teredorelay/teredorelay/teredo"
)

// TestBubbleShares (issue 10, section 5): the bubble cap is shared fairly.
// A spray of native packets to 6000 new Teredo destinations (from as many
// source /64s, so the per-/64 limit does not stop it) aimed at one
// attacker-chosen server A takes at most BubbleShare of the cap; a peer
// under server B is verified right after. The same holds for a spray at one
// mapped IPv4 (a victim) through many servers. Before, the spray used the
// whole global cap and the legitimate peer was refused
// (bubble_rate_limited).
func TestBubbleShares(t *testing.T) {
	serverA := netip.MustParseAddr("198.51.100.77")
	victim := netip.MustParseAddr("203.0.113.99")
	cases := []struct {
		name   string
		spray  func(i int) netip.Addr // the i-th sprayed destination
		reason DropReason
		to     func(s relaytest.Sent) bool // a bubble the spray caused
	}{
		{"one server", func(i int) netip.Addr {
			m := netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 19, byte(i >> 8), byte(i)}), 4000)
			return relaytest.TeredoAddr(serverA, 0, m)
		}, DropBubbleServerLimited, func(s relaytest.Sent) bool { return s.Dst.Addr() == serverA }},
		{"one mapped address", func(i int) netip.Addr {
			server := netip.AddrFrom4([4]byte{198, 18, byte(i >> 8), byte(i)})
			return relaytest.TeredoAddr(server, 0, netip.AddrPortFrom(victim, uint16(1024+i)))
		}, DropBubbleDestLimited, func(s relaytest.Sent) bool {
			var p [16]byte
			copy(p[:], s.Data[24:40])
			return teredo.DecodeAddr(&p).Mapped.Addr() == victim
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, func(_ *Config, cc *cache.Config) { cc.Capacity = 1 << 14 })
			cfg := h.e.Config()
			share := int(float64(cfg.BubbleBurst) * cfg.BubbleShare)
			const n = 6000
			sprayed := 0
			for i := range n {
				var src [16]byte
				copy(src[:], netip.MustParseAddr("2001:db8::").AsSlice())
				binary.BigEndian.PutUint32(src[4:8], uint32(0x100+i)) // a /64 of its own
				src[15] = 1
				h.encap(relaytest.Echo(netip.AddrFrom16(src), c.spray(i), 64, 1, 1, nil))
				if i%512 == 511 {
					h.drain()
					for _, s := range h.out.Take() {
						if c.to(s) {
							sprayed++
						}
					}
				}
			}
			h.drain()
			for _, s := range h.out.Take() {
				if c.to(s) {
					sprayed++
				}
			}
			d := h.counters().Drops
			t.Logf("spray of %d: %d bubbles, %v %d, bubble_rate_limited %d (share %d of burst %d)",
				n, sprayed, c.reason, d[c.reason], d[DropBubbleRateLimited], share, cfg.BubbleBurst)
			if sprayed > share || sprayed == 0 {
				t.Errorf("the spray got %d bubbles, want at most its share %d", sprayed, share)
			}
			if d[c.reason] != uint64(n-sprayed) {
				t.Errorf("%v %d, want %d", c.reason, d[c.reason], n-sprayed)
			}
			// A legitimate peer under another server, with another mapping.
			if v, _ := h.encap(relaytest.Echo(nativeHost, clientAddr, 64, 1, 1, nil)); v != SlowPath {
				t.Fatalf("legitimate peer: %v", v)
			}
			h.drain()
			if sent := h.out.Take(); len(sent) != 1 || sent[0].Dst != serverAP {
				t.Fatalf("legitimate peer after the spray: sent %+v, want its indirect bubble to %v (drops %v)", sent, serverAP, dropsDelta(Counters{}, h.counters()))
			}
		})
	}
}
