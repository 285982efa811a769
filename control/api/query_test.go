package api_test

import (
	"net/netip"
	"net/url"
	"strings"
	"testing"

	"github.com/teredorelay/teredorelay/control/api"
)

func TestParsePeerQuery(t *testing.T) {
	tests := []struct {
		name, query string
		want        api.PeerQuery
		err         string
	}{
		{"defaults", "", api.PeerQuery{Sort: api.SortLastRx, Limit: api.DefaultLimit}, ""},
		{"all", "state=trusted&v4=198.51.100.77/24&server=192.0.2.1&sort=rx-bytes&limit=10000",
			api.PeerQuery{PeerFilter: api.PeerFilter{State: "trusted", V4: netip.MustParsePrefix("198.51.100.0/24"),
				Server: netip.MustParseAddr("192.0.2.1")}, Sort: "rx-bytes", Limit: 10000}, ""},
		{"bare v4 address is a /32", "v4=203.0.113.9", api.PeerQuery{PeerFilter: api.PeerFilter{V4: netip.MustParsePrefix("203.0.113.9/32")},
			Sort: api.SortLastRx, Limit: api.DefaultLimit}, ""},
		{"bad state", "state=Trusted", api.PeerQuery{}, `state "Trusted" is not one of pending, trusted`},
		{"v6 prefix", "v4=2001::/32", api.PeerQuery{}, `v4 "2001::/32" is not an IPv4 prefix`},
		{"mapped v4 in v6", "v4=::ffff:192.0.2.1", api.PeerQuery{}, `v4 "::ffff:192.0.2.1" is not an IPv4 prefix`},
		{"garbage v4", "v4=nope", api.PeerQuery{}, `v4 "nope" is not an IPv4 prefix`},
		{"v6 server", "server=2001:db8::1", api.PeerQuery{}, `server "2001:db8::1" is not an IPv4 address`},
		{"sort", "sort=LAST-RX", api.PeerQuery{}, `sort "LAST-RX" is not one of`},
		{"limit zero", "limit=0", api.PeerQuery{}, `limit "0" is not an integer from 1 to 10000`},
		{"limit text", "limit=all", api.PeerQuery{}, `limit "all" is not an integer`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := url.ParseQuery(tt.query)
			if err != nil {
				t.Fatal(err)
			}
			got, err := api.ParsePeerQuery(v)
			if tt.err != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tt.want)
			}
			// Encoding and parsing again gives the same query.
			again, err := api.ParsePeerQuery(got.Values())
			if err != nil || again != got {
				t.Fatalf("round trip %+v, %v", again, err)
			}
		})
	}
}

// FuzzParsePeerQuery: the parser never panics, and whatever it accepts
// round-trips through Values.
func FuzzParsePeerQuery(f *testing.F) {
	for _, s := range []string{"", "state=pending&limit=5", "v4=192.0.2.0/24&server=192.0.2.1&sort=queued",
		"v4=0.0.0.0/0", "limit=-1", "v4=1.2.3.4/33", "state=trusted&state=pending"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := url.ParseQuery(s)
		if err != nil {
			return
		}
		q, err := api.ParsePeerQuery(v)
		if err != nil {
			return
		}
		if q.Limit < 1 || q.Limit > api.MaxLimit {
			t.Fatalf("accepted limit %d", q.Limit)
		}
		if q.V4.IsValid() && (!q.V4.Addr().Is4() || q.V4 != q.V4.Masked()) {
			t.Fatalf("accepted v4 %v", q.V4)
		}
		again, err := api.ParsePeerQuery(q.Values())
		if err != nil || again != q {
			t.Fatalf("%q: round trip %+v -> %+v, %v", s, q, again, err)
		}
	})
}
