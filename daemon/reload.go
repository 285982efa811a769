package daemon

import (
	"fmt"
	"reflect"

	"github.com/teredorelay/teredorelay/config"
	"github.com/teredorelay/teredorelay/relay"
)

// policyKeys are the reloadable settings the relay engine holds.
var policyKeys = []struct {
	key string
	get func(*config.Config) any
}{
	{"accept_unknown_peers", func(c *config.Config) any { return c.AcceptUnknownPeers }},
	{"accept_symmetric_nat", func(c *config.Config) any { return c.AcceptSymmetricNAT }},
	{"bubbles.direct", func(c *config.Config) any { return c.Bubbles.Direct }},
	{"icmpv6.rate", func(c *config.Config) any { return c.ICMPv6.Rate }},
	{"icmpv6.burst", func(c *config.Config) any { return c.ICMPv6.Burst }},
	{"extra_bogons", func(c *config.Config) any { return c.ExtraBogons }},
}

// reconfigurer is the live-reconfiguration hook the relay engine may offer;
// policy changes are refused while it does not.
type reconfigurer interface {
	Reconfigure(relay.Config) error
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
		r, ok := any(d.engine).(reconfigurer)
		if !ok {
			return nil, fmt.Errorf("config: %s cannot change on reload: this relay engine has no live reconfiguration; restart the daemon", policy[0])
		}
		key, err := relay.LoadOrCreateKey(next.Bubbles.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("config: bubbles.key_file: %w", err)
		}
		if err := r.Reconfigure(relayConfig(next, key)); err != nil {
			return nil, fmt.Errorf("apply %v: %w", policy, err)
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
