package cache

import (
	"sync"
	"sync/atomic"
	"testing"

	"github.com/teredorelay/teredorelay/internal/scatter"
)

// benchCaches holds one prefilled cache per size, shared by the benchmarks
// (10M entries take ~1.1 GB and seconds to fill). Each is filled to 90%
// with trusted entries; insert benchmarks only churn pending entries, which
// pending-first eviction removes before any trusted one.
var benchCaches sync.Map // string -> *benchCache

type benchCache struct {
	once sync.Once
	c    *Cache
	n    int // trusted keys: key(0..n-1)
}

// benchSize is one working set: cap entries of which peers are trusted.
type benchSize struct {
	name       string
	cap, peers int
	noHuge     bool // Config.NoHugePages
}

// benchSizes are the working sets the lookup benchmarks compare side by
// side: one hot peer (every lookup hits the CPU caches), 64k peers (the
// entries and their index fit in L2/L3), and 1M and 10M peers at 90 % fill
// visited in a scattered order (every lookup misses the CPU caches and,
// without huge pages, the TLB).
var benchSizes = []benchSize{
	{"1", 1024, 1, false},
	{"64k", 1 << 16, 1 << 16 * 9 / 10, false},
	{"1M", 1 << 20, 1 << 20 * 9 / 10, false},
	{"10M", 10_000_000, 9_000_000, false},
}

// bigBenchSizes are the sizes of the insert and miss benchmarks.
var bigBenchSizes = benchSizes[2:]

// pageSizes are the scattered sets again on ordinary 4 KiB pages, to
// measure what huge pages are worth.
var pageSizes = []benchSize{
	{"1M-4k", 1 << 20, 1 << 20 * 9 / 10, true},
	{"10M-4k", 10_000_000, 9_000_000, true},
}

func getBenchCache(b *testing.B, sz benchSize) *benchCache {
	v, _ := benchCaches.LoadOrStore(sz.name, &benchCache{})
	bc := v.(*benchCache)
	bc.once.Do(func() {
		c, err := New(Config{Capacity: sz.cap, QueueBytes: 1 << 20, Now: func() int64 { return 0 }, NoHugePages: sz.noHuge})
		if err != nil {
			b.Fatal(err)
		}
		bc.c, bc.n = c, sz.peers
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

func BenchmarkLookupTx(b *testing.B) {
	for _, sz := range append(benchSizes, pageSizes...) {
		b.Run(sz.name, func(b *testing.B) {
			bc := getBenchCache(b, sz)
			order := scatter.New(0, bc.n)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				k := key(uint64(order.At(i)))
				if _, ok := bc.c.LookupTx(&k, 100, 2, 1<<62); !ok {
					b.Fatal("miss")
				}
			}
		})
	}
}

func BenchmarkObserveRx(b *testing.B) {
	for _, sz := range append(benchSizes, pageSizes...) {
		b.Run(sz.name, func(b *testing.B) {
			bc := getBenchCache(b, sz)
			order := scatter.New(0, bc.n)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				k := key(uint64(order.At(i)))
				if bc.c.ObserveRx(&k, mapA, 100, 2) != RxTrusted {
					b.Fatal("not trusted")
				}
			}
		})
	}
}

// BenchmarkLookupTxBatch is BenchmarkLookupTx through a Batch: 64 keys
// added, looked up together, then LookupTx on each slot; ns/op is per key.
func BenchmarkLookupTxBatch(b *testing.B) {
	for _, sz := range append(benchSizes, pageSizes...) {
		b.Run(sz.name, func(b *testing.B) {
			bc := getBenchCache(b, sz)
			bt := bc.c.NewBatch()
			order := scatter.New(0, bc.n)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; {
				bt.Reset()
				for ; bt.Len() < MaxBatch; i++ {
					k := key(uint64(order.At(i)))
					bt.Add(&k)
				}
				bt.Lookup()
				for j := range bt.Len() {
					if _, ok := bt.LookupTx(j, 100, 2, 1<<62); !ok {
						b.Fatal("miss")
					}
				}
			}
			bt.Reset()
		})
	}
}

// BenchmarkObserveRxBatch is BenchmarkObserveRx through a Batch.
func BenchmarkObserveRxBatch(b *testing.B) {
	for _, sz := range append(benchSizes, pageSizes...) {
		b.Run(sz.name, func(b *testing.B) {
			bc := getBenchCache(b, sz)
			bt := bc.c.NewBatch()
			order := scatter.New(0, bc.n)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; {
				bt.Reset()
				for ; bt.Len() < MaxBatch; i++ {
					k := key(uint64(order.At(i)))
					bt.Add(&k)
				}
				bt.Lookup()
				for j := range bt.Len() {
					if bt.ObserveRx(j, mapA, 100, 2) != RxTrusted {
						b.Fatal("not trusted")
					}
				}
			}
			bt.Reset()
		})
	}
}

func BenchmarkLookupMiss(b *testing.B) {
	for _, sz := range bigBenchSizes {
		b.Run(sz.name, func(b *testing.B) {
			bc := getBenchCache(b, sz)
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

// BenchmarkLookupTxParallel: all Ps look up trusted peers of one shared set
// at once, each goroutine in its own scattered order (a permutation of its
// own, internal/scatter, so that goroutines meet on an entry only by chance;
// with one peer, all of them hit the same entry). Run with -cpu 1,2: ns/op
// is wall time per lookup over all goroutines, so the ratio of the two
// figures is the speed-up.
func BenchmarkLookupTxParallel(b *testing.B) {
	for _, sz := range benchSizes {
		b.Run(sz.name, func(b *testing.B) {
			bc := getBenchCache(b, sz)
			var seed atomic.Uint64
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				order := scatter.New(int(seed.Add(1)-1), bc.n)
				for i := 0; pb.Next(); i++ {
					k := key(uint64(order.At(i)))
					if _, ok := bc.c.LookupTx(&k, 100, 2, 1<<62); !ok {
						b.Error("miss")
						return
					}
				}
			})
		})
	}
}

// BenchmarkObserveRxParallel is BenchmarkLookupTxParallel for ObserveRx.
func BenchmarkObserveRxParallel(b *testing.B) {
	for _, sz := range benchSizes {
		b.Run(sz.name, func(b *testing.B) {
			bc := getBenchCache(b, sz)
			var seed atomic.Uint64
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				order := scatter.New(int(seed.Add(1)-1), bc.n)
				for i := 0; pb.Next(); i++ {
					k := key(uint64(order.At(i)))
					if bc.c.ObserveRx(&k, mapA, 100, 2) != RxTrusted {
						b.Error("not trusted")
						return
					}
				}
			})
		})
	}
}

// BenchmarkLookupTxBatchParallel is BenchmarkLookupTxParallel through one
// Batch per goroutine (64 keys per batch); ns/op is per key.
func BenchmarkLookupTxBatchParallel(b *testing.B) {
	benchmarkBatchParallel(b, func(bt *Batch, j int) bool {
		_, ok := bt.LookupTx(j, 100, 2, 1<<62)
		return ok
	})
}

// BenchmarkObserveRxBatchParallel is BenchmarkObserveRxParallel through one
// Batch per goroutine.
func BenchmarkObserveRxBatchParallel(b *testing.B) {
	benchmarkBatchParallel(b, func(bt *Batch, j int) bool { return bt.ObserveRx(j, mapA, 100, 2) == RxTrusted })
}

func benchmarkBatchParallel(b *testing.B, act func(bt *Batch, slot int) bool) {
	for _, sz := range benchSizes {
		b.Run(sz.name, func(b *testing.B) {
			bc := getBenchCache(b, sz)
			var seed atomic.Uint64
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				bt := bc.c.NewBatch()
				defer bt.Reset()
				order := scatter.New(int(seed.Add(1)-1), bc.n)
				i := 0
				for more := true; more; {
					bt.Reset()
					for bt.Len() < MaxBatch {
						if more = pb.Next(); !more {
							break
						}
						k := key(uint64(order.At(i)))
						i++
						bt.Add(&k)
					}
					bt.Lookup()
					for j := range bt.Len() {
						if !act(bt, j) {
							b.Error("miss")
							return
						}
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
	for _, sz := range bigBenchSizes {
		b.Run(sz.name, func(b *testing.B) {
			bc := getBenchCache(b, sz)
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
	bc := getBenchCache(b, bigBenchSizes[0])
	b.ReportAllocs()
	for b.Loop() {
		bc.c.Sweep(2, 1<<62, 1024) // inspects 1024 entries, removes none
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1024, "ns/entry")
}
