package cache

import "testing"

func TestFastPathZeroAlloc(t *testing.T) {
	c := newTest(t, Config{Capacity: 1024, QueueBytes: 1 << 16})
	kt, kp, ku := key(1), key(2), key(3)
	trusted(c, &kt)
	c.InsertPending(&kp, mapA, 0)
	pkt := make([]byte, 200)
	b := c.NewBatch()
	tests := []struct {
		name string
		fn   func()
	}{
		{"ObserveRx trusted", func() { c.ObserveRx(&kt, mapA, 100, 2*sec) }},
		{"ObserveRx pending", func() { c.ObserveRx(&kp, mapA, 100, 2*sec) }},
		{"ObserveRx unknown", func() { c.ObserveRx(&ku, mapA, 100, 2*sec) }},
		{"ObserveRx mapping changed", func() { c.ObserveRx(&kt, mapB, 100, 2*sec) }},
		{"LookupTx hit", func() { c.LookupTx(&kt, 100, 2*sec, 30*sec) }},
		{"LookupTx miss", func() { c.LookupTx(&ku, 100, 2*sec, 30*sec) }},
		{"Get", func() { c.Get(&kt) }},
		{"RecordBubble", func() { c.RecordBubble(&kp, 3*sec) }},
		{"Enqueue+Trust release", func() {
			c.Enqueue(&kt, pkt)
			c.Trust(&kt, mapA, 0, 2*sec, func([]byte) {})
		}},
		{"InsertPending+Delete", func() {
			c.InsertPending(&ku, mapA, 0)
			c.Delete(&ku)
		}},
		{"Sweep", func() { c.Sweep(2*sec, 100*sec, 64) }},
		{"Batch", func() {
			b.Reset()
			b.Add(&kt)
			b.Add(&ku)
			b.Add(&kt)
			b.Lookup()
			b.ObserveRx(0, mapA, 100, 2*sec)
			b.LookupTx(2, 100, 2*sec, 30*sec)
			b.Known(1)
			b.Find(&kt, 1)
			b.Flush()
		}},
		{"Batch slot changed", func() {
			b.Reset()
			b.Add(&kp)
			b.Lookup()
			c.Delete(&kp)
			c.InsertPending(&kp, mapA, 0)
			b.ObserveRx(0, mapA, 100, 2*sec)
			b.LookupTx(0, 100, 2*sec, 30*sec)
			b.Known(0)
		}},
		{"Stats", func() { c.Stats() }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.fn() // warm the scratch pool
			if n := testing.AllocsPerRun(1000, tt.fn); n != 0 {
				t.Fatalf("%.1f allocations per call", n)
			}
		})
	}
	buf := make([]Peer, 8)
	if n := testing.AllocsPerRun(100, func() { c.ScanPending(buf) }); n != 0 {
		t.Fatalf("ScanPending: %.1f allocations per call", n)
	}
}
