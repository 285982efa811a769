//go:build !linux

package loadgen

import (
	"context"
	"errors"
)

var errUnsupported = errors.New("loadgen: live frames need Linux ≥ 5.18")

// Generator is Linux-only.
type Generator struct{ traffic Traffic }

// New is Linux-only.
func New(t Traffic, ifindex, redirectIfindex int, probeEvery uint64) (*Generator, error) {
	return nil, errUnsupported
}

// Traffic returns what the generator sends.
func (g *Generator) Traffic() *Traffic { return &g.traffic }

// Close is Linux-only.
func (g *Generator) Close() error { return nil }

// Send is Linux-only.
func (g *Generator) Send(ctx context.Context, p Pace) (Stats, error) { return Stats{}, errUnsupported }
