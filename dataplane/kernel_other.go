//go:build !linux

package dataplane

import (
	"context"
	"errors"
	"net/netip"
)

var errUnsupported = errors.New("dataplane: only supported on Linux")

// RawSender is only implemented on Linux.
type RawSender struct{}

// NewRawSender is only implemented on Linux.
func NewRawSender() (*RawSender, error) { return nil, errUnsupported }

// SendIPv4 is only implemented on Linux.
func (r *RawSender) SendIPv4([]byte) error { return errUnsupported }

// SendIPv6 is only implemented on Linux.
func (r *RawSender) SendIPv6([]byte) error { return errUnsupported }

// Close is only implemented on Linux.
func (r *RawSender) Close() error { return nil }

// Kernel is only implemented on Linux.
type Kernel struct{}

// OpenKernel is only implemented on Linux.
func OpenKernel([]netip.Addr, uint16) (*Kernel, error) { return nil, errUnsupported }

// SendUDP is only implemented on Linux.
func (k *Kernel) SendUDP(netip.AddrPort, []byte) error { return errUnsupported }

// SendIPv6 is only implemented on Linux.
func (k *Kernel) SendIPv6([]byte) error { return errUnsupported }

// Serve is only implemented on Linux.
func (k *Kernel) Serve(context.Context, func(netip.Addr, netip.AddrPort, []byte)) error {
	return errUnsupported
}

// Close is only implemented on Linux.
func (k *Kernel) Close() error { return nil }

// Run is only implemented on Linux.
func (w *Worker) Run(context.Context) error { return errUnsupported }
