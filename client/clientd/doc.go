// Package clientd runs the Teredo client daemon behind teredo-client run: it
// resolves the server, opens the Teredo service port and the TUN device,
// drives a client.Tunnel with a client.Runner, and serves the control socket
// (GET /v1/state, the JSON that `teredo-client show state` prints) and, when
// asked, Prometheus metrics (package clientmetrics).
package clientd
