package nexthop

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// subscription buffers: a burst larger than this back-pressures the netlink
// reader, whose socket buffer then absorbs it (or overflows: ENOBUFS closes
// the subscription and the table resynchronises).
const (
	updateBuffer   = 4096
	socketRcvBuf   = 4 << 20
	maxBurst       = 1024 // updates applied before a snapshot is published
	maxResyncDelay = 5 * time.Second
	dumpRetries    = 5
	refreshTimeout = time.Second // bounds one NTF_USE request
	rtmFCloned     = 0x200       // RTM_F_CLONED: a route cache exception, not a route
)

// Start mirrors the kernel's state: it subscribes to link, route and
// neighbour updates, dumps the current state, publishes the first snapshot and
// keeps it current in a goroutine until Close.
func Start(opts Options) (*Table, error) {
	t := &Table{opts: opts, log: opts.Logger, done: make(chan struct{}), stop: make(chan struct{})}
	if t.log == nil {
		t.log = slog.Default()
	}
	st := NewState()
	sess, err := t.subscribe(st)
	if err != nil {
		return nil, err
	}
	t.publish(st)
	go t.run(st, sess)
	return t, nil
}

// Close stops the subscriptions; the last snapshot stays readable.
func (t *Table) Close() error {
	select {
	case <-t.stop:
	default:
		close(t.stop)
	}
	<-t.done
	return nil
}

type session struct {
	links  chan netlink.LinkUpdate
	routes chan netlink.RouteUpdate
	neighs chan netlink.NeighUpdate
	done   chan struct{}
	handle *netlink.Handle
	// refresh sends the NTF_USE requests (a socket of its own: the
	// library has no call for a request without NLM_F_CREATE).
	refresh *nl.SocketHandle
}

func (s *session) close() {
	close(s.done)
	s.handle.Close()
	if s.refresh != nil {
		s.refresh.Close()
	}
	// The readers exit once their sockets close; drain so none blocks on a send.
	go func() {
		for range s.links {
		}
	}()
	go func() {
		for range s.routes {
		}
	}()
	go func() {
		for range s.neighs {
		}
	}()
}

func (t *Table) namespace() netns.NsHandle {
	if t.opts.Namespace != 0 {
		return netns.NsHandle(t.opts.Namespace)
	}
	return netns.None()
}

// subscribe opens the three subscriptions, then dumps links, routes and
// neighbours into st (cleared first). Updates queued while dumping are applied
// afterwards; they carry absolute state, so the result converges.
func (t *Table) subscribe(st *State) (*session, error) {
	ns := t.namespace()
	s := &session{
		links:  make(chan netlink.LinkUpdate, updateBuffer),
		routes: make(chan netlink.RouteUpdate, updateBuffer),
		neighs: make(chan netlink.NeighUpdate, updateBuffer),
		done:   make(chan struct{}),
	}
	onErr := func(err error) {
		if !errors.Is(err, netlink.ErrDumpInterrupted) {
			t.log.Debug("nexthop: netlink subscription", "err", err)
		}
	}
	var err error
	if s.handle, err = netlink.NewHandleAt(ns, unix.NETLINK_ROUTE); err != nil {
		close(s.done)
		return nil, fmt.Errorf("nexthop: open netlink: %w", err)
	}
	fail := func(step string, err error) (*session, error) {
		s.close()
		return nil, fmt.Errorf("nexthop: %s: %w", step, err)
	}
	sock, err := nl.GetNetlinkSocketAt(ns, netns.None(), unix.NETLINK_ROUTE)
	if err != nil {
		return fail("open netlink for neighbour refresh", err)
	}
	s.refresh = &nl.SocketHandle{Socket: sock}
	timeout := unix.NsecToTimeval(refreshTimeout.Nanoseconds())
	if err := sock.SetSendTimeout(&timeout); err != nil {
		return fail("set neighbour refresh send timeout", err)
	}
	if err := sock.SetReceiveTimeout(&timeout); err != nil {
		return fail("set neighbour refresh receive timeout", err)
	}
	if err := netlink.LinkSubscribeWithOptions(s.links, s.done, netlink.LinkSubscribeOptions{
		Namespace: &ns, ErrorCallback: onErr, ReceiveBufferSize: socketRcvBuf,
	}); err != nil {
		return fail("subscribe to links", err)
	}
	if err := netlink.RouteSubscribeWithOptions(s.routes, s.done, netlink.RouteSubscribeOptions{
		Namespace: &ns, ErrorCallback: onErr, ReceiveBufferSize: socketRcvBuf,
	}); err != nil {
		return fail("subscribe to routes", err)
	}
	if err := netlink.NeighSubscribeWithOptions(s.neighs, s.done, netlink.NeighSubscribeOptions{
		Namespace: &ns, ErrorCallback: onErr, ReceiveBufferSize: socketRcvBuf,
	}); err != nil {
		return fail("subscribe to neighbours", err)
	}
	st.Reset()
	links, err := retryDump(s.handle.LinkList)
	if err != nil {
		return fail("list links", err)
	}
	for _, l := range links {
		st.SetLink(convertLink(l))
	}
	if err := dumpRoutes(s.handle, st); err != nil {
		return fail("list routes", err)
	}
	neighs, err := retryDump(func() ([]netlink.Neigh, error) { return s.handle.NeighList(0, netlink.FAMILY_ALL) })
	if err != nil {
		return fail("list neighbours", err)
	}
	for _, n := range neighs {
		applyNeigh(st, unix.RTM_NEWNEIGH, n)
	}
	t.lastSync.Store(time.Now().Unix())
	return s, nil
}

func dumpRoutes(h *netlink.Handle, st *State) error {
	routes, err := retryDump(func() ([]netlink.Route, error) {
		return h.RouteListFiltered(netlink.FAMILY_ALL, &netlink.Route{Table: unix.RT_TABLE_MAIN}, netlink.RT_FILTER_TABLE)
	})
	if err != nil {
		return err
	}
	clear(st.routes)
	for _, r := range routes {
		applyRoute(st, unix.RTM_NEWROUTE, r)
	}
	return nil
}

// retryDump repeats a dump the kernel interrupted (its table changed meanwhile).
func retryDump[T any](dump func() ([]T, error)) ([]T, error) {
	var err error
	for range dumpRetries {
		var v []T
		if v, err = dump(); err == nil {
			return v, nil
		}
		if !errors.Is(err, netlink.ErrDumpInterrupted) {
			return nil, err
		}
	}
	return nil, err
}

func (t *Table) publish(st *State) {
	var gen uint64 = 1
	if old := t.current.Load(); old != nil {
		gen = old.Generation + 1
	}
	t.current.Store(st.Build(t.opts.Ports, gen))
}

// run applies updates until Close, publishing a snapshot after each burst, and
// resynchronises from scratch when a subscription fails.
func (t *Table) run(st *State, s *session) {
	defer close(t.done)
	var tick <-chan time.Time
	if every := t.opts.NeighbourRefresh; every >= 0 {
		if every == 0 {
			every = DefaultNeighbourRefresh
		}
		ticker := time.NewTicker(every)
		defer ticker.Stop()
		tick = ticker.C
	}
	delay := 100 * time.Millisecond
	for {
		err := t.follow(st, s, tick)
		s.close()
		if err == nil {
			return
		}
		t.resyncs.Add(1)
		for {
			t.log.Warn("nexthop: netlink subscription lost; resynchronising", "err", err, "retry_in", delay)
			select {
			case <-t.stop:
				return
			case <-time.After(delay):
			}
			delay = min(2*delay, maxResyncDelay)
			if s, err = t.subscribe(st); err == nil {
				break
			}
		}
		delay = 100 * time.Millisecond
		t.publish(st)
	}
}

var errClosed = errors.New("subscription closed")

// follow applies updates from s; it returns nil on Close and an error when a
// subscription channel closed (socket error or overflow). Between bursts,
// each tick asks the kernel to re-validate the STALE gateways.
func (t *Table) follow(st *State, s *session, tick <-chan time.Time) error {
	var refresh []Neighbour
	for {
		n := 0
		redump := false
		// Block for the first update, then take what is queued without
		// blocking, up to maxBurst, before publishing once.
		block := true
		for n < maxBurst {
			var ok bool
			if block {
				select {
				case <-t.stop:
					return nil
				case now := <-tick:
					refresh = t.refreshStale(st, s, now, refresh[:0])
					continue
				case u, open := <-s.links:
					ok = open && t.takeLink(st, u, &redump)
				case u, open := <-s.routes:
					ok = open && takeRoute(st, u)
				case u, open := <-s.neighs:
					ok = open && takeNeigh(st, u)
				}
			} else {
				select {
				case u, open := <-s.links:
					ok = open && t.takeLink(st, u, &redump)
				case u, open := <-s.routes:
					ok = open && takeRoute(st, u)
				case u, open := <-s.neighs:
					ok = open && takeNeigh(st, u)
				default:
					n = maxBurst // idle: publish now
					continue
				}
			}
			if !ok {
				return errClosed
			}
			block = false
			n++
			t.updates.Add(1)
		}
		if redump {
			// The kernel drops IPv4 routes of a link that goes down or away
			// without RTM_DELROUTE notifications: take the route table again.
			if err := dumpRoutes(s.handle, st); err != nil {
				return fmt.Errorf("list routes after a link change: %w", err)
			}
		}
		t.publish(st)
	}
}

// takeLink, takeRoute and takeNeigh apply one update of an open
// subscription inside follow's selects; they always report true.
func (t *Table) takeLink(st *State, u netlink.LinkUpdate, redump *bool) bool {
	*redump = t.applyLink(st, u) || *redump
	return true
}

func takeRoute(st *State, u netlink.RouteUpdate) bool {
	applyRoute(st, u.Type, u.Route)
	return true
}

func takeNeigh(st *State, u netlink.NeighUpdate) bool {
	applyNeigh(st, u.Type, u.Neigh)
	return true
}

// applyLink records a link update and reports whether the route table must
// be dumped again (a link went down, came up or disappeared).
func (t *Table) applyLink(st *State, u netlink.LinkUpdate) bool {
	l := convertLink(u.Link)
	old, had := st.links[l.Index]
	if u.Header.Type == unix.RTM_DELLINK {
		st.DeleteLink(l.Index)
		return had
	}
	st.SetLink(l)
	return had && old.Up != l.Up
}

func convertLink(l netlink.Link) Link {
	a := l.Attrs()
	out := Link{
		Index: int32(a.Index),
		Name:  a.Name,
		Up: a.Flags&net.FlagUp != 0 && a.OperState != netlink.OperDown &&
			a.OperState != netlink.OperLowerLayerDown && a.OperState != netlink.OperNotPresent,
	}
	copy(out.MAC[:], a.HardwareAddr)
	if v, ok := l.(*netlink.Vlan); ok && v.VlanProtocol != netlink.VLAN_PROTOCOL_8021AD {
		out.VLANParent, out.VLANID = int32(a.ParentIndex), uint16(v.VlanId)
	}
	return out
}

func applyRoute(st *State, typ uint16, r netlink.Route) {
	if r.Table != unix.RT_TABLE_MAIN || r.Flags&rtmFCloned != 0 {
		return
	}
	var dst netip.Prefix
	if r.Dst != nil && r.Dst.IP != nil {
		a, ok := netip.AddrFromSlice(r.Dst.IP)
		if !ok {
			return
		}
		if r.Family == unix.AF_INET {
			a = a.Unmap()
		}
		ones, _ := r.Dst.Mask.Size()
		dst = netip.PrefixFrom(a, ones)
	} else {
		switch r.Family {
		case unix.AF_INET:
			dst = netip.PrefixFrom(netip.IPv4Unspecified(), 0)
		case unix.AF_INET6:
			dst = netip.PrefixFrom(netip.IPv6Unspecified(), 0)
		default:
			return
		}
	}
	if !dst.IsValid() {
		return
	}
	route := Route{Dst: dst, Priority: uint32(r.Priority)}
	switch r.Type {
	case unix.RTN_UNICAST:
		if len(r.MultiPath) > 0 {
			for _, nh := range r.MultiPath {
				route.Hops = append(route.Hops, Gateway{Via: gateway(nh.Gw, nh.Via), LinkIndex: int32(nh.LinkIndex)})
			}
		} else {
			route.Hops = []Gateway{{Via: gateway(r.Gw, r.Via), LinkIndex: int32(r.LinkIndex)}}
		}
	case unix.RTN_BLACKHOLE, unix.RTN_UNREACHABLE, unix.RTN_PROHIBIT, unix.RTN_THROW:
		route.Reject = true
	default: // local, broadcast, multicast, anycast, nat: not forwarding routes
		return
	}
	if typ == unix.RTM_DELROUTE {
		st.DeleteRouteHops(route)
		return
	}
	st.SetRoute(route)
}

func gateway(gw net.IP, via netlink.Destination) netip.Addr {
	if a, ok := netip.AddrFromSlice(gw); ok && !a.IsUnspecified() {
		return a.Unmap()
	}
	if v, ok := via.(*netlink.Via); ok {
		if a, ok := netip.AddrFromSlice(v.Addr); ok {
			return a.Unmap()
		}
	}
	return netip.Addr{}
}

const usableNUD = netlink.NUD_REACHABLE | netlink.NUD_STALE | netlink.NUD_DELAY |
	netlink.NUD_PROBE | netlink.NUD_PERMANENT | netlink.NUD_NOARP

func applyNeigh(st *State, typ uint16, n netlink.Neigh) {
	if n.Family != unix.AF_INET && n.Family != unix.AF_INET6 {
		return
	}
	ip, ok := netip.AddrFromSlice(n.IP)
	if !ok {
		return
	}
	ip = ip.Unmap()
	if typ == unix.RTM_DELNEIGH {
		st.DeleteNeighbour(int32(n.LinkIndex), ip)
		return
	}
	nb := Neighbour{LinkIndex: int32(n.LinkIndex), IP: ip}
	if len(n.HardwareAddr) == 6 {
		copy(nb.MAC[:], n.HardwareAddr)
		nb.Usable = n.State&usableNUD != 0 && nb.MAC != [6]byte{}
	}
	// Externally learned entries belong to another control plane, and the
	// kernel keeps managed ones resolved itself; an NTF_USE request would
	// also clear those flags (an administrative update sets them as given).
	nb.Stale = n.State == netlink.NUD_STALE && n.Flags&netlink.NTF_EXT_LEARNED == 0 &&
		n.FlagsExt&netlink.NTF_EXT_MANAGED == 0
	st.SetNeighbour(nb)
}

// refreshStale asks the kernel to re-validate the STALE gateways of the
// current snapshot, at most MaxRefreshesPerTick of them; buf is reused.
func (t *Table) refreshStale(st *State, s *session, now time.Time, buf []Neighbour) []Neighbour {
	buf = st.StaleGateways(buf, t.Load(), now, MaxRefreshesPerTick)
	for _, n := range buf {
		switch err := useNeighbour(s.refresh, n); {
		case err == nil:
			t.refreshes.Add(1)
		case errors.Is(err, unix.ENOENT):
			// The entry went away meanwhile; its deletion is on the way.
		default:
			t.refreshErrors.Add(1)
			t.log.Debug("nexthop: neighbour refresh", "neighbour", n.IP, "link", n.LinkIndex, "err", err)
		}
	}
	return buf
}

// useNeighbour sends RTM_NEWNEIGH with NTF_USE for n: the kernel treats the
// entry as used by an outgoing packet (neigh_event_send), which moves a STALE
// entry to DELAY and then to PROBE, and changes nothing else (state, address
// and flags stay as they are). Without NLM_F_CREATE, an entry that no longer
// exists yields ENOENT instead of being created.
func useNeighbour(sock *nl.SocketHandle, n Neighbour) error {
	req := &nl.NetlinkRequest{
		NlMsghdr: unix.NlMsghdr{
			Len:   unix.SizeofNlMsghdr,
			Type:  unix.RTM_NEWNEIGH,
			Flags: unix.NLM_F_REQUEST | unix.NLM_F_ACK,
		},
		Sockets: map[int]*nl.SocketHandle{unix.NETLINK_ROUTE: sock},
	}
	msg := &netlink.Ndmsg{
		Family: unix.AF_INET6,
		Index:  uint32(n.LinkIndex),
		State:  netlink.NUD_STALE,
		Flags:  netlink.NTF_USE,
	}
	dst := n.IP.AsSlice()
	if n.IP.Is4() {
		msg.Family = unix.AF_INET
	}
	req.AddData(msg)
	req.AddData(nl.NewRtAttr(unix.NDA_DST, dst))
	if _, err := req.Execute(unix.NETLINK_ROUTE, 0); err != nil {
		return fmt.Errorf("RTM_NEWNEIGH NTF_USE %v: %w", n.IP, err)
	}
	return nil
}
