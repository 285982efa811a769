package nexthop

import (
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
	"testing"
)

var (
	macPort0 = [6]byte{0x02, 0, 0, 0, 0, 0x10}
	macPort1 = [6]byte{0x02, 0, 0, 0, 0, 0x11}
	macVLAN  = [6]byte{0x02, 0, 0, 0, 0, 0x12}
	macGW4   = [6]byte{0x02, 0, 0, 0, 0, 0xa4}
	macGW6   = [6]byte{0x02, 0, 0, 0, 0, 0xa6}
	macHost  = [6]byte{0x02, 0, 0, 0, 0, 0xb6}
	macAlt   = [6]byte{0x02, 0, 0, 0, 0, 0xc4}
)

// testState: ports 10 (eth0) and 11 (eth1); 12 is eth0.100; 13 is another
// link (not a port); 14 is a port-less down link.
func testState() *State {
	s := NewState()
	s.SetLink(Link{Index: 10, Name: "eth0", MAC: macPort0, Up: true})
	s.SetLink(Link{Index: 11, Name: "eth1", MAC: macPort1, Up: true})
	s.SetLink(Link{Index: 12, Name: "eth0.100", MAC: macVLAN, Up: true, VLANParent: 10, VLANID: 100})
	s.SetLink(Link{Index: 13, Name: "wg0", Up: true})
	s.SetLink(Link{Index: 14, Name: "down0", MAC: macAlt, Up: false})
	s.SetRoute(Route{Dst: pfx("0.0.0.0/0"), Hops: []Gateway{{Via: ip("192.0.2.254"), LinkIndex: 10}}})
	s.SetRoute(Route{Dst: pfx("192.0.2.0/24"), Hops: []Gateway{{LinkIndex: 10}}})
	s.SetRoute(Route{Dst: pfx("198.51.100.0/24"), Hops: []Gateway{{Via: ip("192.0.2.253"), LinkIndex: 10}}})
	s.SetRoute(Route{Dst: pfx("198.51.100.128/25"), Hops: []Gateway{{Via: ip("192.0.2.252"), LinkIndex: 12}}})
	s.SetRoute(Route{Dst: pfx("198.51.100.200/32"), Reject: true})
	s.SetRoute(Route{Dst: pfx("203.0.113.0/24"), Hops: []Gateway{{Via: ip("192.0.2.254"), LinkIndex: 13}}})
	s.SetRoute(Route{Dst: pfx("203.0.113.64/26"), Hops: []Gateway{{Via: ip("192.0.2.254"), LinkIndex: 14}}})
	// Higher metric loses to lower.
	s.SetRoute(Route{Dst: pfx("::/0"), Priority: 1024, Hops: []Gateway{{Via: ip("fe80::1"), LinkIndex: 11}}})
	s.SetRoute(Route{Dst: pfx("::/0"), Priority: 2048, Hops: []Gateway{{Via: ip("fe80::99"), LinkIndex: 10}}})
	s.SetRoute(Route{Dst: pfx("2001:db8:1::/48"), Hops: []Gateway{{LinkIndex: 11}}})
	s.SetRoute(Route{Dst: pfx("2001:db8:1:2::/64"), Hops: []Gateway{{Via: ip("fe80::2"), LinkIndex: 11}}})
	s.SetNeighbour(Neighbour{LinkIndex: 10, IP: ip("192.0.2.254"), MAC: macGW4, Usable: true})
	s.SetNeighbour(Neighbour{LinkIndex: 10, IP: ip("192.0.2.253"), Usable: false}) // INCOMPLETE
	s.SetNeighbour(Neighbour{LinkIndex: 12, IP: ip("192.0.2.252"), MAC: macAlt, Usable: true})
	s.SetNeighbour(Neighbour{LinkIndex: 10, IP: ip("192.0.2.7"), MAC: macHost, Usable: true})
	s.SetNeighbour(Neighbour{LinkIndex: 11, IP: ip("fe80::1"), MAC: macGW6, Usable: true})
	s.SetNeighbour(Neighbour{LinkIndex: 11, IP: ip("2001:db8:1::5"), MAC: macHost, Usable: true})
	return s
}

func pfx(s string) netip.Prefix { return netip.MustParsePrefix(s) }
func ip(s string) netip.Addr    { return netip.MustParseAddr(s) }

func TestLookup(t *testing.T) {
	snap := testState().Build([]int32{10, 11}, 1)
	tests := []struct {
		name   string
		dst    string
		result Result
		hop    Hop
	}{
		{"default v4 via gateway", "8.8.8.8", Resolved, Hop{DstMAC: macGW4, SrcMAC: macPort0, Port: 0, LinkIndex: 10}},
		{"on-link v4 resolved", "192.0.2.7", Resolved, Hop{DstMAC: macHost, SrcMAC: macPort0, Port: 0, LinkIndex: 10}},
		{"on-link v4 absent neighbour", "192.0.2.8", Unresolved, Hop{SrcMAC: macPort0, Port: 0, LinkIndex: 10}},
		{"gateway incomplete", "198.51.100.1", Unresolved, Hop{SrcMAC: macPort0, Port: 0, LinkIndex: 10}},
		{"longer prefix on VLAN", "198.51.100.130", Resolved, Hop{DstMAC: macAlt, SrcMAC: macVLAN, VLAN: 100, Port: 0, LinkIndex: 12}},
		{"reject /32 beats /25", "198.51.100.200", NoRoute, Hop{Port: -1}},
		{"other link", "203.0.113.1", OtherLink, Hop{Port: -1, LinkIndex: 13}},
		{"down link", "203.0.113.65", NoRoute, Hop{SrcMAC: macAlt, Port: -1, LinkIndex: 14}},
		{"v6 default lowest metric", "2a00::1", Resolved, Hop{DstMAC: macGW6, SrcMAC: macPort1, Port: 1, LinkIndex: 11}},
		{"v6 on-link", "2001:db8:1::5", Resolved, Hop{DstMAC: macHost, SrcMAC: macPort1, Port: 1, LinkIndex: 11}},
		{"v6 on-link unresolved", "2001:db8:1::6", Unresolved, Hop{SrcMAC: macPort1, Port: 1, LinkIndex: 11}},
		{"v6 /64 gateway unresolved", "2001:db8:1:2::9", Unresolved, Hop{SrcMAC: macPort1, Port: 1, LinkIndex: 11}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hop, res := snap.Lookup(ip(tt.dst))
			if res != tt.result || hop != tt.hop {
				t.Fatalf("Lookup(%s) = %+v, %v\nwant %+v, %v", tt.dst, hop, res, tt.hop, tt.result)
			}
		})
	}
	if snap.Routes != 10 || snap.Neighbours != 5 {
		t.Fatalf("counts: routes %d neighbours %d", snap.Routes, snap.Neighbours)
	}
}

func TestNoRouteWithoutDefault(t *testing.T) {
	s := testState()
	s.DeleteRoute(pfx("0.0.0.0/0"), 0)
	s.DeleteRoute(pfx("::/0"), 1024)
	s.DeleteRoute(pfx("::/0"), 2048)
	snap := s.Build([]int32{10, 11}, 2)
	for _, dst := range []string{"8.8.8.8", "2a00::1"} {
		if _, res := snap.Lookup(ip(dst)); res != NoRoute {
			t.Errorf("%s: %v, want no_route", dst, res)
		}
	}
	if _, res := Empty.Lookup(ip("192.0.2.7")); res != NoRoute {
		t.Errorf("Empty: %v", res)
	}
}

func TestMultipathSpreadsAndIsStable(t *testing.T) {
	s := testState()
	s.SetNeighbour(Neighbour{LinkIndex: 10, IP: ip("192.0.2.250"), MAC: macAlt, Usable: true})
	s.SetRoute(Route{Dst: pfx("0.0.0.0/0"), Hops: []Gateway{
		{Via: ip("192.0.2.254"), LinkIndex: 10}, {Via: ip("192.0.2.250"), LinkIndex: 10},
	}})
	snap := s.Build([]int32{10, 11}, 1)
	seen := map[[6]byte]int{}
	for i := range 64 {
		dst := netip.AddrFrom4([4]byte{8, 8, byte(i), 1})
		h1, r1 := snap.Lookup(dst)
		h2, _ := snap.Lookup(dst)
		if r1 != Resolved || h1 != h2 {
			t.Fatalf("%s: %v %+v / %+v", dst, r1, h1, h2)
		}
		seen[h1.DstMAC]++
	}
	if len(seen) != 2 {
		t.Fatalf("64 destinations used %d of 2 paths: %v", len(seen), seen)
	}
}

// TestMultipathSkipsDownHops: a next hop whose link is down is skipped (the
// kernel marks it dead) instead of turning its share of destinations into
// NoRoute; with every hop down the route yields NoRoute.
func TestMultipathSkipsDownHops(t *testing.T) {
	s := testState()
	s.SetNeighbour(Neighbour{LinkIndex: 14, IP: ip("192.0.2.250"), MAC: macAlt, Usable: true})
	s.SetRoute(Route{Dst: pfx("0.0.0.0/0"), Hops: []Gateway{
		{Via: ip("192.0.2.254"), LinkIndex: 10}, {Via: ip("192.0.2.250"), LinkIndex: 14},
	}})
	snap := s.Build([]int32{10, 11, 14}, 1)
	for i := range 64 {
		dst := netip.AddrFrom4([4]byte{8, 8, byte(i), 1})
		if h, r := snap.Lookup(dst); r != Resolved || h.DstMAC != macGW4 {
			t.Fatalf("%s: %+v, %v; want the hop on the up link", dst, h, r)
		}
	}
	s.SetLink(Link{Index: 10, Name: "eth0", MAC: macPort0, Up: false})
	snap = s.Build([]int32{10, 11, 14}, 2)
	if h, r := snap.Lookup(ip("8.8.8.8")); r != NoRoute {
		t.Fatalf("every hop down: %+v, %v", h, r)
	}
}

// TestDeleteRouteHops: deleting some next hops of a route (an IPv6 ECMP
// sibling) keeps the others; deleting the last one, or a delete without
// next hops, removes the route.
func TestDeleteRouteHops(t *testing.T) {
	s := testState()
	a, b := Gateway{Via: ip("fe80::1"), LinkIndex: 11}, Gateway{Via: ip("fe80::99"), LinkIndex: 10}
	s.SetNeighbour(Neighbour{LinkIndex: 10, IP: ip("fe80::99"), MAC: macAlt, Usable: true})
	s.SetRoute(Route{Dst: pfx("2001:db8:77::/48"), Priority: 1024, Hops: []Gateway{a, b}})
	s.DeleteRouteHops(Route{Dst: pfx("2001:db8:77::/48"), Priority: 1024, Hops: []Gateway{a}})
	snap := s.Build([]int32{10, 11}, 1)
	for i := range 16 {
		dst := netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0, 0x77, 0, byte(i), 15: 1})
		if h, r := snap.Lookup(dst); r != Resolved || h.DstMAC != macAlt {
			t.Fatalf("%s: %+v, %v; want the remaining hop", dst, h, r)
		}
	}
	s.DeleteRouteHops(Route{Dst: pfx("2001:db8:77::/48"), Priority: 1024, Hops: []Gateway{{Via: ip("fe80::5"), LinkIndex: 10}}})
	if h, r := s.Build([]int32{10, 11}, 2).Lookup(ip("2001:db8:77::1")); r != Resolved || h.DstMAC != macAlt {
		t.Fatalf("delete of a hop the route does not have: %+v, %v", h, r)
	}
	s.DeleteRouteHops(Route{Dst: pfx("2001:db8:77::/48"), Priority: 1024, Hops: []Gateway{b}})
	if h, r := s.Build([]int32{10, 11}, 3).Lookup(ip("2001:db8:77::1")); r != Resolved || h.DstMAC != macGW6 {
		t.Fatalf("last hop deleted: want the default route, got %+v, %v", h, r)
	}
	s.DeleteRouteHops(Route{Dst: pfx("198.51.100.200/32"), Reject: true})
	if _, r := s.Build([]int32{10, 11}, 4).Lookup(ip("198.51.100.200")); r != Resolved {
		t.Fatalf("reject route deleted: %v", r)
	}
}

// TestSnapshotIsImmutable: a built snapshot does not change when the state does.
func TestSnapshotIsImmutable(t *testing.T) {
	s := testState()
	old := s.Build([]int32{10, 11}, 1)
	s.SetNeighbour(Neighbour{LinkIndex: 10, IP: ip("192.0.2.8"), MAC: macAlt, Usable: true})
	s.DeleteNeighbour(10, ip("192.0.2.254"))
	next := s.Build([]int32{10, 11}, 2)
	if _, res := old.Lookup(ip("192.0.2.8")); res != Unresolved {
		t.Fatalf("old snapshot changed: %v", res)
	}
	if h, res := next.Lookup(ip("192.0.2.8")); res != Resolved || h.DstMAC != macAlt {
		t.Fatalf("new snapshot: %v %+v", res, h)
	}
	if _, res := next.Lookup(ip("8.8.8.8")); res != Unresolved {
		t.Fatalf("deleted gateway neighbour: %v", res)
	}
}

// TestTableSwap: readers of a Table see a new snapshot atomically.
func TestTableSwap(t *testing.T) {
	s := testState()
	tab := NewStatic(s.Build([]int32{10, 11}, 1))
	first := tab.Load()
	s.SetNeighbour(Neighbour{LinkIndex: 10, IP: ip("192.0.2.253"), MAC: macAlt, Usable: true})
	tab.current.Store(s.Build([]int32{10, 11}, 2))
	if _, res := first.Lookup(ip("198.51.100.1")); res != Unresolved {
		t.Fatalf("held snapshot: %v", res)
	}
	if h, res := tab.Load().Lookup(ip("198.51.100.1")); res != Resolved || h.DstMAC != macAlt || tab.Stats().Generation != 2 {
		t.Fatalf("after swap: %v %+v gen %d", res, h, tab.Stats().Generation)
	}
}

func TestLookupAllocs(t *testing.T) {
	snap := testState().Build([]int32{10, 11}, 1)
	d4 := [4]byte{198, 51, 100, 130}
	d6 := ip("2001:db8:1::5").As16()
	allocs := testing.AllocsPerRun(1000, func() {
		snap.Lookup4(d4)
		snap.Lookup6(&d6)
		snap.Find4(d4)
		snap.Find6(&d6)
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per lookup pair", allocs)
	}
}

func BenchmarkLookup6(b *testing.B) {
	snap := testState().Build([]int32{10, 11}, 1)
	d6 := ip("2a00::1").As16()
	b.ReportAllocs()
	for b.Loop() {
		snap.Lookup6(&d6)
	}
}

func BenchmarkLookup4(b *testing.B) {
	snap := testState().Build([]int32{10, 11}, 1)
	b.ReportAllocs()
	for b.Loop() {
		snap.Lookup4([4]byte{8, 8, 8, 8})
	}
}

// TestOwnMACs: a port's own MAC addresses are its link's and those of its
// 802.1Q sub-interfaces; a sub-interface that shares the port's MAC adds
// nothing; an unknown port has none.
func TestOwnMACs(t *testing.T) {
	s := testState()
	s.SetLink(Link{Index: 15, Name: "eth0.200", MAC: macPort0, Up: true, VLANParent: 10, VLANID: 200})
	snap := s.Build([]int32{10, 11, 99}, 1)
	if got := snap.OwnMACs(0); len(got) != 2 || got[0] != macPort0 || got[1] != macVLAN {
		t.Errorf("port 0 own MACs %x, want %x %x", got, macPort0, macVLAN)
	}
	if got := snap.OwnMACs(1); len(got) != 1 || got[0] != macPort1 {
		t.Errorf("port 1 own MACs %x, want %x", got, macPort1)
	}
	if got := snap.OwnMACs(2); got != nil {
		t.Errorf("unknown port: %x", got)
	}
}

// TestLookup4MatchesLongestPrefix checks Lookup4's per-level filters against
// a plain longest-prefix match over the routes, on the first, last and
// neighbouring addresses of every route and on random addresses, with
// routes of every length from /0 to /32, some nested.
func TestLookup4MatchesLongestPrefix(t *testing.T) {
	s := NewState()
	s.SetLink(Link{Index: 10, Name: "eth0", MAC: macPort0, Up: true})
	rng := rand.New(rand.NewPCG(3, 4))
	var prefixes []netip.Prefix
	for bits := 0; bits <= 32; bits++ {
		for range 3 {
			var a [4]byte
			binary.BigEndian.PutUint32(a[:], rng.Uint32())
			p := netip.PrefixFrom(netip.AddrFrom4(a), bits).Masked()
			prefixes = append(prefixes, p)
		}
	}
	// Nested routes around one address.
	for _, p := range []string{"198.51.100.0/24", "198.51.0.0/16", "198.0.0.0/8", "198.51.100.128/25", "198.51.100.7/32"} {
		prefixes = append(prefixes, netip.MustParsePrefix(p))
	}
	// Each route its own gateway, so the hop tells which route matched.
	gw := map[netip.Prefix]netip.Addr{}
	for i, p := range prefixes {
		if _, dup := gw[p]; dup {
			continue
		}
		g := netip.AddrFrom4([4]byte{192, 0, 2, byte(i)})
		gw[p] = g
		s.SetRoute(Route{Dst: p, Hops: []Gateway{{Via: g, LinkIndex: 10}}})
		s.SetNeighbour(Neighbour{LinkIndex: 10, IP: g, MAC: [6]byte{2, 0, 0, 0, 0, byte(i)}, Usable: true})
	}
	snap := s.Build([]int32{10}, 1)
	want := func(a [4]byte) ([6]byte, bool) {
		best := -1
		var mac [6]byte
		for p, g := range gw {
			if p.Contains(netip.AddrFrom4(a)) && p.Bits() > best {
				best = p.Bits()
				mac = [6]byte{2, 0, 0, 0, 0, g.As4()[3]}
			}
		}
		return mac, best >= 0
	}
	var probes [][4]byte
	for p := range gw {
		first := binary.BigEndian.Uint32(p.Addr().AsSlice())
		last := first | (0xffffffff >> p.Bits())
		if p.Bits() == 0 {
			last = 0xffffffff
		}
		for _, v := range []uint32{first, last, first - 1, last + 1} {
			var a [4]byte
			binary.BigEndian.PutUint32(a[:], v)
			probes = append(probes, a)
		}
	}
	for range 20000 {
		var a [4]byte
		binary.BigEndian.PutUint32(a[:], rng.Uint32())
		probes = append(probes, a)
	}
	for _, a := range probes {
		h, res := snap.Lookup4(a)
		mac, ok := want(a)
		if !ok {
			if res != NoRoute {
				t.Fatalf("%v: %v %+v, want no route", netip.AddrFrom4(a), res, h)
			}
			continue
		}
		if res != Resolved || h.DstMAC != mac {
			t.Fatalf("%v: %v via %x, want the route with gateway MAC %x", netip.AddrFrom4(a), res, h.DstMAC, mac)
		}
	}
}

func BenchmarkLookup4Scattered(b *testing.B) {
	snap := testState().Build([]int32{10, 11}, 1)
	b.ReportAllocs()
	x := uint32(1)
	for b.Loop() {
		x = x*1664525 + 1013904223
		snap.Lookup4([4]byte{198, 51, byte(x >> 24), byte(x >> 16)})
	}
}

// TestLookup6MatchesLongestPrefix is TestLookup4MatchesLongestPrefix for
// IPv6: routes of every length from /0 to /128 (random ones and ones nested
// under 2001:db8::/32), checked on each route's first, last and
// neighbouring addresses and on random addresses in and around them.
func TestLookup6MatchesLongestPrefix(t *testing.T) {
	s := NewState()
	s.SetLink(Link{Index: 10, Name: "eth0", MAC: macPort0, Up: true})
	rng := rand.New(rand.NewPCG(5, 6))
	randAddr := func() [16]byte {
		var a [16]byte
		binary.BigEndian.PutUint64(a[:8], 0x2000_0000_0000_0000|rng.Uint64()>>3)
		binary.BigEndian.PutUint64(a[8:], rng.Uint64())
		return a
	}
	var prefixes []netip.Prefix
	for bits := 0; bits <= 128; bits++ {
		for range 2 {
			prefixes = append(prefixes, netip.PrefixFrom(netip.AddrFrom16(randAddr()), bits).Masked())
		}
	}
	for _, p := range []string{"2001:db8::/32", "2001:db8:1::/48", "2001:db8:1:2::/64", "2001:db8:1:2::80/121", "2001:db8:1:2::85/128", "2001::/16", "2001::/20", "2001:db8::/31"} {
		prefixes = append(prefixes, netip.MustParsePrefix(p))
	}
	// Each route its own gateway, so the hop's MAC tells which route matched.
	mac := map[netip.Prefix][6]byte{}
	for i, p := range prefixes {
		if _, dup := mac[p]; dup {
			continue
		}
		g := netip.AddrFrom16([16]byte{0xfe, 0x80, 14: byte(i >> 8), 15: byte(i)})
		mac[p] = [6]byte{2, 0, 0, 0, byte(i >> 8), byte(i)}
		s.SetRoute(Route{Dst: p, Hops: []Gateway{{Via: g, LinkIndex: 10}}})
		s.SetNeighbour(Neighbour{LinkIndex: 10, IP: g, MAC: mac[p], Usable: true})
	}
	snap := s.Build([]int32{10}, 1)
	var probes [][16]byte
	for p := range mac {
		first := p.Addr().As16()
		last := first
		for b := p.Bits(); b < 128; b++ {
			last[b/8] |= 0x80 >> (b % 8)
		}
		before, after := first, last
		for i := 15; i >= 0; i-- { // first - 1
			if before[i]--; before[i] != 0xff {
				break
			}
		}
		for i := 15; i >= 0; i-- { // last + 1
			if after[i]++; after[i] != 0 {
				break
			}
		}
		probes = append(probes, first, last, before, after)
		for range 8 { // random addresses inside the prefix
			a, in := randAddr(), first
			for b := p.Bits(); b < 128; b++ {
				in[b/8] |= a[b/8] & (0x80 >> (b % 8))
			}
			probes = append(probes, in)
		}
	}
	for range 20000 {
		probes = append(probes, randAddr())
	}
	for _, a := range probes {
		var want [6]byte
		best := -1
		for p, m := range mac {
			if p.Contains(netip.AddrFrom16(a)) && p.Bits() > best {
				best, want = p.Bits(), m
			}
		}
		h, res := snap.Find6(&a)
		if best < 0 {
			if res != NoRoute {
				t.Fatalf("%v: %v %+v, want no route", netip.AddrFrom16(a), res, *h)
			}
			continue
		}
		if res != Resolved || h.DstMAC != want {
			t.Fatalf("%v: %v via %x, want the /%d route with gateway MAC %x", netip.AddrFrom16(a), res, h.DstMAC, best, want)
		}
	}
}

func BenchmarkLookup6Scattered(b *testing.B) {
	snap := testState().Build([]int32{10, 11}, 1)
	b.ReportAllocs()
	x := uint64(1)
	var d [16]byte
	for b.Loop() {
		x = x*6364136223846793005 + 1442695040888963407
		binary.BigEndian.PutUint64(d[:8], 0x2a00_0000_0000_0000|x>>8)
		snap.Find6(&d)
	}
}
