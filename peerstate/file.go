package peerstate

import (
	"bufio"
	"fmt"
	"hash/crc32"
	"io"
	"iter"
	"os"
	"path/filepath"
	"time"
)

// FileMode is the state file's permission: only the daemon reads it (the
// peers' addresses are not for other users).
const FileMode = 0o600

// bufSize is the I/O buffer of Save and Load.
const bufSize = 64 << 10

// SaveResult says what Save wrote.
type SaveResult struct {
	// Saved records were written; Skipped ones were not, because the limit
	// was reached or their mapping was not an IPv4 address and port.
	Saved, Skipped int
	// Bytes is the file's size.
	Bytes int64
}

// Save writes the records of peers to path atomically: a temporary file in
// the same directory is written, synced and renamed over path, and the
// directory is synced. At most limit records are written (limit is capped
// at MaxRecords). The iterator may yield the same *Record each time; Save
// copies it at once.
func Save(path string, savedAt time.Time, limit int, peers iter.Seq[*Record]) (res SaveResult, err error) {
	limit = min(max(limit, 0), MaxRecords)
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return res, fmt.Errorf("create temporary file: %w", err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err := f.Chmod(FileMode); err != nil {
		return res, fmt.Errorf("chmod %s: %w", tmp, err)
	}
	var hdr [HeaderLen]byte
	w := bufio.NewWriterSize(f, bufSize)
	if _, err := w.Write(hdr[:]); err != nil { // placeholder, rewritten below
		return res, fmt.Errorf("write %s: %w", tmp, err)
	}
	var rec [RecordLen]byte
	var crc uint32
	var werr error
	for r := range peers {
		if res.Saved >= limit || !validMapping(r.Mapping) {
			res.Skipped++
			continue
		}
		PutRecord(&rec, r)
		crc = crc32.Update(crc, crc32.IEEETable, rec[:])
		if _, werr = w.Write(rec[:]); werr != nil {
			break
		}
		res.Saved++
	}
	if werr == nil {
		werr = w.Flush()
	}
	if werr != nil {
		return res, fmt.Errorf("write %s: %w", tmp, werr)
	}
	PutHeader(&hdr, Header{Count: uint32(res.Saved), SavedAt: savedAt.UnixNano()})
	crc = crc32.Update(crc, crc32.IEEETable, hdr[:checksumOff])
	PutHeader(&hdr, Header{Count: uint32(res.Saved), SavedAt: savedAt.UnixNano(), Checksum: crc})
	if _, err := f.WriteAt(hdr[:], 0); err != nil {
		return res, fmt.Errorf("write header of %s: %w", tmp, err)
	}
	if err := f.Sync(); err != nil {
		return res, fmt.Errorf("sync %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		return res, fmt.Errorf("close %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return res, fmt.Errorf("rename into %s: %w", path, err)
	}
	if d, derr := os.Open(dir); derr == nil {
		_ = d.Sync()
		d.Close()
	}
	res.Bytes = HeaderLen + int64(res.Saved)*RecordLen
	return res, nil
}

// Load reads the file at path. It checks the header, the size and the
// checksum of the whole file first, and only then passes each valid record
// to fn with the file's header (both are reused: copy what you keep);
// records that fail
// ParseRecord are counted in invalid. A file with more than limit records
// (capped at MaxRecords) is rejected. On error no record has been passed
// to fn, except when reading fails during the second pass.
func Load(path string, limit int, fn func(*Header, *Record)) (h Header, invalid int, err error) {
	limit = min(max(limit, 0), MaxRecords)
	f, err := os.Open(path)
	if err != nil {
		return h, 0, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return h, 0, err
	}
	if !st.Mode().IsRegular() {
		return h, 0, fmt.Errorf("peerstate: %s is not a regular file", path)
	}
	size := st.Size()
	r := bufio.NewReaderSize(f, bufSize)
	var hdr [HeaderLen]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return h, 0, ErrTruncated
		}
		return h, 0, err
	}
	if h, err = ParseHeader(hdr[:]); err != nil {
		return h, 0, err
	}
	if int64(h.Count) > int64(limit) {
		return h, 0, fmt.Errorf("%w: %d records, limit %d", ErrTooMany, h.Count, limit)
	}
	want := HeaderLen + int64(h.Count)*RecordLen
	switch {
	case size < want:
		return h, 0, fmt.Errorf("%w: %d bytes for %d records (want %d)", ErrTruncated, size, h.Count, want)
	case size > want:
		return h, 0, fmt.Errorf("%w: %d bytes for %d records (want %d)", ErrTrailing, size, h.Count, want)
	}
	// Pass 1: the checksum over the whole file.
	var rec [RecordLen]byte
	var crc uint32
	for range h.Count {
		if _, err := io.ReadFull(r, rec[:]); err != nil {
			return h, 0, fmt.Errorf("read records: %w", err)
		}
		crc = crc32.Update(crc, crc32.IEEETable, rec[:])
	}
	crc = crc32.Update(crc, crc32.IEEETable, hdr[:checksumOff])
	if crc != h.Checksum {
		return h, 0, fmt.Errorf("%w: stored %08x, computed %08x", ErrChecksum, h.Checksum, crc)
	}
	// Pass 2: the records.
	if _, err := f.Seek(HeaderLen, io.SeekStart); err != nil {
		return h, 0, fmt.Errorf("seek to the records: %w", err)
	}
	r.Reset(f)
	var out Record
	for range h.Count {
		if _, err := io.ReadFull(r, rec[:]); err != nil {
			return h, invalid, fmt.Errorf("read records: %w", err)
		}
		if ParseRecord(rec[:], &out) != nil {
			invalid++
			continue
		}
		fn(&h, &out)
	}
	return h, invalid, nil
}
