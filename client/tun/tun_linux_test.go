//go:build linux

package tun

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/teredorelay/teredorelay/internal/netnsutil"
	"github.com/teredorelay/teredorelay/internal/testenv"
	"github.com/teredorelay/teredorelay/teredo"
)

// The device in a namespace of its own: addresses, routes and MTU as
// Miredo's hook sets them, and the kernel answering a ping written into the
// tunnel through the tunnel.
func TestDeviceInNamespace(t *testing.T) {
	testenv.RequireRoot(t)
	var r [3]byte
	rand.Read(r[:])
	ns := "ttun" + hex.EncodeToString(r[:])
	netnsutil.AddForTest(t, ns)
	teredoAddr := netip.MustParseAddr("2001:0:c000:201:3cc4:4b5f:34ff:8efe")
	native := netip.MustParseAddr("2001:db8:1::10")
	var d *Device
	do := func(fn func() error) {
		t.Helper()
		if err := netnsutil.Do(ns, fn); err != nil {
			t.Fatal(err)
		}
	}
	do(func() error {
		var err error
		d, err = Open("teredo", 0)
		return err
	})
	defer d.Close()
	do(func() error { return d.SetAddress(teredoAddr) })
	do(func() error {
		link, err := netlink.LinkByName("teredo")
		if err != nil {
			return err
		}
		if link.Attrs().MTU != MTU || link.Attrs().Flags&net.FlagUp == 0 {
			t.Errorf("link %+v", link.Attrs())
		}
		addrs, _ := netlink.AddrList(link, netlink.FAMILY_V6)
		got := map[string]bool{}
		for _, a := range addrs {
			got[a.IPNet.String()] = true
		}
		if !got["fe80::ffff:ffff:ffff/64"] || !got[teredoAddr.String()+"/32"] || len(addrs) != 2 {
			t.Errorf("addresses %v", addrs)
		}
		routes, _ := netlink.RouteList(link, netlink.FAMILY_V6)
		var def, teredo32 bool
		for _, rt := range routes {
			if rt.Dst == nil || rt.Dst.String() == "::/0" {
				def = def || rt.Priority == DefaultRouteMetric
			}
			if rt.Dst != nil && rt.Dst.String() == "2001::/32" {
				teredo32 = true
			}
		}
		if !def || !teredo32 {
			t.Errorf("routes %v: want ::/0 metric %d and 2001::/32", routes, DefaultRouteMetric)
		}
		return nil
	})
	// Write an echo request from a native host to our address into the
	// tunnel: the kernel's echo reply comes back out of it.
	req := make([]byte, 64)
	s, dd := native.As16(), teredoAddr.As16()
	req[0] = 0x60
	binary.BigEndian.PutUint16(req[4:6], 24)
	req[6], req[7] = teredo.ProtoICMPv6, 64
	copy(req[8:24], s[:])
	copy(req[24:40], dd[:])
	req[40] = teredo.ICMPv6EchoRequest
	binary.BigEndian.PutUint16(req[44:46], 0x77)
	binary.BigEndian.PutUint16(req[46:48], 1)
	binary.BigEndian.PutUint16(req[42:44], teredo.ICMPv6Checksum(&s, &dd, req[40:64]))
	if err := d.WriteTUN(req); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 2048)
	d.f.SetReadDeadline(time.Now().Add(3 * time.Second))
	for {
		n, err := d.Read(buf)
		if err != nil {
			t.Fatalf("no echo reply out of the tunnel: %v", err)
		}
		p := buf[:n]
		if n >= 48 && p[40] == teredo.ICMPv6EchoReply {
			if netip.AddrFrom16(teredo.Src(p)) != teredoAddr || netip.AddrFrom16(teredo.Dst(p)) != native {
				t.Errorf("reply %x", p)
			}
			break
		}
	}
	// Offline: only the link-local address stays, no default route.
	do(func() error { return d.SetAddress(netip.Addr{}) })
	do(func() error {
		link, _ := netlink.LinkByName("teredo")
		addrs, _ := netlink.AddrList(link, netlink.FAMILY_V6)
		routes, _ := netlink.RouteList(link, netlink.FAMILY_V6)
		for _, rt := range routes {
			if rt.Dst == nil || rt.Dst.String() == "::/0" || rt.Dst.String() == "2001::/32" {
				t.Errorf("route %v left after SetAddress(invalid)", rt)
			}
		}
		if len(addrs) != 1 {
			t.Errorf("addresses %v", addrs)
		}
		return nil
	})
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	do(func() error {
		if _, err := netlink.LinkByName("teredo"); err == nil {
			t.Error("device survives Close")
		}
		return nil
	})
}
