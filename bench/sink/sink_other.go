//go:build !linux

package sink

import "errors"

// Sink is Linux-only.
type Sink struct{}

// Attach is Linux-only.
func Attach(ifindex int) (*Sink, error) { return nil, errors.New("sink: XDP needs Linux") }

// Close is Linux-only.
func (s *Sink) Close() error { return nil }

// Read is Linux-only.
func (s *Sink) Read() (Counts, error) { return Counts{}, errors.New("sink: XDP needs Linux") }

// Peers is Linux-only.
func (s *Sink) Peers(kind int) (int, error) { return 0, errors.New("sink: XDP needs Linux") }

// ResetPeers is Linux-only.
func (s *Sink) ResetPeers() error { return errors.New("sink: XDP needs Linux") }
