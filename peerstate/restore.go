package peerstate

import (
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"time"

	"github.com/teredorelay/teredorelay/cache"
)

// Table is the peer table the records come from and go back to;
// *cache.Cache implements it.
type Table interface {
	// Restore creates a trusted entry (cache.Cache.Restore).
	Restore(k *[16]byte, mapping netip.AddrPort, lastRx, now int64) (bool, error)
	// Range walks the entries (cache.Cache.Range).
	Range(fn func(*cache.Peer) bool)
}

// Class is what a saved record becomes at load time.
type Class uint8

// Record classes.
const (
	// ClassTrusted: received from less than the trust window ago; used for
	// encapsulation at once.
	ClassTrusted Class = iota
	// ClassStale: older (or of unknown age, the clock having been stepped
	// back since the save); trusted but re-verified on the next native
	// packet for it.
	ClassStale
	// ClassExpired: older than the maximum age; not restored.
	ClassExpired
	// ClassInvalid: received after the file was saved; not restored.
	ClassInvalid
)

// Classify returns the class of r, read from a file saved at savedAt
// (Unix ns), at wall time now, and the age to restore it with.
func Classify(r *Record, savedAt int64, now time.Time, trustWindow, maxAge time.Duration) (Class, time.Duration) {
	if r.LastRx > savedAt {
		return ClassInvalid, 0
	}
	age := time.Duration(now.UnixNano() - r.LastRx)
	switch {
	case savedAt > now.UnixNano() || age < 0:
		// The wall clock went back since the save: the age is unknown,
		// so the peer is re-verified.
		return ClassStale, trustWindow
	case age > maxAge:
		return ClassExpired, age
	case age < trustWindow:
		return ClassTrusted, age
	}
	return ClassStale, age
}

// LoadStats says what Restore did with the file.
type LoadStats struct {
	// Found is false when there was no file (a first start).
	Found bool
	// Err is why the file was rejected as a whole (nil when it was read or
	// absent). The table then stays empty.
	Err error
	// SavedAt is the file's save time.
	SavedAt time.Time
	// Trusted and Stale peers were restored.
	Trusted, Stale int
	// Not restored: Expired (older than the maximum age), Invalid (record
	// checks failed, or received after the save), Refused (by the policy),
	// Full (the table had no room), Duplicate (already in the table).
	Expired, Invalid, Refused, Full, Duplicate int
}

// Restored is the number of peers put back in the table.
func (s LoadStats) Restored() int { return s.Trusted + s.Stale }

// Rejected is the number of records not put back.
func (s LoadStats) Rejected() int { return s.Expired + s.Invalid + s.Refused + s.Full + s.Duplicate }

// Policy decides how records come back.
type Policy struct {
	// TrustWindow is the relay's peer validity: younger peers come back
	// trusted, older ones stale.
	TrustWindow time.Duration
	// MaxAge is the relay's idle timeout: older peers are not restored.
	MaxAge time.Duration
	// Limit is the most records a file may hold (the size cap); 0 means
	// MaxRecords.
	Limit int
	// Accept refuses records the relay would not accept now (nil: all).
	Accept func(r *Record) bool
}

// Restore reads the file at path into t. now is the wall clock and mono
// the table's clock at the same instant: a record's last receive becomes
// mono minus its age. A missing file leaves the table empty with Found
// false; a file that cannot be used is reported in LoadStats.Err and
// nothing of it is restored.
func Restore(path string, p Policy, t Table, now time.Time, mono int64) LoadStats {
	var st LoadStats
	if p.Limit <= 0 {
		p.Limit = MaxRecords
	}
	h, invalid, err := Load(path, p.Limit, func(h *Header, r *Record) {
		st.restore(h, r, p, t, now, mono)
	})
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return LoadStats{}
	case err != nil:
		// A failure in the second pass (after the checksum) may have
		// restored part of the file: keep the counts, report the error.
		st.Found, st.Err = true, fmt.Errorf("read %s: %w", path, err)
		return st
	}
	st.Found = true
	st.SavedAt = time.Unix(0, h.SavedAt)
	st.Invalid += invalid
	return st
}

// restore classifies one record and puts it in t.
func (st *LoadStats) restore(h *Header, r *Record, p Policy, t Table, now time.Time, mono int64) {
	class, age := Classify(r, h.SavedAt, now, p.TrustWindow, p.MaxAge)
	switch class {
	case ClassExpired:
		st.Expired++
		return
	case ClassInvalid:
		st.Invalid++
		return
	}
	if p.Accept != nil && !p.Accept(r) {
		st.Refused++
		return
	}
	ok, err := t.Restore(&r.Addr, r.Mapping, mono-int64(age), mono)
	switch {
	case errors.Is(err, cache.ErrFull):
		st.Full++
	case err != nil:
		st.Invalid++
	case !ok:
		st.Duplicate++
	case class == ClassTrusted:
		st.Trusted++
	default:
		st.Stale++
	}
}

// setAside renames a rejected file to path + ".rejected" (replacing an
// older one), so the next save does not destroy what an operator may want
// to look at.
func setAside(path string) (string, error) {
	dst := path + ".rejected"
	if err := os.Rename(path, dst); err != nil {
		return "", err
	}
	return dst, nil
}
