package server

import (
	"encoding/binary"
	"math"
	"math/bits"
)

// sourceLimiter is a fixed-size table of per-source-IPv4 token buckets, kept
// as GCRA "theoretical arrival times" (one int64 per source, no floats). Each
// source hashes, with a secret key, to two candidate slots; a source not in
// either takes the one last seen longer ago (the idler source; a source being
// refused still counts as seen, so a flood keeps its place). Evicting a source gives it a full bucket when it comes
// back, so the table is sized well above the number of sources active within
// one burst period. Not safe for concurrent use: each Handler owns one.
type sourceLimiter struct {
	slots    []limitSlot
	mask     uint64
	key      uint64
	interval int64 // nanoseconds per token
	depth    int64 // interval × burst
	off      bool
}

type limitSlot struct {
	tat  int64  // theoretical arrival time of the next conforming datagram
	seen int64  // last datagram from src, allowed or not
	src  uint32 // IPv4 source; 0 = empty (0.0.0.0 is never a valid source)
}

func newSourceLimiter(perSecond float64, burst, size int, key uint64) sourceLimiter {
	if perSecond < 0 {
		return sourceLimiter{off: true}
	}
	n := 1 << bits.Len(uint(size-1))
	interval := 1e9 / perSecond
	if interval > math.MaxInt64/float64(burst+1) {
		interval = math.MaxInt64 / float64(burst+1)
	}
	return sourceLimiter{
		slots:    make([]limitSlot, n),
		mask:     uint64(n - 1),
		key:      key,
		interval: int64(interval),
		depth:    int64(interval) * int64(burst),
	}
}

// mix is the splitmix64 finaliser: a keyed, well-spread hash of one word.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// allow takes one token from src's bucket at time now.
func (l *sourceLimiter) allow(src [4]byte, now int64) bool {
	if l.off {
		return true
	}
	v := binary.BigEndian.Uint32(src[:])
	h := mix(uint64(v) ^ l.key)
	a, b := &l.slots[h&l.mask], &l.slots[(h>>32)&l.mask]
	s := a
	switch {
	case a.src == v:
	case b.src == v:
		s = b
	default:
		if b.seen < a.seen {
			s = b
		}
		s.src, s.tat = v, now
	}
	s.seen = now
	tat := max(s.tat, now) + l.interval
	if tat-now > l.depth {
		return false
	}
	s.tat = tat
	return true
}
