package nexthop

import (
	"crypto/rand"
	"encoding/hex"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/teredorelay/teredorelay/internal/testenv"
)

// TestTableMirrorsKernel runs against a network namespace of its own: a veth
// pair (tnh0 with a VLAN child tnh0.100), routes and neighbours added with
// ip(8) must appear in the published snapshots, and removals must disappear.
func TestTableMirrorsKernel(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.RequireBinary(t, "ip")
	var b [4]byte
	rand.Read(b[:])
	ns := "tnh-" + hex.EncodeToString(b[:])
	ipCmd := func(args ...string) {
		t.Helper()
		out, err := exec.Command("ip", append([]string{"-n", ns}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	ipCmd("link", "add", "tnh0", "address", "02:00:00:00:00:01", "type", "veth", "peer", "name", "tnh1")
	// The VLAN child needs the 8021q module; without it the VLAN checks are skipped.
	vlanLink := "tnh0.100"
	if out, err := exec.Command("ip", "-n", ns, "link", "add", "link", "tnh0", "name", "tnh0.100", "address", "02:00:00:00:00:02", "type", "vlan", "id", "100").CombinedOutput(); err != nil {
		t.Logf("no 802.1Q support (%v: %s): the VLAN next hop is tested on a second veth instead", err, strings.TrimSpace(string(out)))
		vlanLink = ""
		ipCmd("link", "add", "tnh2", "address", "02:00:00:00:00:02", "type", "veth", "peer", "name", "tnh3")
		ipCmd("link", "set", "tnh3", "up")
	}
	other := vlanLink
	if other == "" {
		other = "tnh2"
	}
	for _, l := range []string{"tnh0", "tnh1", other} {
		ipCmd("link", "set", l, "up")
	}
	ipCmd("addr", "add", "192.0.2.1/24", "dev", "tnh0")
	ipCmd("addr", "add", "198.51.100.1/24", "dev", other)
	ipCmd("-6", "addr", "add", "2001:db8:1::1/64", "dev", "tnh0", "nodad")
	ipCmd("route", "add", "default", "via", "192.0.2.254")
	ipCmd("route", "add", "203.0.113.0/24", "via", "198.51.100.254")
	ipCmd("-6", "route", "add", "default", "via", "2001:db8:1::fe")
	ipCmd("neigh", "add", "192.0.2.254", "lladdr", "02:00:00:00:00:fe", "dev", "tnh0", "nud", "permanent")

	f, err := os.Open("/var/run/netns/" + ns)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	idx := func(name string) int32 {
		out, err := exec.Command("ip", "-n", ns, "-o", "link", "show", name).Output()
		if err != nil {
			t.Fatal(err)
		}
		var i int32
		for _, c := range strings.SplitN(string(out), ":", 2)[0] {
			i = i*10 + int32(c-'0')
		}
		return i
	}
	tnh0, vlan := idx("tnh0"), idx(other)
	wantVLAN, wantRes := uint16(100), Unresolved
	if vlanLink == "" {
		wantVLAN, wantRes = 0, OtherLink // tnh2 is not a port
	}
	tab, err := Start(Options{Ports: []int32{tnh0}, Namespace: int(f.Fd())})
	if err != nil {
		t.Fatal(err)
	}
	defer tab.Close()

	eventually := func(what string, dst string, want Result, check func(Hop) bool) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		var h Hop
		var r Result
		for time.Now().Before(deadline) {
			if h, r = tab.Load().Lookup(netip.MustParseAddr(dst)); r == want && (check == nil || check(h)) {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Fatalf("%s: Lookup(%s) = %+v, %v; want %v", what, dst, h, r, want)
	}
	eventually("default route, permanent neighbour", "8.8.8.8", Resolved, func(h Hop) bool {
		return h.DstMAC == [6]byte{2, 0, 0, 0, 0, 0xfe} && h.SrcMAC == [6]byte{2, 0, 0, 0, 0, 1} && h.Port == 0 && h.VLAN == 0
	})
	eventually("VLAN gateway not resolved", "203.0.113.5", wantRes, func(h Hop) bool { return h.VLAN == wantVLAN && h.LinkIndex == vlan })
	eventually("IPv6 gateway not resolved", "2a00::1", Unresolved, nil)

	if vlanLink != "" {
		ipCmd("neigh", "add", "198.51.100.254", "lladdr", "02:00:00:00:00:aa", "dev", vlanLink, "nud", "reachable")
		eventually("VLAN gateway resolved", "203.0.113.5", Resolved, func(h Hop) bool {
			return h.VLAN == 100 && h.DstMAC == [6]byte{2, 0, 0, 0, 0, 0xaa} && h.SrcMAC == [6]byte{2, 0, 0, 0, 0, 2}
		})
	}
	ipCmd("-6", "neigh", "add", "2001:db8:1::fe", "lladdr", "02:00:00:00:00:66", "dev", "tnh0", "nud", "reachable")
	eventually("IPv6 gateway resolved", "2a00::1", Resolved, func(h Hop) bool { return h.DstMAC == [6]byte{2, 0, 0, 0, 0, 0x66} })

	ipCmd("route", "del", "203.0.113.0/24")
	eventually("route deleted: the default applies", "203.0.113.5", Resolved, func(h Hop) bool { return h.VLAN == 0 })
	ipCmd("route", "add", "blackhole", "203.0.113.0/24")
	eventually("blackhole", "203.0.113.5", NoRoute, nil)

	// IPv6 ECMP: the kernel deletes one sibling with an RTM_DELROUTE that
	// names only that next hop; the route keeps the other one.
	ipCmd("-6", "neigh", "add", "2001:db8:1::fd", "lladdr", "02:00:00:00:00:65", "dev", "tnh0", "nud", "reachable")
	ipCmd("-6", "route", "add", "2001:db8:77::/48", "metric", "1024", "nexthop", "via", "2001:db8:1::fe", "dev", "tnh0", "nexthop", "via", "2001:db8:1::fd", "dev", "tnh0")
	eventually("IPv6 multipath route", "2001:db8:77::1", Resolved, nil)
	ipCmd("-6", "route", "del", "2001:db8:77::/48", "via", "2001:db8:1::fe", "dev", "tnh0", "metric", "1024")
	// A later update on the same subscription: once it shows, the delete
	// was applied too.
	ipCmd("-6", "route", "add", "blackhole", "2001:db8:78::/48")
	eventually("marker route", "2001:db8:78::1", NoRoute, nil)
	for i := range 32 {
		dst := netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0, 0x77, 0, byte(i), 15: 1})
		if h, r := tab.Load().Lookup(dst); r != Resolved || h.DstMAC != [6]byte{2, 0, 0, 0, 0, 0x65} {
			t.Fatalf("after deleting one of two next hops: Lookup(%s) = %+v, %v; want the remaining next hop", dst, h, r)
		}
	}
	ipCmd("-6", "route", "del", "2001:db8:77::/48", "via", "2001:db8:1::fd", "dev", "tnh0", "metric", "1024")
	eventually("last next hop deleted: the default applies", "2001:db8:77::1", Resolved, func(h Hop) bool { return h.DstMAC == [6]byte{2, 0, 0, 0, 0, 0x66} })

	ipCmd("link", "set", "tnh0", "down")
	eventually("link down", "8.8.8.8", NoRoute, nil)
	if st := tab.Stats(); st.Generation < 2 || st.Updates == 0 {
		t.Fatalf("stats %+v", st)
	}
}
