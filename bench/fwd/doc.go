// Package fwd is the benchmark's bare AF_XDP forwarder: the floor of the
// relay's packet path on this machine. It runs the relay's own steering
// program (package bpf) on a two-armed relay's interfaces, receives on queue
// 0 of each, rewrites the Ethernet addresses towards the other side's next
// hop and transmits the same frame on the other interface — no Teredo
// parsing, no peer cache, no encapsulation. Two socket implementations share
// the loop:
//
//   - ImplXSK, the project's xsk: one UMEM shared by both interfaces'
//     sockets (XDP_SHARED_UMEM), so a frame crosses sides without a copy,
//     need_wakeup, LIFO frame stack, batched rings;
//   - ImplAsavie, github.com/asavie/xdp v0.3.3: one UMEM per socket (the
//     library cannot share), so each frame is copied into a frame of the
//     other socket's UMEM; a sendto on every Transmit; its O(NumFrames)
//     frame allocator. Its own XDP program helper is not used (afxdp.md
//     §3.11): the sockets go into the steering program's XSKMAP.
//
// Counters (per direction: received, forwarded, dropped for a full TX ring
// or no free frame) are printed on exit by cmd/benchfwd.
package fwd
