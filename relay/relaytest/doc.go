// Package relaytest holds in-memory fakes and packet builders for testing the
// relay state machine without sockets or privileges: an Output that records
// what the relay sends, a manual clock, and builders for IPv6 packets,
// bubbles and IPv4/UDP/Teredo frames with AF_XDP-style headroom. It does not
// import package relay, so the relay's own tests can use it.
package relaytest
