package server

import "sync/atomic"

// bump adds one to a counter owned by the calling goroutine: a plain load and
// store (no locked instruction); readers load at any time.
func bump(c *atomic.Uint64) { c.Store(c.Load() + 1) }

// bumpN adds n to a counter owned by the calling goroutine.
func bumpN(c *atomic.Uint64, n int) { c.Store(c.Load() + uint64(n)) }

// handlerCounters belong to one Handler; only its goroutine writes them.
type handlerCounters struct {
	packets        atomic.Uint64
	bytes          atomic.Uint64
	rsReceived     atomic.Uint64
	raSent         [NumRAKinds]atomic.Uint64
	forwarded      [NumForwardKinds]atomic.Uint64
	forwardedBytes atomic.Uint64
	originAdded    atomic.Uint64
	relayHandoffs  atomic.Uint64
	drops          [NumDropReasons]atomic.Uint64
}

func (c *handlerCounters) addTo(s *Counters) {
	s.Packets += c.packets.Load()
	s.Bytes += c.bytes.Load()
	s.RSReceived += c.rsReceived.Load()
	for i := range c.raSent {
		s.RASent[i] += c.raSent[i].Load()
	}
	for i := range c.forwarded {
		s.Forwarded[i] += c.forwarded[i].Load()
	}
	s.ForwardedBytes += c.forwardedBytes.Load()
	s.OriginIndications += c.originAdded.Load()
	s.RelayHandoffs += c.relayHandoffs.Load()
	for i := range c.drops {
		s.Drops[i] += c.drops[i].Load()
	}
}

// Counters is a snapshot of the server's counters summed over its handlers.
// Every field only grows.
//
// Accounting: every datagram given to Handle or HandleDatagram (Packets) ends
// as exactly one of: an RA (RASent), a forwarded packet (Forwarded), a
// hand-off to the relay (RelayHandoffs) or a drop (Drops). RSReceived counts
// valid RSs, including those then dropped as rate_limited or no_tailroom.
type Counters struct {
	Packets uint64 // datagrams offered to the server
	Bytes   uint64 // their IPv4 (frame path) or UDP payload (datagram path) bytes

	RSReceived uint64                  // valid Router Solicitations (RFC 4380 §5.3.1 rule 4)
	RASent     [NumRAKinds]uint64      // Router Advertisements sent, by source address (cone test)
	Forwarded  [NumForwardKinds]uint64 // packets forwarded, by kind
	// ForwardedBytes counts the IPv6 packets forwarded (without IPv4, UDP
	// and origin indication).
	ForwardedBytes uint64
	// OriginIndications counts forwarded packets that got an origin
	// indication (destination is a client of this server).
	OriginIndications uint64
	RelayHandoffs     uint64 // datagrams handed to the co-located relay (Relay verdict)

	Drops [NumDropReasons]uint64 // datagrams dropped, by reason
}

// TotalRASent returns the RAs sent from either address.
func (c Counters) TotalRASent() uint64 { return c.RASent[RASameAddress] + c.RASent[RAOtherAddress] }

// TotalForwarded returns the forwarded packets of every kind.
func (c Counters) TotalForwarded() uint64 {
	var t uint64
	for _, v := range c.Forwarded {
		t += v
	}
	return t
}

// TotalDrops returns the sum of all drop reasons.
func (c Counters) TotalDrops() uint64 {
	var t uint64
	for _, v := range c.Drops {
		t += v
	}
	return t
}

// Each calls fn with the metric name and value of every counter, in a fixed
// order, with stable snake_case names: "packets", "bytes", "rs_received",
// "ra_sent_<kind>", "forwarded_<kind>", "forwarded_bytes",
// "origin_indications", "relay_handoffs" and "drop_<reason>". The metrics
// collector and relayctl status use these names.
func (c Counters) Each(fn func(name string, v uint64)) {
	fn("packets", c.Packets)
	fn("bytes", c.Bytes)
	fn("rs_received", c.RSReceived)
	for k := range NumRAKinds {
		fn("ra_sent_"+k.String(), c.RASent[k])
	}
	for k := range NumForwardKinds {
		fn("forwarded_"+k.String(), c.Forwarded[k])
	}
	fn("forwarded_bytes", c.ForwardedBytes)
	fn("origin_indications", c.OriginIndications)
	fn("relay_handoffs", c.RelayHandoffs)
	for r := range NumDropReasons {
		fn("drop_"+r.String(), c.Drops[r])
	}
}
