package sink_test

import (
	"net/netip"

	"github.com/teredorelay/teredorelay/bench/topo"
)

func netipRelay() netip.AddrPort { return netip.AddrPortFrom(topo.RelayIPv4, 3544) }
