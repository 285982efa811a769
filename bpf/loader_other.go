//go:build !linux

package bpf

import (
	"errors"
	"fmt"
	"net/netip"
)

// Program is the steering program; XDP exists only on Linux, so every
// method fails with errors.ErrUnsupported on this GOOS.
type Program struct{}

// Load fails: XDP is Linux-only.
func Load(cfg Config) (*Program, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return nil, fmt.Errorf("load steer objects: %w", errors.ErrUnsupported)
}

// Attach fails: XDP is Linux-only.
func (p *Program) Attach(ifindex int, mode AttachMode) (AttachMode, error) {
	return 0, fmt.Errorf("attach xdp: %w", errors.ErrUnsupported)
}

// Register fails: XDP is Linux-only.
func (p *Program) Register(queue int, xskFD int) error {
	return fmt.Errorf("register xsk: %w", errors.ErrUnsupported)
}

// Unregister fails: XDP is Linux-only.
func (p *Program) Unregister(queue int) error {
	return fmt.Errorf("unregister xsk: %w", errors.ErrUnsupported)
}

// SetAddrs fails: XDP is Linux-only.
func (p *Program) SetAddrs(addrs []netip.Addr) error {
	return fmt.Errorf("set relay addresses: %w", errors.ErrUnsupported)
}

// Addrs fails: XDP is Linux-only.
func (p *Program) Addrs() ([]netip.Addr, error) {
	return nil, fmt.Errorf("read relay addresses: %w", errors.ErrUnsupported)
}

// SetMACs fails: XDP is Linux-only.
func (p *Program) SetMACs(macs [][6]byte) error {
	return fmt.Errorf("set own MACs: %w", errors.ErrUnsupported)
}

// MACs fails: XDP is Linux-only.
func (p *Program) MACs() ([][6]byte, error) {
	return nil, fmt.Errorf("read own MACs: %w", errors.ErrUnsupported)
}

// Counters fails: XDP is Linux-only.
func (p *Program) Counters() (Counters, error) {
	return Counters{}, fmt.Errorf("read counters: %w", errors.ErrUnsupported)
}

// Close does nothing.
func (p *Program) Close() error { return nil }
