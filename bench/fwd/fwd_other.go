//go:build !linux

package fwd

import (
	"context"
	"errors"
)

// Run is Linux-only.
func Run(ctx context.Context, cfg Config, st *Stats) error {
	return errors.New("forwarder: AF_XDP needs Linux")
}
