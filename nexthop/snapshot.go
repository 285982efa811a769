package nexthop

import (
	"cmp"
	"net/netip"
	"slices"
	"time"
)

// Result classifies a lookup.
type Result uint8

const (
	// Resolved: the Hop is complete; the frame can be sent on Hop.Port.
	Resolved Result = iota
	// NoRoute: no route, a reject route (blackhole, unreachable, prohibit,
	// throw), or the route's link is down.
	NoRoute
	// Unresolved: a route through a port exists but the neighbour's MAC is not
	// known (absent, INCOMPLETE or FAILED); the kernel must resolve it.
	Unresolved
	// OtherLink: the route leaves through a link that is not a port (nor a VLAN
	// of one): only the kernel can send there.
	OtherLink
)

var resultNames = [...]string{Resolved: "resolved", NoRoute: "no_route", Unresolved: "unresolved", OtherLink: "other_link"}

// String returns the snake_case name of r.
func (r Result) String() string {
	if int(r) < len(resultNames) {
		return resultNames[r]
	}
	return "unknown"
}

// Hop is where a packet goes: the port (index into the ports the Table was
// given), the VLAN tag to write (0 = untagged) and the Ethernet addresses.
type Hop struct {
	DstMAC    [6]byte
	SrcMAC    [6]byte
	VLAN      uint16
	Port      int8
	LinkIndex int32 // kernel egress link (the port or its VLAN sub-interface)
}

// Link is the part of a kernel link the table needs.
type Link struct {
	Index int32
	Name  string
	MAC   [6]byte
	// Up: administratively up and operationally not down.
	Up bool
	// VLANParent and VLANID describe an 802.1Q sub-interface (0 otherwise).
	VLANParent int32
	VLANID     uint16
}

// Route is one kernel route of the main table.
type Route struct {
	Dst      netip.Prefix
	Priority uint32 // metric: the lowest wins among routes to the same prefix
	Reject   bool   // blackhole, unreachable, prohibit, throw
	Hops     []Gateway
}

// Gateway is one next hop of a route: Via is invalid for an on-link route
// (the destination itself is the neighbour).
type Gateway struct {
	Via       netip.Addr
	LinkIndex int32
}

// Neighbour is one ARP or NDP entry; Usable is false for INCOMPLETE, FAILED
// and NONE entries and for entries without a 6-byte link-layer address.
type Neighbour struct {
	LinkIndex int32
	IP        netip.Addr
	MAC       [6]byte
	Usable    bool
	// Stale: the kernel's entry is STALE (usable but unconfirmed) and left to
	// the kernel's own reachability detection (neither externally learned nor
	// managed). The kernel re-validates such an entry only when it sends
	// through it, which the relay's frames never do: see StaleGateways.
	Stale bool
}

type routeID struct {
	dst      netip.Prefix
	priority uint32
}

type neighKey struct {
	link int32
	ip   [16]byte // IPv4 as IPv4-mapped
}

// State is the mutable mirror of the kernel's links, routes and neighbours. It
// is owned by one goroutine; Build turns it into an immutable Snapshot.
type State struct {
	links  map[int32]Link
	routes map[routeID]Route
	neighs map[neighKey]Neighbour
	// refreshed: when StaleGateways last handed out a neighbour; an update
	// of the neighbour forgets it.
	refreshed map[neighKey]time.Time
}

// NewState returns an empty State.
func NewState() *State {
	return &State{
		links:     map[int32]Link{},
		routes:    map[routeID]Route{},
		neighs:    map[neighKey]Neighbour{},
		refreshed: map[neighKey]time.Time{},
	}
}

// SetLink adds or replaces a link; DeleteLink removes it.
func (s *State) SetLink(l Link)       { s.links[l.Index] = l }
func (s *State) DeleteLink(idx int32) { delete(s.links, idx) }

// SetRoute adds or replaces the route to r.Dst with r.Priority.
func (s *State) SetRoute(r Route) {
	r.Dst = r.Dst.Masked()
	r.Hops = slices.Clone(r.Hops)
	s.routes[routeID{r.Dst, r.Priority}] = r
}

// DeleteRoute removes the route to dst with the given priority.
func (s *State) DeleteRoute(dst netip.Prefix, priority uint32) {
	delete(s.routes, routeID{dst.Masked(), priority})
}

// DeleteRouteHops applies a kernel route deletion: r's next hops leave the
// route to r.Dst with r.Priority, which goes away when none remain or when r
// names none (a reject route). The kernel deletes one sibling of an IPv6
// ECMP route with a message that names only that next hop, while the route
// keeps the others; a next hop the route does not have changes nothing.
func (s *State) DeleteRouteHops(r Route) {
	id := routeID{r.Dst.Masked(), r.Priority}
	old, ok := s.routes[id]
	if !ok {
		return
	}
	if len(r.Hops) == 0 || r.Reject || old.Reject {
		delete(s.routes, id)
		return
	}
	var kept []Gateway
	for _, h := range old.Hops {
		if !slices.Contains(r.Hops, h) {
			kept = append(kept, h)
		}
	}
	if len(kept) == 0 {
		delete(s.routes, id)
		return
	}
	old.Hops = kept
	s.routes[id] = old
}

// SetNeighbour adds or replaces a neighbour; DeleteNeighbour removes it.
func (s *State) SetNeighbour(n Neighbour) {
	k := keyOf(n.LinkIndex, n.IP)
	s.neighs[k] = n
	delete(s.refreshed, k)
}
func (s *State) DeleteNeighbour(link int32, ip netip.Addr) {
	k := keyOf(link, ip)
	delete(s.neighs, k)
	delete(s.refreshed, k)
}

// Reset forgets everything (before a full resynchronisation).
func (s *State) Reset() {
	clear(s.links)
	clear(s.routes)
	clear(s.neighs)
	clear(s.refreshed)
}

func keyOf(link int32, ip netip.Addr) neighKey {
	return neighKey{link: link, ip: ip.Unmap().As16()}
}

// hop is one next hop of a route. base is the Hop a lookup returns through
// it without a destination MAC (port -1: not a port); gw is base with the
// gateway's MAC, looked up once in Build, when resolved. Find4 and Find6
// return pointers to them: the per-packet path neither looks the
// neighbour up nor builds a Hop (one built field by field per lookup and
// copied out stalled the CPU on store forwarding).
type hop struct {
	via      [16]byte // neighbour address; IPv4 as IPv4-mapped
	onLink   bool     // the neighbour is the destination itself
	up       bool
	resolved bool // gw has the gateway's MAC
	base, gw Hop
}

type entry struct {
	reject bool
	hops   []hop
}

// level holds the routes of one prefix length. Keys are the masked
// destination: the IPv4 address, or the upper 64 bits of an IPv6 address for
// lengths up to 64 (fast integer-keyed maps), or the whole IPv6 address.
type level struct {
	bits  uint8
	short map[uint64]int32   // IPv4, and IPv6 lengths <= 64
	long  map[[16]byte]int32 // IPv6 lengths > 64
	// near has a bit for every 16-bit key (nearKey4, nearKey6) of the
	// addresses a route of the level covers, so a destination with no route
	// of this length near it costs one load instead of a map lookup. (A
	// relay's table is a few connected prefixes and a default route, and
	// its traffic goes to scattered addresses.) nil: no filter (IPv6
	// levels shorter than /16).
	near *[1 << 16 / 64]uint64
	// only is the entry of a /0 level: its one route needs no map.
	only int32
}

// nearKey4 is an IPv4 address's filter key: its first 16 bits.
func nearKey4(d uint32) uint32 { return d >> 16 }

// nearKey6 is an IPv6 address's filter key: its first 32 bits folded to 16
// (global unicast addresses share most of their first 16).
func nearKey6(hi uint64) uint32 { return uint32(hi>>48) ^ uint32(hi>>32)&0xffff }

// setNear4 marks the keys of the addresses the IPv4 prefix a/bits covers.
func (l *level) setNear4(a uint32, bits int) {
	n := uint32(1)
	if bits < 16 {
		n = 1 << (16 - bits)
	}
	for v := range n {
		l.mark(nearKey4(a) + v)
	}
}

// setNear6 marks the keys of the addresses the IPv6 prefix with first 64
// bits hi and length bits covers; a prefix shorter than /16 would cover
// every key, so its level keeps no filter.
func (l *level) setNear6(hi uint64, bits int) {
	if bits < 16 {
		return
	}
	n := uint64(1)
	if bits < 32 {
		n = 1 << (32 - bits)
	}
	for v := range n {
		l.mark(nearKey6(hi + v<<32))
	}
}

func (l *level) mark(k uint32) {
	if l.near == nil {
		l.near = new([1 << 16 / 64]uint64)
	}
	l.near[k/64] |= 1 << (k % 64)
}

// mayHold reports whether a route of the level may cover an address with
// filter key k.
func (l *level) mayHold(k uint32) bool {
	return l.near == nil || l.near[k/64]&(1<<(k%64)) != 0
}

// Snapshot is an immutable view of the kernel's forwarding state. Lookups are
// safe for concurrent use and do not allocate.
type Snapshot struct {
	Generation uint64
	Routes     int // routes in the snapshot, both families
	Neighbours int // usable neighbour entries

	entries  []entry
	lv4, lv6 []level // longest prefix first
	neighs   map[neighKey][6]byte
	// neighHops: the Hop to each usable neighbour on a port (or a VLAN of
	// one), for on-link routes; lookups return pointers to them.
	neighHops map[neighKey]*Hop
	// noRoute is the Hop of a destination without a route (Port -1).
	noRoute Hop
	// gateways: the distinct gateways of the routes, through a port (or a
	// VLAN of one) that is up, in (link, address) order. The relay sends to
	// them directly, so StaleGateways has the kernel re-validate them.
	gateways []neighKey
	// ownMACs: per port (Hop.Port order), the port's MAC and those of its
	// 802.1Q sub-interfaces, distinct, the port's first; nil for a port
	// whose link is unknown.
	ownMACs [][][6]byte
}

// Build returns a Snapshot of the state; ports are the ifindexes the relay
// transmits on, in Hop.Port order.
func (s *State) Build(ports []int32, generation uint64) *Snapshot {
	snap := &Snapshot{
		noRoute:    Hop{Port: -1},
		Generation: generation,
		neighs:     make(map[neighKey][6]byte, len(s.neighs)),
	}
	for k, n := range s.neighs {
		if n.Usable {
			snap.neighs[k] = n.MAC
		}
	}
	snap.Neighbours = len(snap.neighs)
	snap.neighHops = make(map[neighKey]*Hop, len(snap.neighs))
	neighHops := make([]Hop, 0, len(snap.neighs))
	for k, mac := range snap.neighs {
		if h := s.hopFor(Gateway{LinkIndex: k.link}, ports); h.base.Port >= 0 {
			h.base.DstMAC = mac
			neighHops = append(neighHops, h.base)
			snap.neighHops[k] = &neighHops[len(neighHops)-1]
		}
	}
	best := map[netip.Prefix]Route{}
	for _, r := range s.routes {
		if b, ok := best[r.Dst]; !ok || r.Priority < b.Priority {
			best[r.Dst] = r
		}
	}
	gateways := map[neighKey]struct{}{}
	var by4, by6 [129]*level
	for dst, r := range best {
		e := entry{reject: r.Reject}
		for _, g := range r.Hops {
			h := s.hopFor(g, ports)
			if !h.onLink {
				h.gw = h.base
				h.gw.DstMAC, h.resolved = snap.neighs[neighKey{link: g.LinkIndex, ip: h.via}]
			}
			e.hops = append(e.hops, h)
			if !h.onLink && h.base.Port >= 0 && h.up && !r.Reject {
				gateways[neighKey{link: g.LinkIndex, ip: h.via}] = struct{}{}
			}
		}
		if !e.reject && len(e.hops) == 0 {
			continue
		}
		idx := int32(len(snap.entries))
		snap.entries = append(snap.entries, e)
		bits := dst.Bits()
		if dst.Addr().Is4() {
			if by4[bits] == nil {
				by4[bits] = &level{bits: uint8(bits), short: map[uint64]int32{}}
			}
			a := be32(dst.Addr().As4())
			by4[bits].short[uint64(a)] = idx
			by4[bits].setNear4(a, bits)
			if bits == 0 {
				by4[bits].only = idx
			}
			continue
		}
		if by6[bits] == nil {
			by6[bits] = &level{bits: uint8(bits)}
			if bits <= 64 {
				by6[bits].short = map[uint64]int32{}
			} else {
				by6[bits].long = map[[16]byte]int32{}
			}
		}
		a := dst.Addr().As16()
		if bits <= 64 {
			by6[bits].short[be64(a[:8])] = idx
		} else {
			by6[bits].long[a] = idx
		}
		by6[bits].setNear6(be64(a[:8]), bits)
		if bits == 0 {
			by6[bits].only = idx
		}
	}
	for l := 128; l >= 0; l-- {
		if by4[l] != nil {
			snap.lv4 = append(snap.lv4, *by4[l])
		}
		if by6[l] != nil {
			snap.lv6 = append(snap.lv6, *by6[l])
		}
	}
	snap.Routes = len(snap.entries)
	snap.ownMACs = make([][][6]byte, len(ports))
	for i, p := range ports {
		l, ok := s.links[p]
		if !ok {
			continue
		}
		macs := [][6]byte{l.MAC}
		for _, v := range s.links {
			if v.VLANParent == p && v.VLANID != 0 && !slices.Contains(macs, v.MAC) {
				macs = append(macs, v.MAC)
			}
		}
		slices.SortFunc(macs[1:], func(a, b [6]byte) int { return slices.Compare(a[:], b[:]) })
		snap.ownMACs[i] = macs
	}
	for k := range gateways {
		snap.gateways = append(snap.gateways, k)
	}
	slices.SortFunc(snap.gateways, compareKeys)
	return snap
}

// OwnMACs returns the unicast MAC addresses frames received on port (an
// index into the ports the Table was given) are sent to when they are for
// this host: the port's own and those of its 802.1Q sub-interfaces,
// distinct, the port's first. It is nil when the port's link is unknown.
// The slice is shared: do not modify it.
func (s *Snapshot) OwnMACs(port int) [][6]byte {
	if port < 0 || port >= len(s.ownMACs) {
		return nil
	}
	return s.ownMACs[port]
}

func compareKeys(a, b neighKey) int {
	if c := cmp.Compare(a.link, b.link); c != 0 {
		return c
	}
	return slices.Compare(a.ip[:], b.ip[:])
}

func (s *State) hopFor(g Gateway, ports []int32) hop {
	h := hop{base: Hop{Port: -1, LinkIndex: g.LinkIndex}, onLink: !g.Via.IsValid()}
	if !h.onLink {
		h.via = g.Via.Unmap().As16() // IPv4 as IPv4-mapped, like keyOf
	}
	l, ok := s.links[g.LinkIndex]
	if !ok {
		return h
	}
	h.up, h.base.SrcMAC = l.Up, l.MAC
	for i, p := range ports {
		switch {
		case l.Index == p:
			h.base.Port = int8(i)
		case l.VLANParent == p && l.VLANID != 0:
			h.base.Port, h.base.VLAN = int8(i), l.VLANID
			if parent, ok := s.links[p]; ok && !parent.Up {
				h.up = false
			}
		}
	}
	return h
}

func be32(a [4]byte) uint32 {
	return uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
}

func be64(b []byte) uint64 {
	_ = b[7]
	return uint64(b[0])<<56 | uint64(b[1])<<48 | uint64(b[2])<<40 | uint64(b[3])<<32 |
		uint64(b[4])<<24 | uint64(b[5])<<16 | uint64(b[6])<<8 | uint64(b[7])
}

// Lookup4 finds the next hop for an IPv4 destination.
func (s *Snapshot) Lookup4(dst [4]byte) (Hop, Result) {
	h, r := s.Find4(dst)
	return *h, r
}

// Lookup6 finds the next hop for an IPv6 destination.
func (s *Snapshot) Lookup6(dst *[16]byte) (Hop, Result) {
	h, r := s.Find6(dst)
	return *h, r
}

// Find4 is Lookup4 for the per-packet path: it returns the snapshot's own
// Hop, built with the snapshot, instead of a copy. The caller must not
// modify it. (Returning a 20-byte Hop by value costs a copy per call, and
// reading it back right after stalls the CPU on store forwarding.)
func (s *Snapshot) Find4(dst [4]byte) (*Hop, Result) {
	d := be32(dst)
	for i := range s.lv4 {
		lv := &s.lv4[i]
		idx, ok := lv.only, lv.bits == 0
		if !ok && lv.mayHold(nearKey4(d)) {
			idx, ok = lv.short[uint64(d&^(0xffffffff>>lv.bits))]
		}
		if ok {
			var d16 [16]byte
			d16[10], d16[11] = 0xff, 0xff
			copy(d16[12:], dst[:])
			return s.resolve(&s.entries[idx], &d16)
		}
	}
	return &s.noRoute, NoRoute
}

// Find6 is Lookup6 for the per-packet path, as Find4.
func (s *Snapshot) Find6(dst *[16]byte) (*Hop, Result) {
	hi := be64(dst[:8])
	key := nearKey6(hi)
	for i := range s.lv6 {
		lv := &s.lv6[i]
		idx, ok := lv.only, lv.bits == 0
		switch {
		case ok:
		case !lv.mayHold(key):
			continue
		case lv.bits <= 64:
			idx, ok = lv.short[hi&^(^uint64(0)>>lv.bits)]
		default:
			var k [16]byte
			copy(k[:8], dst[:8])
			lo := be64(dst[8:]) &^ (^uint64(0) >> (lv.bits - 64))
			for j := range 8 {
				k[8+j] = byte(lo >> (56 - 8*j))
			}
			idx, ok = lv.long[k]
		}
		if ok {
			return s.resolve(&s.entries[idx], dst)
		}
	}
	return &s.noRoute, NoRoute
}

// Lookup is Lookup4 or Lookup6 for a netip.Addr (not for the per-packet path).
func (s *Snapshot) Lookup(dst netip.Addr) (Hop, Result) {
	if dst.Is4() || dst.Is4In6() {
		return s.Lookup4(dst.Unmap().As4())
	}
	a := dst.As16()
	return s.Lookup6(&a)
}

func (s *Snapshot) resolve(e *entry, dst *[16]byte) (*Hop, Result) {
	if e.reject {
		return &s.noRoute, NoRoute
	}
	h := &e.hops[0]
	if n := uint32(len(e.hops)); n > 1 {
		// The destination's hop, or the next one that is up (the kernel
		// skips dead next hops of a multipath route).
		i := flowHash(dst) % n
		h = &e.hops[i]
		for j := uint32(1); j < n && !h.up; j++ {
			h = &e.hops[(i+j)%n]
		}
	}
	if !h.up {
		return &h.base, NoRoute
	}
	if h.base.Port < 0 {
		return &h.base, OtherLink
	}
	if !h.onLink {
		if !h.resolved {
			return &h.base, Unresolved
		}
		return &h.gw, Resolved
	}
	nh, ok := s.neighHops[neighKey{link: h.base.LinkIndex, ip: *dst}]
	if !ok {
		return &h.base, Unresolved
	}
	return nh, Resolved
}

// flowHash spreads destinations over the hops of a multipath route (FNV-1a).
func flowHash(dst *[16]byte) uint32 {
	h := uint32(2166136261)
	for _, b := range dst {
		h = (h ^ uint32(b)) * 16777619
	}
	return h
}

// Empty is a snapshot with no routes: every lookup yields NoRoute.
var Empty = (&State{}).Build(nil, 0)
