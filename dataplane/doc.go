// Package dataplane moves frames between AF_XDP sockets and the relay engine:
// one Worker per RX queue, on its own locked OS thread, takes batches of up to
// BatchSize descriptors, parses Ethernet (and up to two VLAN tags, as the XDP
// program steers them), gives IPv4 frames to relay.Worker.Decap and IPv6
// frames to relay.Worker.Encap, writes
// the next hop's Ethernet header in front of the result and puts the same
// descriptor on the TX ring of the egress port's socket:
//
//	received:  chunk │ headroom │ Eth(14/18/22) │ IPv4 │ UDP │ IPv6 … │
//	decap:     chunk │ … │ Eth' │ IPv6 … │                (Eth' written over the UDP header)
//	received:  chunk │ headroom │ Eth(14/18/22) │ IPv6 … │
//	encap:     chunk │ … │ Eth' │ IPv4 │ UDP │ IPv6 … │  (IPv4+UDP+Eth' in the headroom)
//
// Step handles a batch in two passes. The first checks every frame's link
// layer and, when the relay batches its lookups (BatchRelay, as
// relay.Worker does), prepares each frame's peer and resolves them all at
// once: the cache misses of the batch overlap instead of queueing one after
// the other. The second gives the frames to the relay in the same order and
// forwards them. Verdicts and counts are the same as frame by frame
// (TestStepBatchedLikePerPacket); only the cost differs.
//
// Next hops come from a nexthop.Table snapshot loaded once per batch; the
// batch remembers its last lookup of each address family, since the frames
// of a flow share their destination. A
// destination whose neighbour is not resolved yet, or whose route leaves
// through a link that is not a port, goes out through the kernel (raw
// sockets), which also resolves the neighbour; such packets are counted.
//
// In a two-armed relay the IPv4-side and IPv6-side sockets of one queue are
// served by one Worker. When they share a UMEM (XDP_SHARED_UMEM) a frame
// received on one side is transmitted on the other without a copy; with
// separate UMEMs it is copied into a frame of the other side's UMEM.
//
// The package also implements relay.Output for the slow path (Kernel): a UDP
// socket bound to each relay address and port (it also receives what XDP
// passes to the kernel, such as reassembled IPv4 fragments, and hands it to
// Engine.HandleUDP) and a raw IPv6 socket.
//
// A frame whose destination MAC is not one of its port's own (the port's and
// its VLAN sub-interfaces', from the next-hop snapshot) is dropped
// (l2_not_our_mac): the XDP program does not steer such frames, the worker
// checks again so that nothing for another host is ever relayed.
//
// Per-packet code does not allocate, log or lock; every frame that is not
// forwarded increments exactly one counter (the relay's drop reasons, or one
// of this package's Reasons).
package dataplane
