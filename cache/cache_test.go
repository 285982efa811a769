package cache

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"unsafe"
)

const sec = int64(1e9)

// key returns a Teredo address 2001:0:c000:0201:<flags>:<port>:<ip> with i in
// the client part, so keys are distinct and realistic.
func key(i uint64) [16]byte {
	var k [16]byte
	copy(k[:], []byte{0x20, 0x01, 0, 0, 192, 0, 2, 1})
	binary.BigEndian.PutUint64(k[8:], i^0x8000_0000_0000_0000)
	return k
}

var (
	mapA = netip.MustParseAddrPort("198.51.100.7:40000")
	mapB = netip.MustParseAddrPort("203.0.113.9:50000")
)

func newTest(t testing.TB, cfg Config) *Cache {
	t.Helper()
	if cfg.Now == nil {
		cfg.Now = func() int64 { return 0 }
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatalf("New(%+v): %v", cfg, err)
	}
	return c
}

func mustGet(t *testing.T, c *Cache, k [16]byte) Peer {
	t.Helper()
	p, ok := c.Get(&k)
	if !ok {
		t.Fatalf("Get(%v): not found", netip.AddrFrom16(k))
	}
	return p
}

func TestEntrySize(t *testing.T) {
	if got := unsafe.Sizeof(entry{}); got != 112 {
		t.Fatalf("entry is %d bytes, doc.go says 112", got)
	}
	// The fields lookups read and the fast path writes come first: 80 bytes,
	// at most two cache lines whatever the entry's alignment (Batch.Lookup
	// touches seq and txBytes to bring both in).
	if got := unsafe.Offsetof(entry{}.txBytes) + 8; got != 80 {
		t.Fatalf("lookup fields end at byte %d, want 80", got)
	}
	if got := unsafe.Sizeof(shard{}); got != 2*cacheLine {
		t.Fatalf("shard header is %d bytes, want two cache lines", got)
	}
	if got := unsafe.Offsetof(shard{}.mu); got != cacheLine {
		t.Fatalf("the writers' half of the shard header starts at %d, want %d (its own cache line)", got, cacheLine)
	}
}

func TestNewConfig(t *testing.T) {
	tests := []struct {
		name       string
		cfg        Config
		wantErr    string
		capacity   int
		shards     int
		queueLimit int64
	}{
		{name: "defaults", cfg: Config{QueueBytes: 4096}, capacity: 1 << 20, shards: 256, queueLimit: 4096},
		{name: "small one shard", cfg: Config{Capacity: 100, QueueBytes: 1000}, capacity: 100, shards: 1, queueLimit: 896},
		{name: "10000 rounds up", cfg: Config{Capacity: 10000, QueueBytes: 128}, capacity: 10000, shards: 16, queueLimit: 128},
		{name: "10001 rounds up", cfg: Config{Capacity: 10001, QueueBytes: 128}, capacity: 10016, shards: 16, queueLimit: 128},
		{name: "explicit shards", cfg: Config{Capacity: 64, Shards: 3}, capacity: 64, shards: 4, queueLimit: DefaultQueueBytes},
		{name: "shards capped by capacity", cfg: Config{Capacity: 5, Shards: 64, QueueBytes: 128}, capacity: 8, shards: 4, queueLimit: 128},
		{name: "negative capacity", cfg: Config{Capacity: -1}, wantErr: "capacity"},
		{name: "peer queue too big", cfg: Config{PeerQueueBytes: 70000}, wantErr: "peer queue bytes"},
		{name: "negative queue", cfg: Config{QueueBytes: -5}, wantErr: "queue bytes"},
		{name: "too many per shard", cfg: Config{Capacity: 70000, Shards: 1}, wantErr: "per shard"},
		{name: "negative shards", cfg: Config{Shards: -1}, wantErr: "shards"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := New(tt.cfg)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			st := c.Stats()
			if st.Capacity != tt.capacity || st.Shards != tt.shards || st.QueueLimitBytes != tt.queueLimit {
				t.Fatalf("capacity/shards/queue = %d/%d/%d, want %d/%d/%d",
					st.Capacity, st.Shards, st.QueueLimitBytes, tt.capacity, tt.shards, tt.queueLimit)
			}
			if c.Capacity() != tt.capacity {
				t.Fatalf("Capacity() = %d", c.Capacity())
			}
		})
	}
}

func TestDefaultClock(t *testing.T) {
	c, err := New(Config{Capacity: 16, QueueBytes: 128})
	if err != nil {
		t.Fatal(err)
	}
	a := c.Now()
	b := c.Now()
	if a < 1_600_000_000*sec || b < a {
		t.Fatalf("Now() = %d then %d, want Unix nanoseconds, non-decreasing", a, b)
	}
	c2 := newTest(t, Config{Capacity: 16, QueueBytes: 128, Now: func() int64 { return 42 }})
	if c2.Now() != 42 {
		t.Fatalf("injected clock not used")
	}
}

func TestInsertPending(t *testing.T) {
	c := newTest(t, Config{Capacity: 64, QueueBytes: 4096})
	k := key(1)
	tests := []struct {
		name     string
		k        [16]byte
		mapping  netip.AddrPort
		inserted bool
		err      error
	}{
		{"new", k, mapA, true, nil},
		{"exists keeps old mapping", k, mapB, false, nil},
		{"ipv6 mapping rejected", key(2), netip.MustParseAddrPort("[2001:db8::1]:5"), false, ErrBadMapping},
		{"zero mapping rejected", key(3), netip.AddrPort{}, false, ErrBadMapping},
		{"4in6 mapping accepted", key(4), netip.MustParseAddrPort("[::ffff:198.51.100.7]:40000"), true, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ins, err := c.InsertPending(&tt.k, tt.mapping, 5*sec)
			if ins != tt.inserted || !errors.Is(err, tt.err) {
				t.Fatalf("InsertPending = %v, %v; want %v, %v", ins, err, tt.inserted, tt.err)
			}
		})
	}
	p := mustGet(t, c, k)
	want := Peer{Addr: netip.AddrFrom16(k), Mapping: mapA, State: Pending, Created: 5 * sec}
	if p != want {
		t.Fatalf("Get = %+v\nwant %+v", p, want)
	}
	if p4 := mustGet(t, c, key(4)); p4.Mapping != mapA {
		t.Fatalf("4in6 mapping stored as %v, want %v", p4.Mapping, mapA)
	}
	if _, ok := c.Get(ptr(key(2))); ok {
		t.Fatal("rejected insert left an entry")
	}
	st := c.Stats()
	if st.Entries != 2 || st.Pending != 2 || st.Trusted != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func ptr(k [16]byte) *[16]byte { return &k }

func TestObserveRx(t *testing.T) {
	other := netip.MustParseAddrPort("198.51.100.7:40001")
	tests := []struct {
		name      string
		setup     func(c *Cache, k *[16]byte)
		from      netip.AddrPort
		want      RxResult
		wantRxPkt uint64
		wantLast  int64
	}{
		{name: "unknown", setup: func(*Cache, *[16]byte) {}, from: mapA, want: RxUnknown},
		{name: "pending", setup: func(c *Cache, k *[16]byte) { c.InsertPending(k, mapA, 0) }, from: mapA, want: RxPending},
		{name: "trusted same mapping", setup: trusted, from: mapA, want: RxTrusted, wantRxPkt: 2, wantLast: 10 * sec},
		{name: "trusted 4in6 source", setup: trusted, from: netip.MustParseAddrPort("[::ffff:198.51.100.7]:40000"), want: RxTrusted, wantRxPkt: 2, wantLast: 10 * sec},
		{name: "trusted other port", setup: trusted, from: other, want: RxMappingChanged, wantRxPkt: 1, wantLast: sec},
		{name: "trusted other ip", setup: trusted, from: mapB, want: RxMappingChanged, wantRxPkt: 1, wantLast: sec},
		{name: "trusted ipv6 source", setup: trusted, from: netip.MustParseAddrPort("[2001:db8::1]:40000"), want: RxMappingChanged, wantRxPkt: 1, wantLast: sec},
		{name: "trusted with queue", setup: func(c *Cache, k *[16]byte) {
			trusted(c, k)
			if err := c.Enqueue(k, make([]byte, 60)); err != nil {
				panic(err)
			}
		}, from: mapA, want: RxTrustedQueued, wantRxPkt: 1, wantLast: sec},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newTest(t, Config{Capacity: 16, QueueBytes: 4096})
			k := key(7)
			tt.setup(c, &k)
			if got := c.ObserveRx(&k, tt.from, 100, 10*sec); got != tt.want {
				t.Fatalf("ObserveRx = %v, want %v", got, tt.want)
			}
			p, ok := c.Get(&k)
			if !ok {
				return
			}
			if p.RxPackets != tt.wantRxPkt || p.LastRx != tt.wantLast {
				t.Fatalf("rx packets %d last %d, want %d %d", p.RxPackets, p.LastRx, tt.wantRxPkt, tt.wantLast)
			}
			if tt.want == RxTrusted && p.RxBytes != 50+100 {
				t.Fatalf("rx bytes %d, want 150", p.RxBytes)
			}
		})
	}
}

// trusted makes k a trusted peer at mapA, trusted at t=1s by a 50-byte packet.
func trusted(c *Cache, k *[16]byte) {
	if _, err := c.InsertPending(k, mapA, 0); err != nil {
		panic(err)
	}
	if !c.Trust(k, mapA, 50, sec, nil) {
		panic("trust failed")
	}
}

func TestLookupTx(t *testing.T) {
	const validFor = 30 * sec
	tests := []struct {
		name    string
		setup   func(c *Cache, k *[16]byte)
		now     int64
		ok      bool
		wantTxN uint64
	}{
		{name: "unknown", setup: func(*Cache, *[16]byte) {}, now: 2 * sec},
		{name: "pending", setup: func(c *Cache, k *[16]byte) { c.InsertPending(k, mapA, 0) }, now: 2 * sec},
		{name: "trusted fresh", setup: trusted, now: 2 * sec, ok: true, wantTxN: 1},
		{name: "trusted just valid", setup: trusted, now: sec + validFor - 1, ok: true, wantTxN: 1},
		{name: "trusted stale", setup: trusted, now: sec + validFor},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newTest(t, Config{Capacity: 16, QueueBytes: 4096})
			k := key(9)
			tt.setup(c, &k)
			m, ok := c.LookupTx(&k, 1280, tt.now, validFor)
			if ok != tt.ok {
				t.Fatalf("LookupTx ok = %v, want %v", ok, tt.ok)
			}
			if ok && m != mapA {
				t.Fatalf("mapping %v, want %v", m, mapA)
			}
			if !ok && m.IsValid() {
				t.Fatalf("mapping %v returned with ok=false", m)
			}
			p, found := c.Get(&k)
			if !found {
				return
			}
			if p.TxPackets != tt.wantTxN {
				t.Fatalf("tx packets %d, want %d", p.TxPackets, tt.wantTxN)
			}
			if ok && (p.TxBytes != 1280 || p.LastTx != tt.now) {
				t.Fatalf("tx bytes %d last %d", p.TxBytes, p.LastTx)
			}
			if !ok && p.LastTx != 0 {
				t.Fatalf("failed lookup set LastTx %d", p.LastTx)
			}
		})
	}
}

func TestTrustTransitions(t *testing.T) {
	c := newTest(t, Config{Capacity: 16, QueueBytes: 4096})
	k := key(3)
	if c.Trust(&k, mapA, 10, sec, nil) {
		t.Fatal("Trust of unknown peer returned true")
	}
	if c.Trust(&k, netip.MustParseAddrPort("[2001:db8::1]:1"), 10, sec, nil) {
		t.Fatal("Trust with IPv6 mapping returned true")
	}
	c.InsertPending(&k, mapA, 0)
	c.RecordBubble(&k, sec/2)
	if !c.Trust(&k, mapB, 40, 2*sec, nil) {
		t.Fatal("Trust of pending peer failed")
	}
	p := mustGet(t, c, k)
	want := Peer{Addr: netip.AddrFrom16(k), Mapping: mapB, State: Trusted, LastRx: 2 * sec, LastTx: sec / 2, RxPackets: 1, RxBytes: 40}
	if p != want {
		t.Fatalf("after Trust: %+v\nwant %+v", p, want)
	}
	// Trust again with a new mapping (relay validated a mapping change); n<0 counts nothing.
	if !c.Trust(&k, mapA, -1, 3*sec, nil) {
		t.Fatal("re-Trust failed")
	}
	p = mustGet(t, c, k)
	if p.Mapping != mapA || p.LastRx != 3*sec || p.RxPackets != 1 || p.State != Trusted {
		t.Fatalf("after re-Trust: %+v", p)
	}
	st := c.Stats()
	if st.Pending != 0 || st.Trusted != 1 || st.Entries != 1 {
		t.Fatalf("stats %+v", st)
	}
	// A trusted entry is not reinserted as pending.
	if ins, err := c.InsertPending(&k, mapB, 4*sec); ins || err != nil {
		t.Fatalf("InsertPending on trusted = %v, %v", ins, err)
	}
	if mustGet(t, c, k).State != Trusted {
		t.Fatal("InsertPending demoted a trusted entry")
	}
}

func TestRecordBubble(t *testing.T) {
	c := newTest(t, Config{Capacity: 16, QueueBytes: 4096})
	k := key(5)
	if _, ok := c.RecordBubble(&k, sec); ok {
		t.Fatal("RecordBubble on unknown peer returned ok")
	}
	c.InsertPending(&k, mapA, 0)
	steps := []struct {
		name        string
		now         int64
		rx          bool // make the peer trusted and received-from before this bubble
		bubbles     int
		firstBubble int64
	}{
		{"first", 1 * sec, false, 1, 1 * sec},
		{"second", 3 * sec, false, 2, 1 * sec},
		{"third", 5 * sec, false, 3, 1 * sec},
		{"fourth", 7 * sec, false, 4, 1 * sec},
		{"fifth still counted", 9 * sec, false, 5, 1 * sec},
		{"window just open", 1*sec + BubbleWindow - 1, false, 6, 1 * sec},
		{"window over restarts", 1*sec + BubbleWindow, false, 1, 1*sec + BubbleWindow},
		{"second in new window", 1*sec + BubbleWindow + 2*sec, false, 2, 1*sec + BubbleWindow},
		{"receive since window restarts", 1*sec + BubbleWindow + 10*sec, true, 1, 1*sec + BubbleWindow + 10*sec},
	}
	for _, st := range steps {
		if st.rx {
			// Trust resets, then a bubble, then a fresh receive.
			c.Trust(&k, mapA, 0, st.now-5*sec, nil)
			c.RecordBubble(&k, st.now-4*sec)
			c.RecordBubble(&k, st.now-3*sec)
			if got := c.ObserveRx(&k, mapA, 0, st.now-1*sec); got != RxTrusted {
				t.Fatalf("%s: ObserveRx = %v", st.name, got)
			}
		}
		p, ok := c.RecordBubble(&k, st.now)
		if !ok {
			t.Fatalf("%s: not found", st.name)
		}
		if p.Bubbles != st.bubbles || p.FirstBubble != st.firstBubble || p.LastTx != st.now {
			t.Fatalf("%s: bubbles %d first %d lastTx %d; want %d %d %d", st.name, p.Bubbles, p.FirstBubble, p.LastTx, st.bubbles, st.firstBubble, st.now)
		}
	}
	c.Trust(&k, mapA, 0, 400*sec, nil)
	if p := mustGet(t, c, k); p.Bubbles != 0 || p.FirstBubble != 0 {
		t.Fatalf("Trust did not reset bubbles: %+v", p)
	}
}

func TestDelete(t *testing.T) {
	c := newTest(t, Config{Capacity: 16, QueueBytes: 4096})
	k := key(11)
	if n, ok := c.Delete(&k); ok || n != 0 {
		t.Fatalf("Delete unknown = %d, %v", n, ok)
	}
	c.InsertPending(&k, mapA, 0)
	for range 3 {
		if err := c.Enqueue(&k, make([]byte, 200)); err != nil {
			t.Fatal(err)
		}
	}
	if n, ok := c.Delete(&k); !ok || n != 3 {
		t.Fatalf("Delete = %d, %v; want 3, true", n, ok)
	}
	if _, ok := c.Get(&k); ok {
		t.Fatal("deleted entry still found")
	}
	if got := c.ObserveRx(&k, mapA, 1, 1); got != RxUnknown {
		t.Fatalf("ObserveRx after delete = %v", got)
	}
	st := c.Stats()
	if st.Entries != 0 || st.QueuedPackets != 0 || st.QueuedBytes != 0 || st.QueueStorageBytes != 0 ||
		st.Evictions[EvictDeleted] != 1 || st.QueueDroppedPackets != 3 {
		t.Fatalf("stats after delete %+v", st)
	}
	// Delete of a trusted entry.
	trusted(c, &k)
	if n, ok := c.Delete(&k); !ok || n != 0 {
		t.Fatalf("Delete trusted = %d, %v", n, ok)
	}
	if st := c.Stats(); st.Trusted != 0 || st.Evictions[EvictDeleted] != 2 {
		t.Fatalf("stats %+v", st)
	}
}

func TestEnqueueCaps(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		pkts    []int // sizes in order
		errs    []error
		queued  int // packets queued in the end
		qbytes  int
		storage int64
	}{
		{
			name: "per peer 1280 exact fit", cfg: Config{Capacity: 4, QueueBytes: 1 << 16},
			pkts: []int{1000, 280, 1}, errs: []error{nil, nil, ErrPeerQueueFull},
			queued: 2, qbytes: 1280, storage: (8 + 3) * 128,
		},
		{
			name: "too big for peer cap", cfg: Config{Capacity: 4, QueueBytes: 1 << 16},
			pkts: []int{1281, 40}, errs: []error{ErrPeerQueueFull, nil},
			queued: 1, qbytes: 40, storage: 128,
		},
		{
			name: "empty packet", cfg: Config{Capacity: 4, QueueBytes: 1 << 16},
			pkts: []int{0}, errs: []error{ErrEmptyPacket},
		},
		{
			name: "custom per peer cap", cfg: Config{Capacity: 4, QueueBytes: 1 << 16, PeerQueueBytes: 100},
			pkts: []int{60, 40, 1}, errs: []error{nil, nil, ErrPeerQueueFull},
			queued: 2, qbytes: 100, storage: 256,
		},
		{
			name: "global arena limit", cfg: Config{Capacity: 4, QueueBytes: 3 * 128},
			pkts: []int{129, 129, 40}, errs: []error{nil, ErrQueueLimit, nil},
			queued: 2, qbytes: 169, storage: 3 * 128,
		},
		{
			name: "arena full then small fails", cfg: Config{Capacity: 4, QueueBytes: 2 * 128},
			pkts: []int{40, 40, 40}, errs: []error{nil, nil, ErrQueueLimit},
			queued: 2, qbytes: 80, storage: 256,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newTest(t, tt.cfg)
			k := key(1)
			if err := c.Enqueue(&k, []byte{1}); !errors.Is(err, ErrNotFound) {
				t.Fatalf("Enqueue unknown = %v", err)
			}
			c.InsertPending(&k, mapA, 0)
			for i, n := range tt.pkts {
				if err := c.Enqueue(&k, make([]byte, n)); !errors.Is(err, tt.errs[i]) {
					t.Fatalf("packet %d (%d bytes): err %v, want %v", i, n, err, tt.errs[i])
				}
			}
			p := mustGet(t, c, k)
			st := c.Stats()
			if p.QueuedPackets != tt.queued || p.QueuedBytes != tt.qbytes ||
				st.QueuedPackets != int64(tt.queued) || st.QueuedBytes != int64(tt.qbytes) || st.QueueStorageBytes != tt.storage {
				t.Fatalf("peer %d/%d, stats %d/%d/%d; want %d/%d storage %d", p.QueuedPackets, p.QueuedBytes,
					st.QueuedPackets, st.QueuedBytes, st.QueueStorageBytes, tt.queued, tt.qbytes, tt.storage)
			}
		})
	}
}

// The global cap holds across peers: one peer's queue limits another's.
func TestEnqueueGlobalAcrossPeers(t *testing.T) {
	c := newTest(t, Config{Capacity: 64, QueueBytes: 10 * 1280})
	var full int
	for i := range 20 {
		k := key(uint64(i))
		c.InsertPending(&k, mapA, 0)
		err := c.Enqueue(&k, make([]byte, 1280))
		switch {
		case i < 10 && err != nil:
			t.Fatalf("peer %d: %v", i, err)
		case i >= 10 && !errors.Is(err, ErrQueueLimit):
			t.Fatalf("peer %d: err %v, want ErrQueueLimit", i, err)
		case err != nil:
			full++
		}
	}
	if st := c.Stats(); st.QueuedBytes != 10*1280 || full != 10 {
		t.Fatalf("queued %d bytes, %d refusals", st.QueuedBytes, full)
	}
	// Freeing one peer's queue makes room for another.
	k0, k15 := key(0), key(15)
	if n, _ := c.Delete(&k0); n != 1 {
		t.Fatalf("Delete dropped %d", n)
	}
	if err := c.Enqueue(&k15, make([]byte, 1280)); err != nil {
		t.Fatalf("after freeing: %v", err)
	}
}

func TestTrustReleasesFIFO(t *testing.T) {
	c := newTest(t, Config{Capacity: 16, QueueBytes: 1 << 16, PeerQueueBytes: 4000})
	k := key(2)
	c.InsertPending(&k, mapA, 0)
	sizes := []int{1, 127, 128, 129, 300, 40, 1000, 255, 256, 257}
	var want [][]byte
	for i, n := range sizes {
		pkt := make([]byte, n)
		for j := range pkt {
			pkt[j] = byte(i*31 + j)
		}
		if err := c.Enqueue(&k, pkt); err != nil {
			t.Fatalf("Enqueue %d: %v", n, err)
		}
		want = append(want, pkt)
	}
	var got [][]byte
	ok := c.Trust(&k, mapA, 0, sec, func(pkt []byte) {
		// The shard lock is dropped: calling back into the cache must not deadlock.
		if p := mustGet(t, c, k); p.State != Trusted || p.QueuedPackets != 0 {
			t.Errorf("during release: %+v", p)
		}
		got = append(got, bytes.Clone(pkt))
	})
	if !ok {
		t.Fatal("Trust failed")
	}
	if len(got) != len(want) {
		t.Fatalf("released %d packets, want %d", len(got), len(want))
	}
	for i := range want {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("packet %d: got %d bytes %x..., want %d bytes", i, len(got[i]), got[i][:min(8, len(got[i]))], len(want[i]))
		}
	}
	st := c.Stats()
	if st.QueuedPackets != 0 || st.QueuedBytes != 0 || st.QueueStorageBytes != 0 {
		t.Fatalf("queue not empty after release: %+v", st)
	}
	// Interleaved enqueue across peers keeps each peer's order; freed chunks are reused.
	k2, k3 := key(20), key(30)
	c.InsertPending(&k2, mapA, 0)
	c.InsertPending(&k3, mapB, 0)
	for i := range 8 {
		c.Enqueue(&k2, bytes.Repeat([]byte{byte(i)}, 130))
		c.Enqueue(&k3, bytes.Repeat([]byte{byte(100 + i)}, 70))
	}
	var seq []byte
	c.Trust(&k3, mapB, 0, sec, func(p []byte) { seq = append(seq, p[0], byte(len(p))) })
	c.Trust(&k2, mapA, 0, sec, func(p []byte) { seq = append(seq, p[0], byte(len(p))) })
	wantSeq := []byte{100, 70, 101, 70, 102, 70, 103, 70, 104, 70, 105, 70, 106, 70, 107, 70,
		0, 130, 1, 130, 2, 130, 3, 130, 4, 130, 5, 130, 6, 130, 7, 130}
	if !bytes.Equal(seq, wantSeq) {
		t.Fatalf("release order %v\nwant %v", seq, wantSeq)
	}
}

// A trusted peer whose trust went stale gets packets queued; ObserveRx then
// sends its next packet to the slow path, and Trust flushes.
func TestTrustedQueuedFlow(t *testing.T) {
	c := newTest(t, Config{Capacity: 16, QueueBytes: 4096})
	k := key(4)
	trusted(c, &k)
	if _, ok := c.LookupTx(&k, 10, 40*sec, 30*sec); ok {
		t.Fatal("stale peer usable")
	}
	c.Enqueue(&k, []byte("queued"))
	if got := c.ObserveRx(&k, mapA, 10, 41*sec); got != RxTrustedQueued {
		t.Fatalf("ObserveRx = %v, want RxTrustedQueued", got)
	}
	var rel []string
	c.Trust(&k, mapA, 10, 41*sec, func(p []byte) { rel = append(rel, string(p)) })
	if len(rel) != 1 || rel[0] != "queued" {
		t.Fatalf("released %q", rel)
	}
	if got := c.ObserveRx(&k, mapA, 10, 42*sec); got != RxTrusted {
		t.Fatalf("ObserveRx after flush = %v", got)
	}
	if _, ok := c.LookupTx(&k, 10, 43*sec, 30*sec); !ok {
		t.Fatal("refreshed peer not usable")
	}
}

func TestTrustNilReleaseDrops(t *testing.T) {
	c := newTest(t, Config{Capacity: 16, QueueBytes: 4096})
	k := key(4)
	c.InsertPending(&k, mapA, 0)
	c.Enqueue(&k, make([]byte, 300))
	c.Enqueue(&k, make([]byte, 30))
	if !c.Trust(&k, mapA, 0, sec, nil) {
		t.Fatal("Trust failed")
	}
	if st := c.Stats(); st.QueuedPackets != 0 || st.QueueStorageBytes != 0 || st.QueueDroppedPackets != 2 {
		t.Fatalf("stats %+v", st)
	}
}

// A panicking release callback must not leak arena chunks.
func TestTrustReleasePanicFreesChunks(t *testing.T) {
	c := newTest(t, Config{Capacity: 16, QueueBytes: 4096})
	k := key(4)
	c.InsertPending(&k, mapA, 0)
	for range 4 {
		c.Enqueue(&k, make([]byte, 300))
	}
	func() {
		defer func() { recover() }()
		c.Trust(&k, mapA, 0, sec, func([]byte) { panic("boom") })
	}()
	if st := c.Stats(); st.QueuedPackets != 0 || st.QueueStorageBytes != 0 {
		t.Fatalf("chunks leaked: %+v", st)
	}
}

func TestSweep(t *testing.T) {
	c := newTest(t, Config{Capacity: 64, Shards: 4, QueueBytes: 4096})
	// 10 trusted idle since 1s, 10 trusted active at 100s, 5 pending.
	for i := range 25 {
		k := key(uint64(i))
		c.InsertPending(&k, mapA, 0)
		switch {
		case i < 10:
			c.Trust(&k, mapA, 0, sec, nil)
		case i < 20:
			c.Trust(&k, mapA, 0, sec, nil)
			c.ObserveRx(&k, mapA, 0, 100*sec)
		}
	}
	k0 := key(0)
	c.Enqueue(&k0, make([]byte, 100))
	// Small budgets: each call is bounded; repeated calls cover everything.
	removed := 0
	for range 100 {
		n := c.Sweep(101*sec, 60*sec, 3)
		if n > 3 {
			t.Fatalf("budget 3 removed %d", n)
		}
		removed += n
	}
	if removed != 10 {
		t.Fatalf("removed %d, want 10", removed)
	}
	for i := range 25 {
		k := key(uint64(i))
		_, ok := c.Get(&k)
		if ok != (i >= 10) {
			t.Fatalf("peer %d present=%v", i, ok)
		}
	}
	st := c.Stats()
	if st.Evictions[EvictIdle] != 10 || st.Trusted != 10 || st.Pending != 5 || st.QueueDroppedPackets != 1 || st.QueuedPackets != 0 {
		t.Fatalf("stats %+v", st)
	}
	// Nothing idle any more: a full pass removes nothing.
	if n := c.Sweep(101*sec, 60*sec, 1000); n != 0 {
		t.Fatalf("second sweep removed %d", n)
	}
	// Zero budget does nothing.
	if n := c.Sweep(1000*sec, 0, 0); n != 0 {
		t.Fatalf("zero budget removed %d", n)
	}
}

func TestScanPending(t *testing.T) {
	c := newTest(t, Config{Capacity: 256, Shards: 8, QueueBytes: 4096})
	want := map[netip.Addr]int64{}
	for i := range 40 {
		k := key(uint64(i))
		c.InsertPending(&k, mapA, int64(i)*sec)
		if i%4 == 0 {
			c.Trust(&k, mapA, 0, 50*sec, nil)
			continue
		}
		want[netip.AddrFrom16(k)] = int64(i) * sec
	}
	buf := make([]Peer, 7)
	seen := map[netip.Addr]int{}
	for range 30 { // round robin over shards reaches every pending entry
		n := c.ScanPending(buf)
		if n > len(buf) {
			t.Fatalf("n=%d", n)
		}
		for _, p := range buf[:n] {
			if p.State != Pending || p.Created != want[p.Addr] {
				t.Fatalf("scanned %+v", p)
			}
			seen[p.Addr]++
		}
	}
	if len(seen) != len(want) {
		t.Fatalf("saw %d pending peers, want %d", len(seen), len(want))
	}
	// Within one shard the order is oldest first.
	one := newTest(t, Config{Capacity: 64, Shards: 1, QueueBytes: 4096})
	for i := range 10 {
		k := key(uint64(i))
		one.InsertPending(&k, mapA, int64(10-i)) // created decreasing, inserted in key order
	}
	k3 := key(3)
	one.Trust(&k3, mapA, 0, 1, nil)
	n := one.ScanPending(buf)
	if n != 7 {
		t.Fatalf("n=%d", n)
	}
	for j, p := range buf[:n] {
		wantIdx := uint64(j)
		if j >= 3 {
			wantIdx++
		}
		if p.Addr != netip.AddrFrom16(key(wantIdx)) {
			t.Fatalf("position %d: %v, want key %d", j, p.Addr, wantIdx)
		}
	}
	// Handlers may delete what they see.
	for _, p := range buf[:n] {
		a := p.Addr.As16()
		if _, ok := one.Delete(&a); !ok {
			t.Fatal("delete of scanned entry failed")
		}
	}
	if got := one.ScanPending(buf); got != 2 {
		t.Fatalf("after deleting 7 of 9 pending: %d left", got)
	}
	if got := one.ScanPending(nil); got != 0 {
		t.Fatalf("nil dst: %d", got)
	}
}

func TestRangeAndJSON(t *testing.T) {
	c := newTest(t, Config{Capacity: 1000, QueueBytes: 4096})
	for i := range 300 {
		k := key(uint64(i))
		c.InsertPending(&k, mapA, 0)
		if i%2 == 0 {
			c.Trust(&k, mapB, 10, sec, nil)
		}
	}
	seen := map[netip.Addr]State{}
	c.Range(func(p *Peer) bool {
		if _, dup := seen[p.Addr]; dup {
			t.Fatalf("duplicate %v", p.Addr)
		}
		seen[p.Addr] = p.State
		// fn runs without locks held.
		a := p.Addr.As16()
		c.RecordBubble(&a, 2*sec)
		return true
	})
	if len(seen) != 300 {
		t.Fatalf("Range saw %d", len(seen))
	}
	for i := range 300 {
		want := Pending
		if i%2 == 0 {
			want = Trusted
		}
		if seen[netip.AddrFrom16(key(uint64(i)))] != want {
			t.Fatalf("peer %d state %v", i, seen[netip.AddrFrom16(key(uint64(i)))])
		}
	}
	n := 0
	c.Range(func(*Peer) bool { n++; return n < 5 })
	if n != 5 {
		t.Fatalf("Range did not stop: %d", n)
	}
	k := key(0)
	js, err := json.Marshal(mustGet(t, c, k))
	if err != nil {
		t.Fatal(err)
	}
	wantJS := `{"addr":"2001:0:c000:201:8000::","mapping":"203.0.113.9:50000","state":"trusted",` +
		`"created_ns":0,"last_rx_ns":1000000000,"last_tx_ns":2000000000,"bubbles":1,"first_bubble_ns":2000000000,` +
		`"queued_packets":0,"queued_bytes":0,"rx_packets":1,"rx_bytes":10,"tx_packets":0,"tx_bytes":0}`
	if string(js) != wantJS {
		t.Fatalf("JSON\n%s\nwant\n%s", js, wantJS)
	}
}

func TestNames(t *testing.T) {
	for _, tt := range []struct{ got, want string }{
		{Pending.String(), "pending"}, {Trusted.String(), "trusted"}, {State(0).String(), "invalid"},
		{RxUnknown.String(), "unknown"}, {RxTrusted.String(), "trusted"}, {RxPending.String(), "pending"},
		{RxMappingChanged.String(), "mapping_changed"}, {RxTrustedQueued.String(), "trusted_queued"}, {RxResult(99).String(), "invalid"},
		{EvictPendingFull.String(), "pending_full"}, {EvictTrustedFull.String(), "trusted_full"},
		{EvictIdle.String(), "idle"}, {EvictDeleted.String(), "deleted"}, {NumEvictReasons.String(), "invalid"},
	} {
		if tt.got != tt.want {
			t.Errorf("%q, want %q", tt.got, tt.want)
		}
	}
}
