package peerstate

import (
	"encoding/hex"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Vectors. The peer is T8 of teredo-spec.md (the Miredo client of the
// testbed capture: 2001:0:c000:201:3cc4:4b5f:34ff:8efe behind NAT
// 203.0.113.1:46240). The files were built independently of this package,
// with Python's struct and zlib.crc32:
//
//	rec = addr + ip + struct.pack(">HHq", 46240, 0, last)
//	hdr28 = b"TRLYPEER" + struct.pack(">HHIqI", 1, 32, count, saved, 0)
//	file = hdr28 + struct.pack(">I", zlib.crc32(records + hdr28)) + records
//
// with last = 1764300000000000000 and saved = last + 1 s.
const (
	vecLastRx  = int64(1764300000000000000)
	vecSavedAt = vecLastRx + 1e9
	// vecOneFile holds the T8 record.
	vecOneFile = "54524c59504545520001002000000001187c0d80d4d38a0000000000448a1a2f" +
		"20010000c00002013cc44b5f34ff8efecb007101b4a00000187c0d809938c000"
	// vecEmptyFile holds no record.
	vecEmptyFile = "54524c59504545520001002000000000187c0d80d4d38a00000000002e5029d3"
)

var vecRecord = Record{
	Addr:    netip.MustParseAddr("2001:0:c000:201:3cc4:4b5f:34ff:8efe").As16(),
	Mapping: netip.MustParseAddrPort("203.0.113.1:46240"),
	LastRx:  vecLastRx,
}

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// mutated returns a copy of b changed by f.
func mutated(b []byte, f func([]byte)) []byte {
	c := append([]byte(nil), b...)
	f(c)
	return c
}

func TestParseRecordVectors(t *testing.T) {
	good := unhex(t, vecOneFile)[HeaderLen:]
	mut := func(f func(b []byte)) []byte { return mutated(good, f) }
	tests := []struct {
		name string
		in   []byte
		want Record
		err  error
	}{
		{name: "T8", in: good, want: vecRecord},
		{name: "short", in: good[:RecordLen-1], err: ErrTruncated},
		{name: "6to4 address", in: mut(func(b []byte) { b[1] = 0x02 }), err: ErrNotTeredo},
		{name: "2001:1::/32 is not Teredo", in: mut(func(b []byte) { b[3] = 1 }), err: ErrNotTeredo},
		{name: "mapping 0.0.0.0", in: mut(func(b []byte) { copy(b[16:20], []byte{0, 0, 0, 0}) }), err: ErrMapping},
		{name: "port 0", in: mut(func(b []byte) { b[20], b[21] = 0, 0 }), err: ErrMapping},
		{name: "reserved bits", in: mut(func(b []byte) { b[23] = 1 }), err: ErrRecordReserved},
		{name: "last rx 0", in: mut(func(b []byte) { clear(b[24:32]) }), err: ErrLastRx},
		{name: "last rx negative", in: mut(func(b []byte) { b[24] = 0x80 }), err: ErrLastRx},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var r Record
			err := ParseRecord(tc.in, &r)
			if !errors.Is(err, tc.err) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			if err == nil && r != tc.want {
				t.Fatalf("record = %+v, want %+v", r, tc.want)
			}
		})
	}
}

func TestPutRecordVector(t *testing.T) {
	var b [RecordLen]byte
	PutRecord(&b, &vecRecord)
	if want := unhex(t, vecOneFile)[HeaderLen:]; string(b[:]) != string(want) {
		t.Fatalf("PutRecord = %x, want %x", b, want)
	}
	// An IPv4-mapped IPv6 mapping is written as IPv4.
	r := vecRecord
	r.Mapping = netip.AddrPortFrom(netip.AddrFrom16(r.Mapping.Addr().As16()), r.Mapping.Port())
	var b2 [RecordLen]byte
	PutRecord(&b2, &r)
	if b2 != b {
		t.Fatalf("4in6 mapping encoded as %x", b2)
	}
}

func TestParseHeaderVectors(t *testing.T) {
	good := unhex(t, vecOneFile)[:HeaderLen]
	mut := func(f func(b []byte)) []byte { return mutated(good, f) }
	tests := []struct {
		name string
		in   []byte
		want Header
		err  error
	}{
		{name: "one record", in: good, want: Header{Version: 1, Count: 1, SavedAt: vecSavedAt, Checksum: 0x448a1a2f}},
		{name: "empty", in: unhex(t, vecEmptyFile), want: Header{Version: 1, Count: 0, SavedAt: vecSavedAt, Checksum: 0x2e5029d3}},
		{name: "short", in: good[:HeaderLen-1], err: ErrTruncated},
		{name: "magic", in: mut(func(b []byte) { b[0] = 'X' }), err: ErrMagic},
		{name: "version 2", in: mut(func(b []byte) { b[9] = 2 }), err: ErrVersion},
		{name: "version 0", in: mut(func(b []byte) { b[9] = 0 }), err: ErrVersion},
		{name: "record length 40", in: mut(func(b []byte) { b[11] = 40 }), err: ErrRecordLen},
		{name: "reserved", in: mut(func(b []byte) { b[27] = 1 }), err: ErrReserved},
		{name: "saved at 0", in: mut(func(b []byte) { clear(b[16:24]) }), err: ErrBadSaveTime},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, err := ParseHeader(tc.in)
			if !errors.Is(err, tc.err) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			if err == nil && h != tc.want {
				t.Fatalf("header = %+v, want %+v", h, tc.want)
			}
		})
	}
}

// writeFile writes b to a fresh state file and returns its path.
func writeFile(t testing.TB, b []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "peers.state")
	if err := os.WriteFile(path, b, FileMode); err != nil {
		t.Fatal(err)
	}
	return path
}

func loadAll(t testing.TB, path string, limit int) ([]Record, Header, int, error) {
	t.Helper()
	var out []Record
	h, invalid, err := Load(path, limit, func(_ *Header, r *Record) { out = append(out, *r) })
	return out, h, invalid, err
}

// TestLoadVectors reads the vector files and every way of damaging them:
// any damage rejects the whole file, and no record is passed on.
func TestLoadVectors(t *testing.T) {
	one := unhex(t, vecOneFile)
	recs, h, invalid, err := loadAll(t, writeFile(t, one), 10)
	if err != nil || invalid != 0 || len(recs) != 1 || recs[0] != vecRecord || h.SavedAt != vecSavedAt {
		t.Fatalf("Load(one) = %+v, %+v, %d, %v", recs, h, invalid, err)
	}
	recs, _, _, err = loadAll(t, writeFile(t, unhex(t, vecEmptyFile)), 10)
	if err != nil || len(recs) != 0 {
		t.Fatalf("Load(empty) = %+v, %v", recs, err)
	}

	for n := range len(one) {
		if _, _, _, err := loadAll(t, writeFile(t, one[:n]), 10); !errors.Is(err, ErrTruncated) {
			t.Errorf("truncated to %d bytes: err = %v, want ErrTruncated", n, err)
		}
	}
	for i := range len(one) {
		for _, bit := range []byte{0x01, 0x80} {
			b := append([]byte(nil), one...)
			b[i] ^= bit
			recs, _, _, err := loadAll(t, writeFile(t, b), 10)
			if err == nil || len(recs) != 0 {
				t.Errorf("byte %d ^ %#x: %d records, err %v; want the file rejected", i, bit, len(recs), err)
			}
		}
	}
	if _, _, _, err := loadAll(t, writeFile(t, append(append([]byte(nil), one...), 0)), 10); !errors.Is(err, ErrTrailing) {
		t.Errorf("trailing byte: err = %v", err)
	}
	if _, _, _, err := loadAll(t, writeFile(t, one), 0); !errors.Is(err, ErrTooMany) {
		t.Errorf("limit 0: err = %v", err)
	}
	if _, _, _, err := loadAll(t, filepath.Join(t.TempDir(), "missing"), 10); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: err = %v", err)
	}
	if _, _, _, err := loadAll(t, t.TempDir(), 10); err == nil || !strings.Contains(err.Error(), "regular file") {
		t.Errorf("directory: err = %v", err)
	}
}

func TestFormatAllocs(t *testing.T) {
	b := unhex(t, vecOneFile)
	var r Record
	var out [RecordLen]byte
	if n := testing.AllocsPerRun(1000, func() {
		if _, err := ParseHeader(b); err != nil {
			t.Fatal(err)
		}
		if err := ParseRecord(b[HeaderLen:], &r); err != nil {
			t.Fatal(err)
		}
		PutRecord(&out, &r)
	}); n != 0 {
		t.Fatalf("%v allocations per header+record parse and encode, want 0", n)
	}
}
