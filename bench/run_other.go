//go:build !linux

package bench

import (
	"context"
	"errors"
)

// Run needs Linux (network namespaces, XDP, AF_XDP).
func Run(ctx context.Context, opts Options) (*Report, error) {
	return nil, errors.New("bench: needs Linux ≥ 5.18 and root")
}
