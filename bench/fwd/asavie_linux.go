//go:build linux

package fwd

import (
	"context"
	"fmt"
	"net"

	"github.com/asavie/xdp"
	"golang.org/x/sys/unix"
)

// runAsavie forwards with asavie/xdp: a socket (and UMEM) per interface, so
// every frame is copied into a free frame of the other socket's UMEM.
func runAsavie(ctx context.Context, cfg *Config, v4, v6 *side, st *Stats) error {
	opts := xdp.SocketOptions{
		NumFrames: cfg.Frames / 2, FrameSize: 2048,
		FillRingNumDescs: cfg.Ring, CompletionRingNumDescs: cfg.Ring,
		RxRingNumDescs: cfg.Ring, TxRingNumDescs: cfg.Ring,
	}
	s4, err := xdp.NewSocket(v4.ifc.Index, 0, &opts)
	if err != nil {
		return fmt.Errorf("forwarder: asavie socket on %s: %w", v4.ifc.Name, err)
	}
	defer s4.Close()
	s6, err := xdp.NewSocket(v6.ifc.Index, 0, &opts)
	if err != nil {
		return fmt.Errorf("forwarder: asavie socket on %s: %w", v6.ifc.Name, err)
	}
	defer s6.Close()
	if err := v4.prog.Register(0, s4.FD()); err != nil {
		return fmt.Errorf("forwarder: register %s: %w", v4.ifc.Name, err)
	}
	if err := v6.prog.Register(0, s6.FD()); err != nil {
		return fmt.Errorf("forwarder: register %s: %w", v6.ifc.Name, err)
	}
	// Half of each UMEM receives, half transmits what the other side received.
	fill := func(s *xdp.Socket) {
		if n := s.NumFreeFillSlots(); n > 0 {
			s.Fill(s.GetDescs(min(n, cfg.Ring/2)))
		}
	}
	fill(s4)
	fill(s6)
	cfg.ready()
	fds := []unix.PollFd{{Fd: int32(s4.FD()), Events: unix.POLLIN}, {Fd: int32(s6.FD()), Events: unix.POLLIN}}
	txBuf := make([]xdp.Desc, 0, cfg.Batch)
	idle := 0
	for ctx.Err() == nil {
		n := forwardAsavie(s4, s6, cfg.Batch, txBuf, cfg.IPv6NextHop, v6.ifc.HardwareAddr, &st.V4ToV6)
		n += forwardAsavie(s6, s4, cfg.Batch, txBuf, cfg.IPv4NextHop, v4.ifc.HardwareAddr, &st.V6ToV4)
		for _, s := range []*xdp.Socket{s4, s6} {
			if c := s.NumCompleted(); c > 0 {
				s.Complete(c)
			}
			fill(s)
		}
		if n > 0 {
			idle = 0
			continue
		}
		if idle++; idle > idleSpins {
			if err := waitReadable(fds); err != nil {
				return err
			}
		}
	}
	return nil
}

// forwardAsavie receives a batch on from, copies each frame into a free frame
// of to's UMEM (the sockets cannot share one) and transmits there.
func forwardAsavie(from, to *xdp.Socket, batch int, tx []xdp.Desc, dst, src net.HardwareAddr, d *Direction) int {
	rx := from.Receive(batch)
	n := len(rx)
	if n == 0 {
		return 0
	}
	free := to.GetDescs(n)
	tx = tx[:0]
	for i, in := range rx {
		if i >= len(free) {
			break
		}
		out := free[i]
		pkt := from.GetFrame(in)
		frame := to.GetFrame(out)
		m := copy(frame, pkt)
		rewriteEth(frame[:m], dst, src)
		out.Len = uint32(m)
		tx = append(tx, out)
	}
	sent := to.Transmit(tx)
	inc(&d.Received, uint64(n))
	inc(&d.Forwarded, uint64(sent))
	if len(tx) < n {
		inc(&d.NoFrame, uint64(n-len(tx)))
	}
	if sent < len(tx) {
		inc(&d.TxFull, uint64(len(tx)-sent))
	}
	return n
}
