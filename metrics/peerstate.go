package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// PeerStateStats is the persistence of the trusted peers across restarts
// (package peerstate). While Enabled is false (peer_state.file "") every
// metric but teredo_relay_peer_state_enabled is 0.
type PeerStateStats struct {
	Enabled bool
	// At start: peers restored (trusted: received within the trust window;
	// stale: older, re-verified on their next packet), records rejected by
	// reason (expired, invalid, refused, full, duplicate: RejectReasons), and
	// whether the file as a whole was rejected (corrupt, truncated,
	// unsupported version, over the size cap).
	LoadedTrusted, LoadedStale uint64
	Rejected                   []Count
	FileRejected               bool
	// Saves: attempts that succeeded and failed; the last successful one's
	// start, duration, peers written and peers left out by the size cap.
	Saves, SaveFailures uint64
	LastSave            time.Time
	LastSaveDuration    time.Duration
	Saved, Skipped      uint64
}

// RejectReasons are the labels of teredo_relay_peer_state_rejected_peers,
// in export order.
var RejectReasons = []string{"expired", "invalid", "refused", "full", "duplicate"}

var (
	defPeerStateEnabled = Def{Name: n("peer_state_enabled"), Kind: Gauge,
		Help: "1 when the trusted peers are saved across restarts (peer_state.file set), else 0."}
	defPeerStateLoaded = Def{Name: n("peer_state_loaded_peers"), Kind: Gauge,
		Help:   "Peers restored from the state file at start, by state (trusted: received within the 30 s trust window; stale: older, re-verified on their next packet).",
		Labels: []string{"state"}, LabelValues: map[string]string{"state": "trusted, stale"}}
	defPeerStateRejected = Def{Name: n("peer_state_rejected_peers"), Kind: Gauge,
		Help: "Records of the state file not restored at start, by reason (expired: idle longer than the idle timeout; invalid: failed the record checks or received after the save; " +
			"refused: the relay's policy refuses the mapping now, e.g. a bogon or its own address; full: no room in the peer table; duplicate: already restored).",
		Labels: []string{"reason"}, LabelValues: map[string]string{"reason": "expired, invalid, refused, full, duplicate"}}
	defPeerStateFileRejected = Def{Name: n("peer_state_file_rejected"), Kind: Gauge,
		Help: "1 when the state file found at start was unusable (corrupt, truncated, unsupported version, over the size cap) and the relay started with an empty peer table, else 0."}
	defPeerStateSaves = Def{Name: n("peer_state_saves_total"), Kind: Counter,
		Help:   "Saves of the trusted peers (periodic and at shutdown), by result.",
		Labels: []string{"result"}, LabelValues: map[string]string{"result": "success, failure"}}
	defPeerStateLastSave = Def{Name: n("peer_state_last_save_timestamp_seconds"), Kind: Gauge,
		Help: "Unix time the last successful save started (0 before the first)."}
	defPeerStateLastDuration = Def{Name: n("peer_state_last_save_duration_seconds"), Kind: Gauge,
		Help: "How long the last successful save took (walk of the peer table, write, fsync, rename)."}
	defPeerStateSaved = Def{Name: n("peer_state_saved_peers"), Kind: Gauge,
		Help: "Trusted peers written by the last successful save."}
	defPeerStateSkipped = Def{Name: n("peer_state_skipped_peers"), Kind: Gauge,
		Help: "Trusted peers the last successful save left out because of the size cap (peer_state.max_peers)."}
)

func init() {
	Defs = append(Defs, defPeerStateEnabled, defPeerStateLoaded, defPeerStateRejected, defPeerStateFileRejected,
		defPeerStateSaves, defPeerStateLastSave, defPeerStateLastDuration, defPeerStateSaved, defPeerStateSkipped)
}

func (c *Collector) collectPeerState(ch chan<- prometheus.Metric, p PeerStateStats) {
	c.emit(ch, defPeerStateEnabled, b2f(p.Enabled))
	c.emit(ch, defPeerStateLoaded, float64(p.LoadedTrusted), "trusted")
	c.emit(ch, defPeerStateLoaded, float64(p.LoadedStale), "stale")
	for _, r := range RejectReasons {
		var v uint64
		for _, x := range p.Rejected {
			if x.Label == r {
				v = x.Value
			}
		}
		c.emit(ch, defPeerStateRejected, float64(v), r)
	}
	c.emit(ch, defPeerStateFileRejected, b2f(p.FileRejected))
	c.emit(ch, defPeerStateSaves, float64(p.Saves), "success")
	c.emit(ch, defPeerStateSaves, float64(p.SaveFailures), "failure")
	last := 0.0 // never saved: 0, so that the family exists from the start
	if !p.LastSave.IsZero() {
		last = unixSeconds(p.LastSave)
	}
	c.emit(ch, defPeerStateLastSave, last)
	c.emit(ch, defPeerStateLastDuration, p.LastSaveDuration.Seconds())
	c.emit(ch, defPeerStateSaved, float64(p.Saved))
	c.emit(ch, defPeerStateSkipped, float64(p.Skipped))
}
