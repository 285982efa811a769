// Package control serves teredo-relayd's control API (types and client in
// control/api) on a unix socket with mode 0660: status, statistics with
// rates, the peer table, drain/undrain and reload. relayctl is its client.
//
// # For the daemon
//
// The daemon implements Backend: the metrics.Source it already feeds the
// Prometheus collector with, plus Info, RangePeers, LookupPeer, Drain,
// Undrain and Reload. Then:
//
//	srv := control.NewServer(control.Config{Backend: b, Logger: log})
//	go srv.Run(ctx, cfg.API.Socket)   // creates the socket 0660, samples rates, serves
//
// or, to fail the start on a socket that cannot be created (teredo-relayd
// does this before it reports ready), ln, err := srv.Listen(path) first and
// go srv.RunListener(ctx, ln) later.
//
// RangePeers walks the peer cache (cache.Cache.Range) and fills the reused
// *api.Peer with the fields the cache holds: Address, State, ObservedMapping,
// LastRx/LastTx, Bubbles, counters, queued packets/bytes. (There is no RX
// queue column: the cache is shared by every worker and a peer's two
// directions arrive on whatever queues RSS picks, so no queue owns a peer.)
// The server decodes the Teredo fields itself, filters, and keeps
// only the best Limit entries in a bounded heap, so a request costs one walk
// of the table (bounded by its capacity) and O(Limit) memory.
//
// Drain must be idempotent and persist across restarts as the daemon sees fit;
// Reload returns the new configuration's result (a rejected file is an
// api.ReloadResult with Error set, not a Go error; a Go error means the reload
// could not be attempted).
//
// Status and stats follow metrics.State.Roles: with the server role,
// GET /v1/status has a server object (addresses from Info, counts from
// metrics.Source.ServerStats) and GET /v1/stats the server counters and
// drops (layer "server"); the announcement (metrics.State.Announce) and the
// drain's persistence (Info.DrainStateFile, DrainPersisted) are always in
// the status.
package control
