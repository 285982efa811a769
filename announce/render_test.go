package announce

import (
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/teredorelay/teredorelay/internal/testenv"
)

const header = "# Written by teredo-relayd (package announce); do not edit: it is rewritten\n"

func TestRender(t *testing.T) {
	teredo := []netip.Prefix{netip.MustParsePrefix("2001::/32")}
	two := []netip.Prefix{netip.MustParsePrefix("2001::/32"), netip.MustParsePrefix("2001:db8:100::/48")}
	tests := []struct {
		name     string
		set      string
		prefixes []netip.Prefix
		announce bool
		want     string
	}{
		{"announced", "TEREDO_ANNOUNCE", teredo, true, header +
			"# on every change. State: announced.\ndefine TEREDO_ANNOUNCE = [ 2001::/32 ];\n"},
		{"withdrawn", "TEREDO_ANNOUNCE", teredo, false, header +
			"# on every change. State: withdrawn (BIRD refuses an empty set: placeholder).\ndefine TEREDO_ANNOUNCE = [ ::/128 ];\n"},
		{"two prefixes", "ACAST6", two, true, header +
			"# on every change. State: announced.\ndefine ACAST6 = [ 2001::/32, 2001:db8:100::/48 ];\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(Render(tt.set, tt.prefixes, tt.announce)); got != tt.want {
				t.Fatalf("Render:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}

func TestSetNames(t *testing.T) {
	for name, ok := range map[string]bool{
		"TEREDO_ANNOUNCE": true, "_x": true, "a1": true, "": false, "1a": false, "A-B": false, "A B": false, "A;": false,
	} {
		if ValidSetName(name) != ok {
			t.Errorf("ValidSetName(%q) = %v", name, !ok)
		}
	}
}

func TestCheckPrefixes(t *testing.T) {
	p := netip.MustParsePrefix
	tests := []struct {
		in   []netip.Prefix
		want string // "" accepted
	}{
		{[]netip.Prefix{p("2001::/32")}, ""},
		{[]netip.Prefix{p("2001::/32"), p("2001:db8::/32")}, ""},
		{nil, "no prefix to announce"},
		{[]netip.Prefix{p("192.0.2.0/24")}, "prefixes[0]: 192.0.2.0/24 is not an IPv6 prefix"},
		{[]netip.Prefix{p("2001::1/32")}, "prefixes[0]: 2001::1/32 has host bits set (did you mean 2001::/32?)"},
		{[]netip.Prefix{p("::/128")}, "prefixes[0]: ::/128 is the withdrawn placeholder"},
		{[]netip.Prefix{p("2001::/32"), p("2001::/32")}, "prefixes[1]: 2001::/32 is listed twice"},
		{[]netip.Prefix{{}}, "prefixes[0]: invalid Prefix is not an IPv6 prefix"},
	}
	for _, tt := range tests {
		err := checkPrefixes(tt.in)
		if (err == nil) != (tt.want == "") || (err != nil && err.Error() != tt.want) {
			t.Errorf("checkPrefixes(%v) = %v, want %q", tt.in, err, tt.want)
		}
	}
}

// writeAtomic replaces the file, leaves no temporary file behind, creates
// the directory and makes the file readable by BIRD whatever the umask.
func TestWriteAtomic(t *testing.T) {
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)
	dir := filepath.Join(t.TempDir(), "bird")
	path := filepath.Join(dir, "announce.conf")
	for _, content := range []string{"first\n", "second, longer content\n", "x\n"} {
		if err := writeAtomic(path, []byte(content)); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(path)
		if err != nil || string(got) != content {
			t.Fatalf("read %q, %v; want %q", got, err, content)
		}
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != IncludeMode {
		t.Errorf("mode %v, want %v", fi.Mode().Perm(), os.FileMode(IncludeMode))
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only announce.conf: %v", len(entries), entries)
	}
	// A directory that cannot be created is an error naming the step.
	blocker := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(blocker, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := writeAtomic(filepath.Join(blocker, "announce.conf"), []byte("x")); err == nil ||
		!strings.HasPrefix(err.Error(), "create include directory: ") {
		t.Errorf("write under a file: %v", err)
	}
}

// relayBirdConf is the smallest relay-side BIRD configuration using the
// include file the way deploy/bird/bird.conf does.
const relayBirdConf = `router id 192.0.2.1;
include "INCLUDE";
protocol device {}
protocol static teredo6 { ipv6; route 2001::/32 blackhole; }
protocol bgp ix {
  local 2001:db8:99::1 as 65001;
  neighbor 2001:db8:99::2 as 65000;
  ipv6 { import none; export where net ~ TEREDO_ANNOUNCE; next hop self; };
}
`

// Both rendered states are accepted by BIRD's own parser (bird -p).
func TestRenderParsesWithBird(t *testing.T) {
	testenv.RequireBinary(t, "bird")
	dir := t.TempDir()
	for _, announce := range []bool{true, false} {
		inc := filepath.Join(dir, "announce.conf")
		if err := writeAtomic(inc, Render(DefaultSetName, DefaultPrefixes, announce)); err != nil {
			t.Fatal(err)
		}
		conf := filepath.Join(dir, "bird.conf")
		if err := os.WriteFile(conf, []byte(strings.Replace(relayBirdConf, "INCLUDE", inc, 1)), 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command("bird", "-p", "-c", conf).CombinedOutput(); err != nil {
			t.Errorf("bird -p with the %s include: %v\n%s", stateName(announce), err, out)
		}
	}
}
