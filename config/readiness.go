package config

import (
	"fmt"
	"net/netip"
)

// Readiness adds conditions to the relay's readiness (/readyz, the
// announcement, relayctl status) beyond "started and not draining".
type Readiness struct {
	// RequireRouteTo lists destinations the kernel must have a usable route
	// to (not missing, not a reject route); while one has none, the relay is
	// not ready and its anycast announcement is withdrawn. A relay that lost
	// its IPv6 upstream (or its IPv4 side) then stops attracting traffic it
	// cannot deliver. Empty by default.
	RequireRouteTo []netip.Addr
}

// MaxRequiredRoutes bounds readiness.require_route_to.
const MaxRequiredRoutes = 16

type rawReadiness struct {
	RequireRouteTo []string `yaml:"require_route_to"`
}

func (r *rawConfig) readiness(c *Config) error {
	in := r.Readiness.RequireRouteTo
	if len(in) > MaxRequiredRoutes {
		return fmt.Errorf("readiness.require_route_to: %d destinations; at most %d", len(in), MaxRequiredRoutes)
	}
	for i, s := range in {
		a, err := netip.ParseAddr(s)
		if err != nil || a.Zone() != "" || !a.Unmap().IsGlobalUnicast() {
			return fmt.Errorf("readiness.require_route_to[%d]: %q is not a global unicast IPv4 or IPv6 address", i, s)
		}
		c.Readiness.RequireRouteTo = append(c.Readiness.RequireRouteTo, a.Unmap())
	}
	return nil
}

// readinessFixedKeys join the restart-only keys CheckReload checks.
var readinessFixedKeys = []struct {
	key string
	get func(*Config) any
}{
	{"readiness.require_route_to", func(c *Config) any { return fmt.Sprint(c.Readiness.RequireRouteTo) }},
}

func init() { fixedKeys = append(fixedKeys, readinessFixedKeys...) }
