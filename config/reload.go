package config

import (
	"fmt"
	"reflect"
)

// ReloadableKeys lists the settings a running daemon applies on SIGHUP.
// Of ipv4.address only the addresses after the first (the primary) may
// change.
var ReloadableKeys = []string{
	"log.level", "accept_unknown_peers", "accept_symmetric_nat", "encap_udp_checksum", "bubbles.direct",
	"icmpv6.enabled", "icmpv6.rate", "icmpv6.burst", "extra_bogons", "ipv4.address",
	"rate_limits.new_peer_rate", "rate_limits.new_peer_burst", "rate_limits.bubble_rate",
	"rate_limits.bubble_burst", "rate_limits.client_slow_path_rate", "rate_limits.client_slow_path_burst",
	"rate_limits.destination_handoff_rate", "rate_limits.destination_handoff_burst", "rate_limits.bubble_share",
}

// fixedKeys lists every other setting with a way to read it.
var fixedKeys = []struct {
	key string
	get func(*Config) any
}{
	{"interfaces.one_armed", func(c *Config) any { return c.Interfaces.OneArmed }},
	{"interfaces.ipv4_side", func(c *Config) any { return c.Interfaces.IPv4Side }},
	{"interfaces.ipv6_side", func(c *Config) any { return c.Interfaces.IPv6Side }},
	{"queues", func(c *Config) any { return c.Queues }},
	{"cpus", func(c *Config) any { return c.CPUs }},
	{"xdp.mode", func(c *Config) any { return c.XDP.Mode }},
	{"socket.mode", func(c *Config) any { return c.Socket.Mode }},
	{"socket.rx_ring", func(c *Config) any { return c.Socket.RXRing }},
	{"socket.tx_ring", func(c *Config) any { return c.Socket.TXRing }},
	{"socket.fill_ring", func(c *Config) any { return c.Socket.FillRing }},
	{"socket.completion_ring", func(c *Config) any { return c.Socket.CompletionRing }},
	{"umem.frames", func(c *Config) any { return c.UMEM.Frames }},
	{"umem.frame_size", func(c *Config) any { return c.UMEM.FrameSize }},
	{"umem.headroom", func(c *Config) any { return c.UMEM.Headroom }},
	{"umem.sharing", func(c *Config) any { return c.UMEM.Sharing }},
	{"ipv4.address", func(c *Config) any { return c.PrimaryIPv4() }}, // the others are reloadable
	{"ipv4.port", func(c *Config) any { return c.IPv4.Port }},
	{"ipv6.address", func(c *Config) any { return c.IPv6.Address }},
	{"peers.capacity", func(c *Config) any { return c.Peers.Capacity }},
	{"peers.queue_bytes_per_peer", func(c *Config) any { return c.Peers.QueueBytesPerPeer }},
	{"peers.queue_bytes_total", func(c *Config) any { return c.Peers.QueueBytesTotal }},
	{"bubbles.key_file", func(c *Config) any { return c.Bubbles.KeyFile }},
	{"api.socket", func(c *Config) any { return c.API.Socket }},
	{"metrics.listen", func(c *Config) any { return c.Metrics.Listen }},
	{"log.format", func(c *Config) any { return c.Log.Format }},
	{"roles", func(c *Config) any { return [2]bool{c.RelayRole(), c.ServerRole()} }}, // config/server.go
	{"server", func(c *Config) any { return c.Server }},
}

// CheckReload returns nil when next differs from c only in ReloadableKeys,
// else an error naming the first setting that would need a restart.
func (c *Config) CheckReload(next *Config) error {
	for _, f := range fixedKeys {
		if a, b := f.get(c), f.get(next); !reflect.DeepEqual(a, b) {
			return fmt.Errorf("config: %s cannot change on reload (%v → %v); restart the daemon", f.key, a, b)
		}
	}
	return nil
}
