package peerstate

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// records returns n distinct valid records.
func records(n int) []Record {
	out := make([]Record, n)
	for i := range out {
		var a [16]byte
		a[0], a[1] = 0x20, 0x01
		binary.BigEndian.PutUint64(a[8:], uint64(i)+1)
		out[i] = Record{
			Addr:    a,
			Mapping: netip.AddrPortFrom(netip.AddrFrom4([4]byte{203, 0, 113, byte(i)}), uint16(1000+i)),
			LastRx:  vecLastRx + int64(i),
		}
	}
	return out
}

func seq(rs []Record) func(func(*Record) bool) {
	return func(yield func(*Record) bool) {
		for i := range rs {
			if !yield(&rs[i]) {
				return
			}
		}
	}
}

func TestSaveLoadRoundTrip(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "peers.state")
	in := records(1000)
	saved := time.Unix(0, vecSavedAt+1e12)
	res, err := Save(path, saved, 5000, seq(in))
	if err != nil || res.Saved != 1000 || res.Skipped != 0 || res.Bytes != HeaderLen+1000*RecordLen {
		t.Fatalf("Save = %+v, %v", res, err)
	}
	st, err := os.Stat(path)
	if err != nil || st.Size() != res.Bytes || st.Mode().Perm() != FileMode {
		t.Fatalf("file: %v %v", st, err)
	}
	out, h, invalid, err := loadAll(t, path, 1000)
	if err != nil || invalid != 0 || h.Count != 1000 || h.SavedAt != saved.UnixNano() || !slices.Equal(in, out) {
		t.Fatalf("Load: %d records, %+v, invalid %d, err %v", len(out), h, invalid, err)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Fatalf("directory holds %d files after Save, want only the state file", len(ents))
	}

	// The size cap: the rest is counted, not written; an IPv6 mapping
	// cannot be written.
	bad := records(3)
	bad[1].Mapping = netip.MustParseAddrPort("[2001:db8::1]:5")
	res, err = Save(path, saved, 1, seq(bad))
	if err != nil || res.Saved != 1 || res.Skipped != 2 {
		t.Fatalf("Save with limit 1 = %+v, %v", res, err)
	}
	if out, _, _, err := loadAll(t, path, 10); err != nil || len(out) != 1 || out[0] != bad[0] {
		t.Fatalf("Load after a capped save: %+v, %v", out, err)
	}
}

// A record that passes the checksum but not the record checks is skipped
// and counted; the rest of the file is read.
func TestLoadSkipsInvalidRecord(t *testing.T) {
	rs := records(3)
	rs[1].Addr[1] = 0x02 // 2002::/16, not Teredo
	path := filepath.Join(t.TempDir(), "peers.state")
	if _, err := Save(path, time.Unix(0, vecSavedAt), 10, seq(rs)); err != nil {
		t.Fatal(err)
	}
	out, _, invalid, err := loadAll(t, path, 10)
	if err != nil || invalid != 1 || len(out) != 2 || out[0] != rs[0] || out[1] != rs[2] {
		t.Fatalf("Load = %+v, invalid %d, %v", out, invalid, err)
	}
}

// A failed save (here the rename: the target is a non-empty directory)
// leaves no temporary file behind and the other files as they were.
func TestSaveFailureCleansUp(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "peers.state")
	if _, err := Save(path, time.Unix(0, vecSavedAt), 10, seq(records(2))); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(path)
	busy := filepath.Join(dir, "busy")
	if err := os.Mkdir(busy, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(busy, "x"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Save(busy, time.Unix(0, vecSavedAt), 10, seq(records(5))); err == nil {
		t.Fatal("Save over a non-empty directory succeeded")
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Fatal("the state file changed")
	}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if e.Name() != "peers.state" && e.Name() != "busy" {
			t.Errorf("left behind: %s", e.Name())
		}
	}
}

// Load's allocations do not grow with the number of records.
func TestLoadAllocsConstant(t *testing.T) {
	dir := t.TempDir()
	small, large := filepath.Join(dir, "small"), filepath.Join(dir, "large")
	for _, f := range []struct {
		path string
		n    int
	}{{small, 10}, {large, 10000}} {
		if _, err := Save(f.path, time.Unix(0, vecSavedAt+1e12), f.n, seq(records(f.n))); err != nil {
			t.Fatal(err)
		}
	}
	count := 0
	fn := func(*Header, *Record) { count++ }
	allocs := func(path string) float64 {
		return testing.AllocsPerRun(20, func() {
			if _, _, err := Load(path, MaxRecords, fn); err != nil {
				t.Fatal(err)
			}
		})
	}
	a, b := allocs(small), allocs(large)
	if b > a {
		t.Fatalf("Load allocates %v times for 10 records and %v for 10000: per-record allocation", a, b)
	}
	t.Logf("Load: %v allocations per file, whatever its size", a)
}

func BenchmarkLoad(b *testing.B) {
	path := filepath.Join(b.TempDir(), "peers.state")
	const n = 100000
	if _, err := Save(path, time.Unix(0, vecSavedAt+1e12), n, seq(records(n))); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(HeaderLen + n*RecordLen)
	for b.Loop() {
		if _, _, err := Load(path, n, func(*Header, *Record) {}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSave(b *testing.B) {
	path := filepath.Join(b.TempDir(), "peers.state")
	const n = 100000
	rs := records(n)
	b.ReportAllocs()
	b.SetBytes(HeaderLen + n*RecordLen)
	for b.Loop() {
		if _, err := Save(path, time.Unix(0, vecSavedAt+1e12), n, seq(rs)); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzLoad feeds arbitrary files to Load: it never panics, passes records
// on only from a file whose checksum holds, and every record it passes on
// survives a save and a load unchanged.
func FuzzLoad(f *testing.F) {
	f.Add(unhex(f, vecOneFile))
	f.Add(unhex(f, vecEmptyFile))
	f.Add(unhex(f, vecOneFile)[:40])
	f.Add([]byte("TRLYPEER"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(dir, "in")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		var got []Record
		h, invalid, err := Load(path, 1<<10, func(_ *Header, r *Record) { got = append(got, *r) })
		if err != nil {
			if len(got) != 0 {
				t.Fatalf("error %v after passing on %d records", err, len(got))
			}
			return
		}
		if len(got)+invalid != int(h.Count) || len(data) != HeaderLen+int(h.Count)*RecordLen {
			t.Fatalf("accepted %d records + %d invalid for count %d in %d bytes", len(got), invalid, h.Count, len(data))
		}
		again := filepath.Join(dir, "again")
		if _, err := Save(again, time.Unix(0, h.SavedAt), len(got), seq(got)); err != nil {
			t.Fatal(err)
		}
		back, _, invalid2, err := loadAll(t, again, len(got))
		if err != nil || invalid2 != 0 || !slices.Equal(back, got) {
			t.Fatalf("round trip: %v, invalid %d, %d vs %d records", err, invalid2, len(back), len(got))
		}
		if invalid == 0 {
			b, _ := os.ReadFile(again)
			if !bytes.Equal(b, data) {
				t.Fatalf("re-saved file differs from the accepted input")
			}
		}
	})
}
