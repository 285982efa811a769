package relaytest

import (
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// Via says which Output method carried a packet.
type Via uint8

const (
	// ViaUDP: Output.SendUDP (from the relay address:port to Dst).
	ViaUDP Via = iota + 1
	// ViaIPv6: Output.SendIPv6 (to the native side).
	ViaIPv6
)

func (v Via) String() string {
	switch v {
	case ViaUDP:
		return "udp"
	case ViaIPv6:
		return "ipv6"
	}
	return "invalid"
}

// Sent is one packet given to the Output.
type Sent struct {
	Via  Via
	Dst  netip.AddrPort // UDP destination (ViaUDP only)
	Data []byte         // a copy of the payload (ViaUDP) or IPv6 packet (ViaIPv6)
}

// Output records every packet it is asked to send; it satisfies
// relay.Output. Set Err to make sends fail. Safe for concurrent use.
type Output struct {
	mu   sync.Mutex
	sent []Sent
	Err  error
}

// SendUDP records a UDP payload.
func (o *Output) SendUDP(dst netip.AddrPort, payload []byte) error {
	return o.record(Sent{Via: ViaUDP, Dst: dst, Data: append([]byte(nil), payload...)})
}

// SendIPv6 records an IPv6 packet.
func (o *Output) SendIPv6(pkt []byte) error {
	return o.record(Sent{Via: ViaIPv6, Data: append([]byte(nil), pkt...)})
}

func (o *Output) record(s Sent) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.Err != nil {
		return o.Err
	}
	o.sent = append(o.sent, s)
	return nil
}

// Take returns the packets recorded since the last Take and forgets them.
func (o *Output) Take() []Sent {
	o.mu.Lock()
	defer o.mu.Unlock()
	s := o.sent
	o.sent = nil
	return s
}

// Len returns the number of packets recorded since the last Take.
func (o *Output) Len() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.sent)
}

// Clock is a manual clock in nanoseconds; Now can be passed as
// relay.Config.Now and cache.Config.Now. Safe for concurrent use.
type Clock struct{ ns atomic.Int64 }

// NewClock returns a clock reading start. Start well away from 0 so that
// "never" (0) timestamps are distinguishable.
func NewClock(start time.Duration) *Clock {
	c := &Clock{}
	c.ns.Store(int64(start))
	return c
}

// Now returns the current reading.
func (c *Clock) Now() int64 { return c.ns.Load() }

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) { c.ns.Add(int64(d)) }
