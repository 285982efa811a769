package cache

import (
	"math/rand/v2"
	"testing"
	"unsafe"
)

// BenchmarkMemory measures the machine the cache runs on, in the memory
// the cache uses (a mapping advised for huge pages): "chase" is the latency
// of one access that depends on the one before (a pointer chase over every
// cache line of the set, in one random cycle), "gather" the cost per access
// of 64 independent loads in a tight loop, the pattern of Batch.Lookup's
// passes. A scattered batch lookup costs about three gathers per key (an
// index line and the entry's two lines) on top of the one-peer cost; the
// README's fast-path tables are read against these figures.
func BenchmarkMemory(b *testing.B) {
	for _, sz := range []struct {
		name  string
		bytes int
	}{{"8M", 8 << 20}, {"128M", 128 << 20}, {"1G", 1 << 30}} {
		m := newMemBench(sz.bytes)
		b.Run("chase/"+sz.name, func(b *testing.B) {
			p := m.start
			for b.Loop() {
				p = m.words[p]
			}
			memSink += p
		})
		b.Run("gather/"+sz.name, func(b *testing.B) {
			var s uint64
			for i, j := 0, 0; i < b.N; i += 64 {
				for _, k := range m.idx[j : j+64] {
					s += m.words[k]
				}
				j = (j + 64) & (len(m.idx) - 1)
			}
			memSink += s
		})
		m.release()
	}
}

var memSink uint64

// memBench is a working set of bytes: every line's first word points to the
// next line of one random cycle, and idx holds random word indexes.
type memBench struct {
	words   []uint64
	start   uint64
	idx     []uint64
	release func()
}

func newMemBench(bytes int) *memBench {
	m := &memBench{release: func() {}}
	if mem, _, release, ok := mapRegion(bytes, true); ok {
		m.words, m.release = unsafe.Slice((*uint64)(mem), bytes/8), release
	} else {
		m.words = make([]uint64, bytes/8)
	}
	const lineWords = 64 / 8
	lines := len(m.words) / lineWords
	perm := rand.Perm(lines)
	for i, l := range perm {
		m.words[l*lineWords] = uint64(perm[(i+1)%lines] * lineWords)
	}
	m.start = uint64(perm[0] * lineWords)
	m.idx = make([]uint64, 1<<16)
	for i := range m.idx {
		m.idx[i] = rand.Uint64N(uint64(len(m.words)))
	}
	return m
}
