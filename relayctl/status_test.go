package relayctl

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/teredorelay/teredorelay/control/api"
)

func TestDrainLine(t *testing.T) {
	const file = "/var/lib/teredo-relayd/drained"
	tests := []struct {
		name     string
		draining bool
		drain    api.Drain
		want     string
	}{
		{"no file, undrained", false, api.Drain{}, "no"},
		{"no file, drained", true, api.Drain{}, "yes (not persisted: drain.state_file is not set, a restart undrains)"},
		{"persisted", true, api.Drain{StateFile: file, Persisted: true}, "yes (persisted in " + file + ")"},
		{"drained, file gone", true, api.Drain{StateFile: file}, "yes (NOT persisted: " + file + " is missing, a restart undrains)"},
		{"undrained, file left", false, api.Drain{StateFile: file, Persisted: true}, "no (but " + file + " exists: a restart starts drained)"},
		{"undrained", false, api.Drain{StateFile: file}, "no (drains persist in " + file + ")"},
	}
	for _, tt := range tests {
		if got := drainLine(&api.Status{Draining: tt.draining, Drain: tt.drain}); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestAnnounceLine(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		a    api.Announce
		want string
	}{
		{"off", api.Announce{}, "off (announce.enabled is false)"},
		{"starting", api.Announce{Enabled: true, Prefixes: []string{"2001::/32"}},
			"2001::/32: want withdraw, no configuration accepted by BIRD yet; 0 announcements, 0 withdrawals, 0 errors"},
		{"announced", api.Announce{Enabled: true, Prefixes: []string{"2001::/32"}, Desired: true, Announced: true, Confirmed: true,
			Announcements: 1, LastSuccess: at},
			"2001::/32: want announce, BIRD accepted the announcing config (last 2026-03-01T12:00:00Z); 1 announcements, 0 withdrawals, 0 errors"},
		{"stuck announced while drained", api.Announce{Enabled: true, Prefixes: []string{"2001::/32", "2001:db8::/48"}, Announced: true,
			Confirmed: true, Announcements: 1, Errors: 3, LastSuccess: at, LastError: "birdc: connection refused", LastErrorTime: at.Add(time.Minute)},
			"2001::/32, 2001:db8::/48: want withdraw, BIRD accepted the announcing config (last 2026-03-01T12:00:00Z); 1 announcements, 0 withdrawals, 3 errors" +
				" — MISMATCH; last error 2026-03-01T12:01:00Z: birdc: connection refused"},
	}
	for _, tt := range tests {
		if got := announceLine(&tt.a); got != tt.want {
			t.Errorf("%s:\n got %q\nwant %q", tt.name, got, tt.want)
		}
	}
}

// A relay-only status has no server rows.
func TestStatusWithoutServer(t *testing.T) {
	var b bytes.Buffer
	printStatus(&b, &api.Status{Roles: []string{"relay"}, Addresses: []string{"192.0.2.1:3544"}, Ready: true})
	if strings.Contains(b.String(), "server") || !strings.Contains(b.String(), "roles:") {
		t.Errorf("relay-only status:\n%s", b.String())
	}
}

// The bgp line separates what BIRD exports on Established sessions from
// BIRD having accepted the configuration.
func TestBGPLine(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 10, 0, time.UTC)
	asked := now.Add(-4 * time.Second)
	announced := api.Announce{Enabled: true, Prefixes: []string{"2001::/32"}, Desired: true, Announced: true, Confirmed: true, SessionsTime: asked}
	tests := []struct {
		name string
		a    api.Announce
		want string
	}{
		{"off", api.Announce{}, ""},
		{"not asked", api.Announce{Enabled: true}, "not asked yet (birdc show protocols, every 10 s)"},
		{"birdc fails", api.Announce{Enabled: true, SessionsTime: asked, SessionsError: "birdc show protocols: timed out after 5s"},
			"BIRD could not be asked: birdc show protocols: timed out after 5s (asked 4.0s ago)"},
		{"exported", func() api.Announce {
			a := announced
			a.Sessions = []api.BGPSession{{Name: "rs1", State: "up Established", Established: true, Exported: true}, {Name: "rs2", State: "start Connect"}}
			return a
		}(), "exported on rs1 (up Established); not on rs2 (start Connect) (asked 4.0s ago)"},
		{"accepted but no session up", func() api.Announce {
			a := announced
			a.Sessions = []api.BGPSession{{Name: "rs1", State: "start Active Socket: Connection refused"}}
			return a
		}(), "exported on no Established session; not on rs1 (start Active Socket: Connection refused) — ANNOUNCED BUT NOT EXPORTED (asked 4.0s ago)"},
		{"no BGP at all", announced, "BIRD has no BGP session — ANNOUNCED BUT NOT EXPORTED (asked 4.0s ago)"},
	}
	for _, tt := range tests {
		if got := bgpLine(&tt.a, now); got != tt.want {
			t.Errorf("%s:\n got %q\nwant %q", tt.name, got, tt.want)
		}
	}
}
