package config

import (
	"errors"
	"io/fs"
	"log/slog"
	"net/netip"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

const minimal = `
interfaces: {one_armed: eth0}
ipv4: {address: 192.0.2.1}
ipv6: {address: "2001:db8::1"}
`

func TestParseDefaults(t *testing.T) {
	c, err := Parse([]byte(minimal))
	if err != nil {
		t.Fatal(err)
	}
	want := &Config{
		Interfaces: Interfaces{OneArmed: "eth0"},
		Queues:     []int{0},
		XDP:        XDP{Mode: XDPAuto},
		Socket:     Socket{Mode: SocketAuto, RXRing: 2048, TXRing: 2048, FillRing: 2048, CompletionRing: 2048, IdlePoll: 200 * time.Microsecond},
		UMEM:       UMEM{Frames: 8192, FrameSize: 2048, Headroom: 64, Sharing: SharingAuto},
		IPv4:       IPv4{Addresses: []netip.Addr{netip.MustParseAddr("192.0.2.1")}, Port: 3544},
		IPv6:       IPv6{Address: netip.MustParseAddr("2001:db8::1")},
		Peers:      Peers{Capacity: 1 << 20, QueueBytesPerPeer: 1280, QueueBytesTotal: 64 << 20},
		Bubbles:    Bubbles{KeyFile: "/var/lib/teredo-relayd/bubble.key", Direct: false},

		AcceptSymmetricNAT: true,
		EncapUDPChecksum:   true,
		ICMPv6:             ICMPv6{Rate: 100, Burst: 50, Enabled: true},
		API:                API{Socket: "/run/teredo-relayd/api.sock", AdminGroup: "teredo-relayd-admin"},
		Metrics:            Metrics{Listen: "127.0.0.1:9542"},
		Log:                Log{Level: slog.LevelInfo, Format: LogText},
		Announce: Announce{Enabled: false, IncludeFile: "/run/teredo-relayd-bird/announce.conf", SetName: "TEREDO_ANNOUNCE",
			Birdc: "/usr/sbin/birdc", Socket: "/run/bird/bird.ctl", Prefixes: []netip.Prefix{netip.MustParsePrefix("2001::/32")},
			Rise: 10 * time.Second, Timeout: 5 * time.Second},
		Drain:     Drain{StateFile: "/var/lib/teredo-relayd/drained"},
		PeerState: PeerState{File: "/var/lib/teredo-relayd/peers.state", SaveInterval: 10 * time.Second, MaxPeers: 1 << 20},
		RateLimits: RateLimits{NewPeerRate: 50, NewPeerBurst: 100, BubbleRate: 5000, BubbleBurst: 5000,
			ClientSlowPathRate: 100, ClientSlowPathBurst: 200, DestinationHandoffRate: 10, DestinationHandoffBurst: 10, BubbleShare: 0.25},
	}
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("defaults:\n got %+v\nwant %+v", c, want)
	}
	if c.Interfaces.TwoArmed() || c.Interfaces.IPv4Name() != "eth0" || c.Interfaces.IPv6Name() != "eth0" {
		t.Fatalf("one-armed accessors wrong: %+v", c.Interfaces)
	}
}

func TestParseValues(t *testing.T) {
	c, err := Parse([]byte(`
interfaces: {ipv4_side: v4, ipv6_side: v6}
queues: [0, 3]
cpus: [1, 0]
xdp: {mode: generic}
socket: {mode: copy, rx_ring: 512, tx_ring: 1024, fill_ring: 4096, completion_ring: 64, idle_poll: 0s}
umem: {frames: 16384, frame_size: 4096, headroom: 128, sharing: separate}
ipv4: {address: [192.0.2.1, 192.0.2.2], port: 3545}
ipv6: {address: "2001:db8::5"}
peers: {capacity: 100, queue_bytes_per_peer: 1, queue_bytes_total: 1000}
bubbles: {key_file: /tmp/k, direct: true}
accept_unknown_peers: true
accept_symmetric_nat: false
extra_bogons: [198.51.100.0/24]
icmpv6: {rate: 2.5, burst: 3}
api: {socket: /tmp/api.sock}
metrics: {listen: ""}
log: {level: debug, format: json}
`))
	if err != nil {
		t.Fatal(err)
	}
	if !c.Interfaces.TwoArmed() || c.Interfaces.IPv4Name() != "v4" || c.Interfaces.IPv6Name() != "v6" {
		t.Errorf("interfaces %+v", c.Interfaces)
	}
	if !reflect.DeepEqual(c.Queues, []int{0, 3}) || !reflect.DeepEqual(c.CPUs, []int{1, 0}) {
		t.Errorf("queues %v cpus %v", c.Queues, c.CPUs)
	}
	if c.XDP.Mode != XDPGeneric || c.Socket != (Socket{SocketCopy, 512, 1024, 4096, 64, 0}) {
		t.Errorf("xdp %v socket %+v", c.XDP, c.Socket)
	}
	if c.UMEM != (UMEM{16384, 4096, 128, SharingSeparate}) {
		t.Errorf("umem %+v", c.UMEM)
	}
	if len(c.IPv4.Addresses) != 2 || c.IPv4.Addresses[1] != netip.MustParseAddr("192.0.2.2") || c.IPv4.Port != 3545 {
		t.Errorf("ipv4 %+v", c.IPv4)
	}
	if c.Peers != (Peers{100, 1, 1000}) || c.Bubbles != (Bubbles{"/tmp/k", true}) {
		t.Errorf("peers %+v bubbles %+v", c.Peers, c.Bubbles)
	}
	if !c.AcceptUnknownPeers || c.AcceptSymmetricNAT || len(c.ExtraBogons) != 1 || c.ExtraBogons[0] != netip.MustParsePrefix("198.51.100.0/24") {
		t.Errorf("policy %+v", c)
	}
	if c.ICMPv6 != (ICMPv6{2.5, 3, true}) || c.API.Socket != "/tmp/api.sock" || c.Metrics.Listen != "" {
		t.Errorf("icmpv6 %+v api %+v metrics %+v", c.ICMPv6, c.API, c.Metrics)
	}
	if c.Log != (Log{slog.LevelDebug, LogJSON}) {
		t.Errorf("log %+v", c.Log)
	}
}

func TestQueueCount(t *testing.T) {
	c, err := Parse([]byte(minimal + "queues: 3\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c.Queues, []int{0, 1, 2}) {
		t.Fatalf("queues: 3 gave %v", c.Queues)
	}
}

// TestParseErrors checks that each bad value yields one error naming its key.
func TestParseErrors(t *testing.T) {
	base := `
interfaces: {one_armed: eth0}
ipv4: {address: 192.0.2.1}
ipv6: {address: "2001:db8::1"}
`
	tests := []struct {
		name string
		doc  string
		want string
	}{
		{"empty", ``, "empty file"},
		{"unknown top-level key", base + "bogus: 1\n", "line 5: unknown key bogus"},
		{"unknown nested key", base + "umem: {frames: 8192, frame: 1}\n", "unknown key umem.frame"},
		{"repeated key", base + "queues: 1\nqueues: 2\n", "key queues is repeated"},
		{"not a mapping", base + "socket: copy\n", "socket: line 5: expected a mapping"},
		{"no interfaces", `ipv4: {address: 192.0.2.1}`, "interfaces: missing"},
		{"both interface kinds", base + "interfaces: {one_armed: a, ipv4_side: b}\n", "key interfaces is repeated"},
		{"one-armed and sides", `interfaces: {one_armed: a, ipv4_side: b}`, "interfaces: set either one_armed"},
		{"missing ipv6 side", `interfaces: {ipv4_side: a}`, "interfaces.ipv6_side: missing"},
		{"same sides", `interfaces: {ipv4_side: a, ipv6_side: a}`, "interfaces.ipv6_side: \"a\" is also ipv4_side"},
		{"bad interface name", `interfaces: {one_armed: "a/b"}`, "interfaces.one_armed: \"a/b\" is not an interface name"},
		{"long interface name", `interfaces: {one_armed: abcdefghijklmnop}`, "interfaces.one_armed: \"abcdefghijklmnop\""},
		{"queue count zero", base + "queues: 0\n", "queues: 0 is not a queue count"},
		{"queue string", base + "queues: many\n", "queues: line 5: \"many\" is neither a count"},
		{"queue list dup", base + "queues: [1, 1]\n", "queues[1]: queue 1 is listed twice"},
		{"queue list negative", base + "queues: [-1]\n", "queues[0]: -1 is not a queue id"},
		{"queue list item", base + "queues: [0, x]\n", "queues: line 5: item 1: \"x\" is not an integer"},
		{"cpus count", base + "queues: 2\ncpus: [0]\n", "cpus: 1 entries for 2 queues"},
		{"cpus negative", base + "cpus: [-1]\n", "cpus[0]: -1 is not a CPU number"},
		{"xdp mode", base + "xdp: {mode: turbo}\n", "xdp.mode: \"turbo\" is not one of auto, native, generic"},
		{"socket mode", base + "socket: {mode: fast}\n", "socket.mode: \"fast\" is not one of auto, zerocopy, copy"},
		{"ring not power of two", base + "socket: {rx_ring: 1000}\n", "socket.rx_ring: 1000 is not a power of two"},
		{"ring too small", base + "socket: {tx_ring: 32}\n", "socket.tx_ring: 32 is out of range"},
		{"ring type", base + "socket: {fill_ring: big}\n", "socket.fill_ring: line 5: \"big\" is not an integer"},
		{"idle poll without unit", base + "socket: {idle_poll: 200}\n", "socket.idle_poll: line 5: \"200\" is not a duration with a unit"},
		{"idle poll too long", base + "socket: {idle_poll: 1s}\n", "socket.idle_poll: 1s is out of range"},
		{"frame size", base + "umem: {frame_size: 3000}\n", "umem.frame_size: 3000 is not 2048 or 4096"},
		{"headroom", base + "umem: {headroom: 512}\n", "umem.headroom: 512 is out of range (0-274)"},
		{"frames", base + "umem: {frames: 100}\n", "umem.frames: 100 is out of range"},
		{"frames for two sockets sharing a UMEM", "interfaces: {ipv4_side: a, ipv6_side: b}\nipv4: {address: 192.0.2.1}\nipv6: {address: \"2001:db8::1\"}\numem: {frames: 4096}\n", "umem.frames: 4096 is out of range (8192-4194304) (the frames must cover socket.fill_ring + socket.tx_ring of each of the 2 socket(s) on a UMEM: 8192)"},
		{"sharing", base + "umem: {sharing: maybe}\n", "umem.sharing: \"maybe\" is not one of"},
		{"ipv4 missing", `interfaces: {one_armed: eth0}`, "ipv4.address: missing"},
		{"ipv4 bad", `{interfaces: {one_armed: eth0}, ipv4: {address: 198.51.100.300}}`, "ipv4.address: 198.51.100.300 is not an IPv4 address"},
		{"ipv4 v6", `{interfaces: {one_armed: eth0}, ipv4: {address: "2001:db8::1"}}`, "ipv4.address: 2001:db8::1 is not an IPv4 address"},
		{"ipv4 list item", `{interfaces: {one_armed: eth0}, ipv4: {address: [192.0.2.1, x]}}`, "ipv4.address[1]: x is not an IPv4 address"},
		{"ipv4 multicast", `{interfaces: {one_armed: eth0}, ipv4: {address: 224.0.0.1}}`, "ipv4.address: 224.0.0.1 is not a unicast address"},
		{"ipv4 dup", `{interfaces: {one_armed: eth0}, ipv4: {address: [192.0.2.1, 192.0.2.1]}}`, "ipv4.address[1]: 192.0.2.1 is listed twice"},
		{"ipv4 port", base + "ipv4: {address: 192.0.2.1, port: 70000}\n", "key ipv4 is repeated"},
		{"ipv4 port range", `{interfaces: {one_armed: eth0}, ipv4: {address: 192.0.2.1, port: 0}}`, "ipv4.port: 0 is out of range"},
		{"ipv6 missing", `{interfaces: {one_armed: eth0}, ipv4: {address: 192.0.2.1}}`, "ipv6.address: missing"},
		{"ipv6 bad", `{interfaces: {one_armed: eth0}, ipv4: {address: 192.0.2.1}, ipv6: {address: 192.0.2.1}}`, "ipv6.address: 192.0.2.1 is not an IPv6 address"},
		{"ipv6 link-local", `{interfaces: {one_armed: eth0}, ipv4: {address: 192.0.2.1}, ipv6: {address: "fe80::1"}}`, "ipv6.address: fe80::1 is not a global unicast"},
		{"ipv6 teredo", `{interfaces: {one_armed: eth0}, ipv4: {address: 192.0.2.1}, ipv6: {address: "2001:0:c000:201::1"}}`, "ipv6.address: 2001:0:c000:201::1 is in the Teredo prefix 2001::/32: use the relay's native IPv6 address"},
		{"capacity", base + "peers: {capacity: 1}\n", "peers.capacity: 1 is out of range"},
		{"queue total", base + "peers: {queue_bytes_per_peer: 100, queue_bytes_total: 10}\n", "peers.queue_bytes_total: 10 is out of range"},
		{"key file", base + "bubbles: {key_file: rel/key}\n", "bubbles.key_file: \"rel/key\" is not an absolute path"},
		{"direct type", base + "bubbles: {direct: maybe}\n", "bubbles.direct: line 5: \"maybe\" is not a boolean"},
		{"accept type", base + "accept_unknown_peers: 3\n", "accept_unknown_peers: line 5: \"3\" is not a boolean"},
		{"bogon", base + "extra_bogons: [300.0.0.0/8]\n", "extra_bogons[0]: \"300.0.0.0/8\" is not an IPv4 prefix"},
		{"bogon v6", base + "extra_bogons: [\"2001:db8::/32\"]\n", "extra_bogons[0]: \"2001:db8::/32\" is not an IPv4 prefix"},
		{"bogon host bits", base + "extra_bogons: [192.0.2.1/24]\n", "extra_bogons[0]: 192.0.2.1/24 has host bits set"},
		{"icmp rate", base + "icmpv6: {rate: 0}\n", "icmpv6.rate: 0 is out of range"},
		{"icmp burst", base + "icmpv6: {burst: 0}\n", "icmpv6.burst: 0 is out of range"},
		{"api socket", base + "api: {socket: api.sock}\n", "api.socket: \"api.sock\" is not an absolute path"},
		{"metrics listen", base + "metrics: {listen: nowhere}\n", "metrics.listen: \"nowhere\" is not host:port"},
		{"metrics listen port range", base + "metrics: {listen: \"127.0.0.1:95420\"}\n", `metrics.listen: "127.0.0.1:95420": port "95420" is not a number from 1 to 65535`},
		{"metrics listen port name", base + "metrics: {listen: \"127.0.0.1:http\"}\n", `port "http" is not a number`},
		{"metrics listen port zero", base + "metrics: {listen: \"[::]:0\"}\n", `port "0" is not a number`},
		{"metrics listen host name", base + "metrics: {listen: \"metrics.example:9542\"}\n", `"metrics.example" is not an IP address (host names are not accepted`},
		{"metrics listen bad address", base + "metrics: {listen: \"300.1.1.1:9542\"}\n", `"300.1.1.1" is not an IP address`},
		{"web config relative", base + "metrics: {web_config_file: web.yml}\n", `metrics.web_config_file: "web.yml" is not an absolute path`},
		{"admin group", base + "api: {admin_group: \"ops team\"}\n", `api.admin_group: "ops team" is not a group name`},
		{"fractional integer", base + "peers: {capacity: 1048576.5}\n", `peers.capacity: line 5: "1048576.5" is not an integer`},
		{"integer written as a float", base + "peers: {capacity: 1048576.0}\n", `peers.capacity: line 5: "1048576.0" is not an integer`},
		{"exponent integer", base + "umem: {frames: 1e4}\n", `umem.frames: line 5: "1e4" is not an integer`},
		{"fractional port", base + "server: {mtu: 1280.5}\nroles: [relay, server]\n", `server.mtu: line 5: "1280.5" is not an integer`},
		{"fractional cpu", base + "cpus: [0.5]\n", `cpus: line 5: item 0: "0.5" is not an integer`},
		{"boolean yes", base + "accept_unknown_peers: yes\n", `accept_unknown_peers: line 5: "yes" is not a boolean: write true or false`},
		{"boolean on", base + "bubbles: {direct: on}\n", `bubbles.direct: line 5: "on" is not a boolean`},
		{"boolean capitalised", base + "icmpv6: {enabled: True}\n", `icmpv6.enabled: line 5: "True" is not a boolean`},
		{"boolean quoted", base + "announce: {enabled: \"true\"}\n", `announce.enabled: line 5: "true" is not a boolean`},
		{"infinite rate", base + "icmpv6: {rate: .inf}\n", `icmpv6.rate: line 5: ".inf" is not a finite number`},
		{"queue per peer over the cache's limit", base + "peers: {queue_bytes_per_peer: 70000}\n", "peers.queue_bytes_per_peer: 70000 is out of range (1-65535)"},
		{"log level", base + "log: {level: loud}\n", "log.level: \"loud\" is not one of debug, info, warn, error"},
		{"log format", base + "log: {format: xml}\n", "log.format: \"xml\" is not one of text, json"},
		{"yaml syntax", "interfaces: [\n", "parse yaml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.doc))
			if err == nil {
				t.Fatalf("no error, want %q", tt.want)
			}
			if !strings.HasPrefix(err.Error(), "config: ") || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q\nwant it to start with \"config: \" and contain %q", err, tt.want)
			}
			if strings.Count(err.Error(), "\n") != 0 {
				t.Fatalf("error spans lines: %q", err)
			}
		})
	}
}

func TestExampleFileLoads(t *testing.T) {
	c, err := Load("../deploy/teredo-relayd.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if c.Interfaces.OneArmed != "ix0" || c.IPv4.Addresses[0] != netip.MustParseAddr("192.0.2.1") ||
		len(c.ExtraBogons) != 1 || c.Metrics.Listen != "127.0.0.1:9542" {
		t.Fatalf("example decoded to %+v", c)
	}
}

func TestCheckReload(t *testing.T) {
	old, err := Parse([]byte(minimal))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		extra string
		want  string // "" = accepted
	}{
		{"same", "", ""},
		{"log level", "log: {level: debug}\n", ""},
		{"policy", "accept_unknown_peers: false\naccept_symmetric_nat: false\nencap_udp_checksum: false\nbubbles: {direct: true}\nicmpv6: {rate: 5, burst: 1}\nextra_bogons: [198.51.100.0/24]\n", ""},
		{"queues", "queues: 2\n", "config: queues cannot change on reload"},
		{"umem", "umem: {frames: 16384}\n", "config: umem.frames cannot change on reload"},
		{"log format", "log: {format: json}\n", "config: log.format cannot change on reload"},
		{"key file", "bubbles: {key_file: /x}\n", "config: bubbles.key_file cannot change on reload"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			next, err := Parse([]byte(minimal + tt.extra))
			if err != nil {
				t.Fatal(err)
			}
			err = old.CheckReload(next)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) || !strings.HasSuffix(err.Error(), "restart the daemon") {
				t.Fatalf("error %v, want prefix %q", err, tt.want)
			}
		})
	}
	addr, _ := Parse([]byte(strings.Replace(minimal, "192.0.2.1", "192.0.2.9", 1)))
	if err := old.CheckReload(addr); err == nil || !strings.Contains(err.Error(), "ipv4.address cannot change on reload") {
		t.Fatalf("address change: %v", err)
	}
	iface, _ := Parse([]byte(strings.Replace(minimal, "eth0", "eth1", 1)))
	if err := old.CheckReload(iface); err == nil || !strings.Contains(err.Error(), "interfaces.one_armed cannot change on reload (eth0 → eth1); restart the daemon") {
		t.Fatalf("interface change: %v", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(minimal))
	f.Add([]byte("queues: [1, 2]\nipv4: {address: [a, b]}"))
	f.Add([]byte("a: &x {b: 1}\nc: *x"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := Parse(b)
		if err == nil && (len(c.Queues) == 0 || len(c.IPv4.Addresses) == 0 || !c.IPv6.Address.Is6()) {
			t.Fatalf("accepted an incomplete config: %+v", c)
		}
		if err != nil && !strings.HasPrefix(err.Error(), "config: ") {
			t.Fatalf("error without prefix: %v", err)
		}
	})
}

func TestLoadMissingFileNamesPathOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "absent.yaml")
	_, err := Load(path)
	if want := "config: read " + path + ": no such file or directory"; err == nil || err.Error() != want || !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("err %v, want %q wrapping fs.ErrNotExist", err, want)
	}
}
