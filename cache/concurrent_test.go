package cache

import (
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
)

// Fast-path workers (ObserveRx, LookupTx, Get, Batch) run while the slow path
// inserts, queues, trusts, bubbles, deletes, sweeps and scans, and relayctl
// ranges and reads stats. Run with -race. Afterwards the structure must be
// consistent and every counter increment accounted for.
func TestConcurrentUse(t *testing.T) {
	const (
		keys    = 4096
		workers = 4
	)
	iters := 200_000
	if raceEnabled || testing.Short() {
		iters = 20_000
	}
	c := newTest(t, Config{Capacity: 2048, Shards: 16, QueueBytes: 64 << 10})
	var clock atomic.Int64
	var stop atomic.Bool
	var rxOK, txOK atomic.Uint64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b := c.NewBatch()
			defer b.Reset()
			x := uint64(w + 1)
			for i := 0; !stop.Load() || i < 1000; i++ {
				x ^= x << 13
				x ^= x >> 7
				x ^= x << 17
				k := key(x % keys)
				now := clock.Load()
				switch x >> 60 & 3 {
				case 0, 1:
					if c.ObserveRx(&k, mapA, 100, now) == RxTrusted {
						rxOK.Add(1)
					}
				case 2:
					if m, ok := c.LookupTx(&k, 100, now, 1<<62); ok {
						if m != mapA && m != mapB {
							t.Errorf("mapping %v", m)
						}
						txOK.Add(1)
					}
				case 3:
					if x&1 == 0 {
						if p, ok := c.Get(&k); ok && p.Addr != netip.AddrFrom16(k) {
							t.Errorf("Get returned %v for %v", p.Addr, netip.AddrFrom16(k))
						}
						break
					}
					// A small batch: this key, two neighbours, this key again.
					b.Reset()
					k2, k3 := key((x+1)%keys), key((x+2)%keys)
					for _, bk := range []*[16]byte{&k, &k2, &k3, &k} {
						b.Add(bk)
					}
					b.Lookup()
					for i := range b.Len() {
						if i%2 == 0 {
							if b.ObserveRx(i, mapA, 100, now) == RxTrusted {
								rxOK.Add(1)
							}
						} else if m, ok := b.LookupTx(i, 100, now, 1<<62); ok {
							if m != mapA && m != mapB {
								t.Errorf("batch mapping %v", m)
							}
							txOK.Add(1)
						}
						b.Known(i)
					}
					b.Flush()
				}
			}
		}()
	}
	// relayctl
	wg.Add(1)
	go func() {
		defer wg.Done()
		for !stop.Load() {
			n := 0
			c.Range(func(p *Peer) bool { n++; return true })
			if st := c.Stats(); st.Entries > st.Capacity || n > st.Capacity {
				t.Errorf("entries %d range %d capacity %d", st.Entries, n, st.Capacity)
			}
		}
	}()
	// slow path
	var released atomic.Uint64
	x := uint64(0xdeadbeef)
	scan := make([]Peer, 16)
	for i := range iters {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		k := key(x % keys)
		now := clock.Add(1000)
		switch x >> 59 & 15 {
		case 0, 1, 2, 3:
			c.InsertPending(&k, mapA, now)
		case 4, 5:
			c.Enqueue(&k, make([]byte, 1+x%1280))
		case 6, 7, 8:
			mp := mapA
			if x&1 == 0 {
				mp = mapB
			}
			c.Trust(&k, mp, 0, now, func([]byte) { released.Add(1) })
		case 9:
			c.RecordBubble(&k, now)
		case 10:
			c.Delete(&k)
		case 11:
			c.Sweep(now, 500_000, 64)
		case 12:
			for _, p := range scan[:c.ScanPending(scan)] {
				if p.State != Pending {
					t.Errorf("ScanPending returned %v", p.State)
				}
			}
		default:
			c.Trust(&k, mapA, 0, now, nil)
		}
		_ = i
	}
	stop.Store(true)
	wg.Wait()
	if err := c.check(); err != nil {
		t.Fatal(err)
	}
	var rx, tx uint64
	c.Range(func(p *Peer) bool { rx += p.RxPackets; tx += p.TxPackets; return true })
	st := c.Stats()
	t.Logf("stats %+v; fast-path rx ok %d tx ok %d, released %d", st, rxOK.Load(), txOK.Load(), released.Load())
	if rxOK.Load() == 0 || txOK.Load() == 0 || released.Load() == 0 {
		t.Fatal("workload did not exercise the fast path or the queue")
	}
	if rx > rxOK.Load()+uint64(iters) || tx > txOK.Load() {
		t.Fatalf("counters of live entries (rx %d tx %d) exceed successful calls", rx, tx)
	}
}
