package relay

import (
	"hash/maphash"
	"math/bits"
	"sync/atomic"
)

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

// refund gives back one token taken from c by take with the same params,
// when what it paid for turned out not to be needed. It never fills the
// bucket beyond full at now.
func (p gcraParams) refund(c *atomic.Int64, now int64) {
	for {
		tat := c.Load()
		if tat <= now {
			return // already full
		}
		if c.CompareAndSwap(tat, max(tat-p.interval, now)) {
			return
		}
	}
}

// sourceLimiter is a fixed-size table of GCRA cells indexed by a keyed hash
// of a source prefix (a native /64 or a client IPv4 address). Sources whose
// hashes collide share a cell: the table never grows and never evicts, so
// rotating through sources cannot earn fresh buckets; the hash is seeded
// per engine, so a colliding prefix cannot be chosen to starve a given
// victim. The rate and burst (gcraParams) come from the caller's policy, so
// Engine.Reconfigure changes them without touching the cells: a cell holds a
// point in time, which stays meaningful under any rate. Safe for concurrent
// use; allocation-free.
type sourceLimiter struct {
	cells []atomic.Int64
	seed  maphash.Seed
}

func newSourceLimiter(size int) *sourceLimiter {
	return &sourceLimiter{
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

// cell16 returns the cell of a 16-byte key (an IPv6 address): hashed whole,
// so that no two addresses are made to share a cell on purpose.
func (l *sourceLimiter) cell16(key *[16]byte) *atomic.Int64 {
	h := maphash.Comparable(l.seed, *key)
	i, _ := bits.Mul64(h, uint64(len(l.cells)))
	return &l.cells[i]
}

// allow16 and refund16 are allow and refund for a 16-byte key.
func (l *sourceLimiter) allow16(p gcraParams, key *[16]byte, now int64) bool {
	return p.take(l.cell16(key), now, 1)
}

func (l *sourceLimiter) refund16(p gcraParams, key *[16]byte, now int64) {
	p.refund(l.cell16(key), now)
}

// allow takes one token from key's cell at time now under p.
func (l *sourceLimiter) allow(p gcraParams, key uint64, now int64) bool {
	return p.take(l.cell(key), now, 1)
}

// refund returns the token allow took from key's cell.
func (l *sourceLimiter) refund(p gcraParams, key uint64, now int64) {
	p.refund(l.cell(key), now)
}
