package cache

import (
	"sync"
	"sync/atomic"
	"testing"
)

// benchCaches holds one prefilled cache per size, shared by the benchmarks
// (10M entries take ~1.1 GB and seconds to fill). Each is filled to 90%
// with trusted entries; insert benchmarks only churn pending entries, which
// pending-first eviction removes before any trusted one.
var benchCaches sync.Map // int -> *benchCache

type benchCache struct {
	once sync.Once
	c    *Cache
	n    int // trusted keys: key(0..n-1)
}

var benchSizes = []struct {
	name string
	cap  int
}{{"1M", 1 << 20}, {"10M", 10_000_000}}

func getBenchCache(b *testing.B, capacity int) *benchCache {
	v, _ := benchCaches.LoadOrStore(capacity, &benchCache{})
	bc := v.(*benchCache)
	bc.once.Do(func() {
		c, err := New(Config{Capacity: capacity, QueueBytes: 1 << 20, Now: func() int64 { return 0 }})
		if err != nil {
			b.Fatal(err)
		}
		bc.c, bc.n = c, capacity*9/10
		for i := range bc.n {
			k := key(uint64(i))
			c.InsertPending(&k, mapA, 0)
			c.Trust(&k, mapA, 0, 1, nil)
		}
	})
	if bc.c == nil {
		b.Fatal("bench cache setup failed")
	}
	return bc
}

// spread visits the trusted keys in a scattered order (i * large odd mod n).
func spread(i, n int) uint64 { return uint64(i) * 0x9E3779B1 % uint64(n) }

func BenchmarkLookupTx(b *testing.B) {
	for _, sz := range benchSizes {
		b.Run(sz.name, func(b *testing.B) {
			bc := getBenchCache(b, sz.cap)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				k := key(spread(i, bc.n))
				if _, ok := bc.c.LookupTx(&k, 100, 2, 1<<62); !ok {
					b.Fatal("miss")
				}
			}
		})
	}
}

func BenchmarkObserveRx(b *testing.B) {
	for _, sz := range benchSizes {
		b.Run(sz.name, func(b *testing.B) {
			bc := getBenchCache(b, sz.cap)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				k := key(spread(i, bc.n))
				if bc.c.ObserveRx(&k, mapA, 100, 2) != RxTrusted {
					b.Fatal("not trusted")
				}
			}
		})
	}
}

func BenchmarkLookupMiss(b *testing.B) {
	for _, sz := range benchSizes {
		b.Run(sz.name, func(b *testing.B) {
			bc := getBenchCache(b, sz.cap)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				k := key(uint64(1<<40 + i))
				if _, ok := bc.c.LookupTx(&k, 100, 2, 1<<62); ok {
					b.Fatal("hit")
				}
			}
		})
	}
}

// BenchmarkLookupTxParallel: all Ps look up random trusted peers at once.
func BenchmarkLookupTxParallel(b *testing.B) {
	for _, sz := range benchSizes {
		b.Run(sz.name, func(b *testing.B) {
			bc := getBenchCache(b, sz.cap)
			var seed atomic.Uint64
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				i := int(seed.Add(1) << 32)
				for pb.Next() {
					i++
					k := key(spread(i, bc.n))
					if _, ok := bc.c.LookupTx(&k, 100, 2, 1<<62); !ok {
						b.Error("miss")
						return
					}
				}
			})
		})
	}
}

// BenchmarkInsertPending inserts new peers into a 90%-full cache; once the
// free share is used up every insert also evicts the oldest pending entry.
func BenchmarkInsertPending(b *testing.B) {
	var next atomic.Uint64
	next.Store(1 << 40)
	for _, sz := range benchSizes {
		b.Run(sz.name, func(b *testing.B) {
			bc := getBenchCache(b, sz.cap)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				k := key(next.Add(1))
				if ins, err := bc.c.InsertPending(&k, mapB, 3); !ins || err != nil {
					b.Fatal(ins, err)
				}
			}
		})
	}
}

// BenchmarkQueueCycle: the slow path's pending cycle — insert, queue two
// packets, trust (FIFO release), delete.
func BenchmarkQueueCycle(b *testing.B) {
	c, err := New(Config{Capacity: 1 << 16, QueueBytes: 1 << 20})
	if err != nil {
		b.Fatal(err)
	}
	pkt := make([]byte, 600)
	var released int
	release := func(p []byte) { released += len(p) }
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		k := key(uint64(i))
		c.InsertPending(&k, mapA, 0)
		c.Enqueue(&k, pkt)
		c.Enqueue(&k, pkt[:100])
		c.Trust(&k, mapA, 0, 1, release)
		c.Delete(&k)
	}
	if released == 0 {
		b.Fatal("nothing released")
	}
}

func BenchmarkSweep(b *testing.B) {
	bc := getBenchCache(b, benchSizes[0].cap)
	b.ReportAllocs()
	for b.Loop() {
		bc.c.Sweep(2, 1<<62, 1024) // inspects 1024 entries, removes none
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1024, "ns/entry")
}
