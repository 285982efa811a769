package peerstate

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/teredorelay/teredorelay/cache"
)

const (
	trustWindow = 30 * time.Second
	maxAge      = 120 * time.Second
)

func TestClassify(t *testing.T) {
	now := time.Unix(0, vecSavedAt).Add(5 * time.Second)
	at := func(ago time.Duration) *Record { return &Record{LastRx: now.Add(-ago).UnixNano()} }
	saved := now.Add(-2 * time.Second).UnixNano()
	tests := []struct {
		name    string
		r       *Record
		savedAt int64
		class   Class
		age     time.Duration
	}{
		{"just received", at(3 * time.Second), saved, ClassTrusted, 3 * time.Second},
		{"one ns inside the trust window", at(trustWindow - 1), saved, ClassTrusted, trustWindow - 1},
		{"at the trust window", at(trustWindow), saved, ClassStale, trustWindow},
		{"between window and max age", at(time.Minute), saved, ClassStale, time.Minute},
		{"at the max age", at(maxAge), saved, ClassStale, maxAge},
		{"older than the max age", at(maxAge + 1), saved, ClassExpired, maxAge + 1},
		{"received after the save", at(time.Second), saved, ClassInvalid, 0},
		{"clock stepped back since the save", at(-time.Second), now.Add(time.Second).UnixNano(), ClassStale, trustWindow},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, age := Classify(tc.r, tc.savedAt, now, trustWindow, maxAge)
			if c != tc.class || age != tc.age {
				t.Fatalf("Classify = %v, %v; want %v, %v", c, age, tc.class, tc.age)
			}
		})
	}
}

// clock is a wall clock and a cache clock that advance together; the
// cache clock starts at 0 (like relay.MonotonicNow at process start).
type clock struct{ wall time.Time }

func (c *clock) now() time.Time { return c.wall }
func (c *clock) mono() int64    { return int64(c.wall.Sub(time.Unix(0, vecSavedAt))) }

func newCache(t testing.TB, capacity int, c *clock) *cache.Cache {
	t.Helper()
	pc, err := cache.New(cache.Config{Capacity: capacity, Shards: 1, Now: c.mono})
	if err != nil {
		t.Fatal(err)
	}
	return pc
}

func TestRestore(t *testing.T) {
	clk := &clock{wall: time.Unix(0, vecSavedAt).Add(10 * time.Second)}
	saved := clk.wall.Add(-time.Second)
	rs := records(7)
	ages := []time.Duration{2 * time.Second, 29 * time.Second, 31 * time.Second, 119 * time.Second, 121 * time.Second, 0, 5 * time.Second}
	for i, a := range ages {
		rs[i].LastRx = clk.wall.Add(-a).UnixNano()
	}
	rs[5].LastRx = saved.UnixNano() + 1                     // after the save: invalid
	rs[6].Mapping = netip.MustParseAddrPort("192.0.2.99:9") // refused by the policy below
	path := filepath.Join(t.TempDir(), "peers.state")
	if _, err := Save(path, saved, 100, seq(rs)); err != nil {
		t.Fatal(err)
	}
	pc := newCache(t, 64, clk)
	pol := Policy{TrustWindow: trustWindow, MaxAge: maxAge, Limit: 100,
		Accept: func(r *Record) bool { return r.Mapping.Addr() != netip.MustParseAddr("192.0.2.99") }}
	st := Restore(path, pol, pc, clk.now(), clk.mono())
	want := LoadStats{Found: true, SavedAt: time.Unix(0, saved.UnixNano()), Trusted: 2, Stale: 2, Expired: 1, Invalid: 1, Refused: 1}
	if st != want {
		t.Fatalf("Restore = %+v\nwant      %+v", st, want)
	}
	validFor := int64(trustWindow)
	for i, tc := range []struct {
		present, fresh bool
	}{{true, true}, {true, true}, {true, false}, {true, false}, {false, false}, {false, false}, {false, false}} {
		k := rs[i].Addr
		p, ok := pc.Get(&k)
		if ok != tc.present {
			t.Fatalf("record %d (age %v): present %v, want %v", i, ages[i], ok, tc.present)
		}
		if !ok {
			continue
		}
		if p.State != cache.Trusted || p.Mapping != rs[i].Mapping || p.LastRx != clk.mono()-int64(ages[i]) {
			t.Fatalf("record %d: %+v", i, p)
		}
		if _, fresh := pc.LookupTx(&k, 100, clk.mono(), validFor); fresh != tc.fresh {
			t.Fatalf("record %d (age %v): usable for encapsulation %v, want %v", i, ages[i], fresh, tc.fresh)
		}
	}

	// Loading again: everything restorable is a duplicate now.
	st = Restore(path, pol, pc, clk.now(), clk.mono())
	if st.Duplicate != 4 || st.Restored() != 0 {
		t.Fatalf("second Restore = %+v", st)
	}
	// A full table refuses, never evicts.
	small := newCache(t, 1, clk)
	st = Restore(path, pol, small, clk.now(), clk.mono())
	if st.Restored() != 1 || st.Full != 3 || small.Stats().Evictions != [cache.NumEvictReasons]uint64{} {
		t.Fatalf("Restore into a 1-entry table = %+v, evictions %v", st, small.Stats().Evictions)
	}
}

func TestRestoreMissingAndCorrupt(t *testing.T) {
	clk := &clock{wall: time.Unix(0, vecSavedAt).Add(time.Second)}
	pc := newCache(t, 16, clk)
	pol := Policy{TrustWindow: trustWindow, MaxAge: maxAge, Limit: 100}
	if st := Restore(filepath.Join(t.TempDir(), "none"), pol, pc, clk.now(), clk.mono()); st != (LoadStats{}) {
		t.Fatalf("missing file: %+v", st)
	}
	b := unhex(t, vecOneFile)
	b[len(b)-1] ^= 1
	st := Restore(writeFile(t, b), pol, pc, clk.now(), clk.mono())
	if !st.Found || !errors.Is(st.Err, ErrChecksum) || st.Restored() != 0 || pc.Stats().Entries != 0 {
		t.Fatalf("corrupt file: %+v, %d entries", st, pc.Stats().Entries)
	}
}

// The keeper's life: load (a corrupt file is a warning, set aside), save
// periodically, save once more at the end; nothing is saved after that.
func TestKeeper(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "peers.state")
	bad := unhex(t, vecOneFile)[:50]
	if err := os.WriteFile(path, bad, 0o600); err != nil {
		t.Fatal(err)
	}
	clk := &clock{wall: time.Unix(0, vecSavedAt).Add(time.Second)}
	pc := newCache(t, 16, clk)
	var logs bytes.Buffer
	k, err := New(Config{Path: path, Interval: 10 * time.Millisecond, Now: clk.now, Mono: clk.mono,
		Policy: Policy{TrustWindow: trustWindow, MaxAge: maxAge, Limit: 2},
		Logger: slog.New(slog.NewTextHandler(&logs, nil))}, pc)
	if err != nil {
		t.Fatal(err)
	}
	st := k.Load()
	if !errors.Is(st.Err, ErrTruncated) || !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "empty peer table") {
		t.Fatalf("Load of a truncated file: %+v\n%s", st, logs.String())
	}
	if kept, _ := os.ReadFile(path + ".rejected"); !bytes.Equal(kept, bad) {
		t.Fatal("the rejected file was not kept aside")
	}

	// Three trusted peers and a pending one; the cap is 2.
	rs := records(4)
	for i := range 3 {
		pc.Restore(&rs[i].Addr, rs[i].Mapping, clk.mono()-int64(i)*int64(time.Second), clk.mono())
	}
	pc.InsertPending(&rs[3].Addr, rs[3].Mapping, clk.mono())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- k.Run(ctx) }()
	deadline := time.Now().Add(5 * time.Second)
	for k.Stats().Saves == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	<-done
	s := k.Stats()
	if s.Saves == 0 || s.SaveErrors != 0 || s.LastSaved != 2 || s.LastSkipped != 1 || !s.LastSave.Equal(clk.wall) {
		t.Fatalf("after periodic saves: %+v", s)
	}
	out, _, _, err := loadAll(t, path, 10)
	if err != nil || len(out) != 2 {
		t.Fatalf("saved file: %d records, %v", len(out), err)
	}
	for _, r := range out {
		if r.Addr == rs[3].Addr {
			t.Fatal("a pending peer was saved")
		}
	}

	if err := k.SaveFinal(); err != nil {
		t.Fatal(err)
	}
	// A new keeper on the saved file gets the two peers back.
	k2, err := New(Config{Path: path, Now: clk.now, Mono: clk.mono, Policy: Policy{TrustWindow: trustWindow, MaxAge: maxAge}}, newCache(t, 16, clk))
	if err != nil {
		t.Fatal(err)
	}
	if st := k2.Load(); st.Trusted != 2 || st.Err != nil || k2.Stats().Load != st {
		t.Fatalf("reload: %+v", st)
	}

	saves := k.Stats().Saves
	os.Remove(path)
	if err := k.save(false); err != nil || k.Stats().Saves != saves {
		t.Fatalf("a save after SaveFinal ran: %v", err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatal("a save after SaveFinal wrote the file")
	}
}

// BenchmarkKeeperSave1M saves a table of about 1,048,576 trusted peers
// (the default capacity; records() gives 16 of them port 0, which are not
// saved): walk, write, fsync, rename; and restores it into an empty table.
func BenchmarkKeeperSave1M(b *testing.B) {
	const n = 1 << 20
	clk := &clock{wall: time.Unix(0, vecSavedAt).Add(time.Minute)}
	pc, err := cache.New(cache.Config{Capacity: n + n/8, Now: clk.mono})
	if err != nil {
		b.Fatal(err)
	}
	for _, r := range records(n) {
		pc.Restore(&r.Addr, r.Mapping, clk.mono()-int64(time.Second), clk.mono())
	}
	path := filepath.Join(b.TempDir(), "peers.state")
	k, err := New(Config{Path: path, Now: clk.now, Mono: clk.mono, Policy: Policy{TrustWindow: trustWindow, MaxAge: maxAge}}, pc)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("save", func(b *testing.B) {
		for b.Loop() {
			if err := k.save(false); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(k.Stats().LastSaved), "peers")
	})
	b.Run("restore", func(b *testing.B) {
		for b.Loop() {
			fresh, err := cache.New(cache.Config{Capacity: n + n/8, Now: clk.mono})
			if err != nil {
				b.Fatal(err)
			}
			st := Restore(path, Policy{TrustWindow: trustWindow, MaxAge: maxAge, Limit: n}, fresh, clk.now(), clk.mono())
			if st.Trusted != k.Stats().LastSaved {
				b.Fatalf("restored %+v", st)
			}
		}
	})
}

// The data plane keeps receiving while a save walks the table: a peer
// whose last receive is later than the save's clock reading is saved with
// the save time, and comes back (a record received after its file's save
// time would be rejected as invalid).
func TestKeeperSaveDuringTraffic(t *testing.T) {
	clk := &clock{wall: time.Unix(0, vecSavedAt).Add(time.Minute)}
	pc := newCache(t, 16, clk)
	r := records(1)[0]
	pc.Restore(&r.Addr, r.Mapping, clk.mono()+int64(5*time.Millisecond), clk.mono())
	path := filepath.Join(t.TempDir(), "peers.state")
	k, err := New(Config{Path: path, Now: clk.now, Mono: clk.mono, Policy: Policy{TrustWindow: trustWindow, MaxAge: maxAge}}, pc)
	if err != nil {
		t.Fatal(err)
	}
	if err := k.SaveFinal(); err != nil {
		t.Fatal(err)
	}
	out, h, _, err := loadAll(t, path, 10)
	if err != nil || len(out) != 1 || out[0].LastRx != h.SavedAt {
		t.Fatalf("saved %+v (save time %d), %v; want the last receive clamped to the save time", out, h.SavedAt, err)
	}
	if st := Restore(path, Policy{TrustWindow: trustWindow, MaxAge: maxAge}, newCache(t, 16, clk), clk.now(), clk.mono()); st.Trusted != 1 {
		t.Fatalf("restore: %+v", st)
	}
}
