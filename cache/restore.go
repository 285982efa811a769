package cache

import (
	"errors"
	"fmt"
	"net/netip"
	"runtime"
)

// ErrFull is returned by Restore when k's shard has no free entry: a
// restored peer never evicts another.
var ErrFull = errors.New("cache: shard full")

// Restore creates a trusted entry for k at mapping with the given last
// receive time (cache clock; it may be negative or far in the past: a peer
// whose LastRx is older than the relay's validity period is "stale" and is
// re-verified on its next packet, exactly like an entry that aged in this
// process). It is for reloading a saved peer table at start (package
// peerstate): it returns false, nil when k already has an entry, which is
// left unchanged, and ErrFull instead of evicting when k's shard is full.
// Counters start at zero; Created is now.
func (c *Cache) Restore(k *[16]byte, mapping netip.AddrPort, lastRx, now int64) (bool, error) {
	ip, port, ok := packMapping(mapping)
	if !ok {
		return false, fmt.Errorf("restore %v: %w", mapping, ErrBadMapping)
	}
	if lastRx == 0 { // 0 means "never" in a snapshot
		lastRx = -1
	}
	defer runtime.KeepAlive(c)
	k0, k1 := keyWords(k)
	s, h := c.locate(k)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.findLocked(k0, k1, h) >= 0 {
		return false, nil
	}
	i := s.alloc()
	if i < 0 {
		return false, ErrFull
	}
	// The entry is filled in before it is indexed, so no lookup sees it
	// half made: pending from init, then the saved receive time, then
	// trusted (LastRx before the state, as in Trust).
	e := &s.entries[i]
	e.init(k0, k1, ip, port, now)
	e.lastRx.Store(lastRx)
	e.setMeta(ip, port, Trusted, 0)
	s.insertIndex(h, i)
	s.nTrusted.Add(1)
	return true, nil
}
