//go:build linux

package lab

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/teredorelay/teredorelay/control/api"
)

// TestRelaydReadinessFollowsRoutes: with readiness.require_route_to naming the
// native host, teredo-relayd is ready while the kernel routes it (the relay
// namespace's IPv6 default route), turns not ready with a reason naming the
// destination when that route is deleted, and ready again once it is back,
// without a restart.
func TestRelaydReadinessFollowsRoutes(t *testing.T) {
	bin := relaydBinary(t)
	l := startLab(t, Options{Relay: RelayTeredod, Mode: OneArmed, RelaydBinary: bin,
		RelaydConfig: func(env RelaydEnv) ([]byte, error) {
			b, err := DefaultRelaydConfig(env)
			return append(b, "readiness:\n  require_route_to: [\""+NativeIPv6.String()+"\"]\n"...), err
		}})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	_, v6 := l.RelayIfaces()
	status := func() api.Status {
		t.Helper()
		var st api.Status
		relayctlJSON(t, l, &st, "status")
		return st
	}
	waitReady := func(want bool) api.Status {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			st := status()
			if st.Ready == want {
				return st
			}
			if time.Now().After(deadline) {
				t.Fatalf("ready = %v after 10 s, want %v (not ready: %v)", st.Ready, want, st.NotReady)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	waitReady(true)
	if out, err := l.Exec(ctx, Relay, "ip", "-6", "route", "del", "default", "via", RelayGatewayV6.String(), "dev", v6); err != nil {
		t.Fatalf("delete the IPv6 default route: %v: %s", err, out)
	}
	st := waitReady(false)
	if !slices.ContainsFunc(st.NotReady, func(r string) bool {
		return strings.Contains(r, NativeIPv6.String()) && strings.Contains(r, "readiness.require_route_to")
	}) {
		t.Errorf("not-ready reasons %q do not name %s and the key", st.NotReady, NativeIPv6)
	}
	if out, err := l.Exec(ctx, Relay, "ip", "-6", "route", "add", "default", "via", RelayGatewayV6.String(), "dev", v6); err != nil {
		t.Fatalf("restore the IPv6 default route: %v: %s", err, out)
	}
	waitReady(true)
	if res, err := l.Ping6(ctx, Client, l.NativeAddr(), 2); err != nil || res.Received() == 0 {
		t.Fatalf("client -> native after the route came back: %v (%d received)", err, res.Received())
	}
}
