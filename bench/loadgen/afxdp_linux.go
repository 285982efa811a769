//go:build linux

package loadgen

import (
	"context"
	"fmt"
	"time"

	"golang.org/x/sys/unix"

	"github.com/teredorelay/teredorelay/xsk"
)

// AF_XDP generator sizing. One socket per device, on queue 0: the bench's
// veths have one queue, and a second socket driven by the same thread adds
// no transmit capacity (the kernel's per-frame work in sendto is the cost,
// see bench/README.md); a second thread would take the core of the system
// under test. In copy mode the kernel sends at most 32 frames per sendto,
// so a batch of xskBatch frames costs xskBatch/32 calls whatever its size;
// smaller batches keep the probes' wait in the generator short.
const (
	xskFrames    = 4096 // UMEM frames per device: TX ring + completion ring in flight, with room
	xskFrameSize = 2048
	xskTxRing    = 2048
	xskCompRing  = 2048
	xskRxRing    = 64 // the socket only transmits; the kernel requires no RX ring, xsk creates a small one
	xskFillRing  = 64 // never filled: a TX-only socket must not put frames on its fill ring
	xskBatch     = 64
	// xskFlushTimeout bounds the wait for the last frames of a Send to leave
	// the TX ring.
	xskFlushTimeout = time.Second
)

// xskPort is the generator's AF_XDP socket on one device.
type xskPort struct {
	ifindex int
	umem    *xsk.Umem
	sock    *xsk.Socket
	pending []xsk.Desc // written frames not yet on the TX ring
}

func openXskPort(ifindex int) (*xskPort, error) {
	u, err := xsk.NewUmem(xsk.UmemConfig{NumFrames: xskFrames, FrameSize: xskFrameSize, FillSize: xskFillRing, CompSize: xskCompRing})
	if err != nil {
		return nil, fmt.Errorf("AF_XDP generator on ifindex %d: %w", ifindex, err)
	}
	s, err := xsk.Open(ifindex, 0, u, xsk.SocketConfig{RxSize: xskRxRing, TxSize: xskTxRing, ForceCopy: true})
	if err != nil {
		u.Close()
		return nil, fmt.Errorf("AF_XDP generator on ifindex %d: %w", ifindex, err)
	}
	return &xskPort{ifindex: ifindex, umem: u, sock: s, pending: make([]xsk.Desc, 0, 2*xskBatch)}, nil
}

func (p *xskPort) close() error {
	err := p.sock.Close()
	if uerr := p.umem.Close(); err == nil {
		err = uerr
	}
	return err
}

// maxFrame is the longest frame a UMEM frame holds (Alloc's descriptor
// starts after the kernel's headroom).
func (p *xskPort) maxFrame() int { return xskFrameSize - p.umem.RxOffset() }

// flush puts pending frames on the TX ring (the socket kicks the kernel)
// and keeps those that did not fit.
func (p *xskPort) flush() {
	if len(p.pending) == 0 {
		return
	}
	n := p.sock.Transmit(p.pending)
	p.pending = p.pending[:copy(p.pending, p.pending[n:])]
}

// monoClock reads CLOCK_MONOTONIC (the clock of bpf_ktime_get_ns, which the
// sink subtracts from) through Go's monotonic clock (time.Since: vDSO, no
// system call), from an offset taken at start: time.Now between two
// clock_gettime system calls, the closest of a few tries, so the offset is
// off by at most half the shortest pair's gap (about 100 ns).
type monoClock struct {
	base   time.Time
	baseNs int64
}

func newMonoClock() (monoClock, error) {
	var c monoClock
	best := int64(-1)
	for range 8 {
		var a, b unix.Timespec
		if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &a); err != nil {
			return c, fmt.Errorf("generator: clock: %w", err)
		}
		now := time.Now()
		if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &b); err != nil {
			return c, fmt.Errorf("generator: clock: %w", err)
		}
		if gap := b.Nano() - a.Nano(); best < 0 || gap < best {
			best = gap
			c = monoClock{base: now, baseNs: a.Nano() + gap/2}
		}
	}
	return c, nil
}

func (c monoClock) now() uint64 { return uint64(c.baseNs + int64(time.Since(c.base))) }

// xskGen sends one Traffic through the Sender's AF_XDP sockets.
type xskGen struct {
	traffic   Traffic
	ports     [2]*xskPort // by slot egress: egressTX, egressRedirect
	probeMask uint64
	seq       uint64 // next sequence number
	probes    uint64
}

func newXskGen(t Traffic, ports [2]*xskPort, probeEvery uint64) (*xskGen, error) {
	for i, p := range ports {
		if p != nil && len(t.Frame) > p.maxFrame() {
			return nil, fmt.Errorf("%d-byte frames do not fit a UMEM frame (%d bytes) on ifindex %d", len(t.Frame), p.maxFrame(), ports[i].ifindex)
		}
	}
	return &xskGen{traffic: t, ports: ports, probeMask: probeEvery - 1}, nil
}

func (g *xskGen) Traffic() *Traffic { return &g.traffic }

func (g *xskGen) Close() error { return nil }

func (g *xskGen) Send(ctx context.Context, p Pace) (Stats, error) {
	if err := p.check(); err != nil {
		return Stats{}, err
	}
	clock, err := newMonoClock()
	if err != nil {
		return Stats{}, err
	}
	st := Stats{Method: AFXDP, First: g.seq}
	probes0 := g.probes
	pc := newPacer(p.Rate)
	start := time.Now()
	for iter := 0; ; iter++ {
		if iter%16 == 0 && ctx.Err() != nil {
			break
		}
		elapsed := time.Since(start)
		if p.Duration > 0 && elapsed >= p.Duration {
			break
		}
		n := uint64(xskBatch)
		if p.Count > 0 {
			left := p.Count - (g.seq - st.First)
			if left == 0 {
				break
			}
			n = min(n, left)
		}
		for _, port := range g.ports {
			if port != nil {
				port.sock.Complete()
			}
		}
		if p.Rate > 0 {
			due := pc.due(elapsed)
			if due == 0 {
				continue // spin until the next frame is due
			}
			n = min(n, due)
		}
		pc.sent(g.write(n, clock))
		for _, port := range g.ports {
			if port != nil {
				port.flush()
			}
		}
		st.Calls++
	}
	// The last frames leave the TX ring within microseconds; a ring that
	// does not drain means the device stopped transmitting.
	deadline := time.Now().Add(xskFlushTimeout)
	for _, port := range g.ports {
		for port != nil && len(port.pending) > 0 {
			port.sock.Complete()
			port.flush()
			if time.Now().After(deadline) {
				return st, fmt.Errorf("generator: AF_XDP TX ring of ifindex %d did not take %d frames within %v", port.ifindex, len(port.pending), xskFlushTimeout)
			}
		}
	}
	st.Elapsed = time.Since(start)
	st.Sent = g.seq - st.First
	st.Probes = g.probes - probes0
	return st, nil
}

// write writes up to n frames into free UMEM frames of their egress port and
// queues them there; it stops early when a port has no free frame (they come
// back through Complete) or too many frames wait for its TX ring.
func (g *xskGen) write(n uint64, clock monoClock) uint64 {
	t := &g.traffic
	nslots := uint64(len(t.Slots))
	for i := range n {
		slot := &t.Slots[g.seq%nslots]
		port := g.ports[slot.Egress]
		if len(port.pending) == cap(port.pending) {
			return i // the TX ring is full: wait for the kernel
		}
		d, ok := port.umem.Alloc()
		if !ok {
			return i
		}
		buf, off := port.umem.Frame(d)
		var ts uint64
		if g.seq&g.probeMask == 0 {
			ts = clock.now()
			g.probes++
		}
		t.writeFrame(buf[off:], g.seq, ts)
		d.Len = uint32(len(t.Frame))
		port.pending = append(port.pending, d)
		g.seq++
	}
	return n
}
