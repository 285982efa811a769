package cache

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestOneEntryPerShard: a shard of one entry still has an empty index slot,
// so a lookup of an absent key terminates. With perShard = 1 the index had
// exactly one slot (nextPow2(1 + 1/2) = 1); once that entry existed, every
// miss probed the full index forever.
func TestOneEntryPerShard(t *testing.T) {
	for _, cfg := range []Config{{Capacity: 1}, {Capacity: 16, Shards: 16}, {Capacity: 2, Shards: 2}} {
		t.Run(fmt.Sprintf("capacity %d shards %d", cfg.Capacity, cfg.Shards), func(t *testing.T) {
			c := newTest(t, cfg)
			done := make(chan error, 1)
			go func() {
				for i := range uint64(64) {
					k := key(i)
					if _, err := c.InsertPending(&k, mapA, int64(i)); err != nil {
						done <- err
						return
					}
					if !c.Trust(&k, mapA, -1, int64(i), nil) {
						done <- fmt.Errorf("trust %d failed", i)
						return
					}
					miss := key(1000 + i)
					if r := c.ObserveRx(&miss, mapA, 1, int64(i)); r != RxUnknown {
						done <- fmt.Errorf("absent key: %v", r)
						return
					}
					if _, ok := c.LookupTx(&miss, 1, int64(i), sec); ok {
						done <- fmt.Errorf("absent key found")
						return
					}
				}
				done <- nil
			}()
			select {
			case err := <-done:
				if err != nil {
					t.Fatal(err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("lookup of an absent key did not return (index without an empty slot)")
			}
			last := key(63)
			if p, ok := c.Get(&last); !ok || p.State != Trusted {
				t.Fatalf("last peer inserted: %+v, %v", p, ok)
			}
			if st := c.Stats(); st.Entries > st.Capacity || st.Trusted != st.Entries || st.Evictions[EvictTrustedFull] == 0 {
				t.Fatalf("stats %+v, want a full cache of trusted entries that evicted some", st)
			}
		})
	}
}

// TestConcurrentQueueAccounting: several goroutines queue, trust (with and
// without a release callback), delete and evict overlapping peers at once.
// Every queued packet leaves exactly once, through a release callback or as
// a counted drop, and once every entry is gone the arena is empty again.
// Run with -race.
func TestConcurrentQueueAccounting(t *testing.T) {
	const (
		keys       = 64
		goroutines = 4
	)
	iters := 20_000
	if raceEnabled || testing.Short() {
		iters = 4_000
	}
	c := newTest(t, Config{Capacity: 32, Shards: 2, QueueBytes: 16 << 10, PeerQueueBytes: 600})
	var enqueued, released atomic.Uint64
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			x := uint64(g)*0x9e3779b97f4a7c15 + 1
			pkt := make([]byte, 1280)
			for range iters {
				x ^= x << 13
				x ^= x >> 7
				x ^= x << 17
				k := key(x % keys)
				// One time for all: check wants each pending list in
				// creation order, which concurrent inserts with distinct
				// times would not guarantee.
				const now = 0
				switch x >> 60 & 7 {
				case 0, 1:
					c.InsertPending(&k, mapA, now)
				case 2, 3, 4:
					n := 2 + int(x>>8%300)
					pkt[0], pkt[n-1] = byte(n), byte(n>>8)
					if c.Enqueue(&k, pkt[:n]) == nil {
						enqueued.Add(1)
					}
				case 5:
					c.Trust(&k, mapB, -1, now, func(p []byte) {
						if len(p) < 1 || p[0] != byte(len(p)) || p[len(p)-1] != byte(len(p)>>8) {
							t.Errorf("released a corrupted packet of %d bytes", len(p))
						}
						released.Add(1)
					})
				case 6:
					c.Trust(&k, mapA, -1, now, nil)
				default:
					c.Delete(&k)
				}
			}
		}()
	}
	wg.Wait()
	if err := c.check(); err != nil {
		t.Fatal(err)
	}
	for i := range uint64(keys) {
		k := key(i)
		c.Delete(&k)
	}
	st := c.Stats()
	if st.Entries != 0 || st.QueuedPackets != 0 || st.QueuedBytes != 0 || st.QueueStorageBytes != 0 {
		t.Fatalf("after deleting everything: %+v", st)
	}
	if enqueued.Load() == 0 || released.Load() == 0 || st.QueueDroppedPackets == 0 {
		t.Fatalf("workload too weak: enqueued %d released %d dropped %d", enqueued.Load(), released.Load(), st.QueueDroppedPackets)
	}
	if got := released.Load() + st.QueueDroppedPackets; got != enqueued.Load() {
		t.Fatalf("enqueued %d packets, released %d + dropped %d = %d", enqueued.Load(), released.Load(), st.QueueDroppedPackets, got)
	}
}
