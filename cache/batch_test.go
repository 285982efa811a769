package cache

import (
	"net/netip"
	"testing"
)

// batchCase sets up one peer (key(i)) in a particular state.
type batchCase struct {
	name  string
	setup func(c *Cache, k *[16]byte)
	from  netip.AddrPort
}

var batchCases = []batchCase{
	{"unknown", func(*Cache, *[16]byte) {}, mapA},
	{"pending", func(c *Cache, k *[16]byte) { c.InsertPending(k, mapA, 0) }, mapA},
	{"trusted", trusted, mapA},
	{"trusted other mapping", trusted, mapB},
	{"trusted with queue", func(c *Cache, k *[16]byte) {
		trusted(c, k)
		if err := c.Enqueue(k, make([]byte, 60)); err != nil {
			panic(err)
		}
	}, mapA},
	{"trusted stale", func(c *Cache, k *[16]byte) {
		c.InsertPending(k, mapA, 0)
		c.Trust(k, mapA, 0, -100*sec, nil)
	}, mapA},
}

// The batch gives the same results and leaves the same state as the
// per-packet methods, case by case (and all cases in one batch).
func TestBatchMatchesSingleCalls(t *testing.T) {
	const now, validFor = 10 * sec, 30 * sec
	single := newTest(t, Config{Capacity: 64, QueueBytes: 4096})
	batched := newTest(t, Config{Capacity: 64, QueueBytes: 4096})
	for i, bc := range batchCases {
		k := key(uint64(i))
		bc.setup(single, &k)
		bc.setup(batched, &k)
	}
	b := batched.NewBatch()
	// Each peer twice, interleaved: duplicates share their counters.
	for range 2 {
		for i := range batchCases {
			k := key(uint64(i))
			b.Add(&k)
		}
	}
	b.Lookup()
	for slot := range b.Len() {
		i := slot % len(batchCases)
		bc := batchCases[i]
		k := key(uint64(i))
		wantRx := single.ObserveRx(&k, bc.from, 100+slot, now)
		if got := b.ObserveRx(slot, bc.from, 100+slot, now); got != wantRx {
			t.Errorf("%s: batch ObserveRx %v, single %v", bc.name, got, wantRx)
		}
		wantM, wantOK := single.LookupTx(&k, 200+slot, now, validFor)
		if m, ok := b.LookupTx(slot, 200+slot, now, validFor); m != wantM || ok != wantOK {
			t.Errorf("%s: batch LookupTx %v %v, single %v %v", bc.name, m, ok, wantM, wantOK)
		}
		_, wantKnown := single.Get(&k)
		if got := b.Known(slot); got != wantKnown {
			t.Errorf("%s: batch Known %v, Get %v", bc.name, got, wantKnown)
		}
	}
	// Before Flush the counters have not moved (Trust counted one packet);
	// after it they match.
	if p, ok := batched.Get(ptr(key(2))); !ok || p.RxPackets != 1 {
		t.Fatalf("counters published before Flush: %+v", p)
	}
	b.Flush()
	for i, bc := range batchCases {
		k := key(uint64(i))
		want, wok := single.Get(&k)
		got, gok := batched.Get(&k)
		if wok != gok || want != got {
			t.Errorf("%s: after the batch %+v, after single calls %+v", bc.name, got, want)
		}
	}
	if err := batched.check(); err != nil {
		t.Fatal(err)
	}
}

// Counters of a peer that appears many times in a batch are added once,
// exactly; Flush twice adds nothing more; Reset flushes.
func TestBatchMergesCounters(t *testing.T) {
	c := newTest(t, Config{Capacity: 64, QueueBytes: 4096})
	ka, kb, ku := key(1), key(2), key(3)
	trusted(c, &ka) // 1 packet of 50 bytes
	trusted(c, &kb)
	b := c.NewBatch()
	var wantA, wantB uint64
	for i := range MaxBatch {
		switch {
		case i%3 == 0:
			b.Add(&kb)
		case i%7 == 0:
			b.Add(&ku)
		default:
			b.Add(&ka)
		}
	}
	if b.Add(&ka) != -1 {
		t.Fatal("a full batch took another key")
	}
	b.Lookup()
	for i := range b.Len() {
		switch r := b.ObserveRx(i, mapA, i, 2*sec); {
		case i%3 == 0:
			wantB += uint64(i)
			if r != RxTrusted {
				t.Fatalf("slot %d: %v", i, r)
			}
		case i%7 == 0:
			if r != RxUnknown {
				t.Fatalf("slot %d: %v", i, r)
			}
		default:
			wantA += uint64(i)
			if r != RxTrusted {
				t.Fatalf("slot %d: %v", i, r)
			}
		}
	}
	b.Flush()
	b.Flush()
	pa, pb := mustGet(t, c, ka), mustGet(t, c, kb)
	nb := uint64((MaxBatch + 2) / 3)
	na := uint64(MaxBatch) - nb - 6 // slots 7, 14, 28, 35, 49, 56
	if pa.RxPackets != 1+na || pa.RxBytes != 50+wantA || pb.RxPackets != 1+nb || pb.RxBytes != 50+wantB {
		t.Fatalf("a: %d packets %d bytes (want %d, %d); b: %d packets %d bytes (want %d, %d)",
			pa.RxPackets, pa.RxBytes, 1+na, 50+wantA, pb.RxPackets, pb.RxBytes, 1+nb, 50+wantB)
	}
	if pa.LastRx != 2*sec || pb.LastRx != 2*sec {
		t.Fatalf("LastRx %d %d", pa.LastRx, pb.LastRx)
	}
	// Reset publishes what is pending.
	b.Reset()
	b.Add(&ka)
	b.Lookup()
	b.LookupTx(0, 77, 3*sec, 30*sec)
	b.Reset()
	if p := mustGet(t, c, ka); p.TxPackets != 1 || p.TxBytes != 77 || p.LastTx != 3*sec {
		t.Fatalf("after Reset: %+v", p)
	}
}

// A slot reflects the cache when Lookup ran; each action checks that the
// entry still holds the same peer and otherwise looks the key up again.
func TestBatchSlotChangedAfterLookup(t *testing.T) {
	t.Run("deleted, entry reused", func(t *testing.T) {
		c := newTest(t, Config{Capacity: 1, QueueBytes: 4096})
		ka, kb := key(1), key(2)
		trusted(c, &ka)
		b := c.NewBatch()
		b.Add(&ka)
		b.Lookup()
		c.Delete(&ka)
		trusted(c, &kb) // the only entry now holds kb
		if r := b.ObserveRx(0, mapA, 10, 2*sec); r != RxUnknown {
			t.Fatalf("ObserveRx of the deleted peer: %v", r)
		}
		if _, ok := b.LookupTx(0, 10, 2*sec, 30*sec); ok {
			t.Fatal("LookupTx of the deleted peer succeeded")
		}
		if b.Known(0) {
			t.Fatal("deleted peer known")
		}
		b.Flush()
		if p := mustGet(t, c, kb); p.RxPackets != 1 || p.TxPackets != 0 {
			t.Fatalf("new occupant's counters moved: %+v", p)
		}
	})
	t.Run("trusted after lookup", func(t *testing.T) {
		c := newTest(t, Config{Capacity: 16, QueueBytes: 4096})
		k := key(1)
		c.InsertPending(&k, mapA, 0)
		b := c.NewBatch()
		b.Add(&k)
		b.Lookup()
		c.Trust(&k, mapA, -1, sec, nil)
		if r := b.ObserveRx(0, mapA, 10, 2*sec); r != RxTrusted {
			t.Fatalf("ObserveRx: %v, want the current state", r)
		}
		b.Flush()
		if p := mustGet(t, c, k); p.RxPackets != 1 || p.RxBytes != 10 {
			t.Fatalf("counters %+v", p)
		}
	})
	t.Run("deleted and reinserted", func(t *testing.T) {
		c := newTest(t, Config{Capacity: 16, QueueBytes: 4096})
		k := key(1)
		trusted(c, &k)
		b := c.NewBatch()
		b.Add(&k)
		b.Lookup()
		c.Delete(&k)
		c.InsertPending(&k, mapA, 5*sec)
		if r := b.ObserveRx(0, mapA, 10, 6*sec); r != RxPending {
			t.Fatalf("ObserveRx: %v, want pending", r)
		}
		if !b.Known(0) {
			t.Fatal("reinserted peer unknown")
		}
	})
	t.Run("no Lookup", func(t *testing.T) {
		c := newTest(t, Config{Capacity: 16, QueueBytes: 4096})
		k := key(1)
		trusted(c, &k)
		b := c.NewBatch()
		b.Add(&k)
		if r := b.ObserveRx(0, mapA, 10, 2*sec); r != RxTrusted {
			t.Fatalf("ObserveRx without Lookup: %v", r)
		}
		if p := mustGet(t, c, k); p.RxPackets != 2 {
			t.Fatalf("a per-packet fallback counts at once: %+v", p)
		}
	})
}

func TestBatchFind(t *testing.T) {
	c := newTest(t, Config{Capacity: 16, QueueBytes: 4096})
	b := c.NewBatch()
	ka, kb := key(1), key(2)
	for _, k := range []*[16]byte{&ka, &kb, &ka} {
		b.Add(k)
	}
	for _, tt := range []struct {
		k          *[16]byte
		from, want int
	}{{&ka, 0, 0}, {&ka, 1, 2}, {&ka, 3, -1}, {&kb, 0, 1}, {&kb, 2, -1}, {ptr(key(3)), 0, -1}, {&ka, -5, 0}} {
		if got := b.Find(tt.k, tt.from); got != tt.want {
			t.Errorf("Find(%v, %d) = %d, want %d", netip.AddrFrom16(*tt.k), tt.from, got, tt.want)
		}
	}
}
