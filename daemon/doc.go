// Package daemon runs teredo-relayd: Run loads the configuration and builds,
// in order, the peer cache (with the trusted peers saved by the previous
// run, peer_state.file), the kernel sockets (relay.Output and the UDP
// fallback reader), the relay engine, the next-hop table, one XDP steering
// program per interface, the UMEMs and AF_XDP sockets of every queue, and one
// dataplane.Worker per queue; then it attaches XDP, starts the slow path, the
// control API and the metrics listener, and reports readiness (ready file,
// sd_notify READY=1).
//
// SIGHUP (or the control API's reload) re-reads the file and applies the
// reloadable settings (config.ReloadableKeys) or refuses with an error naming
// the first key that needs a restart. SIGTERM/SIGINT detach XDP first (the
// kernel takes the traffic back), then stop the workers, save the trusted
// peers and close every socket. The peers are also saved every
// peer_state.save_interval (daemon/peerstate.go).
//
// *Daemon implements control.Backend and metrics.Source.
package daemon
