// Package bench measures the relay the way a reviewer would believe: the same
// generator, the same topology, the same machine, teredo-relayd and Miredo's
// relay in the same run, with a bare AF_XDP forwarder as the floor of the
// packet path and the asavie/xdp socket on the same forwarder to show why the
// project has its own, results as ratios, with plots.
//
// Run builds the topology (package topo: a generator namespace and a relay
// namespace, two veth pairs), then for each system under test starts it in
// the relay namespace from its command line and configuration, warms up the
// peers (a packet towards every emulated client makes the relay send an
// indirect bubble to the Teredo server address, which package handshake
// answers with the client's direct bubble), and offers decapsulation,
// encapsulation and mixed traffic at stepped loads from one generator
// thread (package loadgen: live frames where the kernel permits them, AF_XDP
// TX otherwise; Options.Generator), counting what comes out with native
// XDP sinks (package sink): offered and delivered pps, loss, one-way latency
// p50/p99 of timestamped probes, the CPU the system spends per delivered
// packet (process tree time plus the softirq time beyond the generator's
// own, measured by a calibration send straight into sinks) and the
// machine's CPU. Teredo relays also get a garbage step: legitimate traffic
// at half their measured capacity plus five times as much malformed and
// spoofed traffic. The peer-count sweep (sweep_linux.go) then restarts
// teredo-relayd, Miredo and the floor for 1 k, 64 k and 1 M peers, warms the
// relays up through the real bubble exchange (accept_unknown_peers for
// teredo-relayd when that does not finish in time) and measures decap and
// encap with traffic cycling over every peer; the generator varies the peer
// per frame without a frame per peer. Go micro-benchmarks of the fast path
// (relay/, cache/, teredo/) run too. The Report goes to
// bench/results/<date>-<host>.json with PNG plots (delivered, CPU per
// packet and machine CPU against offered load per mode and against peers;
// ratio bars) and a Markdown summary whose first table is README.md's.
//
// Systems:
//   - teredo-relayd: cmd/teredo-relayd, built from the module, two-armed,
//     copy-mode AF_XDP, known peers only (like Miredo's relay);
//   - miredo: Debian's miredo in relay ("cone") mode, a TUN device and the
//     kernel's forwarding; with the live-frames generator a native XDP_PASS
//     program on both relay veths lets the frames reach the kernel stack;
//   - floor: bench/cmd/benchfwd with xsk (shared UMEM, no copy);
//   - asavie: the same forwarder on github.com/asavie/xdp v0.3.3.
//
// cmd/benchrun is the command line (`make bench`); smoke_test.go runs every
// system for about a second as root.
package bench
