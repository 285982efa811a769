package teredo

import (
	"encoding/binary"
	"fmt"
	"net/netip"
)

// v4net is an IPv4 prefix as address and mask, for branch-light matching.
type v4net struct{ addr, mask uint32 }

func (n v4net) contains(ip uint32) bool { return ip&n.mask == n.addr }

func mkv4net(p netip.Prefix) v4net {
	p = p.Masked()
	a := p.Addr().As4()
	var mask uint32
	if p.Bits() > 0 {
		mask = ^uint32(0) << (32 - p.Bits())
	}
	return v4net{binary.BigEndian.Uint32(a[:]), mask}
}

// rfc4380NotGlobal is the RFC 4380 §5.2.4 list of IPv4 ranges that are not
// global unicast (from RFC 3330). Directed broadcast addresses of attached
// subnets are added by the caller through the extra list.
var rfc4380NotGlobal = [...]v4net{
	mkv4net(netip.MustParsePrefix("0.0.0.0/8")),
	mkv4net(netip.MustParsePrefix("10.0.0.0/8")),
	mkv4net(netip.MustParsePrefix("127.0.0.0/8")),
	mkv4net(netip.MustParsePrefix("169.254.0.0/16")),
	mkv4net(netip.MustParsePrefix("172.16.0.0/12")),
	mkv4net(netip.MustParsePrefix("192.88.99.0/24")), // 6to4 relay anycast
	mkv4net(netip.MustParsePrefix("192.168.0.0/16")),
	mkv4net(netip.MustParsePrefix("224.0.0.0/4")),
	mkv4net(netip.MustParsePrefix("255.255.255.255/32")),
}

// SpecialPurposeBogons lists special-purpose IPv4 blocks registered after RFC
// 4380 (RFC 6890 and successors) that are not global unicast destinations:
// shared address space, IETF protocol assignments, benchmarking, reserved. It
// is an opt-in extra list for NewBogons. The documentation ranges
// (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24) are deliberately absent:
// test beds use them as "public" addresses.
var SpecialPurposeBogons = []netip.Prefix{
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("240.0.0.0/4"),
}

// Bogons decides whether an IPv4 address is global unicast: outside the RFC
// 4380 §5.2.4 list and outside a configurable extra list. It is immutable
// after NewBogons and safe for concurrent use; a nil *Bogons applies the RFC
// 4380 list only.
type Bogons struct {
	// first[o] says what to check for an address whose first octet is o:
	// nothing (no listed prefix overlaps o/8), everything (a prefix of /8
	// or shorter covers it), or the longer prefixes nets[start:end].
	// One table load decides most addresses, however long the lists are.
	first [256]octetRule
	nets  []v4net
}

type octetRule struct {
	start, end uint32
	all        bool
}

// rfc4380Only is the table a nil *Bogons uses.
var rfc4380Only = newBogons(nil)

// NewBogons returns a Bogons that also rejects the IPv4 prefixes in extra (for
// example SpecialPurposeBogons, or the directed-broadcast /32s of the relay's
// attached subnets). IPv4-mapped IPv6 prefixes (::ffff:a.b.c.d/96+n) are
// accepted as their IPv4 equivalent; other prefixes are ignored, so validate
// configuration with ParseBogons first.
func NewBogons(extra []netip.Prefix) *Bogons {
	nets := make([]v4net, 0, len(extra))
	for _, p := range extra {
		if q, ok := toV4Prefix(p); ok {
			nets = append(nets, mkv4net(q))
		}
	}
	return newBogons(nets)
}

// newBogons builds the first-octet table over the RFC 4380 list and extra.
func newBogons(extra []v4net) *Bogons {
	all := append(rfc4380NotGlobal[:len(rfc4380NotGlobal):len(rfc4380NotGlobal)], extra...)
	b := &Bogons{}
	for o := range b.first {
		r := &b.first[o]
		r.start = uint32(len(b.nets))
		for _, n := range all {
			switch {
			case n.mask&0x00ffffff == 0: // /8 or shorter: o/8 is inside or outside it
				r.all = r.all || n.contains(uint32(o)<<24)
			case n.addr>>24 == uint32(o):
				b.nets = append(b.nets, n)
			}
		}
		if r.all {
			b.nets = b.nets[:r.start]
		}
		r.end = uint32(len(b.nets))
	}
	return b
}

func toV4Prefix(p netip.Prefix) (netip.Prefix, bool) {
	if !p.IsValid() {
		return netip.Prefix{}, false
	}
	a := p.Addr()
	if a.Is4() {
		return p, true
	}
	if a.Is4In6() && p.Bits() >= 96 {
		return netip.PrefixFrom(a.Unmap(), p.Bits()-96), true
	}
	return netip.Prefix{}, false
}

// ParseBogons parses a configured list of IPv4 prefixes ("100.64.0.0/10") or
// addresses ("198.51.100.255", taken as /32) for NewBogons; anything else is
// an error naming the entry.
func ParseBogons(list []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(list))
	for _, s := range list {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil {
				return nil, fmt.Errorf("parse bogon %q: %w", s, err)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		q, ok := toV4Prefix(p)
		if !ok {
			return nil, fmt.Errorf("parse bogon %q: not an ipv4 prefix", s)
		}
		out = append(out, q.Masked())
	}
	return out, nil
}

// GlobalUnicast reports whether ip is an IPv4 address (or IPv4-mapped IPv6
// address) that is global unicast: outside the RFC 4380 §5.2.4 list and outside
// b's extra prefixes. Any other address yields false.
func (b *Bogons) GlobalUnicast(ip netip.Addr) bool {
	if !ip.Is4() && !ip.Is4In6() {
		return false
	}
	return b.GlobalUnicast4(ip.Unmap().As4())
}

// GlobalUnicast4 is GlobalUnicast for a raw IPv4 address.
func (b *Bogons) GlobalUnicast4(ip [4]byte) bool {
	if b == nil {
		b = rfc4380Only
	}
	v := binary.BigEndian.Uint32(ip[:])
	r := b.first[v>>24]
	if r.all {
		return false
	}
	for _, n := range b.nets[r.start:r.end] {
		if n.contains(v) {
			return false
		}
	}
	return true
}

// IsGlobalUnicast applies the RFC 4380 §5.2.4 list alone.
func IsGlobalUnicast(ip netip.Addr) bool {
	var b *Bogons
	return b.GlobalUnicast(ip)
}
