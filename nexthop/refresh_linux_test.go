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

	"github.com/teredorelay/teredorelay/internal/netnsutil"
	"github.com/teredorelay/teredorelay/internal/testenv"
)

// TestTableRefreshesStaleGateways reproduces a gateway whose MAC address
// changed without an announcement: the relay's namespace (tnr0) holds STALE
// entries for its gateways with addresses nobody answers to, as the kernel
// keeps them when nothing sends through them. The Table must make the kernel
// re-validate them (STALE → DELAY → PROBE → FAILED), after which the routes
// are Unresolved and the kernel path resolves the real address; a gateway
// whose STALE address is right becomes REACHABLE again; an on-link host's
// STALE entry is left alone.
func TestTableRefreshesStaleGateways(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.RequireBinary(t, "ip", "ping")
	var b [4]byte
	rand.Read(b[:])
	tag := hex.EncodeToString(b[:])
	relayNS, routerNS := "tnhr-"+tag, "tnhg-"+tag
	netnsutil.AddForTest(t, relayNS)
	netnsutil.AddForTest(t, routerNS)
	run := func(ns string, argv ...string) string {
		t.Helper()
		out, err := exec.Command("ip", append([]string{"netns", "exec", ns}, argv...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %s: %v: %s", ns, strings.Join(argv, " "), err, out)
		}
		return string(out)
	}
	const (
		gw6, gw6b, host6 = "2001:db8:9::fe", "2001:db8:9::fd", "2001:db8:9::5"
		gw4              = "192.0.2.254"
		routerMACText    = "02:00:00:00:09:fe"
	)
	routerMAC := [6]byte{2, 0, 0, 0, 9, 0xfe}
	wrongMAC6, wrongMAC4 := [6]byte{2, 0, 0, 0, 0x0e, 6}, [6]byte{2, 0, 0, 0, 0x0e, 4}

	run(relayNS, "ip", "link", "add", "tnr0", "address", "02:00:00:00:09:01", "type", "veth", "peer", "name", "tnr1", "netns", routerNS)
	run(routerNS, "ip", "link", "set", "tnr1", "address", routerMACText, "up")
	run(routerNS, "ip", "addr", "add", gw4+"/24", "dev", "tnr1")
	run(routerNS, "ip", "-6", "addr", "add", gw6+"/64", "dev", "tnr1", "nodad")
	run(routerNS, "ip", "-6", "addr", "add", gw6b+"/64", "dev", "tnr1", "nodad")
	// Short NUD timers: DELAY 1 s, two unicast probes 200 ms apart.
	for _, fam := range []string{"ipv4", "ipv6"} {
		for _, kv := range []string{"delay_first_probe_time=1", "retrans_time_ms=200", "ucast_solicit=2"} {
			run(relayNS, "sysctl", "-qw", "net."+fam+".neigh.tnr0."+kv)
		}
	}
	run(relayNS, "ip", "link", "set", "tnr0", "up")
	run(relayNS, "ip", "addr", "add", "192.0.2.1/24", "dev", "tnr0")
	run(relayNS, "ip", "-6", "addr", "add", "2001:db8:9::1/64", "dev", "tnr0", "nodad")
	run(relayNS, "ip", "route", "add", "default", "via", gw4)
	run(relayNS, "ip", "-6", "route", "add", "default", "via", gw6, "dev", "tnr0")
	run(relayNS, "ip", "-6", "route", "add", "2001:db8:55::/48", "via", gw6b, "dev", "tnr0")
	// The gateways' entries as a silent MAC change leaves them, a gateway
	// whose STALE address is right, and an on-link host.
	run(relayNS, "ip", "-6", "neigh", "replace", gw6, "lladdr", "02:00:00:00:0e:06", "dev", "tnr0", "nud", "stale")
	run(relayNS, "ip", "neigh", "replace", gw4, "lladdr", "02:00:00:00:0e:04", "dev", "tnr0", "nud", "stale")
	run(relayNS, "ip", "-6", "neigh", "replace", gw6b, "lladdr", routerMACText, "dev", "tnr0", "nud", "stale")
	run(relayNS, "ip", "-6", "neigh", "replace", host6, "lladdr", "02:00:00:00:0e:05", "dev", "tnr0", "nud", "stale")
	kernelState := func(addr string) string {
		t.Helper()
		f := strings.Fields(run(relayNS, "ip", "neigh", "show", addr, "dev", "tnr0"))
		if len(f) == 0 {
			return "absent"
		}
		return f[len(f)-1]
	}

	f, err := os.Open("/var/run/netns/" + relayNS)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var tnr0 int32
	for _, c := range strings.SplitN(run(relayNS, "ip", "-o", "link", "show", "tnr0"), ":", 2)[0] {
		tnr0 = tnr0*10 + int32(c-'0')
	}
	tab, err := Start(Options{Ports: []int32{tnr0}, Namespace: int(f.Fd()), NeighbourRefresh: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer tab.Close()

	dst6, dst6b, dst4 := netip.MustParseAddr("2001:db8:77::1"), netip.MustParseAddr("2001:db8:55::1"), netip.MustParseAddr("203.0.113.9")
	// The first snapshot uses the STALE entries as they are, as the kernel does.
	if h, r := tab.Load().Lookup(dst6); r != Resolved || h.DstMAC != wrongMAC6 {
		t.Fatalf("first snapshot: Lookup(%v) = %+v, %v; want the STALE entry's address", dst6, h, r)
	}
	if h, r := tab.Load().Lookup(dst4); r != Resolved || h.DstMAC != wrongMAC4 {
		t.Fatalf("first snapshot: Lookup(%v) = %+v, %v; want the STALE entry's address", dst4, h, r)
	}

	eventually := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within 10 s (kernel: %s %s, %s %s, %s %s; stats %+v)", what,
					gw6, kernelState(gw6), gw4, kernelState(gw4), gw6b, kernelState(gw6b), tab.Stats())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	lookup := func(dst netip.Addr, want Result, mac [6]byte) func() bool {
		return func() bool {
			h, r := tab.Load().Lookup(dst)
			return r == want && (want != Resolved || h.DstMAC == mac)
		}
	}
	eventually("IPv6 gateway with a dead address probed to FAILED, route unresolved", func() bool {
		return kernelState(gw6) == "FAILED" && lookup(dst6, Unresolved, [6]byte{})()
	})
	eventually("IPv4 gateway with a dead address probed to FAILED, route unresolved", func() bool {
		return kernelState(gw4) == "FAILED" && lookup(dst4, Unresolved, [6]byte{})()
	})
	eventually("IPv6 gateway with the right address confirmed", func() bool {
		return kernelState(gw6b) == "REACHABLE" && lookup(dst6b, Resolved, routerMAC)()
	})

	// The kernel path (what the relay does with Unresolved) resolves the
	// gateways' real address, and the snapshot follows.
	run(relayNS, "ping", "-6", "-c", "1", "-W", "2", gw6)
	run(relayNS, "ping", "-4", "-c", "1", "-W", "2", gw4)
	eventually("IPv6 route resolved to the gateway's real address", lookup(dst6, Resolved, routerMAC))
	eventually("IPv4 route resolved to the gateway's real address", lookup(dst4, Resolved, routerMAC))

	if s := kernelState(host6); s != "STALE" {
		t.Errorf("on-link host %s: kernel state %s, want STALE (only gateways are refreshed)", host6, s)
	}
	if st := tab.Stats(); st.NeighbourRefreshes < 3 || st.NeighbourRefreshErrors != 0 {
		t.Errorf("stats %+v: want at least 3 refreshes (two dead gateways, one live) and no errors", st)
	}
}
