//go:build linux

package clientd

import (
	"github.com/teredorelay/teredorelay/client"
	"github.com/teredorelay/teredorelay/client/tun"
)

type device interface {
	client.TunnelDevice
	Name() string
	Close() error
}

func openDevice(name string, metric int) (device, error) {
	if name == "" {
		name = "teredo"
	}
	return tun.Open(name, metric)
}
