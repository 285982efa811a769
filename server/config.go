package server

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/teredorelay/teredorelay/teredo"
)

// Defaults applied by New to zero-valued Config fields.
const (
	// DefaultMTU is the link MTU advertised in the RA (RFC 4380 §5.1.2: 1280).
	DefaultMTU = teredo.MinMTU
	// DefaultICMPv6PayloadMax is the largest ICMPv6 payload (IPv6 payload
	// length) the server forwards: Miredo's and Microsoft's servers drop
	// bigger ICMPv6 messages so that a server is not an open relay.
	DefaultICMPv6PayloadMax = 88
	// DefaultRatePerSource is the sustained number of datagrams per second
	// one source IPv4 address may make the server send (RAs, forwarded
	// bubbles and ICMPv6). A client needs a few per 30 s; a busy relay
	// sends one indirect bubble per new peer.
	DefaultRatePerSource = 100
	// DefaultRateBurst is the token-bucket depth per source.
	DefaultRateBurst = 200
	// DefaultRateTableSize is the number of per-source buckets of each
	// Handler (24 bytes each, 384 KiB). Sources are hashed with a random key
	// into two candidate slots; a new source takes the idler one.
	DefaultRateTableSize = 1 << 14
	// DefaultTTL is the IPv4 TTL of the datagrams the server sends.
	DefaultTTL = teredo.DefaultTTL
)

// Config configures a Server. Zero-valued fields take the Default* values.
type Config struct {
	// Primary is the server's primary IPv4 address: the address clients are
	// configured with, embedded in their Teredo addresses, in the RA prefix
	// 2001:0:<Primary>::/64 and in the server's link-local address, and the
	// source of forwarded packets. Required, global unicast.
	Primary netip.Addr
	// Secondary is the second IPv4 address (RFC 4380 §5.2, "secondary
	// server address"): cone-bit RSs are answered from the other address.
	// Default Primary + 1, as Miredo and Windows clients assume.
	Secondary netip.Addr
	// RelayAddr is set when a relay runs in the same data plane. When it
	// equals Primary or Secondary (the relay listens on a server address),
	// datagrams arriving there that are relay business are returned with
	// the Relay verdict instead of being dropped; see the package
	// documentation. When it is another address it only joins the loop
	// guard (never forward to it).
	RelayAddr netip.Addr
	// MTU is the link MTU advertised in the RA option (default 1280, at
	// least 1280).
	MTU uint32
	// ICMPv6PayloadMax is the largest ICMPv6 payload length forwarded
	// (default 88); negative means no limit beyond the datagram size.
	ICMPv6PayloadMax int
	// ExtraBogons are IPv4 prefixes treated as not global unicast on top
	// of the RFC 4380 §5.2.4 list (sources and mapped destinations).
	ExtraBogons []netip.Prefix
	// RatePerSource and RateBurst size each source IPv4 address's token
	// bucket (defaults 100/s and 200). A negative RatePerSource disables
	// rate limiting.
	RatePerSource float64
	RateBurst     int
	// RateTableSize is the number of buckets per Handler (default 16384,
	// rounded up to a power of two).
	RateTableSize int
	// TTL is the IPv4 TTL of sent datagrams (default 64).
	TTL uint8
	// Now returns monotonic nanoseconds; the default reads the process's
	// monotonic clock. Tests inject a fake clock.
	Now func() int64
}

var errConfig = errors.New("server: invalid config")

func (c Config) withDefaults() Config {
	if !c.Secondary.IsValid() && c.Primary.Is4() {
		c.Secondary = c.Primary.Next()
	}
	if c.MTU == 0 {
		c.MTU = DefaultMTU
	}
	if c.ICMPv6PayloadMax == 0 {
		c.ICMPv6PayloadMax = DefaultICMPv6PayloadMax
	}
	if c.ICMPv6PayloadMax < 0 {
		c.ICMPv6PayloadMax = 0xffff
	}
	if c.RatePerSource == 0 {
		c.RatePerSource = DefaultRatePerSource
	}
	if c.RateBurst == 0 {
		c.RateBurst = DefaultRateBurst
	}
	if c.RateTableSize == 0 {
		c.RateTableSize = DefaultRateTableSize
	}
	if c.TTL == 0 {
		c.TTL = DefaultTTL
	}
	if c.Now == nil {
		base := time.Now()
		c.Now = func() int64 { return int64(time.Since(base)) }
	}
	return c
}

func (c Config) validate(b *teredo.Bogons) error {
	if !c.Primary.Is4() || !b.GlobalUnicast(c.Primary) {
		return fmt.Errorf("%w: primary %v is not a global unicast IPv4 address", errConfig, c.Primary)
	}
	if !c.Secondary.Is4() || !b.GlobalUnicast(c.Secondary) {
		return fmt.Errorf("%w: secondary %v is not a global unicast IPv4 address", errConfig, c.Secondary)
	}
	if c.Secondary == c.Primary {
		return fmt.Errorf("%w: secondary equals primary %v", errConfig, c.Primary)
	}
	if c.RelayAddr.IsValid() && !c.RelayAddr.Is4() {
		return fmt.Errorf("%w: relay address %v is not IPv4", errConfig, c.RelayAddr)
	}
	if c.MTU < teredo.MinMTU || c.MTU > 65507 {
		return fmt.Errorf("%w: mtu %d outside 1280..65507", errConfig, c.MTU)
	}
	if c.RatePerSource > 0 && c.RateBurst < 1 {
		return fmt.Errorf("%w: rate burst %d < 1", errConfig, c.RateBurst)
	}
	if c.RateTableSize < 2 || c.RateTableSize > 1<<24 {
		return fmt.Errorf("%w: rate table size %d outside 2..16777216", errConfig, c.RateTableSize)
	}
	return nil
}
