package config

import (
	"errors"
	"fmt"
	"net/netip"
)

// Roles the daemon can take (RFC 4380 §5.3 server, §5.4 relay; a server may
// also act as a relay, §5.4.3).
const (
	RoleRelay  = "relay"
	RoleServer = "server"
)

// Defaults of the server settings (see package server for the reasoning).
const (
	DefaultServerMTU              = 1280
	DefaultServerICMPv6PayloadMax = 88
	DefaultServerRatePerSource    = 100
	DefaultServerRateBurst        = 200
	DefaultServerRateTableSize    = 1 << 14
)

// RelayRole reports whether the daemon runs the relay role (roles includes
// "relay", or no roles key: the default).
func (c *Config) RelayRole() bool { return !c.ServerOnly }

// ServerRole reports whether the daemon runs the server role; c.Server then
// holds its settings.
func (c *Config) ServerRole() bool { return c.Server != nil }

// Server configures the Teredo server role (Config.Server, nil without it).
type Server struct {
	// Primary and Secondary are the server's two IPv4 addresses (UDP 3544
	// on both); Secondary defaults to Primary + 1.
	Primary, Secondary netip.Addr
	// MTU is the link MTU advertised in Router Advertisements.
	MTU uint32
	// ICMPv6PayloadMax is the largest ICMPv6 payload forwarded (Miredo and
	// Windows servers: 88 bytes).
	ICMPv6PayloadMax int
	// RatePerSource and RateBurst bound, per source IPv4 address, what the
	// server sends on its behalf (RAs and forwarded packets); RateTableSize
	// is the number of buckets per queue.
	RatePerSource float64
	RateBurst     int
	RateTableSize int
}

// rawServer mirrors the server section of the YAML file.
type rawServer struct {
	Primary          string   `yaml:"primary"`
	Secondary        string   `yaml:"secondary"`
	MTU              *int     `yaml:"mtu"`
	ICMPv6PayloadMax *int     `yaml:"icmpv6_payload_max"`
	RatePerSource    *float64 `yaml:"rate_per_source"`
	RateBurst        *int     `yaml:"rate_burst"`
	RateTableSize    *int     `yaml:"rate_table_size"`
}

// roles validates the roles key and the server section. It runs before the
// addresses: with the server role alone, ipv4.address defaults to the
// server's primary address (the relay engine is not started then).
func (r *rawConfig) roles(c *Config) error {
	relay, server := !r.Roles.set || len(r.Roles.vals) == 0, false
	for i, s := range r.Roles.vals {
		switch s {
		case RoleRelay:
			relay = true
		case RoleServer:
			server = true
		default:
			return fmt.Errorf("roles[%d]: unknown role %q (want %q and/or %q)", i, s, RoleRelay, RoleServer)
		}
	}
	c.ServerOnly = !relay
	rs := r.Server
	if !server {
		if rs != (rawServer{}) {
			return errors.New("server: set, but roles does not include \"server\"")
		}
		return nil
	}
	s := &Server{}
	c.Server = s
	var err error
	if s.Primary, err = serverAddr("server.primary", rs.Primary); err != nil {
		return err
	}
	s.Secondary = s.Primary.Next()
	if rs.Secondary != "" {
		if s.Secondary, err = serverAddr("server.secondary", rs.Secondary); err != nil {
			return err
		}
	}
	if s.Secondary == s.Primary {
		return fmt.Errorf("server.secondary: %s equals server.primary", s.Secondary)
	}
	mtu, err := intIn("server.mtu", rs.MTU, DefaultServerMTU, 1280, 65507)
	if err != nil {
		return err
	}
	s.MTU = uint32(mtu)
	if s.ICMPv6PayloadMax, err = intIn("server.icmpv6_payload_max", rs.ICMPv6PayloadMax, DefaultServerICMPv6PayloadMax, 0, 65535); err != nil {
		return err
	}
	s.RatePerSource = floatOr(rs.RatePerSource, DefaultServerRatePerSource)
	if s.RatePerSource <= 0 || s.RatePerSource > 1e9 {
		return fmt.Errorf("server.rate_per_source: %g is out of range (0 < rate <= 1e9 per second)", s.RatePerSource)
	}
	if s.RateBurst, err = intIn("server.rate_burst", rs.RateBurst, DefaultServerRateBurst, 1, 1e6); err != nil {
		return err
	}
	if s.RateTableSize, err = intIn("server.rate_table_size", rs.RateTableSize, DefaultServerRateTableSize, 64, 1<<24); err != nil {
		return err
	}
	if !relay {
		// The kernel UDP sockets (reassembled fragments) are bound to the
		// server's two addresses and feed the server.
		if r.IPv4.Address.set && (len(r.IPv4.Address.vals) != 1 || r.IPv4.Address.vals[0] != s.Primary.String()) {
			return fmt.Errorf("ipv4.address: with the server role alone, leave it out or set it to server.primary (%s)", s.Primary)
		}
		r.IPv4.Address = strs{set: true, vals: []string{s.Primary.String()}}
	}
	if r.IPv4.Port != nil && *r.IPv4.Port != DefaultPort {
		return fmt.Errorf("ipv4.port: %d: the server role needs port %d (one port is steered for both roles)", *r.IPv4.Port, DefaultPort)
	}
	return nil
}

func serverAddr(key, s string) (netip.Addr, error) {
	if s == "" {
		return netip.Addr{}, fmt.Errorf("%s: missing: the server's IPv4 address", key)
	}
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is4() {
		return netip.Addr{}, fmt.Errorf("%s: %s is not an IPv4 address", key, s)
	}
	if !a.IsGlobalUnicast() || a == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
		return netip.Addr{}, fmt.Errorf("%s: %s is not a unicast address", key, a)
	}
	return a, nil
}

// ServerRelayAddr returns the relay's address as the server must know it
// (server.Config.RelayAddr): the relay's first ipv4.address, the address it
// receives and sends on. When that is a server address the two roles share
// it; either way the server never forwards to it. Zero without both roles.
func (c *Config) ServerRelayAddr() netip.Addr {
	if c.ServerOnly || c.Server == nil || len(c.IPv4.Addresses) == 0 {
		return netip.Addr{}
	}
	return c.IPv4.Addresses[0]
}
