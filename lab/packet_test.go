package lab

import (
	"bytes"
	"encoding/hex"
	"errors"
	"net/netip"
	"strings"
	"testing"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatalf("bad hex vector: %v", err)
	}
	return b
}

// Frames from ../testdata/miredo-relay.pcap (tcpdump -xx), the
// original Miredo testbed: relay 198.51.100.1, server 192.0.2.1, client T8
// behind NAT 203.0.113.1:46240.
const (
	// Frame 2: the relay's indirect bubble to the server (T11).
	frameRelayBubble = `4207 4580 4e70 b67b e904 03fb 0800 4500
		0044 f39a 0000 4011 9ad8 c633 6401 c000 0201 0dd8 0dd8 0030 ec77 6000 0000 0000
		3b00 fe80 0000 0000 0000 4439 a801 d529 32ad 2001 0000 c000 0201 3cc4 4b5f 34ff 8efe`
	// Frame 3: the client's direct bubble to the relay (T13).
	frameClientBubble = `b67b e904 03fb 4207 4580 4e70 0800 4500
		0044 1051 0000 3e11 0622 cb00 7101 c633 6401 b4a0 0dd8 0030 6678 6000 0000 0000
		3b00 2001 0000 c000 0201 3cc4 4b5f 34ff 8efe fe80 0000 0000 0000 4439 a801 d529 32ad`
	// Frame 12: a decapsulated Echo Request from the client to 2001:db8:3::7.
	frameEcho = `4207 4580 4e70 b67b e904 03fb 86dd 6005
		1a09 0040 3a3f 2001 0000 c000 0201 3cc4 4b5f 34ff 8efe 2001 0db8 0003 0000 0000
		0000 0000 0007 8000 de8f 2a4e 0001 074a 0a6b 0000 0000 4637 0400 0000 0000 1011
		1213 1415 1617 1819 1a1b 1c1d 1e1f 2021 2223 2425 2627 2829 2a2b 2c2d 2e2f 3031
		3233 3435 3637`
)

var (
	addrT8          = netip.MustParseAddr("2001:0:c000:201:3cc4:4b5f:34ff:8efe")
	relayBubbleSrc  = netip.MustParseAddr("fe80::4439:a801:d529:32ad")
	clientMappingT8 = netip.MustParseAddrPort("203.0.113.1:46240")
)

func TestTeredoAddrVectors(t *testing.T) {
	// teredo-spec.md §8 vectors.
	for _, tc := range []struct {
		name   string
		addr   string
		server string
		flags  uint16
		mapped string
	}{
		{"T2 RFC 6081 client A", "2001:0:cb00:7178:0:efff:3fff:fdfe", "203.0.113.120", 0, "192.0.2.1:4096"},
		{"T3 RFC 6081 client B", "2001:0:c633:6476:0:dfff:3fff:fdf5", "198.51.100.118", 0, "192.0.2.10:8192"},
		{"T4 RFC 6081 fig 3 A", "2001:0:cb00:7178:0:f000:39cc:9b89", "203.0.113.120", 0, "198.51.100.118:4095"},
		{"T6 cone flag", "2001:0:4136:e378:8000:63bf:3fff:fdd2", "65.54.227.120", 0x8000, "192.0.2.45:40000"},
		{"T7 Windows random bits", "2001:0:1117:34fa:1027:374b:e1fc:f635", "17.23.52.250", 0x1027, "30.3.9.202:51380"},
		{"T8 testbed client", "2001:0:c000:201:3cc4:4b5f:34ff:8efe", "192.0.2.1", 0x3cc4, "203.0.113.1:46240"},
		{"T18 encode", "2001:0:c000:201:8000:efff:39cc:9bf5", "192.0.2.1", 0x8000, "198.51.100.10:4096"},
		{"T19 all random bits", "2001:0:c633:6401:3cff:0:34ff:8ef8", "198.51.100.1", 0x3cff, "203.0.113.7:65535"},
		{"T20 zero port", "2001:0:c633:6401:0:ffff:34ff:8ef8", "198.51.100.1", 0, "203.0.113.7:0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := netip.MustParseAddr(tc.addr)
			server := netip.MustParseAddr(tc.server)
			mapped := netip.MustParseAddrPort(tc.mapped)
			if got := TeredoAddr(server, tc.flags, mapped); got != want {
				t.Errorf("TeredoAddr = %v, want %v", got, want)
			}
			s, m, ok := TeredoMapping(want)
			if !ok || s != server || m != mapped {
				t.Errorf("TeredoMapping = %v %v %v, want %v %v", s, m, ok, server, mapped)
			}
		})
	}
	for _, a := range []string{"2001:db8::1", "3ffe:831f:ce49:7601:8000:efff:62c3:fffe", "::ffff:192.0.2.1"} {
		if _, _, ok := TeredoMapping(netip.MustParseAddr(a)); ok {
			t.Errorf("TeredoMapping(%s) ok, want not Teredo (N8)", a)
		}
	}
}

func TestBuildersMatchCapture(t *testing.T) {
	relayBubble := unhex(t, frameRelayBubble)
	clientBubble := unhex(t, frameClientBubble)
	echo := unhex(t, frameEcho)
	for _, tc := range []struct {
		name string
		got  []byte
		want []byte
	}{
		{"T11 relay bubble", Bubble(relayBubbleSrc, addrT8), relayBubble[42:]},
		{"T13 client bubble", Bubble(addrT8, relayBubbleSrc), clientBubble[42:]},
		// The testbed captured on veths with checksum offload on: the UDP
		// checksum field holds only the pseudo-header sum (ec77, 6678).
		// The full checksums (3bf0, 1b27) were computed independently.
		{"IPv4UDP relay to server", IPv4UDP(netip.MustParseAddrPort("198.51.100.1:3544"),
			netip.MustParseAddrPort("192.0.2.1:3544"), 0xf39a, 64, Bubble(relayBubbleSrc, addrT8)),
			withUDPChecksum(relayBubble[14:], 0x3bf0)},
		{"IPv4UDP client to relay", IPv4UDP(clientMappingT8,
			netip.MustParseAddrPort("198.51.100.1:3544"), 0x1051, 62, Bubble(addrT8, relayBubbleSrc)),
			withUDPChecksum(clientBubble[14:], 0x1b27)},
		// Flow label aside (bytes 1–3), the echo matches byte for byte,
		// ICMPv6 checksum included.
		{"EchoRequest", EchoRequest(addrT8, netip.MustParseAddr("2001:db8:3::7"), 63, 0x2a4e, 1, echo[62:])[4:], echo[18:]},
		{"T1 origin", WithOrigin(netip.MustParseAddrPort("1.2.3.4:337"), nil), unhex(t, "0000FEAEFEFDFCFB")},
		{"T12 server-forwarded bubble", WithOrigin(netip.MustParseAddrPort("198.51.100.1:3544"), Bubble(relayBubbleSrc, addrT8)),
			append(unhex(t, "0000f22739cc9bfe"), relayBubble[42:]...)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !bytes.Equal(tc.got, tc.want) {
				t.Errorf("built\n%x\nwant\n%x", tc.got, tc.want)
			}
		})
	}
	if c := UpperLayerChecksum(echo[14:]); c != 0 {
		t.Errorf("checksum over a correct captured packet = %#x, want 0", c)
	}
}

// ethernetIPv4 wraps an IPv4 packet in an Ethernet header.
func ethernetIPv4(pkt []byte) []byte {
	return append([]byte{2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x08, 0x00}, pkt...)
}

// withUDPChecksum copies an IPv4 (no options) UDP datagram with its UDP
// checksum replaced.
func withUDPChecksum(ipv4 []byte, sum uint16) []byte {
	b := append([]byte{}, ipv4...)
	b[26], b[27] = byte(sum>>8), byte(sum)
	return b
}

func TestUDPChecksum(t *testing.T) {
	for _, tc := range []struct {
		name    string
		frame   []byte
		partial bool
	}{
		{"built", ethernetIPv4(IPv4UDP(clientMappingT8, netip.MustParseAddrPort("198.51.100.1:3544"), 1, 64, []byte("odd"))), false},
		{"no checksum", func() []byte {
			f := ethernetIPv4(IPv4UDP(clientMappingT8, netip.MustParseAddrPort("198.51.100.1:3544"), 1, 64, nil))
			f[14+26], f[14+27] = 0, 0
			return f
		}(), false},
		{"offloaded capture", unhex(t, frameRelayBubble), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u, err := DecodeUDP4(tc.frame)
			if err != nil {
				t.Fatal(err)
			}
			if u.ChecksumOK == tc.partial || u.ChecksumPartial != tc.partial {
				t.Errorf("ChecksumOK = %v, ChecksumPartial = %v", u.ChecksumOK, u.ChecksumPartial)
			}
		})
	}
}

func TestParseTeredo(t *testing.T) {
	bubble := Bubble(relayBubbleSrc, addrT8)
	// T9: the client's Router Solicitation with an Authentication header.
	rs := unhex(t, `0001 0000 43c84a662f0adcb3 00
		6000 0000 0008 3a ff fe80 0000 0000 0000 0000 0000 ffff ffff ff02 0000 0000 0000 0000 0000 0000 0002
		8500 7d37 0000 0000`)
	long := IPv6Packet(addrT8, relayBubbleSrc, ProtoNoNext, 0, make([]byte, 20))
	long[4], long[5] = 0, 100 // N6: payload length 100, 20 bytes present
	for _, tc := range []struct {
		name      string
		in        []byte
		err       error
		auth      bool
		origin    netip.AddrPort
		ipv6Len   int
		wantBubbl bool
	}{
		{"plain bubble", bubble, nil, false, netip.AddrPort{}, 40, true},
		{"T12 origin + bubble", WithOrigin(netip.MustParseAddrPort("198.51.100.1:3544"), bubble), nil, false, netip.MustParseAddrPort("198.51.100.1:3544"), 40, true},
		{"T9 auth + RS", rs, nil, true, netip.AddrPort{}, 48, false},
		{"auth + origin + bubble", append(rs[:13:13], WithOrigin(clientMappingT8, bubble)...), nil, true, clientMappingT8, 40, true},
		{"N7 trailer after bubble", append(append([]byte{}, bubble...), 0x01, 0x04, 0xde, 0xad, 0xbe, 0xef), nil, false, netip.AddrPort{}, 40, true},
		{"N5 unknown indicator", append([]byte{0, 2}, bubble...), ErrNotIPv6, false, netip.AddrPort{}, 0, false},
		{"N6 length beyond data", long, ErrShortTeredo, false, netip.AddrPort{}, 0, false},
		{"truncated auth", rs[:10], ErrShortTeredo, false, netip.AddrPort{}, 0, false},
		{"auth lengths beyond data", []byte{0, 1, 200, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, ErrShortTeredo, false, netip.AddrPort{}, 0, false},
		{"truncated origin", []byte{0, 0, 1, 2}, ErrShortTeredo, false, netip.AddrPort{}, 0, false},
		{"IPv4 inside", append([]byte{0x45}, make([]byte, 39)...), ErrNotIPv6, false, netip.AddrPort{}, 0, false},
		{"empty", nil, ErrShortTeredo, false, netip.AddrPort{}, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := ParseTeredo(tc.in)
			if !errors.Is(err, tc.err) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			if err != nil {
				return
			}
			if p.HasAuth != tc.auth || p.HasOrigin != tc.origin.IsValid() || p.Origin != tc.origin ||
				len(p.IPv6) != tc.ipv6Len || IsBubble(p.IPv6) != tc.wantBubbl {
				t.Errorf("got auth %v origin %v/%v ipv6 %d bubble %v", p.HasAuth, p.HasOrigin, p.Origin, len(p.IPv6), IsBubble(p.IPv6))
			}
		})
	}
}

func FuzzParseTeredo(f *testing.F) {
	f.Add(Bubble(relayBubbleSrc, addrT8))
	f.Add(WithOrigin(clientMappingT8, Bubble(relayBubbleSrc, addrT8)))
	f.Add(unhex(f, "0001 0000 43c84a662f0adcb3 00 6000 0000 0008 3a ff"))
	f.Add([]byte{0, 1, 255, 255})
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParseTeredo(b)
		if err != nil {
			return
		}
		if len(p.IPv6) < 40 || p.IPv6[0]>>4 != 6 || len(p.IPv6) > len(b) {
			t.Fatalf("accepted a bad IPv6 packet: %x", p.IPv6)
		}
		if want := 40 + int(p.IPv6[4])<<8 + int(p.IPv6[5]); len(p.IPv6) != want {
			t.Fatalf("IPv6 length %d, header says %d", len(p.IPv6), want)
		}
	})
}

func TestModeAndConfig(t *testing.T) {
	for in, want := range map[string]Mode{"one-armed": OneArmed, "Two-Armed": TwoArmed, "two": TwoArmed} {
		if got, err := ParseMode(in); err != nil || got != want {
			t.Errorf("ParseMode(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if _, err := ParseMode("three-armed"); err == nil {
		t.Error("ParseMode accepted three-armed")
	}
	env := RelaydEnv{Namespace: "tlab-x-relay", Mode: TwoArmed, Queues: 2, IPv4Iface: RelayIPv4Iface, IPv6Iface: RelayIPv6Iface,
		IPv4Addr: RelayIPv4, Port: TeredoPort, IPv6Addr: RelayIPv6, APISocket: "/tmp/x.sock", BubbleKeyFile: "/tmp/k", MetricsListen: "127.0.0.1:9542"}
	b, err := DefaultRelaydConfig(env)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"ipv4_side: ix4\n", "ipv6_side: ix6\n", "queues: [0, 1]\n",
		"ipv4:\n  address: 198.51.100.1\n  port: 3544\n", "ipv6:\n  address: 2001:db8:2::1\n", "socket: /tmp/x.sock\n"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("config lacks %q:\n%s", want, b)
		}
	}
	env.Mode, env.Queues = OneArmed, 1
	b, _ = DefaultRelaydConfig(env)
	if !strings.Contains(string(b), "one_armed: ix4\n") || !strings.Contains(string(b), "queues: [0]\n") {
		t.Errorf("one-armed config:\n%s", b)
	}
	if _, err := DefaultRelaydConfig(RelaydEnv{}); err == nil {
		t.Error("DefaultRelaydConfig accepted an env without addresses")
	}
	if got := DefaultRelaydArgs(RelaydEnv{ConfigPath: "c", ReadyFile: "r"}); strings.Join(got, " ") != "--config c --ready-file r" {
		t.Errorf("DefaultRelaydArgs = %q", got)
	}
}

func TestDescribe(t *testing.T) {
	u, err := DecodeUDP4(unhex(t, frameRelayBubble))
	if err != nil {
		t.Fatal(err)
	}
	want := "198.51.100.1:3544 > 192.0.2.1:3544 bubble fe80::4439:a801:d529:32ad > 2001:0:c000:201:3cc4:4b5f:34ff:8efe len 40"
	if got := u.Describe(); got != want {
		t.Errorf("Describe = %q, want %q", got, want)
	}
	u.Payload = WithOrigin(netip.MustParseAddrPort("198.51.100.1:3544"), EchoRequest(addrT8, NativeIPv6, 64, 1, 1, nil))
	if got := u.Describe(); !strings.Contains(got, "origin 198.51.100.1:3544 icmpv6 type 128 ") {
		t.Errorf("Describe = %q", got)
	}
}
