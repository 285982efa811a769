package bpf

import (
	"fmt"
	"testing"

	"github.com/vishvananda/netlink"
)

// Interfaces are created only inside the test's private namespace; the tag
// "bpft" marks them as this package's.
const (
	vethName = "bpft0"
	peerName = "bpft1"
)

func linkUp(name string) (int, error) {
	l, err := netlink.LinkByName(name)
	if err != nil {
		return 0, fmt.Errorf("find %s: %w", name, err)
	}
	if err := netlink.LinkSetUp(l); err != nil {
		return 0, fmt.Errorf("set %s up: %w", name, err)
	}
	return l.Attrs().Index, nil
}

// veth creates bpft0 (4 RX queues) and its peer bpft1 in the namespace, both
// up, and returns bpft0's ifindex.
func (ns *netNS) veth(t testing.TB) int {
	t.Helper()
	var ifindex int
	var err error
	ns.do(func() {
		la := netlink.NewLinkAttrs()
		la.Name, la.NumRxQueues, la.NumTxQueues = vethName, 4, 4
		// The peer has one TX queue, so everything it sends arrives on
		// bpft0's RX queue 0.
		veth := &netlink.Veth{LinkAttrs: la, PeerName: peerName, PeerNumTxQueues: 1, PeerNumRxQueues: 1}
		if err = netlink.LinkAdd(veth); err != nil {
			err = fmt.Errorf("add veth %s: %w", vethName, err)
			return
		}
		if _, err = linkUp(peerName); err != nil {
			return
		}
		ifindex, err = linkUp(vethName)
	})
	if err != nil {
		t.Fatal(err)
	}
	return ifindex
}

// xdpAttached reports the XDP program id on ifindex (0 if none).
func (ns *netNS) xdpProgID(t testing.TB, ifindex int) uint32 {
	t.Helper()
	var id uint32
	var err error
	ns.do(func() {
		var l netlink.Link
		if l, err = netlink.LinkByIndex(ifindex); err == nil && l.Attrs().Xdp != nil && l.Attrs().Xdp.Attached {
			id = l.Attrs().Xdp.ProgId
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return id
}
