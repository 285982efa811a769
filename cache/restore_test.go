package cache

import (
	"errors"
	"net/netip"
	"testing"
)

func TestRestore(t *testing.T) {
	const validFor = 30 * sec
	c := newTest(t, Config{Capacity: 64})
	now := 100 * sec
	fresh, stale, old := key(1), key(2), key(3)

	if ok, err := c.Restore(&fresh, mapA, now-5*sec, now); !ok || err != nil {
		t.Fatalf("Restore(fresh) = %v, %v", ok, err)
	}
	if ok, err := c.Restore(&stale, mapB, now-40*sec, now); !ok || err != nil {
		t.Fatalf("Restore(stale) = %v, %v", ok, err)
	}
	// A last receive before the process started is a negative cache time.
	if ok, err := c.Restore(&old, mapA, -200*sec, now); !ok || err != nil {
		t.Fatalf("Restore(old) = %v, %v", ok, err)
	}
	if st := c.Stats(); st.Trusted != 3 || st.Pending != 0 {
		t.Fatalf("stats after restore: %+v", st)
	}
	p := mustGet(t, c, fresh)
	if p.State != Trusted || p.Mapping != mapA || p.LastRx != now-5*sec || p.Created != now || p.RxPackets != 0 {
		t.Fatalf("restored entry: %+v", p)
	}

	// A fresh peer is used for encapsulation at once; a stale one is not
	// (the relay re-verifies it) until its client speaks from its mapping.
	if m, ok := c.LookupTx(&fresh, 100, now, validFor); !ok || m != mapA {
		t.Fatalf("LookupTx(fresh) = %v, %v", m, ok)
	}
	if _, ok := c.LookupTx(&stale, 100, now, validFor); ok {
		t.Fatal("LookupTx(stale) succeeded: a stale restored peer must be re-verified")
	}
	if r := c.ObserveRx(&stale, mapA, 100, now); r != RxMappingChanged {
		t.Fatalf("ObserveRx(stale, other mapping) = %v", r)
	}
	if r := c.ObserveRx(&stale, mapB, 100, now); r != RxTrusted {
		t.Fatalf("ObserveRx(stale, its mapping) = %v", r)
	}
	if _, ok := c.LookupTx(&stale, 100, now, validFor); !ok {
		t.Fatal("LookupTx(stale) after a packet from its mapping failed")
	}

	// An existing entry is left as it is.
	if ok, err := c.Restore(&fresh, mapB, now, now); ok || err != nil {
		t.Fatalf("Restore over an existing entry = %v, %v", ok, err)
	}
	if p := mustGet(t, c, fresh); p.Mapping != mapA {
		t.Fatalf("existing entry changed by Restore: %+v", p)
	}

	// The idle sweep treats restored entries like any other.
	if n := c.Sweep(now, 120*sec, 1<<20); n != 1 {
		t.Fatalf("Sweep removed %d entries, want the one idle for 300 s", n)
	}
	if _, ok := c.Get(&old); ok {
		t.Fatal("the old restored entry survived the sweep")
	}
}

func TestRestoreZeroTimeIsNotNever(t *testing.T) {
	c := newTest(t, Config{Capacity: 16})
	k := key(7)
	if _, err := c.Restore(&k, mapA, 0, 0); err != nil {
		t.Fatal(err)
	}
	if p := mustGet(t, c, k); p.LastRx == 0 {
		t.Fatal("LastRx 0 would read as \"never received\"")
	}
}

func TestRestoreNeverEvicts(t *testing.T) {
	c := newTest(t, Config{Capacity: 4, Shards: 1})
	for i := range 4 {
		k := key(uint64(i))
		if ok, err := c.Restore(&k, mapA, 1, 1); !ok || err != nil {
			t.Fatalf("Restore %d = %v, %v", i, ok, err)
		}
	}
	k := key(99)
	if ok, err := c.Restore(&k, mapA, 1, 1); ok || !errors.Is(err, ErrFull) {
		t.Fatalf("Restore into a full shard = %v, %v; want ErrFull", ok, err)
	}
	st := c.Stats()
	if st.Trusted != 4 || st.Evictions != [NumEvictReasons]uint64{} {
		t.Fatalf("stats after a refused restore: %+v", st)
	}
}

func TestRestoreBadMapping(t *testing.T) {
	c := newTest(t, Config{Capacity: 16})
	k := key(1)
	if _, err := c.Restore(&k, netip.MustParseAddrPort("[2001:db8::1]:5"), 1, 1); !errors.Is(err, ErrBadMapping) {
		t.Fatalf("Restore with an IPv6 mapping: %v", err)
	}
}
