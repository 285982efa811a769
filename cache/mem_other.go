//go:build !linux

package cache

import "unsafe"

// mapRegion is Linux-only; elsewhere the cache lives on the Go heap.
func mapRegion(size int, huge bool) (mem unsafe.Pointer, m Memory, release func(), ok bool) {
	return nil, Memory{}, nil, false
}
