//go:build !linux

package clientd

import (
	"errors"

	"github.com/teredorelay/teredorelay/client"
)

type device interface {
	client.TunnelDevice
	Name() string
	Close() error
}

func openDevice(string, int) (device, error) {
	return nil, errors.New("teredo-client needs Linux (TUN device)")
}
