package daemon

import (
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"slices"

	"github.com/teredorelay/teredorelay/config"
)

// policyKeys are the reloadable settings the relay engine holds.
var policyKeys = []struct {
	key string
	get func(*config.Config) any
}{
	{"accept_unknown_peers", func(c *config.Config) any { return c.AcceptUnknownPeers }},
	{"accept_symmetric_nat", func(c *config.Config) any { return c.AcceptSymmetricNAT }},
	{"encap_udp_checksum", func(c *config.Config) any { return c.EncapUDPChecksum }},
	{"bubbles.direct", func(c *config.Config) any { return c.Bubbles.Direct }},
	{"icmpv6.enabled", func(c *config.Config) any { return c.ICMPv6.Enabled }},
	{"icmpv6.rate", func(c *config.Config) any { return c.ICMPv6.Rate }},
	{"icmpv6.burst", func(c *config.Config) any { return c.ICMPv6.Burst }},
	{"extra_bogons", func(c *config.Config) any { return c.ExtraBogons }},
	{"ipv4.address", func(c *config.Config) any { return c.SecondaryIPv4() }}, // the primary is fixed (CheckReload)
	{"rate_limits", func(c *config.Config) any { return c.RateLimits }},
}

// applyReload loads the file, checks that only reloadable keys changed and
// applies them. Nothing is applied unless everything can be.
func (d *Daemon) applyReload() ([]string, error) {
	next, err := config.Load(d.opts.ConfigPath)
	if err != nil {
		return nil, err
	}
	d.cfgMu.Lock()
	defer d.cfgMu.Unlock()
	cur := d.cfg
	if err := cur.CheckReload(next); err != nil {
		return nil, err
	}
	var changed, policy []string
	for _, k := range policyKeys {
		if !reflect.DeepEqual(k.get(cur), k.get(next)) {
			policy = append(policy, k.key)
		}
	}
	if len(policy) > 0 {
		// A nil key keeps the engine's (bubbles.key_file cannot change).
		if err := d.engine.Reconfigure(relayConfig(next, nil)); err != nil {
			return nil, fmt.Errorf("apply %v: %w", policy, err)
		}
		if from, to := d.steerAddrs(cur), d.steerAddrs(next); !slices.Equal(from, to) {
			if err := d.setSteerAddrs(to); err != nil {
				// Put back what was: the engine, and the maps already changed.
				rerr := errors.Join(d.engine.Reconfigure(relayConfig(cur, nil)), d.setSteerAddrs(from))
				if rerr != nil {
					d.log.Error("reload: rolling back after a failed XDP address update", "err", rerr)
				}
				return nil, fmt.Errorf("apply ipv4.address: %w", err)
			}
		}
		changed = append(changed, policy...)
	}
	if cur.Log.Level != next.Log.Level {
		d.opts.Level.Set(next.Log.Level)
		changed = append(changed, "log.level")
	}
	d.cfg = next
	return changed, nil
}

// setSteerAddrs replaces the IPv4 addresses every XDP program steers (a
// reload that changed the relay's secondary addresses).
func (d *Daemon) setSteerAddrs(addrs []netip.Addr) error {
	for _, s := range d.sides {
		if s.prog == nil {
			continue
		}
		if err := s.prog.SetAddrs(addrs); err != nil {
			return fmt.Errorf("update XDP address map on %s: %w", s.name, err)
		}
	}
	return nil
}
