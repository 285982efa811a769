package daemon

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/teredorelay/teredorelay/config"
	"github.com/teredorelay/teredorelay/metrics"
	"github.com/teredorelay/teredorelay/peerstate"
	"github.com/teredorelay/teredorelay/relay"
	"github.com/teredorelay/teredorelay/teredo"
)

// The trusted peers survive restarts (package peerstate): they are loaded
// into the fresh peer cache before the workers start, saved every
// peer_state.save_interval while the relay runs, and once more at shutdown
// after the workers have stopped. A SIGKILL loses at most one interval of
// changes: the last periodic save is read at the next start.

// loadPeerState restores the saved peers into d.peers (peer_state.file set
// and the relay role on). An unusable file is a warning and an empty table
// (peerstate.Keeper.Load), never an error; only an invalid setting is.
func (d *Daemon) loadPeerState(cfg *config.Config) error {
	ps := cfg.PeerState
	if ps.File == "" || !cfg.RelayRole() {
		return nil
	}
	k, err := peerstate.New(peerstate.Config{
		Path:     ps.File,
		Interval: ps.SaveInterval,
		Policy: peerstate.Policy{
			// The engine runs with the default validity and idle timeout
			// (relayConfig sets neither).
			TrustWindow: relay.DefaultPeerValidity,
			MaxAge:      relay.DefaultIdleTimeout,
			Limit:       ps.MaxPeers,
			Accept:      acceptRestored(cfg),
		},
		Now:    time.Now,
		Mono:   relay.MonotonicNow,
		Logger: d.log,
	}, d.peers)
	if err != nil {
		return fmt.Errorf("config: peer_state.file: %w", err)
	}
	k.Load()
	d.peerState = k
	return nil
}

// acceptRestored refuses saved peers the relay would not send to now:
// a mapping or server address that is not global unicast (with the current
// extra_bogons), a mapping on one of the relay's own addresses (loop
// guard), and, unless accept_symmetric_nat, a mapping other than the one
// the Teredo address embeds.
func acceptRestored(cfg *config.Config) func(*peerstate.Record) bool {
	bogons := teredo.NewBogons(cfg.ExtraBogons)
	own := cfg.IPv4.Addresses
	symmetric := cfg.AcceptSymmetricNAT
	return func(r *peerstate.Record) bool {
		mapped := r.Mapping.Addr().Unmap()
		switch {
		case !bogons.GlobalUnicast(mapped), slices.Contains(own, mapped),
			!bogons.GlobalUnicast4([4]byte(r.Addr[4:8])),
			!symmetric && !teredo.MatchesSource(&r.Addr, r.Mapping):
			return false
		}
		return true
	}
}

// startPeerStateSaver saves the peers every peer_state.save_interval
// until ctx ends.
func (d *Daemon) startPeerStateSaver(ctx context.Context) {
	if d.peerState != nil {
		d.goBackground("peer state saver", func() error { return d.peerState.Run(ctx) })
	}
}

// savePeerStateAtShutdown writes the final peer table (the workers have
// stopped, so last receive times are final).
func (d *Daemon) savePeerStateAtShutdown() {
	if d.peerState == nil {
		return
	}
	if err := d.peerState.SaveFinal(); err != nil {
		d.log.Error("saving the peer table at shutdown failed: the next start restores the last periodic save", "err", err)
	}
}

// peerStateStats implements the peer-state part of metrics.State.
func (d *Daemon) peerStateStats() metrics.PeerStateStats {
	if d.peerState == nil {
		return metrics.PeerStateStats{}
	}
	s := d.peerState.Stats()
	l := s.Load
	return metrics.PeerStateStats{
		Enabled:       true,
		LoadedTrusted: uint64(l.Trusted),
		LoadedStale:   uint64(l.Stale),
		Rejected: []metrics.Count{
			{Label: "expired", Value: uint64(l.Expired)},
			{Label: "invalid", Value: uint64(l.Invalid)},
			{Label: "refused", Value: uint64(l.Refused)},
			{Label: "full", Value: uint64(l.Full)},
			{Label: "duplicate", Value: uint64(l.Duplicate)},
		},
		FileRejected:     l.Err != nil,
		Saves:            s.Saves - s.SaveErrors,
		SaveFailures:     s.SaveErrors,
		LastSave:         s.LastSave,
		LastSaveDuration: s.LastDuration,
		Saved:            uint64(s.LastSaved),
		Skipped:          uint64(s.LastSkipped),
	}
}
