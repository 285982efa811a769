package daemon

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"time"

	"github.com/teredorelay/teredorelay/bpf"
	"github.com/teredorelay/teredorelay/cache"
	"github.com/teredorelay/teredorelay/config"
	"github.com/teredorelay/teredorelay/control"
	"github.com/teredorelay/teredorelay/control/api"
	"github.com/teredorelay/teredorelay/dataplane"
	"github.com/teredorelay/teredorelay/metrics"
	"github.com/teredorelay/teredorelay/relay"
	"github.com/teredorelay/teredorelay/server"
	"github.com/teredorelay/teredorelay/teredo"
	"github.com/teredorelay/teredorelay/xsk"
)

var (
	_ control.Backend = (*Daemon)(nil)
	_ metrics.Source  = (*Daemon)(nil)
)

// DataplaneCounters returns every worker's counters summed.
func (d *Daemon) DataplaneCounters() dataplane.Counters {
	var sum dataplane.Counters
	for _, w := range d.workers {
		c := w.Counters()
		sum.Add(&c)
	}
	return sum
}

// RelayCounters implements metrics.Source: the engine's counters plus the
// data plane's drop reasons (labels from both enums, disjoint).
func (d *Daemon) RelayCounters() metrics.RelayCounters {
	if d.engine == nil {
		return metrics.RelayCounters{}
	}
	c := d.engine.Counters()
	dp := d.DataplaneCounters()
	out := metrics.RelayCounters{
		V4ToV6Packets:      c.DecapForwarded,
		V4ToV6Bytes:        c.DecapForwardedBytes,
		V6ToV4Packets:      c.EncapForwarded + c.QueueReleases + c.SlowPathSends,
		V6ToV4Bytes:        c.EncapForwardedBytes,
		BubblesDirect:      c.BubblesSentDirect,
		BubblesIndirect:    c.BubblesSentIndirect,
		BubbleRetries:      c.BubbleRetries,
		BubbleExpiries:     c.PeerExpiries,
		ChecksumsCompleted: c.EncapChecksumsCompleted,
	}
	for r := relay.DropReason(0); r < relay.NumDropReasons; r++ {
		out.Drops = append(out.Drops, metrics.Count{Label: r.String(), Value: c.Drops[r]})
	}
	for r := dataplane.Reason(0); r < dataplane.NumReasons; r++ {
		if r.IsDrop() {
			out.Drops = append(out.Drops, metrics.Count{Label: r.String(), Value: dp.Events[r]})
		}
	}
	var suppressed uint64
	for k := relay.ICMPv6Kind(0); k < relay.NumICMPv6Kinds; k++ {
		out.ICMPv6Errors = append(out.ICMPv6Errors, metrics.Count{Label: icmpv6Label(k), Value: c.ICMPv6Sent[k]})
		suppressed += c.ICMPv6Suppressed[k]
	}
	// One count per refusal of each limiter: a refused first bubble round
	// is a bubble_rate_limited drop, a refused retry round is counted
	// apart; a client over its slow-path rate loses a packet
	// (client_rate_limited) or a trust notice.
	out.RateLimited = []metrics.Count{
		{Label: limiterICMPv6, Value: suppressed},
		{Label: limiterBubble, Value: c.Drops[relay.DropBubbleRateLimited] + c.BubbleRoundsRateLimited},
		{Label: limiterNewPeer, Value: c.Drops[relay.DropNewPeerRateLimited]},
		{Label: limiterClientSlowPath, Value: c.Drops[relay.DropClientRateLimited] + c.SlowPathNoticesRateLimited},
		{Label: limiterDestinationHandoff, Value: c.Drops[relay.DropDestHandoffLimited]},
		{Label: limiterBubbleShare, Value: c.Drops[relay.DropBubbleServerLimited] + c.Drops[relay.DropBubbleDestLimited]},
	}
	if sc, ok := d.ServerCounters(); ok {
		out.RateLimited = append(out.RateLimited, metrics.Count{Label: limiterServerPerSource, Value: sc.Drops[server.DropRateLimited]})
	}
	return out
}

// Rate limiter names (the limiter label of teredo_relay_ratelimit_*).
const (
	limiterICMPv6             = "icmpv6"
	limiterBubble             = "bubble"
	limiterNewPeer            = "new_peer"
	limiterClientSlowPath     = "client_slow_path"
	limiterDestinationHandoff = "destination_handoff"
	limiterBubbleShare        = "bubble_share"
	limiterServerPerSource    = "server_per_source"
)

// rateLimits returns the configured rate of every limiter RelayCounters
// reports.
func rateLimits(cfg *config.Config) []metrics.RateLimit {
	icmp := cfg.ICMPv6.Rate
	if !cfg.ICMPv6.Enabled {
		icmp = 0 // icmpv6.enabled off: none is sent
	}
	rl := cfg.RateLimits
	out := []metrics.RateLimit{
		{Limiter: limiterICMPv6, PacketsPerSecond: icmp},
		{Limiter: limiterBubble, PacketsPerSecond: rl.BubbleRate},
		{Limiter: limiterNewPeer, PacketsPerSecond: rl.NewPeerRate},
		{Limiter: limiterClientSlowPath, PacketsPerSecond: rl.ClientSlowPathRate},
		{Limiter: limiterDestinationHandoff, PacketsPerSecond: rl.DestinationHandoffRate},
		{Limiter: limiterBubbleShare, PacketsPerSecond: rl.BubbleRate * rl.BubbleShare},
	}
	if cfg.ServerRole() {
		out = append(out, metrics.RateLimit{Limiter: limiterServerPerSource, PacketsPerSecond: cfg.Server.RatePerSource})
	}
	return out
}

// roles returns the roles the configuration runs.
func roles(cfg *config.Config) []string {
	var out []string
	if cfg.RelayRole() {
		out = append(out, metrics.RoleRelay)
	}
	if cfg.ServerRole() {
		out = append(out, metrics.RoleServer)
	}
	return out
}

// ServerStats implements metrics.Source: the server role's counters, or
// zeros without the role (every RA kind, forward kind and drop reason
// listed either way).
func (d *Daemon) ServerStats() metrics.ServerStats {
	c, _ := d.ServerCounters()
	out := metrics.ServerStats{
		Packets: c.Packets, Bytes: c.Bytes, RSReceived: c.RSReceived,
		ForwardedBytes: c.ForwardedBytes, OriginIndications: c.OriginIndications, RelayHandoffs: c.RelayHandoffs,
		RASent:    make([]metrics.Count, 0, server.NumRAKinds),
		Forwarded: make([]metrics.Count, 0, server.NumForwardKinds),
		Drops:     make([]metrics.Count, 0, server.NumDropReasons),
	}
	for k := range server.NumRAKinds {
		out.RASent = append(out.RASent, metrics.Count{Label: k.String(), Value: c.RASent[k]})
	}
	for k := range server.NumForwardKinds {
		out.Forwarded = append(out.Forwarded, metrics.Count{Label: k.String(), Value: c.Forwarded[k]})
	}
	for r := range server.NumDropReasons {
		out.Drops = append(out.Drops, metrics.Count{Label: r.String(), Value: c.Drops[r]})
	}
	return out
}

// icmpv6Label maps the relay's kinds to the metric's documented labels.
func icmpv6Label(k relay.ICMPv6Kind) string {
	switch k {
	case relay.ICMPv6DestUnreachable:
		return "destination_unreachable"
	case relay.ICMPv6PacketTooBig:
		return "packet_too_big"
	case relay.ICMPv6TimeExceeded:
		return "time_exceeded"
	}
	return k.String()
}

// XDPCounters implements metrics.Source, summed over the interfaces.
func (d *Daemon) XDPCounters() ([]metrics.XDPCount, error) {
	var sum bpf.Counters
	for _, s := range d.sides {
		if s.prog == nil {
			continue
		}
		c, err := s.prog.Counters()
		if err != nil {
			return nil, fmt.Errorf("read XDP counters of %s: %w", s.name, err)
		}
		for i := range sum {
			sum[i] += c[i]
		}
	}
	var out []metrics.XDPCount
	for _, r := range bpf.Reasons() {
		action := "pass"
		switch {
		case r.Steered():
			action = "redirect"
		case r.Dropped():
			action = "drop"
		}
		out = append(out, metrics.XDPCount{Reason: r.String(), Action: action, Packets: sum[r]})
	}
	return out, nil
}

// PeerStats implements metrics.Source.
func (d *Daemon) PeerStats() metrics.PeerStats {
	if d.peers == nil {
		return metrics.PeerStats{}
	}
	st := d.peers.Stats()
	out := metrics.PeerStats{
		Capacity:        uint64(st.Capacity),
		Pending:         uint64(st.Pending),
		Trusted:         uint64(st.Trusted),
		QueuedPackets:   uint64(st.QueuedPackets),
		QueuedBytes:     uint64(st.QueuedBytes),
		QueueLimitBytes: uint64(d.config().Peers.QueueBytesTotal),
	}
	for i, v := range st.Evictions {
		out.Evictions = append(out.Evictions, metrics.Count{Label: cache.EvictReason(i).String(), Value: v})
	}
	return out
}

// Queues implements metrics.Source: one entry per socket. A UMEM's
// counters are reported with the first socket that uses it (sockets of a
// queue may share one).
func (d *Daemon) Queues() []metrics.Queue {
	var out []metrics.Queue
	for qi, q := range d.queues {
		umemReported := make(map[*xsk.Umem]bool, len(q.umems))
		var wc dataplane.Counters
		if qi < len(d.workers) {
			wc = d.workers[qi].Counters()
		}
		for si, sock := range q.sockets {
			s := d.sides[si]
			mq := metrics.Queue{Interface: s.name, ID: q.id, XDPMode: s.mode.String(), ZeroCopy: sock.ZeroCopy(),
				RxPackets: wc.RxFrames[si], TxPackets: wc.TxFrames[si]}
			if st, err := sock.Stats(); err != nil {
				mq.RingErr = err
			} else {
				mq.Ring = metrics.RingStats{
					RxDropped: st.RxDropped, RxInvalidDescs: st.RxInvalidDescs, TxInvalidDescs: st.TxInvalidDescs,
					RxRingFull: st.RxRingFull, RxFillRingEmptyDescs: st.RxFillRingEmptyDescs, TxRingEmptyDescs: st.TxRingEmptyDescs,
				}
			}
			rs := sock.RingStats()
			k := rs.KickErrors
			mq.Ring.FrameStackEmpty, mq.Ring.TxRingFull = rs.FrameStackEmpty, rs.TxRingFull
			mq.Ring.TxRejected, mq.Ring.FreeRejected = rs.TxRejected, rs.FreeRejected
			mq.Ring.KickErrors = k.Again + k.Busy + k.NoBufs + k.NetDown + k.NotBound + k.Other
			if u := sock.Umem(); !umemReported[u] {
				umemReported[u] = true
				mq.ReportsUmem = true
				mq.Umem = metrics.UmemStats{Allocated: rs.Allocated, AllocStackEmpty: rs.AllocStackEmpty}
			}
			out = append(out, mq)
		}
	}
	return out
}

// State implements metrics.Source.
func (d *Daemon) State() metrics.State {
	cfg := d.config()
	st := metrics.State{
		Roles:                roles(cfg),
		Ready:                d.fitForTraffic(),
		Draining:             d.draining.Load(),
		StartTime:            d.start,
		Reloads:              d.reloads.Load(),
		ReloadFailures:       d.reloadFailures.Load(),
		LastReloadSuccessful: d.lastReloadOK.Load(),
		LastReloadSuccess:    time.Unix(0, d.lastReload.Load()),
		RateLimits:           rateLimits(cfg),
		Announce:             d.announceState(),
		PeerState:            d.peerStateStats(), // daemon/peerstate.go
	}
	if d.announce != nil {
		as := d.announce.drv.Status()
		st.Announce.Confirmed = as.Confirmed
		st.Announce.LastError, st.Announce.LastErrorTime, st.Announce.LastSuccess = as.LastError, as.LastErrorTime, as.LastSuccess
	}
	switch {
	case !d.ready.Load():
		st.NotReady = []string{"starting or stopping"}
	case d.draining.Load():
		st.NotReady = []string{"draining"}
	case d.routeMissing.Load():
		st.NotReady = []string{d.routeMissingReason()}
	}
	return st
}

// Info implements control.Backend.
func (d *Daemon) Info() control.Info {
	cfg := d.config()
	info := control.Info{Version: d.opts.Version, Revision: d.opts.Revision}
	if cfg.RelayRole() {
		for _, a := range cfg.IPv4.Addresses {
			info.Addresses = append(info.Addresses, netip.AddrPortFrom(a, cfg.IPv4.Port).String())
		}
		info.Addresses = append(info.Addresses, cfg.IPv6.Address.String())
	}
	if cfg.ServerRole() {
		for _, a := range []netip.Addr{cfg.Server.Primary, cfg.Server.Secondary} {
			info.ServerAddresses = append(info.ServerAddresses, netip.AddrPortFrom(a, teredo.Port).String())
		}
	}
	if path := cfg.Drain.StateFile; path != "" {
		info.DrainStateFile = path
		_, err := os.Stat(path)
		info.DrainPersisted = err == nil
	}
	for _, s := range d.sides {
		info.Interfaces = append(info.Interfaces, s.name)
	}
	if e := d.lastReloadErr.Load(); e != nil {
		info.LastReloadError = *e
	}
	return info
}

// RangePeers implements control.Backend.
func (d *Daemon) RangePeers(fn func(p *api.Peer) bool) {
	if d.peers == nil {
		return
	}
	var ap api.Peer
	d.peers.Range(func(p *cache.Peer) bool {
		d.fillPeer(&ap, p)
		return fn(&ap)
	})
}

// LookupPeer implements control.Backend.
func (d *Daemon) LookupPeer(addr netip.Addr) (api.Peer, bool) {
	if d.peers == nil || !addr.Is6() {
		return api.Peer{}, false
	}
	k := addr.As16()
	p, ok := d.peers.Get(&k)
	if !ok {
		return api.Peer{}, false
	}
	var ap api.Peer
	d.fillPeer(&ap, &p)
	return ap, true
}

func (d *Daemon) fillPeer(ap *api.Peer, p *cache.Peer) {
	*ap = api.Peer{
		Address:       p.Addr,
		State:         p.State.String(),
		LastRx:        d.wallTime(p.LastRx),
		LastTx:        d.wallTime(p.LastTx),
		Bubbles:       uint32(p.Bubbles),
		RxPackets:     p.RxPackets,
		RxBytes:       p.RxBytes,
		TxPackets:     p.TxPackets,
		TxBytes:       p.TxBytes,
		QueuedPackets: uint64(p.QueuedPackets),
		QueuedBytes:   uint64(p.QueuedBytes),
	}
	// A pending peer's mapping is the one its address claims until a
	// packet from it is accepted: only then was it observed.
	if p.LastRx != 0 {
		ap.ObservedMapping = p.Mapping
	}
}

// wallTime converts a cache time (relay.MonotonicNow nanoseconds) to wall time.
func (d *Daemon) wallTime(mono int64) time.Time {
	if mono == 0 {
		return time.Time{}
	}
	return d.start.Add(time.Duration(mono - d.monoAtStart))
}

// Drain implements control.Backend: readiness goes false, the announcement
// driver (if enabled) withdraws the prefix at once, and the drain state file
// keeps the relay drained across restarts; forwarding continues. The drain
// takes effect even when the file cannot be written (the error says so).
func (d *Daemon) Drain(context.Context) (bool, error) {
	changed := d.draining.CompareAndSwap(false, true)
	if changed {
		d.log.Info("draining: readiness withdrawn, forwarding continues")
		d.notifyStatus()
	}
	d.updateAnnounce()
	if err := d.persistDrain(true); err != nil { // daemon/announce.go
		d.log.Error("drained, but not persisted: a restart would undrain", "err", err)
		return changed, fmt.Errorf("drained, but a restart would undrain: %w", err)
	}
	return changed, nil
}

// Undrain implements control.Backend: the drain state file is removed first;
// when it cannot be, the relay stays drained and the error says why.
func (d *Daemon) Undrain(context.Context) (bool, error) {
	if err := d.persistDrain(false); err != nil { // daemon/announce.go
		return false, fmt.Errorf("still drained: %w", err)
	}
	changed := d.draining.CompareAndSwap(true, false)
	if changed {
		d.log.Info("undrained: ready again")
		d.notifyStatus()
	}
	d.updateAnnounce()
	return changed, nil
}

// Reload implements control.Backend (the same code as SIGHUP).
func (d *Daemon) Reload(context.Context) (api.ReloadResult, error) {
	_ = notify("RELOADING=1")
	res := d.reload()
	_ = notify("READY=1")
	if res.Error != "" {
		d.log.Error("reload refused; the running configuration stays", "err", res.Error)
	} else {
		d.log.Info("configuration reloaded", "changed", res.Changed)
	}
	return res, nil
}
