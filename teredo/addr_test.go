package teredo

import (
	"net/netip"
	"testing"
)

func ap(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }
func ip(s string) netip.Addr     { return netip.MustParseAddr(s) }

// Vectors T2–T8 and T18–T20 of teredo-spec.md §8 (sources given per row).
var addrVectors = []struct {
	name   string
	ip     string
	server string
	flags  uint16
	mapped string
	cone   bool
}{
	// RFC 6081 §3.1 Figure 2, client A.
	{"T2 rfc6081 fig2 client A", "2001:0:cb00:7178:0:efff:3fff:fdfe", "203.0.113.120", 0x0000, "192.0.2.1:4096", false},
	// RFC 6081 §3.1 Figure 2, client B.
	{"T3 rfc6081 fig2 client B", "2001:0:c633:6476:0:dfff:3fff:fdf5", "198.51.100.118", 0x0000, "192.0.2.10:8192", false},
	// RFC 6081 §3.5 Figure 3, client A.
	{"T4 rfc6081 fig3 client A", "2001:0:cb00:7178:0:f000:39cc:9b89", "203.0.113.120", 0x0000, "198.51.100.118:4095", false},
	// RFC 6081 §3.5 Figure 3, client B.
	{"T5 rfc6081 fig3 client B", "2001:0:cb00:7178:0:efff:39cc:9b89", "203.0.113.120", 0x0000, "198.51.100.118:4096", false},
	// Microsoft documentation example (cone, no random bits).
	{"T6 microsoft doc cone", "2001:0000:4136:e378:8000:63bf:3fff:fdd2", "65.54.227.120", 0x8000, "192.0.2.45:40000", true},
	// Windows client with RFC 5991 random bits (rakhesh.com).
	{"T7 windows random flags", "2001:0:1117:34fa:1027:374b:e1fc:f635", "17.23.52.250", 0x1027, "30.3.9.202:51380", false},
	// Testbed Miredo client behind NAT 203.0.113.1 (miredo-*.pcap).
	{"T8 testbed miredo client", "2001:0:c000:201:3cc4:4b5f:34ff:8efe", "192.0.2.1", 0x3cc4, "203.0.113.1:46240", false},
	// Derived encodings.
	{"T18 encode cone", "2001:0:c000:201:8000:efff:39cc:9bf5", "192.0.2.1", 0x8000, "198.51.100.10:4096", true},
	{"T19 encode all random bits", "2001:0:c633:6401:3cff:0:34ff:8ef8", "198.51.100.1", 0x3cff, "203.0.113.7:65535", false},
	{"T20 encode zero port", "2001:0:c633:6401:0:ffff:34ff:8ef8", "198.51.100.1", 0x0000, "203.0.113.7:0", false},
	// N1: decodes fine; the relay must then reject the private mapped IPv4.
	{"N1 private mapped", "2001:0:c000:201:0:f227:f5ff:fffe", "192.0.2.1", 0x0000, "10.0.0.1:3544", false},
}

func TestParseAddr(t *testing.T) {
	for _, tt := range addrVectors {
		t.Run(tt.name, func(t *testing.T) {
			a, ok := ParseAddr(ip(tt.ip))
			if !ok {
				t.Fatalf("ParseAddr(%s) = false", tt.ip)
			}
			want := Addr{Server: ip(tt.server), Flags: tt.flags, Mapped: ap(tt.mapped)}
			if a != want {
				t.Fatalf("ParseAddr(%s) = %+v, want %+v", tt.ip, a, want)
			}
			if a.Cone() != tt.cone {
				t.Errorf("Cone() = %v, want %v", a.Cone(), tt.cone)
			}
			b := ip(tt.ip).As16()
			if !IsTeredo(&b) || DecodeAddr(&b) != want {
				t.Errorf("IsTeredo/DecodeAddr disagree with ParseAddr")
			}
			if got := want.IP(); got != ip(tt.ip) {
				t.Errorf("IP() = %s, want %s", got, tt.ip)
			}
			if got := want.String(); got != ip(tt.ip).String() {
				t.Errorf("String() = %s", got)
			}
			if !MatchesSource(&b, ap(tt.mapped)) {
				t.Errorf("MatchesSource(own mapping) = false")
			}
		})
	}
}

func TestParseAddrNotTeredo(t *testing.T) {
	tests := []struct{ name, ip string }{
		{"N4 documentation address", "2001:db8::1"},
		{"N8 old microsoft prefix", "3ffe:831f:ce49:7601:8000:efff:62c3:fffe"},
		{"2001:1:: just outside", "2001:1::1"},
		{"ipv4", "192.0.2.1"},
		{"ipv4-mapped", "::ffff:192.0.2.1"},
		{"link-local teredo identifier", "fe80::8000:f227:3fff:fdfe"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if a, ok := ParseAddr(ip(tt.ip)); ok {
				t.Fatalf("ParseAddr(%s) = %+v, true; want false", tt.ip, a)
			}
			if ip(tt.ip).Is6() {
				b := ip(tt.ip).As16()
				if IsTeredo(&b) {
					t.Fatalf("IsTeredo(%s) = true", tt.ip)
				}
			}
		})
	}
	if _, ok := ParseAddr(netip.Addr{}); ok {
		t.Fatal("ParseAddr(zero Addr) = true")
	}
}

// N3: the relay must drop a packet whose Teredo source does not match the
// datagram's IPv4/UDP source [RFC 4380 §5.4.2].
func TestMatchesSource(t *testing.T) {
	t8 := ip("2001:0:c000:201:3cc4:4b5f:34ff:8efe").As16()
	nonTeredo := ip("2001:db8::1").As16()
	tests := []struct {
		name string
		addr *[16]byte
		from netip.AddrPort
		want bool
	}{
		{"T8 own mapping", &t8, ap("203.0.113.1:46240"), true},
		{"T8 ipv4-mapped form", &t8, ap("[::ffff:203.0.113.1]:46240"), true},
		{"N3 other address", &t8, ap("203.0.113.9:46240"), false},
		{"N3 other port", &t8, ap("203.0.113.1:46241"), false},
		{"ipv6 from", &t8, ap("[2001:db8::1]:46240"), false},
		{"zero from", &t8, netip.AddrPort{}, false},
		{"N4 non-teredo source", &nonTeredo, ap("203.0.113.1:46240"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := MatchesSource(tt.addr, tt.from); got != tt.want {
				t.Fatalf("MatchesSource = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestServerLinkLocal(t *testing.T) {
	tests := []struct{ name, server, want string }{
		{"T14", "65.54.227.126", "fe80::8000:f227:bec9:1c81"},
		{"T15 matches testbed RA source", "192.0.2.1", "fe80::8000:f227:3fff:fdfe"},
		{"T16", "203.0.113.120", "fe80::8000:f227:34ff:8e87"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ServerLinkLocal(ip(tt.server))
			if got != ip(tt.want) {
				t.Fatalf("ServerLinkLocal(%s) = %s, want %s", tt.server, got, tt.want)
			}
			b := got.As16()
			if !IsLinkLocal(&b) {
				t.Fatal("not link-local")
			}
			a := DecodeAddr(&b)
			if !a.Cone() || a.Mapped != netip.AddrPortFrom(ip(tt.server), Port) {
				t.Fatalf("identifier decodes to %+v", a)
			}
		})
	}
}

func TestClientLinkLocal(t *testing.T) {
	// testbed RS source (T9): fe80::ffff:ffff:ffff.
	if got := ClientLinkLocal(false); got != ip("fe80::ffff:ffff:ffff") {
		t.Errorf("ClientLinkLocal(false) = %s", got)
	}
	if got := ClientLinkLocal(true); got != ip("fe80::8000:ffff:ffff:ffff") {
		t.Errorf("ClientLinkLocal(true) = %s", got)
	}
	if got := LinkLocal(0x3cc4, ap("203.0.113.1:46240")); got != ip("fe80::3cc4:4b5f:34ff:8efe") {
		t.Errorf("LinkLocal = %s", got)
	}
	// An invalid mapping encodes as 0.0.0.0:0.
	if got := LinkLocal(0, netip.AddrPort{}); got != ip("fe80::ffff:ffff:ffff") {
		t.Errorf("LinkLocal(zero) = %s", got)
	}
}

func TestServerPrefix(t *testing.T) {
	tests := []struct{ name, server, want string }{
		{"T17", "203.0.113.120", "2001:0:cb00:7178::/64"},
		{"T10 testbed PIO", "192.0.2.1", "2001:0:c000:201::/64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ServerPrefix(ip(tt.server)); got != netip.MustParsePrefix(tt.want) {
				t.Fatalf("ServerPrefix(%s) = %s, want %s", tt.server, got, tt.want)
			}
		})
	}
}

// T22: RFC 5991 builder flags never set z/U/G; receivers ignore them.
func TestRandomFlags(t *testing.T) {
	tests := []struct {
		name   string
		random uint16
		cone   bool
		want   uint16
	}{
		{"all ones, no cone", 0xffff, false, 0x3cff},
		{"all ones, cone", 0xffff, true, 0xbcff},
		{"zero", 0, false, 0},
		{"testbed T8 bits", 0x3cc4, false, 0x3cc4},
		{"z/U/G stripped", 0x4300, false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := RandomFlags(tt.random, tt.cone)
			if got != tt.want || got&(FlagReserved|FlagUniversal|FlagGroup) != 0 {
				t.Fatalf("RandomFlags(%#x, %v) = %#x, want %#x", tt.random, tt.cone, got, tt.want)
			}
		})
	}
	// Receiver side: flags with z/U/G set still decode; nothing is validated.
	a := Addr{Server: ip("192.0.2.1"), Flags: 0xffff, Mapped: ap("203.0.113.1:1")}
	b := a.As16()
	if got := DecodeAddr(&b); got != a || !got.Cone() {
		t.Fatalf("DecodeAddr(all flags) = %+v", got)
	}
}

func TestAddrZeroAndMapped(t *testing.T) {
	if got := (Addr{}).IP(); got != ip("2001::ffff:ffff:ffff") {
		t.Errorf("zero Addr IP = %s", got)
	}
	// IPv4-mapped IPv6 server and mapping are encoded as IPv4.
	a := Addr{Server: ip("::ffff:192.0.2.1"), Mapped: ap("[::ffff:203.0.113.1]:46240"), Flags: 0x3cc4}
	if got := a.IP(); got != ip("2001:0:c000:201:3cc4:4b5f:34ff:8efe") {
		t.Errorf("mapped-form Addr IP = %s", got)
	}
}
