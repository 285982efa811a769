//go:build !linux

package daemon

import "errors"

// groEnabled is unknown off Linux.
func groEnabled(string) (bool, error) { return false, errors.ErrUnsupported }
