//go:build linux

package fwd

import (
	"context"
	"errors"
	"fmt"
	"net"

	"golang.org/x/sys/unix"

	"github.com/teredorelay/teredorelay/xsk"
)

// runXSK forwards with xsk: one UMEM, a socket per interface, the
// received descriptor transmitted as is on the other socket.
func runXSK(ctx context.Context, cfg *Config, v4, v6 *side, st *Stats) (err error) {
	u, err := xsk.NewUmem(xsk.UmemConfig{NumFrames: cfg.Frames, FillSize: cfg.Ring, CompSize: cfg.Ring})
	if err != nil {
		return fmt.Errorf("forwarder: %w", err)
	}
	defer func() { err = errors.Join(err, u.Close()) }()
	sc := xsk.SocketConfig{RxSize: cfg.Ring, TxSize: cfg.Ring, ForceCopy: true}
	s4, err := xsk.Open(v4.ifc.Index, 0, u, sc)
	if err != nil {
		return fmt.Errorf("forwarder: open %s: %w", v4.ifc.Name, err)
	}
	s6, err := xsk.Open(v6.ifc.Index, 0, u, sc)
	if err != nil {
		return fmt.Errorf("forwarder: open %s: %w", v6.ifc.Name, err)
	}
	if err := v4.prog.Register(0, s4.FD()); err != nil {
		return fmt.Errorf("forwarder: register %s: %w", v4.ifc.Name, err)
	}
	if err := v6.prog.Register(0, s6.FD()); err != nil {
		return fmt.Errorf("forwarder: register %s: %w", v6.ifc.Name, err)
	}
	s4.Fill(cfg.Ring)
	s6.Fill(cfg.Ring)
	cfg.ready()
	descs := make([]xsk.Desc, cfg.Batch)
	fds := []unix.PollFd{{Fd: int32(s4.FD()), Events: unix.POLLIN}, {Fd: int32(s6.FD()), Events: unix.POLLIN}}
	idle := 0
	for ctx.Err() == nil {
		n := forwardXSK(s4, s6, descs, cfg.IPv6NextHop, v6.ifc.HardwareAddr, &st.V4ToV6)
		n += forwardXSK(s6, s4, descs, cfg.IPv4NextHop, v4.ifc.HardwareAddr, &st.V6ToV4)
		s4.Complete()
		s6.Complete()
		s4.Fill(cfg.Ring)
		s6.Fill(cfg.Ring)
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

func forwardXSK(from, to *xsk.Socket, descs []xsk.Desc, dst, src net.HardwareAddr, d *Direction) int {
	n := from.Receive(descs)
	if n == 0 {
		return 0
	}
	for _, desc := range descs[:n] {
		buf, off := from.Frame(desc)
		rewriteEth(buf[off:off+int(desc.Len)], dst, src)
	}
	sent := to.Transmit(descs[:n])
	for _, desc := range descs[sent:n] {
		from.Free(desc)
	}
	inc(&d.Received, uint64(n))
	inc(&d.Forwarded, uint64(sent))
	if sent < n {
		inc(&d.TxFull, uint64(n-sent))
	}
	return n
}
