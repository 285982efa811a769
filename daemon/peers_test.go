package daemon

import (
	"net/netip"
	"testing"
	"time"

	"github.com/teredorelay/teredorelay/cache"
	"github.com/teredorelay/teredorelay/teredo"
)

// A pending peer has no observed source until a packet from it is
// accepted: its cache mapping is only what its address claims.
func TestObservedMappingOnlyOnceReceived(t *testing.T) {
	c, err := cache.New(cache.Config{Capacity: 16, QueueBytes: 1024})
	if err != nil {
		t.Fatal(err)
	}
	d := &Daemon{peers: c, start: time.Now(), monoAtStart: c.Now()}
	mapped := netip.MustParseAddrPort("203.0.113.1:40000")
	pending := teredo.Addr{Server: netip.MustParseAddr("192.0.2.1"), Mapped: mapped}.IP()
	trusted := teredo.Addr{Server: netip.MustParseAddr("192.0.2.1"), Mapped: netip.MustParseAddrPort("203.0.113.2:40000")}.IP()
	for _, a := range []netip.Addr{pending, trusted} {
		k := a.As16()
		claimed, _ := teredo.ParseAddr(a)
		if _, err := c.InsertPending(&k, claimed.Mapped, c.Now()); err != nil {
			t.Fatal(err)
		}
	}
	k := trusted.As16()
	observed := netip.MustParseAddrPort("198.51.100.9:1234")
	if !c.Trust(&k, observed, 100, c.Now(), func([]byte) {}) {
		t.Fatal("Trust failed")
	}
	if p, ok := d.LookupPeer(pending); !ok || p.ObservedMapping.IsValid() || p.State != "pending" {
		t.Errorf("pending peer: %+v", p)
	}
	if p, ok := d.LookupPeer(trusted); !ok || p.ObservedMapping != observed || p.LastRx.IsZero() {
		t.Errorf("trusted peer: %+v", p)
	}
}
