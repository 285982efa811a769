package config

import (
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseAnnounce(t *testing.T) {
	c, err := Parse([]byte(minimal + `
announce:
  enabled: true
  include_file: /run/x/announce.conf
  set_name: ACAST6
  birdc: /opt/bird/sbin/birdc
  socket: /run/x/bird.ctl
  prefixes: ["2001::/32", "2001:db8:100::/48"]
  rise: 1500ms
  timeout: 2s
drain:
  state_file: /var/lib/x/drained
`))
	if err != nil {
		t.Fatal(err)
	}
	want := Announce{Enabled: true, IncludeFile: "/run/x/announce.conf", SetName: "ACAST6", Birdc: "/opt/bird/sbin/birdc",
		Socket: "/run/x/bird.ctl", Prefixes: []netip.Prefix{netip.MustParsePrefix("2001::/32"), netip.MustParsePrefix("2001:db8:100::/48")},
		Rise: 1500 * time.Millisecond, Timeout: 2 * time.Second}
	if !reflect.DeepEqual(c.Announce, want) || c.Drain.StateFile != "/var/lib/x/drained" {
		t.Fatalf("announce %+v drain %+v", c.Announce, c.Drain)
	}
	// The drain file follows the bubble key's directory by default; "" disables it.
	c, err = Parse([]byte(minimal + "bubbles: {key_file: /srv/relay/key}\nannounce: {socket: \"\", rise: 0s}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Drain.StateFile != "/srv/relay/drained" || c.Announce.Socket != "" || c.Announce.Rise != 0 {
		t.Fatalf("drain %+v announce %+v", c.Drain, c.Announce)
	}
	c, err = Parse([]byte(minimal + "drain: {state_file: \"\"}\n"))
	if err != nil || c.Drain.StateFile != "" {
		t.Fatalf("disabled drain file: %+v %v", c, err)
	}
}

func TestParseAnnounceErrors(t *testing.T) {
	tests := []struct{ doc, want string }{
		{"announce: {enabled: maybe}\n", "announce.enabled: line 5: \"maybe\" is not a boolean"},
		{"announce: {include_file: rel.conf}\n", "announce.include_file: \"rel.conf\" is not an absolute path"},
		{"announce: {set_name: TEREDO-ANNOUNCE}\n", "announce.set_name: \"TEREDO-ANNOUNCE\" is not a BIRD symbol"},
		{"announce: {set_name: 1X}\n", "announce.set_name: \"1X\" is not a BIRD symbol"},
		{"announce: {birdc: \"birdc -v\"}\n", "announce.birdc: \"birdc -v\" is not a program path (no arguments)"},
		{"announce: {socket: bird.ctl}\n", "announce.socket: \"bird.ctl\" is not an absolute path"},
		{"announce: {prefixes: []}\n", "announce.prefixes: empty: list at least one IPv6 prefix"},
		{"announce: {prefixes: [192.0.2.0/24]}\n", "announce.prefixes[0]: \"192.0.2.0/24\" is not an IPv6 prefix"},
		{"announce: {prefixes: [\"::ffff:192.0.2.0/120\"]}\n", "announce.prefixes[0]: \"::ffff:192.0.2.0/120\" is not an IPv6 prefix"},
		{"announce: {prefixes: [\"2001::1/32\"]}\n", "announce.prefixes[0]: 2001::1/32 has host bits set (did you mean 2001::/32?)"},
		{"announce: {prefixes: [\"::/128\"]}\n", "announce.prefixes[0]: ::/128 is the include file's withdrawn placeholder"},
		{"announce: {prefixes: [\"2001::/32\", \"2001::/32\"]}\n", "announce.prefixes[1]: 2001::/32 is listed twice"},
		{"announce: {rise: 10}\n", "announce.rise: line 5: \"10\" is not a duration with a unit (like 10s or 500ms)"},
		{"announce: {rise: soon}\n", "announce.rise: line 5: \"soon\" is not a duration with a unit"},
		{"announce: {rise: -1s}\n", "announce.rise: -1s is out of range (0s-1h0m0s)"},
		{"announce: {rise: 2h}\n", "announce.rise: 2h0m0s is out of range"},
		{"announce: {timeout: 10ms}\n", "announce.timeout: 10ms is out of range (100ms-1m0s)"},
		{"announce: {rise: [1s]}\n", "announce.rise: line 5: \"[1s]\" is not a duration"},
		{"announce: {withdraw: true}\n", "unknown key announce.withdraw"},
		{"drain: {state_file: drained}\n", "drain.state_file: \"drained\" is not an absolute path (use \"\" to disable)"},
		{"drain: {file: /x}\n", "unknown key drain.file"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			_, err := Parse([]byte(minimal + tt.doc))
			if err == nil || !strings.HasPrefix(err.Error(), "config: ") || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestAnnounceNotReloadable(t *testing.T) {
	old, err := Parse([]byte(minimal))
	if err != nil {
		t.Fatal(err)
	}
	for extra, key := range map[string]string{
		"announce: {enabled: true}\n":                 "announce.enabled",
		"announce: {prefixes: [\"2001:db8::/32\"]}\n": "announce.prefixes",
		"announce: {rise: 1s}\n":                      "announce.rise",
		"announce: {socket: /x.ctl}\n":                "announce.socket",
		"drain: {state_file: /x}\n":                   "drain.state_file",
	} {
		next, err := Parse([]byte(minimal + extra))
		if err != nil {
			t.Fatal(err)
		}
		if err := old.CheckReload(next); err == nil || !strings.HasPrefix(err.Error(), "config: "+key+" cannot change on reload") {
			t.Errorf("%s: %v", strings.TrimSpace(extra), err)
		}
	}
}
