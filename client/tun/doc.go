// Package tun is the Teredo client's network interface on Linux: a TUN
// device (/dev/net/tun, IFF_TUN|IFF_NO_PI) configured through netlink the way
// Miredo's client hook does it.
//
//   - MTU 1280 [RFC 4380 §5.1.2], no ARP, no multicast; IPv6 router
//     solicitations, router advertisements and DAD off for the device.
//   - The link-local address fe80::ffff:ffff:ffff/64 (Miredo's).
//   - The Teredo address as /32, so the kernel's prefix route sends 2001::/32
//     into the tunnel.
//   - A default IPv6 route with a high metric (1029 by default, Miredo's), so
//     that native IPv6 (metric 1024 and below) wins whenever the host has it.
//
// SetAddress replaces the address (and with it the /32 route) and installs or
// removes the default route; an invalid address leaves only the link-local
// one, so the host does not route into a tunnel that cannot carry anything.
//
// Why not golang.zx2c4.com/wireguard/tun: the module proxy here does not
// serve it, and the client needs only the plain device (no offloads, no
// multi-queue); the ioctl is a few lines of golang.org/x/sys/unix, and
// addresses and routes go through vishvananda/netlink, which the project
// already uses.
package tun
