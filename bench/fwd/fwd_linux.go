//go:build linux

package fwd

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"runtime"

	"golang.org/x/sys/unix"

	"github.com/teredorelay/teredorelay/bpf"
)

// side is one interface of the forwarder: its steering program and MAC.
type side struct {
	ifc  *net.Interface
	prog *bpf.Program
}

func openSide(name string, cfg bpf.Config) (*side, error) {
	ifc, err := net.InterfaceByName(name)
	if err != nil {
		return nil, fmt.Errorf("forwarder: interface %s: %w", name, err)
	}
	p, err := bpf.Load(cfg)
	if err != nil {
		return nil, fmt.Errorf("forwarder: load steering program for %s: %w", name, err)
	}
	if _, err := p.Attach(ifc.Index, bpf.AttachNative); err != nil {
		p.Close()
		return nil, fmt.Errorf("forwarder: attach steering program to %s: %w", name, err)
	}
	return &side{ifc: ifc, prog: p}, nil
}

// Run forwards until ctx ends. It locks its goroutine to an OS thread and
// must be called in the interfaces' network namespace.
func Run(ctx context.Context, cfg Config, st *Stats) error {
	if err := cfg.defaults(); err != nil {
		return err
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	v4, err := openSide(cfg.IPv4If, bpf.Config{Addrs: []netip.Addr{cfg.RelayAddr}, Port: cfg.Port, SteerIPv4: true})
	if err != nil {
		return err
	}
	defer v4.prog.Close()
	v6, err := openSide(cfg.IPv6If, bpf.Config{SteerIPv6: true})
	if err != nil {
		return err
	}
	defer v6.prog.Close()
	switch cfg.Impl {
	case ImplAsavie:
		return runAsavie(ctx, &cfg, v4, v6, st)
	default:
		return runXSK(ctx, &cfg, v4, v6, st)
	}
}

// idleSpins is how many empty loop iterations pass before the forwarder
// sleeps in poll(2) (10 ms at most), so an idle forwarder does not burn a core.
const idleSpins = 2000

// waitReadable polls fds for POLLIN for up to 10 ms.
func waitReadable(fds []unix.PollFd) error {
	for i := range fds {
		fds[i].Revents = 0
	}
	_, err := unix.Poll(fds, 10)
	if err != nil && !errors.Is(err, unix.EINTR) {
		return fmt.Errorf("forwarder: poll: %w", err)
	}
	return nil
}
