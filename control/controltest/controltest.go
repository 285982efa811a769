// Package controltest provides a fake control.Backend for tests of the
// control server and relayctl.
package controltest

import (
	"context"
	"net/netip"
	"slices"
	"sync"

	"github.com/teredorelay/teredorelay/control"
	"github.com/teredorelay/teredorelay/control/api"
	"github.com/teredorelay/teredorelay/metrics/metricstest"
)

// Backend is an in-memory control.Backend over a metricstest.Source.
type Backend struct {
	*metricstest.Source

	mu       sync.Mutex
	info     control.Info
	peers    []api.Peer
	reload   api.ReloadResult
	reloadEr error
	drainErr error
	// Ranges counts RangePeers calls.
	Ranges int
}

// New returns a backend over src with the given peers (only the fields the
// daemon fills matter: decoded fields are recomputed by the server).
func New(src *metricstest.Source, info control.Info, peers []api.Peer) *Backend {
	return &Backend{Source: src, info: info, peers: slices.Clone(peers),
		reload: api.ReloadResult{Successful: true, Changed: []string{"log.level"}}}
}

// SetReload sets what Reload returns.
func (b *Backend) SetReload(res api.ReloadResult, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.reload, b.reloadEr = res, err
}

// SetDrainError makes Drain and Undrain fail with err.
func (b *Backend) SetDrainError(err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.drainErr = err
}

// Info implements control.Backend. Like the daemon, a drain is persisted
// when a drain state file is configured.
func (b *Backend) Info() control.Info {
	info := b.info
	info.DrainPersisted = info.DrainStateFile != "" && b.State().Draining
	return info
}

// RangePeers implements control.Backend, reusing one Peer like the daemon.
func (b *Backend) RangePeers(fn func(p *api.Peer) bool) {
	b.mu.Lock()
	peers := slices.Clone(b.peers)
	b.Ranges++
	b.mu.Unlock()
	var p api.Peer
	for i := range peers {
		p = peers[i]
		if !fn(&p) {
			return
		}
	}
}

// LookupPeer implements control.Backend.
func (b *Backend) LookupPeer(addr netip.Addr) (api.Peer, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, p := range b.peers {
		if p.Address == addr {
			return p, true
		}
	}
	return api.Peer{}, false
}

func (b *Backend) setDrain(d bool) (bool, error) {
	b.mu.Lock()
	err := b.drainErr
	b.mu.Unlock()
	if err != nil {
		return false, err
	}
	changed := false
	b.Update(func(s *metricstest.Source) {
		changed = s.St.Draining != d
		s.St.Draining = d
		s.St.Ready = !d
		s.St.NotReady = nil
		if d {
			s.St.NotReady = []string{"draining"}
		}
	})
	return changed, nil
}

// Drain implements control.Backend.
func (b *Backend) Drain(context.Context) (bool, error) { return b.setDrain(true) }

// Undrain implements control.Backend.
func (b *Backend) Undrain(context.Context) (bool, error) { return b.setDrain(false) }

// Reload implements control.Backend.
func (b *Backend) Reload(context.Context) (api.ReloadResult, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.reload, b.reloadEr
}

var _ control.Backend = (*Backend)(nil)
