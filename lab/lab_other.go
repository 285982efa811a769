//go:build !linux

package lab

import (
	"context"
	"errors"
)

// Lab is a running namespace topology; it exists only on Linux.
type Lab struct{}

// Start fails: network namespaces, veths and Miredo are Linux-only.
func Start(context.Context, Options) (*Lab, error) {
	return nil, errors.New("lab: network namespaces need Linux")
}

// Close does nothing.
func (*Lab) Close() error { return nil }
