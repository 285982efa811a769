// Package xsk implements Linux AF_XDP sockets (XDP sockets) in pure Go: a
// UMEM of packet buffers shared with the kernel, the four rings that move
// buffers between the application and the kernel, and a batched data path
// that never allocates, locks, logs or makes a system call it can avoid. It
// needs no cgo and no libxdp/libbpf; it uses golang.org/x/sys/unix only.
//
// An AF_XDP socket receives the packets that an XDP program redirects to it
// (bpf_redirect_map into a BPF_MAP_TYPE_XSKMAP holding the socket's FD) and
// transmits packets straight to the device, bypassing the kernel's network
// stack; with a driver that supports zero-copy, the NIC reads and writes the
// UMEM directly. This package does not load or attach XDP programs: use
// github.com/cilium/ebpf for that, as ExampleOpen does.
//
// # Using it
//
//  1. NewUmem maps the packet memory: NumFrames chunks of FrameSize bytes
//     (2048 or 4096; aligned mode).
//  2. Open binds a socket to one (device, queue). The first socket of a
//     UMEM registers it with the kernel; later ones share it (below).
//  3. Attach an XDP program to the device and put the socket's FD into its
//     XSKMAP at the queue's index.
//  4. Fill hands free chunks to the kernel to receive into.
//  5. Loop: Receive a batch of descriptors, process the packets in place
//     (Frame gives the chunk), Transmit the ones to send (on this socket or
//     any socket sharing the UMEM) and Free the others; Complete reclaims
//     transmitted chunks; Fill again. Poll sleeps while nothing arrives.
//  6. Close the sockets, then the UMEM.
//
// Opening a socket needs CAP_NET_RAW, attaching the program CAP_NET_ADMIN
// and CAP_BPF, and registering the UMEM locks its memory (RLIMIT_MEMLOCK,
// or CAP_IPC_LOCK). Linux 5.4 or later (ring flags, need_wakeup); sharing a
// UMEM across queues or devices needs 5.10.
//
// # Rings
//
// Every (device, queue) has a fill ring (user space hands free chunks to the
// kernel) and a completion ring (the kernel hands back chunks it finished
// transmitting); every socket has an RX ring (received packets) and a TX ring
// (packets to send). Each ring is single-producer/single-consumer with
// free-running uint32 indices in memory shared with the kernel. The ring code
// follows libxdp: the producer writes entries and then store-releases its
// index; the consumer load-acquires the producer index, reads the entries and
// store-releases its own index. The indices are accessed only through
// sync/atomic (sequentially consistent in Go, and never cached in a register
// by the compiler), and each side keeps a cached copy of the peer's index that
// it reloads only when the cached view cannot satisfy a batch, so the shared
// cache lines are touched once per batch. Sizes are powers of two.
//
// # Modes
//
// Two independent choices decide where the copies and system calls are:
//
//   - The XDP program's attach mode (chosen when attaching it, not here):
//     native (the driver runs the program; needed for zero-copy) or generic
//     (the kernel runs it on an skb, after the driver: works everywhere,
//     always copies).
//   - The socket's mode. By default bind tries zero-copy and the kernel falls
//     back to copy mode silently; ZeroCopy reports the result (XDP_OPTIONS).
//     SocketConfig.ForceZeroCopy fails instead (veth: EOPNOTSUPP),
//     ForceCopy never tries. In copy mode the kernel copies each packet
//     between the driver's buffers and the UMEM, and transmits through an
//     skb; drivers with zero-copy support (i40e, ice, ixgbe, mlx5, ...)
//     avoid both.
//
// Busy polling (SocketConfig.BusyPollMicros, BusyPollBudget, PreferBusyPoll;
// Linux 5.11) lets the application drive the driver's NAPI loop from
// Receive and Transmit instead of interrupts.
//
// # need_wakeup
//
// Sockets bind with XDP_USE_NEED_WAKEUP unless SocketConfig.NoNeedWakeup is
// set. Transmit then calls sendto(MSG_DONTWAIT) only when the kernel set
// XDP_RING_NEED_WAKEUP in the TX ring's flags, and Receive calls
// recvfrom(MSG_DONTWAIT) only when the RX ring is empty and the fill ring
// carries the flag. In copy mode (every veth) the TX flag stays set and the
// kernel sends at most 32 descriptors per sendto, answering EAGAIN while more
// wait: Transmit repeats the kick while the kernel makes progress (up to 8
// times) and Complete kicks again while descriptors of the socket remain on
// its TX ring. Kick failures (EAGAIN without progress, EBUSY, ENOBUFS,
// ENETDOWN, ENXIO, others) are counted in RingStats.KickErrors and never
// returned: the descriptors stay on the ring and the next kick retries. Poll
// waits for POLLIN only (POLLOUT is reported whenever the TX ring is at most
// half full, which would make the wait a busy spin).
//
// # Frame ownership
//
// Free chunks live on a LIFO stack of addresses (O(1) both ways). A chunk is
// always in exactly one place: the stack, the fill ring, the driver, the RX
// ring, the caller, the TX ring or the completion ring.
//
//   - Fill moves chunks from the stack to the fill ring.
//   - Receive hands received descriptors to the caller, who now owns them.
//   - A forwarded packet goes to Transmit, on the receiving socket or any other
//     socket of the same UMEM, with the same UMEM address or another address
//     inside the same chunk and a new length: encapsulation moves the start
//     back into the headroom (Addr-28, Len+28), decapsulation moves it forward.
//     The descriptor must not cross the end of its chunk.
//   - Umem.Alloc moves a chunk from the stack to the caller, for a packet the
//     caller writes itself (for example a copy of a packet received on
//     another UMEM, when two devices cannot share one). The descriptor
//     starts at chunk + RxOffset, as a received one would, with Len 0; from
//     there the frame follows the same rules as a received one. An empty
//     stack makes Alloc fail and is counted (RingStats.AllocStackEmpty).
//   - A dropped packet goes back with Free (any address inside the chunk).
//   - Complete takes finished TX addresses from the completion ring and pushes
//     their chunks (the address rounded down to the frame size) onto the stack.
//
// Transmit takes descriptors from the front of its argument; the ones that did
// not fit on the TX ring still belong to the caller. Descriptors the kernel
// would reject without ever completing them (zero length, crossing the chunk
// end, outside the UMEM) are not put on the ring: their chunks go straight
// back to the stack and RingStats.TxRejected counts them. A push onto a full
// stack (necessarily a chunk freed twice) or of an address outside the UMEM is
// refused and counted (RingStats.FreeRejected); a double free while the stack
// is not full is not detected (that would need a per-chunk bitmap).
//
// A Umem and all sockets sharing it belong to one goroutine; nothing on the
// data path locks, allocates or logs. Stats and RingStats may be called from
// other goroutines (counters are atomics written only by the owner).
//
// # Where a received packet lands (headroom)
//
// The UMEM runs in aligned mode with 2048- or 4096-byte chunks. The kernel
// puts a received packet at
//
//	chunk + UmemConfig.Headroom + XDP_PACKET_HEADROOM (256)
//
// in copy mode and in zero-copy mode alike (data_hard_start = chunk +
// headroom, data = data_hard_start + 256; an XDP program that moves data
// with bpf_xdp_adjust_head moves the descriptor with it), and the RX
// descriptor's Addr points at that first byte. Umem.RxOffset returns the
// offset; Frame returns the whole chunk and the packet's offset in it. The
// root test TestVethEchoEncapDecap verifies this on veth (copy mode) on this
// test kernel (Linux 6.18): with Headroom 64 the packet starts at chunk+320
// and the 320 bytes in front of it are untouched by the kernel; with
// Headroom 0 it starts at chunk+256. All of those bytes are the
// application's: Transmit accepts a descriptor starting anywhere in the
// chunk, so a header pushed in front of a received packet (a 28-byte
// IPv4+UDP encapsulation, an Ethernet header) fits with Headroom 0, and the
// largest packet is
// FrameSize - RxOffset bytes (1792 with 2048-byte frames and no headroom; the
// kernel drops longer ones and counts them in Stats.RxDropped, as
// TestVethOversizeDropped checks).
//
// Umem.Alloc follows the same convention: its descriptor points at
// chunk + RxOffset, so a packet copied there has the same headroom in front
// of it as a received one. A caller whose packet is longer than
// FrameSize - RxOffset may move the start back into the headroom (any
// address inside the chunk is valid for Transmit).
//
// Packets that a local stack sent over veth may carry a partial UDP checksum
// (checksum offload); an application that rewrites and retransmits them
// must not assume the received UDP checksum is complete.
//
// # Shared UMEM
//
// The first Open of a Umem registers it (XDP_UMEM_REG) and creates the fill
// and completion rings of its (device, queue). Later Opens bind with
// XDP_SHARED_UMEM: on a (device, queue) that already has a socket of this
// UMEM they share that queue's fill/completion pair (bound to that socket's
// fd); on another queue or device they get their own pair, created before
// bind as the kernel requires since Linux 5.10 (bound to any open socket of
// the UMEM). Shared sockets inherit the first socket's copy/zero-copy mode and
// need_wakeup setting (the kernel accepts no other bind flags for them). This
// lets a packet received on one NIC be transmitted on another without a copy;
// TestVethSharedUmem covers both kinds of sharing.
//
// # Close
//
// Close unmaps the socket's rings (and its queue's fill/completion rings when
// it was the queue's last socket) and closes the fd, so the kernel releases
// the socket. Frames found on the RX and completion rings return to the stack;
// in copy mode so do frames still on the fill and TX rings. When the UMEM's
// last socket closes every frame returns (descriptors the caller still holds
// are void then) and the next Open registers the UMEM again. The kernel
// detaches the buffer pool from the queue in deferred work, so an immediate
// re-open of the same queue can see EBUSY for a few milliseconds: Open retries
// bind for up to a second. TestVethReopenAfterClose re-opens a queue
// repeatedly. Umem.Close closes remaining sockets and unmaps the chunks.
//
// A queue's fill/completion rings are mapped from the fd of the socket that
// created them; when that socket closes while another socket still uses the
// pair, the kernel keeps the first socket (and its XSKMAP slot) alive until
// the pair is unmapped with the queue's last socket. Point the XSKMAP slot at
// a live socket before closing the one it names.
//
// # Why not github.com/asavie/xdp
//
// github.com/asavie/xdp (v0.3.3, archived) was the Go AF_XDP library to
// start from, and this package keeps its vocabulary (Fill, Receive,
// Transmit, Complete, Poll). A read of its source rules it out for a fast
// path:
//
//   - producer and consumer indices are read and written as plain *uint32,
//     the memory fences commented out: nothing stops the compiler or the
//     CPU from reordering ring accesses against the kernel's;
//   - a sendto on every Transmit and no use of the need_wakeup flags;
//   - free frames found by an O(NumFrames) scan of a []bool (about 10 µs per
//     refill with a busy UMEM), and frames marked free as soon as they are
//     received;
//   - panics on routine sendto errnos (ENXIO, EINVAL) and in Stats on a
//     TX-only socket;
//   - a Poll that asks for POLLOUT and so busy-spins;
//   - a Close that leaves the four ring mappings, so the socket stays bound
//     and a re-open of the queue fails with EBUSY;
//   - a hard-coded UMEM headroom of zero, and no shared UMEM.
//
// This package fixes each of those (the sections above say how) and is
// covered by tests on plain memory (rings, wraparound, frame conservation
// under fuzzing) and on veth pairs in network namespaces (echo with
// encapsulation offsets, re-open after Close, shared UMEM, oversize drops).
package xsk
