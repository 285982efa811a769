package bpf

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
)

// Limits fixed in steer.h (TestLimitsMatchObject checks them).
const (
	// MaxAddrs is the number of relay IPv4 addresses the program can steer.
	MaxAddrs = 8
	// MaxQueues bounds the RX queue index that can own a socket: Register
	// accepts queues 0 to MaxQueues-1.
	MaxQueues = 1024
	// MaxMACs is the number of own MAC addresses the program checks.
	MaxMACs = 8
)

// DefaultPort is the Teredo UDP port (RFC 4380 §2.9), used when Config.Port is 0.
const DefaultPort uint16 = 3544

// Errors returned by the loader; wrapped with the step that failed.
var (
	// ErrInvalidConfig marks a rejected Config or address list.
	ErrInvalidConfig = errors.New("invalid steering config")
	// ErrAttached is returned by a second Attach on the same Program.
	ErrAttached = errors.New("steering program already attached")
	// ErrClosed is returned by methods called after Close.
	ErrClosed = errors.New("steering program closed")
)

// Config selects what the program steers. It is fixed at Load, except the
// addresses, which SetAddrs can replace.
type Config struct {
	// Addrs are the relay's IPv4 unicast addresses: UDP to one of them and
	// Port is steered (the server role needs two). 1 to MaxAddrs when
	// SteerIPv4 is set. IPv4-mapped IPv6 addresses are unmapped.
	Addrs []netip.Addr
	// Port is the relay UDP port; 0 means DefaultPort.
	Port uint16
	// SteerIPv4 enables steering of IPv4 UDP to Addrs:Port on this attachment.
	SteerIPv4 bool
	// SteerIPv6 enables steering of IPv6 to 2001::/32 on this attachment.
	// A two-armed relay loads one Program per interface, each with one side.
	SteerIPv6 bool
	// MACs are the interface's own unicast MAC addresses (the port's and
	// those of its VLAN sub-interfaces; at most MaxMACs): a steerable frame
	// to another unicast MAC is dropped (drop_not_our_mac). Empty turns the
	// check off. SetMACs replaces them.
	MACs [][6]byte
	// MaxFrameLen is the longest frame the AF_XDP sockets take (the UMEM
	// frame size minus the UMEM and kernel headrooms); longer steerable
	// frames are dropped (drop_oversize). 0 means no limit.
	MaxFrameLen int
}

func (c *Config) port() uint16 {
	if c.Port == 0 {
		return DefaultPort
	}
	return c.Port
}

func (c *Config) validate() error {
	if !c.SteerIPv4 && !c.SteerIPv6 {
		return fmt.Errorf("%w: neither IPv4 nor IPv6 steering is enabled", ErrInvalidConfig)
	}
	if _, err := relayAddrs(c.Addrs, c.SteerIPv4); err != nil {
		return err
	}
	if _, err := ownMACs(c.MACs); err != nil {
		return err
	}
	if c.MaxFrameLen < 0 {
		return fmt.Errorf("%w: max frame length %d", ErrInvalidConfig, c.MaxFrameLen)
	}
	return nil
}

// macSet is the value of the own_macs map (struct own_macs in steer.h;
// TestLimitsMatchObject checks the layout).
type macSet struct {
	N    uint32
	Addr [MaxMACs][6]byte
}

// ownMACs validates macs and returns the map value: unicast, non-zero
// addresses, at most MaxMACs, duplicates removed.
func ownMACs(macs [][6]byte) (macSet, error) {
	var v macSet
	for _, m := range macs {
		if m[0]&1 != 0 || m == [6]byte{} {
			return v, fmt.Errorf("%w: own MAC %x is not a unicast address", ErrInvalidConfig, m)
		}
		if slices.Contains(v.Addr[:v.N], m) {
			continue
		}
		if v.N == MaxMACs {
			return v, fmt.Errorf("%w: more than %d own MAC addresses", ErrInvalidConfig, MaxMACs)
		}
		v.Addr[v.N] = m
		v.N++
	}
	return v, nil
}

// relayAddrs validates addrs and returns them unmapped. At least one address
// is required when IPv4 steering is on.
func relayAddrs(addrs []netip.Addr, required bool) ([]netip.Addr, error) {
	if required && len(addrs) == 0 {
		return nil, fmt.Errorf("%w: IPv4 steering needs at least one relay address", ErrInvalidConfig)
	}
	if len(addrs) > MaxAddrs {
		return nil, fmt.Errorf("%w: %d relay addresses, at most %d", ErrInvalidConfig, len(addrs), MaxAddrs)
	}
	out := make([]netip.Addr, 0, len(addrs))
	for _, a := range addrs {
		a = a.Unmap()
		switch {
		case !a.Is4():
			return nil, fmt.Errorf("%w: relay address %v is not IPv4", ErrInvalidConfig, a)
		case a.IsUnspecified(), a.IsMulticast(), a == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
			return nil, fmt.Errorf("%w: relay address %v is not unicast", ErrInvalidConfig, a)
		}
		for _, b := range out {
			if a == b {
				return nil, fmt.Errorf("%w: relay address %v listed twice", ErrInvalidConfig, a)
			}
		}
		out = append(out, a)
	}
	return out, nil
}

// AttachMode is the XDP hook an attachment uses.
type AttachMode int

const (
	// AttachAuto tries native (driver) mode and falls back to generic.
	AttachAuto AttachMode = iota
	// AttachNative runs in the driver (XDP_FLAGS_DRV_MODE); needed for
	// zero-copy AF_XDP.
	AttachNative
	// AttachGeneric runs after SKB allocation (XDP_FLAGS_SKB_MODE); works on
	// any device, copy-mode sockets only.
	AttachGeneric
)

// String returns "auto", "native" or "generic".
func (m AttachMode) String() string {
	switch m {
	case AttachAuto:
		return "auto"
	case AttachNative:
		return "native"
	case AttachGeneric:
		return "generic"
	}
	return fmt.Sprintf("AttachMode(%d)", int(m))
}

// ParseAttachMode is the inverse of AttachMode.String ("" means auto).
func ParseAttachMode(s string) (AttachMode, error) {
	switch s {
	case "", "auto":
		return AttachAuto, nil
	case "native", "driver":
		return AttachNative, nil
	case "generic", "skb":
		return AttachGeneric, nil
	}
	return 0, fmt.Errorf("%w: unknown XDP attach mode %q (auto, native, generic)", ErrInvalidConfig, s)
}
