// Command teredo-lab demonstrates the relay end to end: it builds the
// namespace lab of package lab (Teredo server, NAT box with a real Miredo
// client behind it, native IPv6 host, core router, relay), runs the relay
// (teredo-relayd when available, else Miredo's own relay), shows the client
// and the native host pinging each other, the bubble exchange on the relay's
// IPv4 side and the relay's peer table, then tears everything down, also on
// Ctrl-C.
//
//	go run ./cmd/teredo-lab [-relay teredo-relayd|miredo] [-mode one-armed|two-armed] [-queues 1|2]
package main
