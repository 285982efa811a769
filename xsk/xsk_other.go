//go:build !linux

package xsk

import "time"

type sysState struct{}

// NewUmem fails: AF_XDP exists only on Linux.
func NewUmem(cfg UmemConfig) (*Umem, error) { return nil, ErrUnsupported }

// Open fails: AF_XDP exists only on Linux.
func Open(ifindex, queue int, u *Umem, cfg SocketConfig) (*Socket, error) {
	return nil, ErrUnsupported
}

// Close is a no-op off Linux.
func (u *Umem) Close() error { return nil }

// Close is a no-op off Linux.
func (s *Socket) Close() error { return nil }

// Poll fails off Linux.
func (s *Socket) Poll(timeout time.Duration) error { return ErrUnsupported }

// Stats returns the Go-side counters only.
func (s *Socket) Stats() (Stats, error) { return Stats{Ring: s.RingStats()}, ErrUnsupported }
