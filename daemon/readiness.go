package daemon

import (
	"context"
	"net/netip"
	"time"

	"github.com/teredorelay/teredorelay/config"
	"github.com/teredorelay/teredorelay/nexthop"
)

// routeCheckInterval is how often the readiness routes are looked up in the
// next-hop snapshot (a few map lookups each).
const routeCheckInterval = time.Second

// firstMissingRoute returns the first destination of want without a usable
// route in snap (no route, or a reject route). An unresolved neighbour or a
// route through another link still counts as usable: the kernel path
// delivers those.
func firstMissingRoute(snap *nexthop.Snapshot, want []netip.Addr) (netip.Addr, bool) {
	for _, a := range want {
		if _, r := snap.Lookup(a); r == nexthop.NoRoute {
			return a, true
		}
	}
	return netip.Addr{}, false
}

// checkRoutes updates routeMissing from the current next-hop snapshot and
// reports whether fitness for traffic changed.
func (d *Daemon) checkRoutes(want []netip.Addr) bool {
	before := d.fitForTraffic()
	a, missing := firstMissingRoute(d.hops.Load(), want)
	if missing {
		d.missingRoute.Store(&a)
	}
	if d.routeMissing.Swap(missing) != missing {
		if missing {
			d.log.Warn("not ready: no route to a readiness destination", "destination", a, "key", "readiness.require_route_to")
		} else {
			d.log.Info("readiness routes present again")
		}
	}
	return d.fitForTraffic() != before
}

// watchRoutes checks readiness.require_route_to before the relay first
// reports ready and then every routeCheckInterval, passing changes to the
// announcement driver (which withdraws at once and re-announces after its
// rise time).
func (d *Daemon) watchRoutes(ctx context.Context, cfg *config.Config) {
	want := cfg.Readiness.RequireRouteTo
	if len(want) == 0 || d.hops == nil {
		return
	}
	d.checkRoutes(want)
	d.goEvery(ctx, "readiness routes", routeCheckInterval, func() {
		if d.checkRoutes(want) {
			d.updateAnnounce()
			d.notifyStatus()
		}
	})
}

// routeMissingReason is the NotReady reason while a route is missing.
func (d *Daemon) routeMissingReason() string {
	if a := d.missingRoute.Load(); a != nil {
		return "no route to " + a.String() + " (readiness.require_route_to)"
	}
	return "a readiness.require_route_to destination has no route"
}
