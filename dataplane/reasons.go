package dataplane

import (
	"sync/atomic"

	"github.com/teredorelay/teredorelay/internal/enumlabel"
)

// Reason counts what happened to a frame in this package, beyond the relay
// engine's verdict counters. The String values are stable snake_case metric
// labels; only append.
type Reason uint8

const (
	// Drops (the frame is not forwarded).
	DropL2Malformed   Reason = iota // frame shorter than its Ethernet header
	DropL2Unsupported               // EtherType neither IPv4 nor IPv6 (or a third VLAN tag)
	DropNoRoute                     // no route, a reject route, or the egress link is down
	DropNoHeadroom                  // no room for the Ethernet header in front of the packet
	DropTxRingFull                  // the egress socket's TX ring was full
	DropCopyNoFrame                 // separate UMEMs: no free frame on the egress UMEM
	DropCopyTooBig                  // separate UMEMs: the packet does not fit an egress frame
	DropKernelSend                  // the kernel path (raw socket) refused the packet
	DropNoEgress                    // the route's port has no socket on this queue

	// Kernel hand-offs (the frame is sent by the kernel instead).
	KernelUnresolved // neighbour not resolved yet: sent through the kernel, which resolves it
	KernelOtherLink  // route through a link without an AF_XDP socket: sent through the kernel

	// Forwarding events.
	ForwardedZeroCopy // descriptor re-queued on TX of a socket sharing the UMEM
	ForwardedCopied   // copied into a frame of another UMEM (two-armed, separate UMEMs)

	// Drops appended later (IsDrop lists them).
	DropL2NotOurMAC // destination MAC is not one of the port's own (nexthop.Snapshot.OwnMACs)

	// NumReasons sizes counter arrays.
	NumReasons
)

var reasonNames = enumlabel.Table[Reason]{
	DropL2Malformed:   "l2_malformed",
	DropL2Unsupported: "l2_unsupported",
	DropNoRoute:       "no_route",
	DropNoHeadroom:    "no_l2_headroom",
	DropTxRingFull:    "tx_ring_full",
	DropCopyNoFrame:   "copy_no_frame",
	DropCopyTooBig:    "copy_too_big",
	DropKernelSend:    "kernel_send_error",
	DropNoEgress:      "no_egress_socket",
	KernelUnresolved:  "kernel_unresolved_neighbour",
	KernelOtherLink:   "kernel_other_link",
	ForwardedZeroCopy: "forwarded_same_umem",
	ForwardedCopied:   "forwarded_copied",
	DropL2NotOurMAC:   "l2_not_our_mac",
}

// String returns the stable snake_case label of r.
func (r Reason) String() string {
	return reasonNames.Label(r)
}

// IsDrop reports whether r is a drop reason.
func (r Reason) IsDrop() bool { return r <= DropNoEgress || r == DropL2NotOurMAC }

// Counters are one worker's counters; Worker.Counters returns a snapshot.
type Counters struct {
	RxFrames [MaxPorts]uint64 // frames received, by port
	TxFrames [MaxPorts]uint64 // frames put on a TX ring, by port
	Events   [NumReasons]uint64
	Batches  uint64 // non-empty receive batches
}

// Add adds o to c.
func (c *Counters) Add(o *Counters) {
	for i := range c.RxFrames {
		c.RxFrames[i] += o.RxFrames[i]
		c.TxFrames[i] += o.TxFrames[i]
	}
	for i := range c.Events {
		c.Events[i] += o.Events[i]
	}
	c.Batches += o.Batches
}

// liveCounters are written by the worker once per batch (Store(Load()+n)) and
// read from any goroutine.
type liveCounters struct {
	rx, tx  [MaxPorts]atomic.Uint64
	events  [NumReasons]atomic.Uint64
	batches atomic.Uint64
}

func (l *liveCounters) addBatch(b *Counters) {
	for i := range b.RxFrames {
		if b.RxFrames[i] != 0 {
			l.rx[i].Store(l.rx[i].Load() + b.RxFrames[i])
		}
		if b.TxFrames[i] != 0 {
			l.tx[i].Store(l.tx[i].Load() + b.TxFrames[i])
		}
	}
	for i := range b.Events {
		if b.Events[i] != 0 {
			l.events[i].Store(l.events[i].Load() + b.Events[i])
		}
	}
	l.batches.Store(l.batches.Load() + b.Batches)
	*b = Counters{}
}

func (l *liveCounters) snapshot() Counters {
	var c Counters
	for i := range c.RxFrames {
		c.RxFrames[i] = l.rx[i].Load()
		c.TxFrames[i] = l.tx[i].Load()
	}
	for i := range c.Events {
		c.Events[i] = l.events[i].Load()
	}
	c.Batches = l.batches.Load()
	return c
}
