package control

import (
	"context"
	"net/netip"

	"github.com/teredorelay/teredorelay/control/api"
	"github.com/teredorelay/teredorelay/metrics"
)

// Info is what the daemon tells about itself in GET /v1/status.
type Info struct {
	Version   string
	Revision  string
	Addresses []string // the relay's service addresses, e.g. "192.0.2.1:3544", "2001:db8::1"
	// ServerAddresses are the Teredo server role's primary and secondary
	// address:port (empty without the role).
	ServerAddresses []string
	// Interfaces lists every configured NIC, also those without a bound queue.
	Interfaces      []string
	LastReloadError string
	// DrainStateFile is drain.state_file ("" when not configured);
	// DrainPersisted is true when that file exists (the daemon would start
	// drained).
	DrainStateFile string
	DrainPersisted bool
}

// Backend is implemented by the daemon. All methods may be called
// concurrently from request goroutines.
type Backend interface {
	metrics.Source
	Info() Info
	// RangePeers calls fn for every peer cache entry until fn returns false.
	// p is reused between calls; fn copies what it keeps.
	RangePeers(fn func(p *api.Peer) bool)
	// LookupPeer returns one entry (fields as in RangePeers).
	LookupPeer(addr netip.Addr) (api.Peer, bool)
	// Drain withdraws the relay from service (readiness false); Undrain
	// reverses it. Both are idempotent and return whether the state changed.
	Drain(ctx context.Context) (changed bool, err error)
	Undrain(ctx context.Context) (changed bool, err error)
	// Reload re-reads the configuration file and applies it.
	Reload(ctx context.Context) (api.ReloadResult, error)
}
