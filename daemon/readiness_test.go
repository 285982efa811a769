package daemon

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/teredorelay/teredorelay/config"
	"github.com/teredorelay/teredorelay/nexthop"
)

func TestFirstMissingRoute(t *testing.T) {
	st := nexthop.NewState()
	st.SetLink(nexthop.Link{Index: 2, Name: "ix0", Up: true, MAC: [6]byte{2, 0, 0, 0, 0, 1}})
	gw6 := netip.MustParseAddr("2001:db8:2::fe")
	st.SetRoute(nexthop.Route{Dst: netip.MustParsePrefix("::/0"), Hops: []nexthop.Gateway{{Via: gw6, LinkIndex: 2}}})
	st.SetRoute(nexthop.Route{Dst: netip.MustParsePrefix("198.51.100.0/24"), Hops: []nexthop.Gateway{{LinkIndex: 2}}})
	st.SetRoute(nexthop.Route{Dst: netip.MustParsePrefix("203.0.113.0/24"), Reject: true})
	snap := st.Build([]int32{2}, 1)

	v6 := netip.MustParseAddr("2001:db8:1::10")    // default route, neighbour unresolved: usable (kernel path)
	v4 := netip.MustParseAddr("198.51.100.7")      // on-link
	rejected := netip.MustParseAddr("203.0.113.9") // blackhole
	none := netip.MustParseAddr("192.0.2.1")       // no IPv4 default route
	for _, c := range []struct {
		name    string
		want    []netip.Addr
		missing netip.Addr
	}{
		{"nothing required", nil, netip.Addr{}},
		{"all routed", []netip.Addr{v6, v4}, netip.Addr{}},
		{"reject route", []netip.Addr{v6, rejected, none}, rejected},
		{"no route", []netip.Addr{v4, none}, none},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, missing := firstMissingRoute(snap, c.want)
			if missing != c.missing.IsValid() || got != c.missing {
				t.Fatalf("firstMissingRoute = %v, %v; want %v", got, missing, c.missing)
			}
		})
	}
}

// Parsing readiness.require_route_to: global unicast addresses only, errors
// name the key and the index.
func TestReadinessConfig(t *testing.T) {
	base := "interfaces: {one_armed: eth0}\nipv4: {address: 192.0.2.1}\nipv6: {address: \"2001:db8::1\"}\n"
	c, err := config.Parse([]byte(base + "readiness: {require_route_to: [\"2001:db8:1::10\", 198.51.100.7]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := []netip.Addr{netip.MustParseAddr("2001:db8:1::10"), netip.MustParseAddr("198.51.100.7")}
	if len(c.Readiness.RequireRouteTo) != 2 || c.Readiness.RequireRouteTo[0] != want[0] || c.Readiness.RequireRouteTo[1] != want[1] {
		t.Fatalf("require_route_to = %v, want %v", c.Readiness.RequireRouteTo, want)
	}
	for _, bad := range []string{"fe80::1", "ff02::1", "10.0.0.300", "::"} {
		_, err := config.Parse([]byte(base + "readiness: {require_route_to: [\"" + bad + "\"]}\n"))
		if err == nil || !strings.Contains(err.Error(), "readiness.require_route_to[0]") {
			t.Errorf("%s: error %v, want one naming readiness.require_route_to[0]", bad, err)
		}
	}
}
