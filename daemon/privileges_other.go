//go:build !linux

package daemon

import "github.com/teredorelay/teredorelay/config"

// privileges is empty off Linux, where the data plane does not run.
type privileges struct{}

func currentPrivileges() (privileges, error) { return privileges{}, nil }

// checkPrivileges accepts: off Linux the XDP steps fail on their own.
func checkPrivileges(*config.Config, privileges) error { return nil }
