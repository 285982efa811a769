package fwd

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync/atomic"
)

// Impl selects the AF_XDP socket implementation.
type Impl string

// Socket implementations.
const (
	ImplXSK    Impl = "xsk"    // github.com/teredorelay/teredorelay/xsk
	ImplAsavie Impl = "asavie" // github.com/asavie/xdp v0.3.3
)

// Config describes a two-armed forwarder.
type Config struct {
	Impl Impl
	// IPv4If faces Teredo clients; UDP to RelayAddr:Port arriving there is
	// forwarded out of IPv6If, to IPv6NextHop. IPv6 to 2001::/32 arriving on
	// IPv6If is forwarded out of IPv4If, to IPv4NextHop.
	IPv4If, IPv6If           string
	RelayAddr                netip.Addr
	Port                     uint16
	IPv4NextHop, IPv6NextHop net.HardwareAddr
	// Frames per UMEM (default 8192) and ring size (default 2048).
	Frames, Ring int
	// Batch is the descriptors handled per ring operation (default 64).
	Batch int
	// Ready, if set, is called once the sockets receive.
	Ready func()
}

func (c *Config) ready() {
	if c.Ready != nil {
		c.Ready()
	}
}

func (c *Config) defaults() error {
	if c.Impl == "" {
		c.Impl = ImplXSK
	}
	if c.Impl != ImplXSK && c.Impl != ImplAsavie {
		return fmt.Errorf("forwarder: unknown socket implementation %q", c.Impl)
	}
	if c.Frames == 0 {
		c.Frames = 8192
	}
	if c.Ring == 0 {
		c.Ring = 2048
	}
	if c.Batch == 0 {
		c.Batch = 64
	}
	if c.Port == 0 {
		c.Port = 3544
	}
	if c.IPv4If == "" || c.IPv6If == "" || !c.RelayAddr.Is4() || len(c.IPv4NextHop) != 6 || len(c.IPv6NextHop) != 6 {
		return errors.New("forwarder: need both interfaces, an IPv4 relay address and both next-hop MACs")
	}
	if c.Frames < 2*c.Ring+2*c.Ring {
		return fmt.Errorf("forwarder: %d frames cannot fill two fill rings and two TX rings of %d", c.Frames, c.Ring)
	}
	return nil
}

// Direction counters; written by the forwarding goroutine, read by anyone.
type Direction struct {
	Received, Forwarded, TxFull, NoFrame atomic.Uint64
}

// Stats are the forwarder's counters.
type Stats struct {
	V4ToV6, V6ToV4 Direction
}

// Snapshot is a plain copy of Stats.
type Snapshot struct {
	V4ToV6, V6ToV4 DirectionSnapshot
}

// DirectionSnapshot is a plain copy of Direction.
type DirectionSnapshot struct {
	Received, Forwarded, TxFull, NoFrame uint64
}

// Snapshot reads the counters.
func (s *Stats) Snapshot() Snapshot {
	r := func(d *Direction) DirectionSnapshot {
		return DirectionSnapshot{d.Received.Load(), d.Forwarded.Load(), d.TxFull.Load(), d.NoFrame.Load()}
	}
	return Snapshot{V4ToV6: r(&s.V4ToV6), V6ToV4: r(&s.V6ToV4)}
}

func inc(c *atomic.Uint64, n uint64) { c.Store(c.Load() + n) }

// rewriteEth sets the destination and source MAC of an Ethernet frame.
func rewriteEth(frame []byte, dst, src net.HardwareAddr) {
	copy(frame[0:6], dst)
	copy(frame[6:12], src)
}
