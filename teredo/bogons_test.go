package teredo

import (
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
	"testing"
)

func TestGlobalUnicast(t *testing.T) {
	extra := NewBogons(append([]netip.Prefix{
		netip.MustParsePrefix("198.51.100.255/32"),        // directed broadcast of an attached /24
		netip.MustParsePrefix("::ffff:203.0.113.128/121"), // IPv4-mapped form of 203.0.113.0/25
		netip.MustParsePrefix("2001:db8::/32"),            // not IPv4: ignored
		{},                                                // invalid: ignored
	}, SpecialPurposeBogons...))
	tests := []struct {
		name      string
		ip        string
		base      bool // RFC 4380 list only
		withExtra bool
	}{
		{"N1 10.0.0.1", "10.0.0.1", false, false},
		{"N2 224.0.0.1", "224.0.0.1", false, false},
		{"N2 255.255.255.255", "255.255.255.255", false, false},
		{"N2 127.0.0.1", "127.0.0.1", false, false},
		{"N2 192.88.99.1", "192.88.99.1", false, false},
		{"N2 169.254.1.1", "169.254.1.1", false, false},
		{"0.0.0.0/8", "0.1.2.3", false, false},
		{"172.16.0.0/12 low", "172.16.0.1", false, false},
		{"172.16.0.0/12 high", "172.31.255.255", false, false},
		{"172.32.0.1 is global", "172.32.0.1", true, true},
		{"192.168.0.0/16", "192.168.1.1", false, false},
		{"239.255.255.255 multicast", "239.255.255.255", false, false},
		{"T8 mapped 203.0.113.1 (documentation, testbed public)", "203.0.113.1", true, true},
		{"T2 mapped 192.0.2.1", "192.0.2.1", true, true},
		{"198.51.100.1", "198.51.100.1", true, true},
		{"extra /32 broadcast", "198.51.100.255", true, false},
		{"extra ipv4-mapped prefix", "203.0.113.200", true, false},
		{"just outside mapped prefix", "203.0.113.127", true, true},
		{"100.64.0.0/10 shared", "100.64.0.1", true, false},
		{"192.0.0.0/24", "192.0.0.8", true, false},
		{"198.18.0.0/15 benchmarking", "198.19.255.1", true, false},
		{"240.0.0.0/4 reserved", "250.1.1.1", true, false},
		{"8.8.8.8", "8.8.8.8", true, true},
		{"ipv4-mapped global", "::ffff:8.8.8.8", true, true},
		{"ipv4-mapped private", "::ffff:10.1.1.1", false, false},
		{"ipv6 address", "2001:db8::1", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := ip(tt.ip)
			if got := IsGlobalUnicast(a); got != tt.base {
				t.Errorf("IsGlobalUnicast = %v, want %v", got, tt.base)
			}
			if got := NewBogons(nil).GlobalUnicast(a); got != tt.base {
				t.Errorf("NewBogons(nil).GlobalUnicast = %v, want %v", got, tt.base)
			}
			if got := extra.GlobalUnicast(a); got != tt.withExtra {
				t.Errorf("with extras = %v, want %v", got, tt.withExtra)
			}
		})
	}
	if IsGlobalUnicast(netip.Addr{}) {
		t.Error("zero Addr is global unicast")
	}
}

// N1/N2 through the address: the relay decodes the destination and tests the
// mapped IPv4 (and, as recommended, the server IPv4).
func TestGlobalUnicastTeredoDestinations(t *testing.T) {
	tests := []struct {
		name   string
		mapped string
		want   bool
	}{
		{"T8 client", "203.0.113.1:46240", true},
		{"N1 10.0.0.1", "10.0.0.1:3544", false},
		{"N2 224.0.0.1", "224.0.0.1:1", false},
		{"N2 255.255.255.255", "255.255.255.255:1", false},
		{"N2 127.0.0.1", "127.0.0.1:1", false},
		{"N2 192.88.99.1", "192.88.99.1:1", false},
		{"N2 169.254.1.1", "169.254.1.1:1", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dst := Addr{Server: ip("192.0.2.1"), Mapped: ap(tt.mapped)}.As16()
			a := DecodeAddr(&dst)
			if got := IsGlobalUnicast(a.Mapped.Addr()); got != tt.want {
				t.Fatalf("mapped %s global = %v, want %v", a.Mapped, got, tt.want)
			}
			if !IsGlobalUnicast(a.Server) {
				t.Fatal("server 192.0.2.1 not global")
			}
		})
	}
}

func TestParseBogons(t *testing.T) {
	got, err := ParseBogons([]string{"100.64.0.0/10", "198.51.100.255", "10.1.2.3/8", "::ffff:192.0.2.0/120"})
	if err != nil {
		t.Fatal(err)
	}
	want := []netip.Prefix{
		netip.MustParsePrefix("100.64.0.0/10"),
		netip.MustParsePrefix("198.51.100.255/32"),
		netip.MustParsePrefix("10.0.0.0/8"),
		netip.MustParsePrefix("192.0.2.0/24"),
	}
	if len(got) != len(want) {
		t.Fatalf("ParseBogons = %v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("ParseBogons[%d] = %s, want %s", i, got[i], want[i])
		}
	}
	for _, bad := range []string{"2001:db8::/32", "2001:db8::1", "nonsense", "10.0.0.0/33", "::ffff:0:0/90"} {
		t.Run(bad, func(t *testing.T) {
			if _, err := ParseBogons([]string{bad}); err == nil {
				t.Fatalf("ParseBogons(%q) succeeded", bad)
			}
		})
	}
}

// TestBogonsTableMatchesList checks the first-octet table against the
// plain definition (any listed prefix contains the address) on every
// prefix's first, last and neighbouring addresses and on random ones, with
// the RFC 4380 list alone, with SpecialPurposeBogons and with extra /32s
// and short prefixes.
func TestBogonsTableMatchesList(t *testing.T) {
	extras := [][]netip.Prefix{
		nil,
		SpecialPurposeBogons,
		append([]netip.Prefix{
			netip.MustParsePrefix("198.51.100.255/32"),
			netip.MustParsePrefix("198.51.100.0/32"),
			netip.MustParsePrefix("203.0.113.128/25"),
			netip.MustParsePrefix("64.0.0.0/3"),
			netip.MustParsePrefix("11.0.0.0/8"),
			netip.MustParsePrefix("::ffff:192.0.2.7/128"),
		}, SpecialPurposeBogons...),
	}
	for _, extra := range extras {
		b := NewBogons(extra)
		var nets []v4net
		nets = append(nets, rfc4380NotGlobal[:]...)
		for _, p := range extra {
			if q, ok := toV4Prefix(p); ok {
				nets = append(nets, mkv4net(q))
			}
		}
		want := func(v uint32) bool {
			for _, n := range nets {
				if n.contains(v) {
					return false
				}
			}
			return true
		}
		var probes []uint32
		for _, n := range nets {
			first, last := n.addr, n.addr|^n.mask
			probes = append(probes, first, last, first-1, last+1)
		}
		rng := rand.New(rand.NewPCG(1, 2))
		for range 100000 {
			probes = append(probes, rng.Uint32())
		}
		for _, v := range probes {
			var ip [4]byte
			binary.BigEndian.PutUint32(ip[:], v)
			if got := b.GlobalUnicast4(ip); got != want(v) {
				t.Fatalf("extra %v: GlobalUnicast4(%v) = %v, the list says %v", extra, netip.AddrFrom4(ip), got, want(v))
			}
			if extra == nil {
				var nb *Bogons
				if got := nb.GlobalUnicast4(ip); got != want(v) {
					t.Fatalf("nil Bogons: GlobalUnicast4(%v) = %v, the list says %v", netip.AddrFrom4(ip), got, want(v))
				}
			}
		}
	}
}

func BenchmarkGlobalUnicast4(b *testing.B) {
	bg := NewBogons(SpecialPurposeBogons)
	ips := [][4]byte{{198, 51, 100, 7}, {192, 168, 1, 1}, {8, 8, 8, 8}, {100, 64, 0, 1}}
	n := 0
	for i := 0; b.Loop(); i++ {
		if bg.GlobalUnicast4(ips[i&3]) {
			n++
		}
	}
	_ = n
}
