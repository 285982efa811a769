//go:build !linux

package topo

import "errors"

var errUnsupported = errors.New("topology: network namespaces need Linux")

// Up is Linux-only.
func Up(tag string) (*Topology, error) { return nil, errUnsupported }

// Down is Linux-only.
func (t *Topology) Down() error { return nil }

// Do is Linux-only.
func Do(ns string, fn func() error) error { return errUnsupported }
