package lab

import (
	"testing"

	"github.com/teredorelay/teredorelay/config"
)

// TestDefaultRelaydConfigParses holds the lab's generated configuration to
// the daemon's real schema: config.Parse rejects unknown keys.
func TestDefaultRelaydConfigParses(t *testing.T) {
	for _, tc := range []struct {
		mode   Mode
		queues int
	}{{OneArmed, 1}, {TwoArmed, 2}} {
		env := RelaydEnv{Namespace: "tlab-x-relay", Mode: tc.mode, Queues: tc.queues,
			IPv4Iface: RelayIPv4Iface, IPv6Iface: RelayIPv6Iface, IPv4Addr: RelayIPv4, Port: TeredoPort,
			IPv6Addr: RelayIPv6, APISocket: "/tmp/tlab-x/relayd.sock", BubbleKeyFile: "/tmp/tlab-x/key",
			MetricsListen: "127.0.0.1:9542"}
		if tc.mode == OneArmed {
			env.IPv6Iface = env.IPv4Iface
		}
		b, err := DefaultRelaydConfig(env)
		if err != nil {
			t.Fatal(err)
		}
		c, err := config.Parse(b)
		if err != nil {
			t.Fatalf("%v: config.Parse: %v\n%s", tc.mode, err, b)
		}
		if c.Interfaces.IPv4Name() != RelayIPv4Iface || c.Interfaces.TwoArmed() != (tc.mode == TwoArmed) ||
			len(c.Queues) != tc.queues || len(c.IPv4.Addresses) != 1 || c.IPv4.Addresses[0] != RelayIPv4 ||
			c.IPv4.Port != TeredoPort || c.IPv6.Address != RelayIPv6 || c.API.Socket != env.APISocket {
			t.Errorf("%v: parsed %+v", tc.mode, c)
		}
	}
}
