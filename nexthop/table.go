package nexthop

import (
	"log/slog"
	"sync/atomic"
	"time"
)

// Options configure a Table.
type Options struct {
	// Ports are the ifindexes the relay transmits on; Hop.Port indexes this slice.
	Ports []int32
	// Logger receives resynchronisation messages (default slog.Default()).
	Logger *slog.Logger
	// Namespace is a network namespace file descriptor to mirror instead of
	// the current one (tests); 0 = the current namespace.
	Namespace int
	// NeighbourRefresh is how often the gateways the relay forwards to are
	// checked for STALE kernel entries, which the kernel is then asked to
	// re-validate (see StaleGateways); 0 = DefaultNeighbourRefresh, negative
	// = never.
	NeighbourRefresh time.Duration
}

// Stats are the table's own counters.
type Stats struct {
	Generation   uint64 // snapshots published
	Routes       int
	Neighbours   int
	Resyncs      uint64 // full resynchronisations after a subscription failed
	Updates      uint64 // netlink updates applied
	LastSyncUnix int64  // when the last full dump completed (Unix seconds)
	// NeighbourRefreshes counts STALE gateways the kernel was asked to
	// re-validate (RTM_NEWNEIGH with NTF_USE); NeighbourRefreshErrors counts
	// such requests the kernel refused (other than for an entry that went away).
	NeighbourRefreshes     uint64
	NeighbourRefreshErrors uint64
}

// Table mirrors the kernel's routes, neighbours and links and publishes
// snapshots. Load is safe for concurrent use.
type Table struct {
	opts    Options
	log     *slog.Logger
	current atomic.Pointer[Snapshot]

	resyncs, updates atomic.Uint64
	lastSync         atomic.Int64
	refreshes        atomic.Uint64
	refreshErrors    atomic.Uint64
	done             chan struct{}
	stop             chan struct{}
}

// Load returns the current snapshot (never nil).
func (t *Table) Load() *Snapshot { return t.current.Load() }

// Stats returns the table's counters.
func (t *Table) Stats() Stats {
	s := t.Load()
	return Stats{
		Generation:   s.Generation,
		Routes:       s.Routes,
		Neighbours:   s.Neighbours,
		Resyncs:      t.resyncs.Load(),
		Updates:      t.updates.Load(),
		LastSyncUnix: t.lastSync.Load(),

		NeighbourRefreshes:     t.refreshes.Load(),
		NeighbourRefreshErrors: t.refreshErrors.Load(),
	}
}

// NewStatic returns a Table that serves a fixed snapshot (tests and tools).
func NewStatic(s *Snapshot) *Table {
	t := &Table{log: slog.Default(), done: make(chan struct{}), stop: make(chan struct{})}
	close(t.done)
	t.current.Store(s)
	return t
}
