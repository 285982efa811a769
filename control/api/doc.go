// Package api holds the JSON types, paths and client of teredo-relayd's
// control API, version 1: HTTP/JSON on a unix socket (mode 0660).
//
//	GET  /v1/status                 Status
//	GET  /v1/stats                  Stats (totals and per-second rates)
//	GET  /v1/peers?state=&v4=&server=&sort=&limit=   Peers (bounded, sorted, filtered server-side)
//	GET  /v1/peers/count?state=&v4=&server=          PeerCount
//	GET  /v1/peers/{addr}           PeerDetail
//	POST /v1/drain                  DrainResult
//	POST /v1/undrain                DrainResult
//	POST /v1/reload                 ReloadResult
//
// Errors are {"error": {"code": ..., "message": ...}} with a matching HTTP
// status. The bodies are exactly what `relayctl -o json` prints. The package
// imports neither the server nor Prometheus, so the CLI stays small.
//
//	curl --unix-socket /run/teredo-relayd/api.sock http://relayd/v1/status
package api
