//go:build !linux

package loadgen

import "errors"

var errUnsupported = errors.New("loadgen: the generators need Linux (live frames ≥ 5.18, or AF_XDP)")

// Sender is Linux-only.
type Sender struct{}

// Devices are the generator's interfaces.
type Devices struct{ TX, Redirect int }

// Open is Linux-only.
func Open(m Method, devs Devices) (*Sender, error) { return nil, errUnsupported }

// ProbeLiveFrames is Linux-only.
func ProbeLiveFrames(ifindex int) error { return errUnsupported }

// Method is Linux-only.
func (s *Sender) Method() Method { return "" }

// LiveFramesRefused is Linux-only.
func (s *Sender) LiveFramesRefused() error { return errUnsupported }

// New is Linux-only.
func (s *Sender) New(t Traffic, probeEvery uint64) (Generator, error) { return nil, errUnsupported }

// Close is Linux-only.
func (s *Sender) Close() error { return nil }
