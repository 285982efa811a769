package peerstate

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	"github.com/teredorelay/teredorelay/cache"
)

// DefaultInterval is the period of the background save.
const DefaultInterval = 10 * time.Second

// Config configures a Keeper.
type Config struct {
	// Path is the state file (absolute).
	Path string
	// Interval is the period of the background save (default
	// DefaultInterval).
	Interval time.Duration
	// Policy: trust window, maximum age, size cap (Limit, also the most
	// records a save writes) and acceptance of records at load.
	Policy Policy
	// Now is the wall clock (default time.Now); Mono is the table's clock
	// (required: the same function as cache.Config.Now).
	Now  func() time.Time
	Mono func() int64
	// Logger receives the load result and save failures (default: none).
	Logger *slog.Logger
}

// Stats is a snapshot of a Keeper.
type Stats struct {
	// Load is what the start-up load did.
	Load LoadStats
	// LastSave is when the last successful save started (zero before the
	// first); LastSaved and LastSkipped are what it wrote and left out.
	LastSave               time.Time
	LastSaved, LastSkipped int
	LastDuration           time.Duration
	// Saves and SaveErrors count attempts and failures.
	Saves, SaveErrors uint64
	// LastError is the last failure's text ("" after a success).
	LastError string
}

// Keeper loads the peer table at start and saves it periodically and once
// more at shutdown.
type Keeper struct {
	cfg Config
	t   Table
	log *slog.Logger

	saveMu sync.Mutex // one save at a time; final set by SaveFinal
	final  bool

	mu sync.Mutex // guards st
	st Stats
}

// New checks cfg and returns a Keeper over t that does nothing until Load.
func New(cfg Config, t Table) (*Keeper, error) {
	if !filepath.IsAbs(cfg.Path) {
		return nil, fmt.Errorf("peerstate: file %q is not an absolute path", cfg.Path)
	}
	if cfg.Mono == nil {
		return nil, errors.New("peerstate: no table clock")
	}
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Policy.Limit <= 0 || cfg.Policy.Limit > MaxRecords {
		cfg.Policy.Limit = MaxRecords
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Keeper{cfg: cfg, t: t, log: log.With("component", "peerstate", "file", cfg.Path)}, nil
}

// Load restores the saved peers into the table. It never fails: a file
// that cannot be used is logged as a warning, set aside (renamed with a
// ".rejected" suffix) and the table stays empty.
func (k *Keeper) Load() LoadStats {
	begin := time.Now()
	st := Restore(k.cfg.Path, k.cfg.Policy, k.t, k.cfg.Now(), k.cfg.Mono())
	switch {
	case !st.Found:
		k.log.Info("no saved peers (first start)")
	case st.Err != nil:
		attrs := []any{"err", st.Err, "restored", st.Restored()}
		if dst, err := setAside(k.cfg.Path); err == nil {
			attrs = append(attrs, "kept_as", dst)
		} else {
			attrs = append(attrs, "set_aside_err", err)
		}
		k.log.Warn("saved peers unusable; starting with an empty peer table", attrs...)
	default:
		k.log.Info("saved peers restored", "trusted", st.Trusted, "stale", st.Stale,
			"expired", st.Expired, "invalid", st.Invalid, "refused", st.Refused, "full", st.Full,
			"duplicate", st.Duplicate, "saved_at", st.SavedAt.UTC().Format(time.RFC3339Nano),
			"took", time.Since(begin).Round(time.Microsecond))
	}
	k.mu.Lock()
	k.st.Load = st
	k.mu.Unlock()
	return st
}

// Run saves every Interval until ctx ends. It returns nil.
func (k *Keeper) Run(ctx context.Context) error {
	t := time.NewTicker(k.cfg.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if err := k.save(false); err != nil {
				k.log.Warn("saving the peer table failed; retrying at the next interval", "err", err)
			}
		}
	}
}

// SaveFinal saves once more (at shutdown, after the data plane stopped);
// Run's saves after it do nothing.
func (k *Keeper) SaveFinal() error { return k.save(true) }

func (k *Keeper) save(final bool) error {
	k.saveMu.Lock()
	defer k.saveMu.Unlock()
	if k.final {
		return nil
	}
	k.final = final
	begin := k.cfg.Now()
	res, err := Save(k.cfg.Path, begin, k.cfg.Policy.Limit, k.trusted(begin, k.cfg.Mono()))
	took := time.Since(begin)
	k.mu.Lock()
	defer k.mu.Unlock()
	k.st.Saves++
	if err != nil {
		k.st.SaveErrors++
		k.st.LastError = err.Error()
		return err
	}
	k.st.LastSave, k.st.LastSaved, k.st.LastSkipped, k.st.LastDuration, k.st.LastError = begin, res.Saved, res.Skipped, took, ""
	if final {
		k.log.Info("peer table saved", "peers", res.Saved, "skipped", res.Skipped, "bytes", res.Bytes, "took", took.Round(time.Microsecond))
	}
	return nil
}

// trusted yields the table's trusted peers with wall-clock last receive
// times (now and mono read at the same instant). The data plane keeps
// receiving during the walk, so a peer's last receive can be later than
// mono: it is written as now, since a record received after its file's
// save time is invalid.
func (k *Keeper) trusted(now time.Time, mono int64) iter.Seq[*Record] {
	return func(yield func(*Record) bool) {
		var r Record
		k.t.Range(func(p *cache.Peer) bool {
			if p.State != cache.Trusted || !p.Addr.Is6() {
				return true
			}
			r.Addr = p.Addr.As16()
			r.Mapping = p.Mapping
			r.LastRx = now.UnixNano() - max(mono-p.LastRx, 0)
			return yield(&r)
		})
	}
}

// Stats returns a snapshot.
func (k *Keeper) Stats() Stats {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.st
}
