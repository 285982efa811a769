// Package sink attaches the benchmark's counting XDP program (native mode) to
// the far end of a veth and reads what came out of the system under test:
// packets and bytes per traffic kind from per-CPU counters, and the one-way
// latency of timestamped probes as a log-linear histogram with percentiles.
// Bubbles to the Teredo port, ARP and neighbour discovery pass to the kernel.
package sink
