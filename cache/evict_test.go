package cache

import (
	"encoding/binary"
	"net/netip"
	"testing"
)

// In a full shard, new pending entries evict pending ones, oldest first,
// and never a trusted one while a pending entry exists.
func TestEvictPendingFirst(t *testing.T) {
	c := newTest(t, Config{Capacity: 8, Shards: 1, QueueBytes: 1 << 14})
	// 4 trusted (keys 0..3), 4 pending (keys 4..7, created 4..7 s).
	for i := range 8 {
		k := key(uint64(i))
		if ins, err := c.InsertPending(&k, mapA, int64(i)*sec); !ins || err != nil {
			t.Fatalf("insert %d: %v %v", i, ins, err)
		}
		if i < 4 {
			c.Trust(&k, mapA, 0, int64(i)*sec, nil)
		} else {
			c.Enqueue(&k, make([]byte, 100))
		}
	}
	// Insert 20 more pending: each evicts the oldest pending entry.
	for i := 8; i < 28; i++ {
		k := key(uint64(i))
		if ins, err := c.InsertPending(&k, mapA, int64(i)*sec); !ins || err != nil {
			t.Fatalf("insert %d: %v %v", i, ins, err)
		}
		for j := range i + 1 {
			_, ok := c.Get(ptr(key(uint64(j))))
			want := j < 4 || j > i-4
			if ok != want {
				t.Fatalf("after inserting %d: key %d present=%v, want %v", i, j, ok, want)
			}
		}
		if err := c.check(); err != nil {
			t.Fatal(err)
		}
	}
	st := c.Stats()
	if st.Evictions[EvictPendingFull] != 20 || st.Evictions[EvictTrustedFull] != 0 ||
		st.Trusted != 4 || st.Pending != 4 || st.QueueDroppedPackets != 4 || st.QueuedPackets != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// In a full shard of trusted entries, the victim is the one with the oldest
// LastRx among the 8 entries under the CLOCK hand.
func TestEvictTrustedOldestRx(t *testing.T) {
	c := newTest(t, Config{Capacity: 32, Shards: 1, QueueBytes: 1 << 14})
	// lastRx by slot position (entries fill slots in insertion order).
	rx := []int64{50, 20, 70, 10, 90, 30, 60, 80, // first sample: min at slot 3
		15, 5, 25, 35, 45, 55, 65, 75, // second: slot 9
		1, 2, 3, 4, 5, 6, 7, 0, // third: slot 23
		9, 9, 9, 9, 9, 9, 9, 8} // fourth: slot 31
	for i := range 32 {
		k := key(uint64(i))
		c.InsertPending(&k, mapA, 0)
		c.Trust(&k, mapA, 0, rx[i]*sec, nil)
	}
	for n, victim := range []int{3, 9, 23, 31} {
		k := key(uint64(100 + n))
		if ins, _ := c.InsertPending(&k, mapA, 0); !ins {
			t.Fatal("insert failed")
		}
		// Trust the newcomer at once so the next insert must evict a trusted entry again.
		c.Trust(&k, mapA, 0, 1000*sec, nil)
		if _, ok := c.Get(ptr(key(uint64(victim)))); ok {
			t.Fatalf("eviction %d: key %d (lastRx %d) still present", n, victim, rx[victim])
		}
		if st := c.Stats(); st.Evictions[EvictTrustedFull] != uint64(n+1) || st.Entries != 32 {
			t.Fatalf("eviction %d: stats %+v", n, st)
		}
	}
	// The newest entries (lastRx 1000 s) are never chosen while older ones are sampled.
	for n := range 4 {
		if _, ok := c.Get(ptr(key(uint64(100 + n)))); !ok {
			t.Fatalf("newcomer %d evicted", n)
		}
	}
	if err := c.check(); err != nil {
		t.Fatal(err)
	}
}

// A flood of new destinations fills the cache with pending entries; the
// trusted population survives (reliability.md D2/B12).
func TestFloodKeepsTrusted(t *testing.T) {
	c := newTest(t, Config{Capacity: 1 << 14, QueueBytes: 1 << 16})
	const nTrusted = 1 << 12
	for i := range nTrusted {
		k := key(uint64(i))
		c.InsertPending(&k, mapA, 0)
		c.Trust(&k, mapA, 0, sec, nil)
	}
	for i := range 200_000 {
		k := key(uint64(1<<32 + i))
		if _, err := c.InsertPending(&k, mapB, 2*sec+int64(i)); err != nil {
			t.Fatal(err)
		}
	}
	st := c.Stats()
	if st.Trusted != nTrusted || st.Evictions[EvictTrustedFull] != 0 {
		t.Fatalf("trusted lost under flood: %+v", st)
	}
	if st.Entries < st.Capacity*9/10 || st.Evictions[EvictPendingFull] == 0 {
		t.Fatalf("cache not full / no churn: %+v", st)
	}
	if st.Entries+int(st.Evictions[EvictPendingFull]) != nTrusted+200_000 {
		t.Fatalf("entries %d + evictions %d != inserts", st.Entries, st.Evictions[EvictPendingFull])
	}
	if err := c.check(); err != nil {
		t.Fatal(err)
	}
}

// FuzzOps runs random operation sequences against a reference model and
// checks results and structural invariants after every step.
func FuzzOps(f *testing.F) {
	f.Add([]byte{0, 1, 0, 2, 1, 1, 3, 1, 4, 2})
	f.Add([]byte{0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0, 7, 0, 8, 0, 9, 5, 1, 5, 2})
	f.Add([]byte{0, 1, 2, 1, 2, 1, 2, 1, 3, 1, 0, 1, 2, 1, 5, 1, 6, 0, 7, 0})
	f.Fuzz(func(t *testing.T, ops []byte) {
		fuzzOps(t, ops)
	})
}

type modelPeer struct {
	state   State
	mapping netip.AddrPort
	queue   [][]byte
	qbytes  int
}

func fuzzOps(t *testing.T, ops []byte) {
	const keys = 24
	c := newTest(t, Config{Capacity: 16, Shards: 2, QueueBytes: 40 * chunkSize, PeerQueueBytes: 600})
	b := c.NewBatch()
	model := map[int]*modelPeer{}
	// wantRx is what ObserveRx from mapA must return for model peer m.
	wantRx := func(m *modelPeer) RxResult {
		switch {
		case m == nil:
			return RxUnknown
		case m.state == Pending:
			return RxPending
		case m.mapping != mapA:
			return RxMappingChanged
		case len(m.queue) > 0:
			return RxTrustedQueued
		}
		return RxTrusted
	}
	now := int64(0)
	for len(ops) >= 2 {
		op, arg := ops[0]%10, int(ops[1])
		ops = ops[2:]
		now += sec
		ki := arg % keys
		k := key(uint64(ki))
		m := model[ki]
		switch op {
		case 0: // insert
			ins, err := c.InsertPending(&k, mapA, now)
			if err != nil || ins != (m == nil) {
				t.Fatalf("insert %d: %v %v (model has %v)", ki, ins, err, m != nil)
			}
			if ins {
				model[ki] = &modelPeer{state: Pending, mapping: mapA}
			}
		case 1: // enqueue
			n := 1 + arg*5%300
			pkt := make([]byte, n)
			var stamp [8]byte
			binary.BigEndian.PutUint64(stamp[:], uint64(now))
			copy(pkt, stamp[:])
			err := c.Enqueue(&k, pkt)
			switch {
			case m == nil:
				if err != ErrNotFound {
					t.Fatalf("enqueue unknown: %v", err)
				}
			case err == nil:
				m.queue = append(m.queue, pkt)
				m.qbytes += n
			case err == ErrPeerQueueFull:
				if m.qbytes+n <= 600 {
					t.Fatalf("peer queue full at %d+%d", m.qbytes, n)
				}
			case err != ErrQueueLimit:
				t.Fatalf("enqueue: %v", err)
			}
		case 2: // trust
			mp := mapA
			if arg&1 != 0 {
				mp = mapB
			}
			var got [][]byte
			ok := c.Trust(&k, mp, 10, now, func(p []byte) { got = append(got, append([]byte(nil), p...)) })
			if ok != (m != nil) {
				t.Fatalf("trust %d = %v", ki, ok)
			}
			if m != nil {
				if len(got) != len(m.queue) {
					t.Fatalf("released %d, want %d", len(got), len(m.queue))
				}
				for i := range got {
					if string(got[i]) != string(m.queue[i]) {
						t.Fatalf("released packet %d differs", i)
					}
				}
				m.state, m.mapping, m.queue, m.qbytes = Trusted, mp, nil, 0
			}
		case 3: // delete
			n, ok := c.Delete(&k)
			if ok != (m != nil) || (m != nil && n != len(m.queue)) {
				t.Fatalf("delete %d = %d %v", ki, n, ok)
			}
			delete(model, ki)
		case 4: // observe
			if got, want := c.ObserveRx(&k, mapA, 10, now), wantRx(m); got != want {
				t.Fatalf("observe %d = %v, want %v", ki, got, want)
			}
		case 5: // lookup
			_, ok := c.LookupTx(&k, 10, now, 1000*sec)
			if ok != (m != nil && m.state == Trusted) {
				t.Fatalf("lookup %d = %v", ki, ok)
			}
		case 6: // sweep everything idle > 3 s
			c.Sweep(now, 3*sec, 1+arg%20)
		case 7: // bubble
			if _, ok := c.RecordBubble(&k, now); ok != (m != nil) {
				t.Fatalf("bubble %d = %v", ki, ok)
			}
		case 8: // scan
			buf := make([]Peer, 1+arg%5)
			for _, p := range buf[:c.ScanPending(buf)] {
				if p.State != Pending {
					t.Fatalf("scanned %v", p.State)
				}
			}
		case 9: // a batch: this key, the next one, this key again
			k2i := (ki + 1) % keys
			k2 := key(uint64(k2i))
			b.Reset()
			b.Add(&k)
			b.Add(&k2)
			b.Add(&k)
			b.Lookup()
			if got, want := b.ObserveRx(0, mapA, 10, now), wantRx(m); got != want {
				t.Fatalf("batch observe %d = %v, want %v", ki, got, want)
			}
			m2 := model[k2i]
			if _, ok := b.LookupTx(1, 10, now, 1000*sec); ok != (m2 != nil && m2.state == Trusted) {
				t.Fatalf("batch lookup %d = %v", k2i, ok)
			}
			if b.Known(2) != (m != nil) {
				t.Fatalf("batch known %d = %v", ki, m != nil)
			}
			b.Flush()
		}
		// Evictions and sweeps remove entries behind the model's back: sync.
		for mk, mp := range model {
			kk := key(uint64(mk))
			p, ok := c.Get(&kk)
			if !ok {
				delete(model, mk)
				continue
			}
			if p.State != mp.state || p.QueuedPackets != len(mp.queue) || p.QueuedBytes != mp.qbytes || p.Mapping != mp.mapping {
				t.Fatalf("key %d: cache %+v, model %+v", mk, p, *mp)
			}
		}
		st := c.Stats()
		if st.Entries != len(model) || st.Entries > 16 {
			t.Fatalf("entries %d, model %d", st.Entries, len(model))
		}
		if err := c.check(); err != nil {
			t.Fatal(err)
		}
	}
}

// A deterministic long run of the fuzz body, so CI covers many sequences.
func TestOpsSequences(t *testing.T) {
	seed := uint64(0x9e3779b97f4a7c15)
	for range 200 {
		ops := make([]byte, 400)
		for i := range ops {
			seed ^= seed << 13
			seed ^= seed >> 7
			seed ^= seed << 17
			ops[i] = byte(seed)
		}
		fuzzOps(t, ops)
	}
}
