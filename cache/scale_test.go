package cache

import (
	"runtime"
	"testing"
)

const maxBytesPerEntry = 128

// newMeasured builds a cache and returns the bytes New allocated per entry,
// queue arena excluded (it is one 128-byte chunk here): what it took from
// the Go heap plus the length of its own mapping (entries and index).
func newMeasured(t *testing.T, capacity int) (*Cache, float64) {
	t.Helper()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	c := newTest(t, Config{Capacity: capacity, QueueBytes: chunkSize})
	runtime.ReadMemStats(&after)
	arena := float64(chunkSize + 4 + 2) // data, next, plen of one chunk
	heap := float64(after.TotalAlloc - before.TotalAlloc)
	mapped := 0.0
	if m := c.Memory(); m.Mapped {
		mapped = float64(m.Bytes)
	}
	per := (heap + mapped - arena) / float64(c.Capacity())
	t.Logf("memory: %+v, %.0f heap bytes", c.Memory(), heap)
	return c, per
}

func TestMemoryPerEntry(t *testing.T) {
	c, per := newMeasured(t, DefaultCapacity)
	t.Logf("capacity %d (%d shards): %.1f bytes per entry", c.Capacity(), len(c.shards), per)
	if per > maxBytesPerEntry {
		t.Fatalf("%.1f bytes per entry, budget %d", per, maxBytesPerEntry)
	}
	if per < 112 {
		t.Fatalf("%.1f bytes per entry is below the entry size: measurement broken", per)
	}
	runtime.KeepAlive(c)
}

// TestTenMillion allocates a 10,000,000-entry cache, checks its memory, and
// fills it (under -race only a spread sample, as the race detector's shadow
// memory and slowdown make a full fill impractical in CI).
func TestTenMillion(t *testing.T) {
	const capacity = 10_000_000
	c, per := newMeasured(t, capacity)
	t.Logf("capacity %d (%d shards of %d): %.1f bytes per entry, %.2f GB", c.Capacity(), len(c.shards), c.perShard,
		per, per*float64(c.Capacity())/1e9)
	if c.Capacity() < capacity || c.Capacity() > capacity+len(c.shards) {
		t.Fatalf("capacity %d", c.Capacity())
	}
	if per > maxBytesPerEntry {
		t.Fatalf("%.1f bytes per entry, budget %d", per, maxBytesPerEntry)
	}
	fill, step := capacity, 1
	if raceEnabled {
		fill, step = 200_000, 50
	}
	for i := 0; i < fill*step; i += step {
		k := key(uint64(i))
		if ins, err := c.InsertPending(&k, mapA, 1); !ins || err != nil {
			t.Fatalf("insert %d: %v %v", i, ins, err)
		}
		if i%4 == 0 {
			c.Trust(&k, mapA, 0, 2, nil)
		}
	}
	st := c.Stats()
	// Shards fill unevenly, so a few entries may have been evicted near 100%.
	if st.Entries+int(st.Evictions[EvictPendingFull]) != fill || st.Entries < fill*99/100 {
		t.Fatalf("after %d inserts: %+v", fill, st)
	}
	if st.Evictions[EvictTrustedFull] != 0 {
		t.Fatalf("trusted evicted: %+v", st)
	}
	t.Logf("after %d inserts: %d entries (%d trusted), %d pending evicted", fill, st.Entries, st.Trusted, st.Evictions[EvictPendingFull])
	for i := 0; i < fill*step; i += step * 997 {
		k := key(uint64(i))
		if i%4 == 0 {
			if _, ok := c.LookupTx(&k, 100, 3, 10); !ok {
				t.Fatalf("trusted key %d not usable", i)
			}
		}
	}
	if err := c.check(); err != nil {
		t.Fatal(err)
	}
	runtime.KeepAlive(c)
}
