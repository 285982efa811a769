package relay

import (
	"hash/maphash"
	"math/bits"
	"sync/atomic"
)

// tokenBucket limits events to rate per second with bursts of up to burst.
// Time comes from the caller (nanoseconds, monotonic). Not safe for
// concurrent use: the slow path owns it.
type tokenBucket struct {
	rate   float64 // tokens per nanosecond; <= 0 denies everything
	burst  float64
	tokens float64
	last   int64
	init   bool
}

func newTokenBucket(perSecond float64, burst int) tokenBucket {
	return tokenBucket{rate: perSecond / 1e9, burst: float64(burst), tokens: float64(burst)}
}

// allow takes one token if available at time now.
func (b *tokenBucket) allow(now int64) bool {
	if b.rate <= 0 {
		return false
	}
	if !b.init {
		b.init, b.last = true, now
	}
	if now > b.last {
		b.tokens += float64(now-b.last) * b.rate
		if b.tokens > b.burst {
			b.tokens = b.burst
		}
		b.last = now
	}
	if b.tokens >= 1 {
		b.tokens--
		return true
	}
	return false
}

// gcraParams drive a generic-cell-rate-algorithm limiter: a token bucket
// kept as one int64 per cell, the "theoretical arrival time" (tat) at which
// the bucket would be full again. An event of n tokens at now is allowed
// when max(tat, now) + n·interval - now ≤ limit (= burst·interval), and tat
// then moves to max(tat, now) + n·interval. The zero cell is a full bucket.
// One int64 per cell keeps large tables small, and a compare-and-swap makes
// a cell safe for concurrent use without a lock.
type gcraParams struct {
	interval int64 // nanoseconds per token
	limit    int64 // burst × interval
}

func newGCRAParams(perSecond float64, burst int) gcraParams {
	iv := max(int64(1e9/perSecond), 1)
	return gcraParams{interval: iv, limit: int64(burst) * iv}
}

// take takes n tokens from the cell c at time now if they are available.
func (p gcraParams) take(c *atomic.Int64, now int64, n int64) bool {
	for {
		tat := c.Load()
		next := max(tat, now) + n*p.interval
		if next-now > p.limit {
			return false
		}
		if c.CompareAndSwap(tat, next) {
			return true
		}
	}
}

// sourceLimiter is a fixed-size table of GCRA cells indexed by a keyed hash
// of a source prefix (a native /64 or a client IPv4 address). Sources whose
// hashes collide share a cell: the table never grows and never evicts, so
// rotating through sources cannot earn fresh buckets; the hash is seeded
// per engine, so a colliding prefix cannot be chosen to starve a given
// victim. Safe for concurrent use; allocation-free.
type sourceLimiter struct {
	p     gcraParams
	cells []atomic.Int64
	seed  maphash.Seed
}

func newSourceLimiter(perSecond float64, burst, size int) *sourceLimiter {
	return &sourceLimiter{
		p:     newGCRAParams(perSecond, burst),
		cells: make([]atomic.Int64, size),
		seed:  maphash.MakeSeed(),
	}
}

// cell returns the cell of key.
func (l *sourceLimiter) cell(key uint64) *atomic.Int64 {
	h := maphash.Comparable(l.seed, key)
	i, _ := bits.Mul64(h, uint64(len(l.cells))) // fast range reduction
	return &l.cells[i]
}

// allow takes one token from key's cell at time now.
func (l *sourceLimiter) allow(key uint64, now int64) bool {
	return l.p.take(l.cell(key), now, 1)
}
