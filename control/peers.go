package control

import (
	"cmp"
	"container/heap"
	"fmt"
	"net/netip"
	"slices"

	"github.com/teredorelay/teredorelay/control/api"
	"github.com/teredorelay/teredorelay/teredo"
)

// decode fills p's fields derived from its Teredo address.
func decode(p *api.Peer) {
	a, ok := teredo.ParseAddr(p.Address)
	if !ok {
		p.Mapped, p.Server, p.Flags, p.Cone, p.RFC5991 = netip.AddrPort{}, netip.Addr{}, 0, false, false
		p.MappingDiffers = false
		return
	}
	p.Mapped, p.Server, p.Flags = a.Mapped, a.Server, a.Flags
	p.Cone = a.Cone()
	p.RFC5991 = a.Flags&teredo.FlagRandomMask != 0
	p.MappingDiffers = p.ObservedMapping.IsValid() && p.ObservedMapping != a.Mapped
}

func matches(f *api.PeerFilter, p *api.Peer) bool {
	if f.State != "" && p.State != f.State {
		return false
	}
	if f.V4.IsValid() && !f.V4.Contains(p.Mapped.Addr()) {
		return false
	}
	if f.Server.IsValid() && p.Server != f.Server {
		return false
	}
	return true
}

// before reports whether a ranks before b under key: times most recent
// first, counters largest first, addresses ascending; ties by address.
func before(key string, a, b *api.Peer) bool {
	var c int
	switch key {
	case api.SortLastRx:
		c = -a.LastRx.Compare(b.LastRx)
	case api.SortLastTx:
		c = -a.LastTx.Compare(b.LastTx)
	case api.SortMapped:
		c = a.Mapped.Compare(b.Mapped)
	case api.SortState:
		c = cmp.Compare(a.State, b.State)
	case api.SortRxPackets:
		c = -cmp.Compare(a.RxPackets, b.RxPackets)
	case api.SortTxPackets:
		c = -cmp.Compare(a.TxPackets, b.TxPackets)
	case api.SortRxBytes:
		c = -cmp.Compare(a.RxBytes, b.RxBytes)
	case api.SortTxBytes:
		c = -cmp.Compare(a.TxBytes, b.TxBytes)
	case api.SortBubbles:
		c = -cmp.Compare(a.Bubbles, b.Bubbles)
	case api.SortQueued:
		c = -cmp.Compare(a.QueuedBytes, b.QueuedBytes)
	}
	if c != 0 {
		return c < 0
	}
	return a.Address.Less(b.Address)
}

// topK keeps the k best peers; its heap root is the worst kept.
type topK struct {
	key   string
	peers []api.Peer
}

func (t *topK) Len() int           { return len(t.peers) }
func (t *topK) Less(i, j int) bool { return before(t.key, &t.peers[j], &t.peers[i]) }
func (t *topK) Swap(i, j int)      { t.peers[i], t.peers[j] = t.peers[j], t.peers[i] }
func (t *topK) Push(x any)         { t.peers = append(t.peers, x.(api.Peer)) }
func (t *topK) Pop() any {
	p := t.peers[len(t.peers)-1]
	t.peers = t.peers[:len(t.peers)-1]
	return p
}

// selection is the outcome of one walk of the peer table.
type selection struct {
	scanned, matched int
	peers            []api.Peer // sorted best first
}

// selectPeers walks the backend's peers once, keeping at most limit of those
// matching f, ranked by key (limit 0: count only).
func selectPeers(b Backend, f api.PeerFilter, key string, limit int) selection {
	var s selection
	t := &topK{key: key, peers: make([]api.Peer, 0, min(limit, 1024))}
	b.RangePeers(func(p *api.Peer) bool {
		s.scanned++
		decode(p)
		if !matches(&f, p) {
			return true
		}
		s.matched++
		switch {
		case limit == 0:
		case t.Len() < limit:
			heap.Push(t, *p)
		case before(key, p, &t.peers[0]):
			t.peers[0] = *p
			heap.Fix(t, 0)
		}
		return true
	})
	slices.SortFunc(t.peers, func(a, b api.Peer) int {
		if before(key, &a, &b) {
			return -1
		}
		if before(key, &b, &a) {
			return 1
		}
		return 0
	})
	s.peers = t.peers
	return s
}

// teredoFields takes a Teredo address apart for GET /v1/peers/{addr}.
func teredoFields(addr netip.Addr) (api.TeredoFields, bool) {
	a, ok := teredo.ParseAddr(addr)
	if !ok {
		return api.TeredoFields{}, false
	}
	b := addr.As16()
	return api.TeredoFields{
		Prefix:         teredo.Prefix.String(),
		Server:         a.Server,
		Flags:          a.Flags,
		Cone:           a.Flags&teredo.FlagCone != 0,
		Reserved:       a.Flags&teredo.FlagReserved != 0,
		Universal:      a.Flags&teredo.FlagUniversal != 0,
		Group:          a.Flags&teredo.FlagGroup != 0,
		RandomBits:     a.Flags & teredo.FlagRandomMask,
		Mapped:         a.Mapped,
		ObfuscatedPort: fmt.Sprintf("0x%02x%02x", b[10], b[11]),
		ObfuscatedAddr: fmt.Sprintf("0x%02x%02x%02x%02x", b[12], b[13], b[14], b[15]),
	}, true
}
