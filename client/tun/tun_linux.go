//go:build linux

package tun

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// MTU is the Teredo link MTU [RFC 4380 §5.1.2].
const MTU = 1280

// DefaultRouteMetric is the metric of the default route through the tunnel:
// above the kernel's 1024, so native IPv6 wins (Miredo's hook uses 1029).
const DefaultRouteMetric = 1029

// LinkLocal is the interface's link-local address (Miredo's).
var LinkLocal = netip.MustParseAddr("fe80::ffff:ffff:ffff")

// Device is an open TUN device.
type Device struct {
	f      *os.File
	name   string
	link   netlink.Link
	metric int
	addr   netip.Addr // the Teredo address configured, if any
}

// Open creates the TUN device name (a name with %d lets the kernel number
// it), brings it up with MTU 1280 and the link-local address. The device
// disappears when Close closes it.
func Open(name string, routeMetric int) (*Device, error) {
	if routeMetric <= 0 {
		routeMetric = DefaultRouteMetric
	}
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("open /dev/net/tun (is the tun module loaded?): %w", err)
	}
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("tun device name %q: %w", name, err)
	}
	ifr.SetUint16(unix.IFF_TUN | unix.IFF_NO_PI)
	if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("create tun device %q (TUNSETIFF): %w", name, err)
	}
	d := &Device{f: os.NewFile(uintptr(fd), "/dev/net/tun"), name: ifr.Name(), metric: routeMetric}
	if err := d.setup(); err != nil {
		d.f.Close()
		return nil, fmt.Errorf("configure %s: %w", d.name, err)
	}
	return d, nil
}

// sysctl writes /proc/sys/net/ipv6/conf/<dev>/<key>.
func (d *Device) sysctl(key, value string) error {
	p := "/proc/sys/net/ipv6/conf/" + d.name + "/" + key
	if err := os.WriteFile(p, []byte(value), 0o644); err != nil {
		return fmt.Errorf("sysctl %s=%s: %w", strings.TrimPrefix(p, "/proc/sys/"), value, err)
	}
	return nil
}

func (d *Device) setup() error {
	link, err := netlink.LinkByName(d.name)
	if err != nil {
		return fmt.Errorf("find link: %w", err)
	}
	d.link = link
	// No automatic addresses, no RS/RA, no DAD: the tunnel sets its own.
	for _, kv := range [][2]string{{"disable_ipv6", "0"}, {"addr_gen_mode", "1"}, {"accept_ra", "0"},
		{"router_solicitations", "0"}, {"accept_dad", "0"}, {"autoconf", "0"}} {
		if err := d.sysctl(kv[0], kv[1]); err != nil {
			return err
		}
	}
	if err := netlink.LinkSetMTU(link, MTU); err != nil {
		return fmt.Errorf("set MTU %d: %w", MTU, err)
	}
	if err := netlink.LinkSetARPOff(link); err != nil {
		return fmt.Errorf("set NOARP: %w", err)
	}
	if err := netlink.LinkSetMulticastOff(link); err != nil {
		return fmt.Errorf("multicast off: %w", err)
	}
	if err := netlink.LinkSetUp(link); err != nil {
		return fmt.Errorf("set up: %w", err)
	}
	if err := netlink.AddrReplace(link, addr(LinkLocal, 64)); err != nil {
		return fmt.Errorf("add link-local %v: %w", LinkLocal, err)
	}
	return nil
}

func addr(a netip.Addr, bits int) *netlink.Addr {
	return &netlink.Addr{
		IPNet: &net.IPNet{IP: a.AsSlice(), Mask: net.CIDRMask(bits, 128)},
		Flags: unix.IFA_F_NODAD,
	}
}

func (d *Device) defaultRoute() *netlink.Route {
	return &netlink.Route{
		LinkIndex: d.link.Attrs().Index,
		Dst:       &net.IPNet{IP: net.IPv6zero, Mask: net.CIDRMask(0, 128)},
		Priority:  d.metric,
		Family:    netlink.FAMILY_V6,
	}
}

// Name is the device's name.
func (d *Device) Name() string { return d.name }

// Read reads one IPv6 packet the host sent into the tunnel.
func (d *Device) Read(b []byte) (int, error) { return d.f.Read(b) }

// WriteTUN hands one IPv6 packet to the host.
func (d *Device) WriteTUN(pkt []byte) error {
	_, err := d.f.Write(pkt)
	return err
}

// SetAddress replaces the Teredo address: the old one and the default route
// go, the new one comes as /32 (its prefix route is 2001::/32) with the
// default route. An invalid a removes them only.
func (d *Device) SetAddress(a netip.Addr) error {
	var errs []error
	if d.addr.IsValid() && d.addr != a {
		if err := netlink.RouteDel(d.defaultRoute()); err != nil && !errors.Is(err, unix.ESRCH) {
			errs = append(errs, fmt.Errorf("remove the default route: %w", err))
		}
		if err := netlink.AddrDel(d.link, addr(d.addr, 32)); err != nil && !errors.Is(err, unix.EADDRNOTAVAIL) {
			errs = append(errs, fmt.Errorf("remove %v: %w", d.addr, err))
		}
		d.addr = netip.Addr{}
	}
	if a.IsValid() {
		if err := netlink.AddrReplace(d.link, addr(a, 32)); err != nil {
			return errors.Join(append(errs, fmt.Errorf("add %v/32: %w", a, err))...)
		}
		d.addr = a
		if err := netlink.RouteReplace(d.defaultRoute()); err != nil {
			errs = append(errs, fmt.Errorf("add the default route (metric %d): %w", d.metric, err))
		}
	}
	return errors.Join(errs...)
}

// Close removes the Teredo address and the routes and closes the device,
// which deletes it.
func (d *Device) Close() error {
	err := d.SetAddress(netip.Addr{})
	return errors.Join(err, d.f.Close())
}
