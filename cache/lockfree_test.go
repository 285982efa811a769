package cache

import (
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Lookups take no lock: while the slow path holds a shard's mutex (Trust,
// Enqueue, Sweep, Range...), ObserveRx, LookupTx and a Batch on that
// shard's peers still complete. With the former RWMutex they waited for the
// writer.
func TestLookupsDoNotWaitForWriters(t *testing.T) {
	c := newTest(t, Config{Capacity: 64, Shards: 1, QueueBytes: 4096})
	k := key(1)
	trusted(c, &k)
	s := &c.shards[0]
	s.mu.Lock()
	done := make(chan RxResult, 1)
	go func() {
		r := c.ObserveRx(&k, mapA, 10, 2*sec)
		if _, ok := c.LookupTx(&k, 10, 2*sec, 30*sec); !ok {
			r = RxUnknown
		}
		b := c.NewBatch()
		b.Add(&k)
		b.Lookup()
		if b.ObserveRx(0, mapA, 10, 2*sec) != RxTrusted {
			r = RxUnknown
		}
		done <- r
	}()
	select {
	case r := <-done:
		if r != RxTrusted {
			t.Fatalf("lookups under a held shard mutex: %v", r)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a lookup waited for the shard's writer")
	}
	s.mu.Unlock()
}

// While the slow path deletes and reinserts peers of a shard (every delete
// shifts the rest of a probe run back, every reinsert lands at a run's end,
// so peers keep moving), a lookup of a peer that is present from its start
// to its end never misses it: a miss that raced with a shift is retried
// (the index's seq). Run with -race as well.
func TestLookupsDuringShifts(t *testing.T) {
	// About half of the index in use: runs long enough for shifts.
	const keys = 1000
	c := newTest(t, Config{Capacity: 1024, Shards: 1, QueueBytes: 4096})
	var ver [keys]atomic.Uint32 // odd while key i is deleted or being reinserted
	for i := range keys {
		k := key(uint64(i))
		trusted(c, &k)
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	var misses, lookups atomic.Uint64
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b := c.NewBatch()
			x := uint64(w + 1)
			for n := 0; !stop.Load() || n < 1000; n++ {
				x ^= x << 13
				x ^= x >> 7
				x ^= x << 17
				i := x % keys
				v := ver[i].Load()
				if v&1 != 0 {
					continue
				}
				k := key(i)
				var found bool
				switch n % 3 {
				case 0:
					found = c.ObserveRx(&k, mapA, 1, 2*sec) == RxTrusted
				case 1:
					_, found = c.LookupTx(&k, 1, 2*sec, 1000*sec)
				default:
					b.Reset()
					b.Add(&k)
					b.Lookup()
					_, found = b.LookupTx(0, 1, 2*sec, 1000*sec)
				}
				if !found && ver[i].Load() == v {
					misses.Add(1)
				}
				lookups.Add(1)
			}
			b.Reset()
		}()
	}
	for i, end := 0, time.Now().Add(writerRun()); time.Now().Before(end); i++ {
		j := uint64(i*7919) % keys
		k := key(j)
		ver[j].Add(1)
		c.Delete(&k)
		trusted(c, &k)
		ver[j].Add(1)
	}
	stop.Store(true)
	wg.Wait()
	if m := misses.Load(); m != 0 {
		t.Fatalf("%d of %d lookups of present peers missed while the shard changed", m, lookups.Load())
	}
	t.Logf("%d lookups", lookups.Load())
	if err := c.check(); err != nil {
		t.Fatal(err)
	}
}

// A peer deleted and its entry reused for another peer between a lookup
// and its counter update: the update is dropped, never credited to the
// entry's new occupant.
func TestCountersNotCreditedToNewOccupant(t *testing.T) {
	c := newTest(t, Config{Capacity: 1, QueueBytes: 4096})
	k1, k2 := key(1), key(2)
	trusted(c, &k1)
	k0, k1w := keyWords(&k1)
	e, seq, _ := c.lookup(k0, k1w, c.hash(&k1))
	if e == nil {
		t.Fatal("lookup missed")
	}
	c.Delete(&k1)
	if ins, _ := c.InsertPending(&k2, mapB, 5*sec); !ins {
		t.Fatal("insert failed")
	}
	c.countRx(e, seq, 1, 100, 6*sec)
	c.countTx(e, seq, 1, 100, 6*sec)
	p := mustGet(t, c, k2)
	if p.RxPackets != 0 || p.TxPackets != 0 || p.LastRx != 0 || p.LastTx != 0 {
		t.Fatalf("new occupant got the old peer's update: %+v", p)
	}
}

// LastRx and LastTx move on the fast path only once the clock has moved a
// time step past them; the counters count every packet.
func TestTimeStep(t *testing.T) {
	const step = 10 * sec / 1000 // 10 ms
	c := newTest(t, Config{Capacity: 16, QueueBytes: 4096, TimeStep: step})
	k := key(1)
	trusted(c, &k) // LastRx = 1 s
	steps := []struct {
		now            int64
		wantRx, wantTx int64
	}{
		{sec + step - 1, sec, sec + step - 1}, // LastTx was 0
		{sec + step, sec + step, sec + step - 1},
		{sec + step + step/2, sec + step, sec + step - 1},
		{sec + 2*step, sec + 2*step, sec + 2*step},
		{sec, sec + 2*step, sec + 2*step}, // an older batch clock never moves them back
	}
	for i, st := range steps {
		if r := c.ObserveRx(&k, mapA, 10, st.now); r != RxTrusted {
			t.Fatalf("step %d: %v", i, r)
		}
		if _, ok := c.LookupTx(&k, 20, st.now, 1000*sec); !ok {
			t.Fatalf("step %d: not usable", i)
		}
		p := mustGet(t, c, k)
		if p.LastRx != st.wantRx || p.LastTx != st.wantTx || p.RxPackets != uint64(i+2) || p.TxPackets != uint64(i+1) {
			t.Fatalf("step %d at %d: LastRx %d LastTx %d rx %d tx %d; want LastRx %d LastTx %d rx %d tx %d",
				i, st.now, p.LastRx, p.LastTx, p.RxPackets, p.TxPackets, st.wantRx, st.wantTx, i+2, i+1)
		}
	}
	if _, err := New(Config{TimeStep: -1}); err == nil {
		t.Fatal("negative time step accepted")
	}
}

// Sweep with a budget larger than a lock slice still removes every idle
// peer of a large shard, slice by slice, and resumes correctly.
func TestSweepSlices(t *testing.T) {
	c := newTest(t, Config{Capacity: 4000, Shards: 1, QueueBytes: 4096})
	for i := range 3000 {
		k := key(uint64(i))
		c.InsertPending(&k, mapA, 0)
		rx := int64(sec)
		if i%3 == 0 {
			rx = 100 * sec
		}
		c.Trust(&k, mapA, 0, rx, nil)
	}
	if n := c.Sweep(101*sec, 60*sec, 1000); n == 0 || n > 1000 {
		t.Fatalf("budget 1000 removed %d", n)
	}
	removed := 0
	for range 10 {
		removed += c.Sweep(101*sec, 60*sec, 1<<20)
	}
	if st := c.Stats(); st.Trusted != 1000 || st.Evictions[EvictIdle] != 2000 {
		t.Fatalf("after sweeping: %+v", st)
	}
	if err := c.check(); err != nil {
		t.Fatal(err)
	}
	_ = removed
	// Range sees every entry of the shard once across its slices.
	seen := map[netip.Addr]bool{}
	c.Range(func(p *Peer) bool {
		if seen[p.Addr] {
			t.Fatalf("Range returned %v twice", p.Addr)
		}
		seen[p.Addr] = true
		return true
	})
	if len(seen) != 1000 {
		t.Fatalf("Range saw %d of 1000", len(seen))
	}
}

// Entries change hands while full batches look them up: a writer deletes
// peers and inserts others, so the same entries hold one key, then none,
// then another. A batch hit must be the entry of its own key (the mapping
// carries the key's number) and a key never inserted must never hit,
// however Lookup found the entry.
func TestBatchHitsOnlyItsOwnKey(t *testing.T) {
	const keys = 600 // present at a time: about half; ids ≥ 2*keys are never inserted
	c := newTest(t, Config{Capacity: 1024, Shards: 1, QueueBytes: 4096})
	mappingOf := func(i uint64) netip.AddrPort {
		return netip.AddrPortFrom(mapA.Addr(), uint16(1000+i))
	}
	insert := func(i uint64) {
		k := key(i)
		m := mappingOf(i)
		if _, err := c.InsertPending(&k, m, 0); err != nil {
			panic(err)
		}
		c.Trust(&k, m, 50, sec, nil)
	}
	for i := range uint64(keys) {
		insert(i)
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	var wrong, hits atomic.Uint64
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b := c.NewBatch()
			x := uint64(w + 7)
			for n := 0; !stop.Load() || n < 200; n++ {
				b.Reset()
				var ids [MaxBatch]uint64
				for j := range MaxBatch {
					x ^= x << 13
					x ^= x >> 7
					x ^= x << 17
					ids[j] = x % (3 * keys)
					k := key(ids[j])
					b.Add(&k)
				}
				b.Lookup()
				for j, id := range ids {
					m, ok := b.LookupTx(j, 1, 2*sec, 1000*sec)
					if !ok {
						continue
					}
					hits.Add(1)
					if id >= 2*keys || m != mappingOf(id) {
						wrong.Add(1)
					}
				}
			}
			b.Reset()
		}()
	}
	for i, end := 0, time.Now().Add(writerRun()); time.Now().Before(end); i++ {
		// Key i leaves, key i+keys (mod 2*keys) takes an entry.
		out, in := uint64(i)%(2*keys), uint64(i+keys)%(2*keys)
		k := key(out)
		c.Delete(&k)
		insert(in)
	}
	stop.Store(true)
	wg.Wait()
	if wrong.Load() != 0 {
		t.Fatalf("%d of %d batch hits returned another key's entry", wrong.Load(), hits.Load())
	}
	if hits.Load() == 0 {
		t.Fatal("no batch hit at all: the test looked up nothing")
	}
	t.Logf("%d batch hits", hits.Load())
	if err := c.check(); err != nil {
		t.Fatal(err)
	}
}

// writerRun is how long the stress tests' writer keeps changing the cache
// under the lookups: shorter under the race detector and -short.
func writerRun() time.Duration {
	if raceEnabled || testing.Short() {
		return 100 * time.Millisecond
	}
	return 300 * time.Millisecond
}
