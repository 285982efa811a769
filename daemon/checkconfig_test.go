package daemon

import (
	"bytes"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/teredorelay/teredorelay/config"
)

func parse(t *testing.T, doc string) *config.Config {
	t.Helper()
	c, err := config.Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

const checkBase = "ipv4: {address: 192.0.2.1}\nipv6: {address: \"2001:db8::1\"}\n"

func TestHostCheck(t *testing.T) {
	h := &host{name: "relay-a", ifaces: map[string]bool{"lo": true, "ix0": true},
		addrs: map[netip.Addr]bool{netip.MustParseAddr("127.0.0.1"): true, netip.MustParseAddr("192.0.2.1"): true}}
	tests := []struct {
		name, doc, err string
		notes          []string
	}{
		{"all present", "interfaces: {one_armed: ix0}\n" + checkBase, "",
			[]string{"checked on this host (relay-a): interface(s) ix0 present, ipv4.address assigned",
				"warning: ipv6.address 2001:db8::1 is not assigned here: the relay still sends from it, but nothing answers to it"}},
		{"interface missing", "interfaces: {one_armed: eth9}\n" + checkBase,
			"config: interfaces.one_armed: eth9: no such network interface on this host (relay-a); checking a file meant for another host? add -skip-host-checks", nil},
		{"both sides missing", "interfaces: {ipv4_side: v4, ipv6_side: v6}\n" + checkBase,
			"config: interfaces.ipv4_side: v4: no such network interface on this host (relay-a)\nconfig: interfaces.ipv6_side: v6: no such network interface on this host (relay-a); checking", nil},
		{"address not here", "interfaces: {one_armed: ix0}\nipv4: {address: [192.0.2.1, 192.0.2.9]}\nipv6: {address: \"2001:db8::1\"}\n",
			"config: ipv4.address: 192.0.2.9 not assigned to an interface on this host (relay-a)", nil},
		{"metrics on an address not here", "interfaces: {one_armed: ix0}\n" + checkBase + "metrics: {listen: \"198.51.100.7:9542\"}\n",
			"config: metrics.listen: 198.51.100.7 is not assigned to an interface on this host (relay-a)", nil},
		{"metrics on every address", "interfaces: {one_armed: ix0}\n" + checkBase + "metrics: {listen: \"[::]:9542\"}\n", "", nil},
		{"server addresses", "interfaces: {one_armed: ix0}\n" + checkBase + "roles: [relay, server]\nserver: {primary: 192.0.2.1}\n", "",
			[]string{"checked on this host (relay-a): interface(s) ix0 present, ipv4.address assigned",
				"warning: ipv6.address 2001:db8::1 is not assigned here: the relay still sends from it, but nothing answers to it",
				"warning: server.secondary 192.0.2.2 is not assigned here: the kernel will not answer ARP for it"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			notes, err := h.check(parse(t, tt.doc))
			switch {
			case tt.err == "" && err != nil:
				t.Fatalf("error %v", err)
			case tt.err != "" && (err == nil || !strings.HasPrefix(err.Error(), tt.err)):
				t.Fatalf("error %v\nwant prefix %q", err, tt.err)
			}
			if tt.notes != nil && strings.Join(notes, "\n") != strings.Join(tt.notes, "\n") {
				t.Errorf("notes\n%s\nwant\n%s", strings.Join(notes, "\n"), strings.Join(tt.notes, "\n"))
			}
		})
	}
}

func TestFootprint(t *testing.T) {
	cfg := parse(t, "interfaces: {ipv4_side: a, ipv6_side: b}\nqueues: 2\n"+checkBase+
		"umem: {frames: 8192, sharing: separate}\npeers: {capacity: 100000, queue_bytes_total: 1048576}\n")
	f, err := MeasureFootprint(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if f.UMEMLocked != 2*2*8192*2048 || f.UMEMs != 4 || f.UMEMMayDouble {
		t.Errorf("UMEM %d in %d (may double %v), want 64 MiB in 4", f.UMEMLocked, f.UMEMs, f.UMEMMayDouble)
	}
	if !f.Measured {
		t.Fatal("not measured")
	}
	// The arena: 8192 chunks of 128 bytes plus a 4-byte link and a 2-byte
	// length each; the table: 104-byte entries plus 6-12 bytes of index.
	if want := uint64(8192 * (128 + 6)); f.QueueArena < want || f.QueueArena > want+4096 {
		t.Errorf("queue arena %d, want about %d", f.QueueArena, want)
	}
	if per := float64(f.PeerTable) / 100000; per < 104 || per > 128 {
		t.Errorf("peer table %d bytes: %.1f per entry, want 104-128", f.PeerTable, per)
	}
	cfg = parse(t, "interfaces: {ipv4_side: a, ipv6_side: b}\n"+checkBase)
	if f, _ = MeasureFootprint(cfg); f.UMEMLocked != 8192*2048*1 || f.UMEMs != 1 || !f.UMEMMayDouble {
		t.Errorf("two-armed auto: %+v", f)
	}
}

func TestCheckConfigReport(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "relayd.yaml")
	if err := os.WriteFile(path, []byte("interfaces: {one_armed: nosuch0}\n"+checkBase+"peers: {capacity: 1024, queue_bytes_total: 131072}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := CheckConfig(&out, path, CheckOptions{}); err == nil || !strings.Contains(err.Error(), "interfaces.one_armed: nosuch0: no such network interface on this host") {
		t.Fatalf("host check: %v", err)
	}
	out.Reset()
	if err := CheckConfig(&out, path, CheckOptions{SkipHost: true}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		path + ": configuration OK\n",
		"  host checks skipped (-skip-host-checks): interfaces and addresses not verified\n",
		"memory:\n",
		"   16 MiB  UMEM, locked: 1 UMEM(s) of 8192 frames × 2048 B, pinned by the kernel\n",
		"KiB  peer table: 1024 entries (peers.capacity), allocated and made resident at start (measured)\n",
		"KiB  queue arena: peers.queue_bytes_total 128 KiB and its chunk index, allocated at start\n",
		"MiB  total\n",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
	webConfig := filepath.Join(dir, "web.yml")
	os.WriteFile(webConfig, []byte("tls_server_config: {cert_file: /nonexistent.crt, key_file: /nonexistent.key}\n"), 0o644)
	os.WriteFile(path, []byte("interfaces: {one_armed: lo}\n"+checkBase+"metrics: {web_config_file: "+webConfig+"}\n"), 0o644)
	if err := CheckConfig(&out, path, CheckOptions{SkipHost: true}); err == nil || !strings.HasPrefix(err.Error(), "config: metrics.web_config_file: web configuration "+webConfig) {
		t.Errorf("bad web configuration: %v", err)
	}
}

func TestIEC(t *testing.T) {
	for n, want := range map[uint64]string{0: "0 B", 1023: "1023 B", 1024: "1 KiB", 1536: "1.5 KiB", 16 << 20: "16 MiB",
		117 << 20: "117 MiB", 1181116006: "1.1 GiB"} {
		if got := IEC(n); got != want {
			t.Errorf("IEC(%d) = %q, want %q", n, got, want)
		}
	}
}
