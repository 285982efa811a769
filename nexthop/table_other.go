//go:build !linux

package nexthop

import "errors"

// Start is only implemented on Linux.
func Start(opts Options) (*Table, error) {
	return nil, errors.New("nexthop: mirroring kernel routes is only implemented on Linux")
}

// Close is a no-op for static tables.
func (t *Table) Close() error { return nil }
