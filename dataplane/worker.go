package dataplane

import (
	"errors"
	"slices"
	"sync/atomic"
	"time"

	"github.com/teredorelay/teredorelay/nexthop"
	"github.com/teredorelay/teredorelay/relay"
	"github.com/teredorelay/teredorelay/xsk"
)

// BatchSize is the number of descriptors a worker takes from one RX ring per
// step (the NAPI budget) and the size of its per-port TX batches.
const BatchSize = 64

// MaxPorts is the number of egress ports a worker knows: one (one-armed) or
// two (two-armed: the IPv4 side and the IPv6 side).
const MaxPorts = 2

// Socket is the part of an AF_XDP socket (*xsk.Socket) a worker uses. All
// methods are called from the worker's goroutine only.
type Socket interface {
	Fill(n int) int
	Receive(descs []xsk.Desc) int
	Transmit(descs []xsk.Desc) int
	Complete() int
	Free(d xsk.Desc)
	Frame(d xsk.Desc) (buf []byte, off int)
	FD() int
}

// Relay is the relay engine's per-worker fast path (*relay.Worker).
type Relay interface {
	Decap(buf []byte, off, n int) (v relay.Verdict, newOff, newLen int)
	Encap(buf []byte, off, n int) (v relay.Verdict, newOff, newLen int)
}

// BatchRelay is a Relay that looks up the peers of a whole RX batch at once
// (*relay.Worker; see relay/batch.go): Step parses every frame's link layer
// first, prepares the relay's lookups, resolves them together (many cache
// misses in flight instead of one after the other), then hands the frames
// to Decap and Encap in the same order. Preparing is only a hint: a relay
// gives the same verdicts with or without it.
type BatchRelay interface {
	Relay
	BeginBatch()
	PrepareDecap(buf []byte, off, n int) bool
	PrepareEncap(buf []byte, off, n int) bool
	Resolve()
	EndBatch()
}

// KernelPath sends a complete IP packet through the kernel's stack (routing
// and neighbour resolution): used when the fast path cannot build the
// Ethernet header itself. Implementations must not keep pkt and must not
// allocate; each Worker gets its own.
type KernelPath interface {
	SendIPv4(pkt []byte) error
	SendIPv6(pkt []byte) error
}

// Port is this worker's AF_XDP socket on one egress port (nexthop.Hop.Port
// indexes Ports). A socket may be nil for a port that only transmits through
// another worker (never the case in the daemon).
type Port struct {
	Name   string
	Socket Socket
	// UMEM identifies the socket's packet memory (the *xsk.Umem): a frame
	// moves between ports with the same UMEM by descriptor, else by copy.
	UMEM any
	// Receive: the worker takes frames from this socket's RX ring.
	Receive bool
	// Alloc takes a free frame of this port's UMEM for a copy from another
	// UMEM; nil when the UMEM cannot hand out frames (copies are then dropped
	// and counted as copy_no_frame).
	Alloc func() (xsk.Desc, bool)
}

// WorkerConfig configures a Worker.
type WorkerConfig struct {
	Queue int
	// Ports are the worker's sockets, in the order of the ports Hops was
	// started with (nexthop.Hop.Port): Ports[i] receives frames for the
	// MAC addresses of Hops' port i (nexthop.Snapshot.OwnMACs).
	Ports  []Port
	Relay  Relay
	Hops   *nexthop.Table
	Kernel KernelPath
	// CPU pins the worker's thread (Run) to a CPU; -1 leaves it unpinned.
	CPU int
	// IdleSpin is how long Run keeps polling the rings after the last
	// received frame before it sleeps in epoll_wait(2): 0 means DefaultIdleSpin,
	// a negative value sleeps at once.
	IdleSpin time.Duration
}

// Worker serves one RX queue: its sockets on every port.
type Worker struct {
	queue    int
	cpu      int
	idleSpin time.Duration
	ports    [MaxPorts]Port
	nports   int
	relay    Relay
	batcher  BatchRelay // relay, when it batches its lookups; else nil
	hops     *nexthop.Table
	kernel   KernelPath
	snap     *nexthop.Snapshot
	// last6 and last4 remember the batch's last next-hop lookup of each
	// family: consecutive frames of a flow go to the same destination.
	last6 hopMemo[[16]byte]
	last4 hopMemo[[4]byte]
	// macs are the snapshot's OwnMACs of each port, loaded with it.
	macs [MaxPorts]portMACs

	rx    [BatchSize]xsk.Desc
	rxL2  [BatchSize]rxFrame // Step's first pass over rx
	txq   [MaxPorts][BatchSize]xsk.Desc
	txn   [MaxPorts]int
	batch Counters // this step's counts, published once per step
	live  liveCounters
	// beat advances once per turn of Run's loop (Heartbeat).
	beat atomic.Uint64
}

// NewWorker checks cfg and returns a worker; Run or Step drive it.
func NewWorker(cfg WorkerConfig) (*Worker, error) {
	if len(cfg.Ports) == 0 || len(cfg.Ports) > MaxPorts {
		return nil, errors.New("dataplane: a worker needs one or two ports")
	}
	if cfg.Relay == nil || cfg.Hops == nil {
		return nil, errors.New("dataplane: a worker needs a relay and a next-hop table")
	}
	w := &Worker{queue: cfg.Queue, cpu: cfg.CPU, nports: len(cfg.Ports), relay: cfg.Relay, hops: cfg.Hops, kernel: cfg.Kernel,
		idleSpin: cfg.IdleSpin}
	w.batcher, _ = cfg.Relay.(BatchRelay)
	if w.idleSpin == 0 {
		w.idleSpin = DefaultIdleSpin
	}
	receiving := false
	for i, p := range cfg.Ports {
		if p.Socket == nil && p.Receive {
			return nil, errors.New("dataplane: a receiving port needs a socket")
		}
		receiving = receiving || p.Receive
		w.ports[i] = p
	}
	if !receiving {
		return nil, errors.New("dataplane: a worker needs a receiving port")
	}
	return w, nil
}

// Heartbeat returns a count that Run advances on every turn of its loop,
// at least every 100 ms while idle (the longest sleep) and once per batch
// under load: a watchdog that sees it stand still knows the worker is stuck.
func (w *Worker) Heartbeat() uint64 { return w.beat.Load() }

// Queue returns the RX queue the worker serves.
func (w *Worker) Queue() int { return w.queue }

// Counters returns a snapshot of the worker's counters (any goroutine).
func (w *Worker) Counters() Counters { return w.live.snapshot() }

// Step runs one iteration: a batch from each receiving socket, TX flush,
// completion and fill. It returns the number of frames received.
func (w *Worker) Step() int {
	w.snap = w.hops.Load()
	w.last6.valid, w.last4.valid = false, false
	for i := range w.nports {
		w.macs[i].load(w.snap.OwnMACs(i))
	}
	got := 0
	for i := range w.nports {
		p := &w.ports[i]
		if !p.Receive {
			continue
		}
		n := p.Socket.Receive(w.rx[:])
		w.receive(i, n)
		w.batch.RxFrames[i] += uint64(n)
		got += n
	}
	for i := range w.nports {
		w.flush(i)
	}
	for i := range w.nports {
		if s := w.ports[i].Socket; s != nil {
			s.Complete()
		}
	}
	for i := range w.nports {
		if p := &w.ports[i]; p.Receive {
			p.Socket.Fill(BatchSize * 2)
		}
	}
	if got > 0 {
		w.batch.Batches++
	}
	w.live.addBatch(&w.batch)
	return got
}

// rxFrame is a received frame after Step's first pass: where it is and its
// link layer, or why it is dropped.
type rxFrame struct {
	buf  []byte // nil: not a frame of this UMEM (nothing to free)
	off  int
	l2   l2Frame
	drop Reason // when !ok
	ok   bool
}

// packet returns where the packet after the link layer is in f.buf.
func (f *rxFrame) packet(d xsk.Desc) (off, n int) {
	return f.off + f.l2.hdrLen, int(d.Len) - f.l2.hdrLen
}

// receive handles the n frames in w.rx from port in, in two passes: link
// layers first (and the relay's batch lookup of their peers), then the
// relay's verdicts and forwarding, frame by frame in order.
func (w *Worker) receive(in, n int) {
	src := w.ports[in].Socket
	br := w.batcher
	if br != nil {
		br.BeginBatch()
	}
	for j, d := range w.rx[:n] {
		f := &w.rxL2[j]
		w.parse(in, src, d, f)
		if br == nil || !f.ok {
			continue
		}
		l3, l3Len := f.packet(d)
		if f.l2.etherType == etherTypeIPv4 {
			br.PrepareDecap(f.buf, l3, l3Len)
		} else {
			br.PrepareEncap(f.buf, l3, l3Len)
		}
	}
	if br != nil {
		br.Resolve()
	}
	for j, d := range w.rx[:n] {
		w.handle(in, d, &w.rxL2[j])
	}
	if br != nil {
		br.EndBatch()
	}
}

// parse locates received frame d and checks its link layer into f.
func (w *Worker) parse(in int, src Socket, d xsk.Desc, f *rxFrame) {
	buf, off := src.Frame(d)
	f.buf, f.off, f.ok = buf, off, false
	switch {
	case buf == nil:
		f.drop = DropL2Malformed // not a frame of this UMEM: nothing to free
		return
	case off+int(d.Len) > len(buf):
		f.drop = DropL2Malformed // runs past its chunk: the chunk is still ours
		return
	}
	l2, ok := parseL2(buf[off : off+int(d.Len)])
	switch {
	case !ok:
		f.drop = DropL2Malformed
	// Another host's frame (an unknown-unicast flood on an IX LAN, a group
	// address): Linux forwarding drops those, and so do we. The XDP program
	// does not steer them; this catches a MAC change in between.
	case !w.toUs(in, (*[6]byte)(buf[off:off+6])):
		f.drop = DropL2NotOurMAC
	case l2.etherType != etherTypeIPv4 && l2.etherType != etherTypeIPv6:
		f.drop = DropL2Unsupported
	default:
		f.l2, f.ok = l2, true
	}
}

// handle processes one received frame after parse: run the relay, forward.
func (w *Worker) handle(in int, d xsk.Desc, f *rxFrame) {
	src := w.ports[in].Socket
	if !f.ok {
		if f.buf != nil {
			w.drop(src, d, f.drop)
		} else {
			w.batch.Events[f.drop]++
		}
		return
	}
	buf, off := f.buf, f.off
	l3, n := f.packet(d)
	var v relay.Verdict
	var pOff, pLen int
	if f.l2.etherType == etherTypeIPv4 {
		v, pOff, pLen = w.relay.Decap(buf, l3, n)
	} else {
		v, pOff, pLen = w.relay.Encap(buf, l3, n)
	}
	switch v {
	case relay.ToIPv6, relay.ToIPv4:
		w.forward(in, d, buf, off, v, pOff, pLen)
	default: // Drop and SlowPath: the relay counted it and copied what it needs.
		src.Free(d)
	}
}

// portMACs are the MAC addresses one port receives frames for.
type portMACs struct {
	first [6]byte   // the port's own, the common case
	more  [][6]byte // its VLAN sub-interfaces' other ones
	open  bool      // the port's link is unknown: nothing to judge by
}

func (m *portMACs) load(macs [][6]byte) {
	m.open = len(macs) == 0
	if !m.open {
		m.first, m.more = macs[0], macs[1:]
	}
}

// toUs reports whether dst is one of port in's own MAC addresses, or whether
// the port's link is unknown (the frame is let through).
func (w *Worker) toUs(in int, dst *[6]byte) bool {
	m := &w.macs[in]
	return m.first == *dst || m.open || slices.Contains(m.more, *dst)
}

func (w *Worker) drop(s Socket, d xsk.Desc, r Reason) {
	w.batch.Events[r]++
	s.Free(d)
}

// forward writes the next hop's Ethernet header in front of buf[pOff:pOff+pLen]
// and queues the frame on the egress port.
func (w *Worker) forward(in int, d xsk.Desc, buf []byte, off int, v relay.Verdict, pOff, pLen int) {
	src := w.ports[in].Socket
	var hop *nexthop.Hop // the snapshot's: read only
	var res nexthop.Result
	var et uint16
	if v == relay.ToIPv6 {
		if pLen < 40 || pOff < 0 || pOff+pLen > len(buf) {
			w.drop(src, d, DropNoRoute)
			return
		}
		dst := (*[16]byte)(buf[pOff+24 : pOff+40])
		if w.last6.hit(dst) {
			hop, res = w.last6.hop, w.last6.res
		} else {
			hop, res = w.snap.Find6(dst)
			w.last6.set(dst, hop, res)
		}
		et = etherTypeIPv6
	} else {
		if pLen < 20 || pOff < 0 || pOff+pLen > len(buf) {
			w.drop(src, d, DropNoRoute)
			return
		}
		dst := (*[4]byte)(buf[pOff+16 : pOff+20])
		if w.last4.hit(dst) {
			hop, res = w.last4.hop, w.last4.res
		} else {
			hop, res = w.snap.Find4(*dst)
			w.last4.set(dst, hop, res)
		}
		et = etherTypeIPv4
	}
	switch res {
	case nexthop.Resolved:
	case nexthop.Unresolved, nexthop.OtherLink:
		w.viaKernel(src, d, buf[pOff:pOff+pLen], v, res)
		return
	default:
		w.drop(src, d, DropNoRoute)
		return
	}
	if int(hop.Port) >= w.nports || hop.Port < 0 || w.ports[hop.Port].Socket == nil {
		w.drop(src, d, DropNoEgress)
		return
	}
	ll := l2Len(hop.VLAN)
	start := pOff - ll
	if start < 0 {
		w.drop(src, d, DropNoHeadroom)
		return
	}
	putL2(buf[start:pOff], &hop.DstMAC, &hop.SrcMAC, hop.VLAN, et)
	out := xsk.Desc{Addr: d.Addr - uint64(off) + uint64(start), Len: uint32(ll + pLen)}
	egress := &w.ports[hop.Port]
	if egress.UMEM == w.ports[in].UMEM {
		w.batch.Events[ForwardedZeroCopy]++
		w.enqueue(int(hop.Port), out)
		return
	}
	w.copyTo(int(hop.Port), src, d, buf[start:start+ll+pLen])
}

// copyTo copies pkt into a frame of the egress port's UMEM (separate UMEMs)
// and releases the received frame. Alloc's descriptor leaves the UMEM's
// receive headroom in front of the packet (xsk.Umem.Alloc); a packet longer
// than the room behind it (an encapsulated packet that arrived at full size)
// starts earlier in the chunk instead, since TX needs no headroom.
func (w *Worker) copyTo(port int, src Socket, d xsk.Desc, pkt []byte) {
	egress := &w.ports[port]
	if egress.Alloc == nil {
		w.drop(src, d, DropCopyNoFrame)
		return
	}
	nd, ok := egress.Alloc()
	if !ok {
		w.drop(src, d, DropCopyNoFrame)
		return
	}
	buf, off := egress.Socket.Frame(nd)
	if buf == nil || len(pkt) > len(buf) {
		egress.Socket.Free(nd)
		w.drop(src, d, DropCopyTooBig)
		return
	}
	if off+len(pkt) > len(buf) {
		start := len(buf) - len(pkt)
		nd.Addr = nd.Addr - uint64(off) + uint64(start)
		off = start
	}
	copy(buf[off:], pkt)
	nd.Len = uint32(len(pkt))
	src.Free(d)
	w.batch.Events[ForwardedCopied]++
	w.enqueue(port, nd)
}

func (w *Worker) viaKernel(src Socket, d xsk.Desc, pkt []byte, v relay.Verdict, res nexthop.Result) {
	var err error
	switch {
	case w.kernel == nil:
		err = errNoKernelPath
	case v == relay.ToIPv6:
		err = w.kernel.SendIPv6(pkt)
	default:
		err = w.kernel.SendIPv4(pkt)
	}
	switch {
	case err != nil:
		w.batch.Events[DropKernelSend]++
	case res == nexthop.Unresolved:
		w.batch.Events[KernelUnresolved]++
	default:
		w.batch.Events[KernelOtherLink]++
	}
	src.Free(d)
}

var errNoKernelPath = errors.New("dataplane: no kernel path")

func (w *Worker) enqueue(port int, d xsk.Desc) {
	w.txq[port][w.txn[port]] = d
	w.txn[port]++
	if w.txn[port] == BatchSize {
		w.flush(port)
	}
}

// flush transmits the port's queued descriptors; those the TX ring has no
// room for are freed and counted.
func (w *Worker) flush(port int) {
	n := w.txn[port]
	if n == 0 {
		return
	}
	w.txn[port] = 0
	s := w.ports[port].Socket
	sent := s.Transmit(w.txq[port][:n])
	w.batch.TxFrames[port] += uint64(sent)
	for _, d := range w.txq[port][sent:n] {
		s.Free(d)
		w.batch.Events[DropTxRingFull]++
	}
}

// hopMemo is the last next-hop lookup of one address family within a
// batch (the snapshot does not change during one): a lookup is a pure
// function of the snapshot and the destination.
type hopMemo[A [16]byte | [4]byte] struct {
	valid bool
	dst   A
	hop   *nexthop.Hop // the snapshot's
	res   nexthop.Result
}

func (m *hopMemo[A]) hit(dst *A) bool { return m.valid && m.dst == *dst }

func (m *hopMemo[A]) set(dst *A, hop *nexthop.Hop, res nexthop.Result) {
	m.valid, m.dst, m.hop, m.res = true, *dst, hop, res
}
