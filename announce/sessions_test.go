package announce

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"
)

// Replies of BIRD 2.0.12 (Debian 12) to birdc -v, taken from the relay's
// BIRD in a namespace lab with deploy/bird/bird.conf, rs1 peering with
// deploy/bird/ix-peer.conf and rs2 pointing at an absent neighbour.
const (
	showProtocols = `0001 BIRD 2.0.12 ready.
2002-Name       Proto      Table      State  Since         Info
1002-device1    Device     ---        up     17:52:58.739  
     teredo6    Static     master6    up     17:52:58.739  
     bfd1       BFD        ---        up     17:52:58.739  
     rs1        BGP        ---        up     17:53:03.035  Established   
     rs2        BGP        ---        start  17:52:58.739  Connect       
0000 
`
	routeExported = `0001 BIRD 2.0.12 ready.
1007-Table master6:
     2001::/32            blackhole [teredo6 17:52:58.739] * (200)
0000 
`
	routeNotExported = "0001 BIRD 2.0.12 ready.\n0000 \n"
	channelDown      = "0001 BIRD 2.0.12 ready.\n9001 No valid tables\n"
)

func TestParseProtocols(t *testing.T) {
	got, err := ParseProtocols([]byte(showProtocols))
	if err != nil {
		t.Fatal(err)
	}
	want := []Session{{Name: "rs1", State: "up", Info: "Established", Established: true}, {Name: "rs2", State: "start", Info: "Connect"}}
	if len(got) != 2 || got[0].Name != want[0].Name || got[0].Info != want[0].Info || !got[0].Established ||
		got[1].Name != "rs2" || got[1].State != "start" || got[1].Info != "Connect" || got[1].Established {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
	// A date and time in Since, and a message after the BGP state.
	got, err = ParseProtocols([]byte("0001 BIRD 2.0.12 ready.\n2002-Name Proto Table State Since Info\n" +
		"1002-rs3 BGP --- start 2026-12-06 17:52:58 Active Socket: Connection refused\n"))
	if err != nil || len(got) != 1 || got[0].Info != "Active Socket: Connection refused" || got[0].Established {
		t.Errorf("dated line: %+v %v", got, err)
	}
	for _, bad := range []string{"0001 BIRD 2.0.12 ready.\n8003 Access denied\n", "Unable to connect to server control socket (/run/bird/bird.ctl): No such file or directory\n"} {
		if _, err := ParseProtocols([]byte(bad)); err == nil {
			t.Errorf("ParseProtocols(%q) accepted it", bad)
		}
	}
}

func TestRouteListed(t *testing.T) {
	p := netip.MustParsePrefix("2001::/32")
	for _, tt := range []struct {
		out  string
		want bool
	}{{routeExported, true}, {routeNotExported, false}, {channelDown, false},
		{strings.Replace(routeExported, "2001::/32", "2001:db8::/32", 1), false}} {
		if got := routeListed([]byte(tt.out), p); got != tt.want {
			t.Errorf("routeListed(%q) = %v", tt.out, got)
		}
	}
}

// birdcTable answers each command line from a table.
type birdcTable map[string]string

func (f birdcTable) Run(_ context.Context, argv []string) ([]byte, error) {
	out, ok := f[strings.Join(argv, " ")]
	if !ok {
		return []byte("unexpected"), errors.New("exit status 1")
	}
	return []byte(out), nil
}

func TestQuerySessions(t *testing.T) {
	prefixes := []netip.Prefix{netip.MustParsePrefix("2001::/32")}
	r := birdcTable{
		"birdc -v -s /b.ctl show protocols":                  showProtocols,
		"birdc -v -s /b.ctl show route 2001::/32 export rs1": routeExported,
	}
	s, err := QuerySessions(context.Background(), r, "birdc", "/b.ctl", prefixes, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.ExportedOn(prefixes); !slices.Equal(got, []string{"rs1"}) {
		t.Errorf("exported on %v, want [rs1]: %+v", got, s.List)
	}
	r["birdc -v -s /b.ctl show route 2001::/32 export rs1"] = routeNotExported
	s, _ = QuerySessions(context.Background(), r, "birdc", "/b.ctl", prefixes, time.Second)
	if got := s.ExportedOn(prefixes); len(got) != 0 {
		t.Errorf("withdrawn: exported on %v", got)
	}
	delete(r, "birdc -v -s /b.ctl show protocols")
	if _, err := QuerySessions(context.Background(), r, "birdc", "/b.ctl", prefixes, time.Second); err == nil ||
		!strings.Contains(err.Error(), "birdc show protocols: exit status 1: unexpected") {
		t.Errorf("birdc failing: %v", err)
	}
}

// The driver asks BIRD about its sessions when it runs, and Status has the
// answer.
func TestDriverPollsSessions(t *testing.T) {
	r := birdcTable{
		"birdc -v -s /b.ctl configure":                       "0001 BIRD 2.0.12 ready.\n0003 Reconfigured\n",
		"birdc -v -s /b.ctl show protocols":                  showProtocols,
		"birdc -v -s /b.ctl show route 2001::/32 export rs1": routeExported,
	}
	d, err := New(Config{IncludeFile: t.TempDir() + "/announce.conf", Birdc: "birdc", Socket: "/b.ctl", Runner: r, SessionPoll: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for d.Status().Sessions.Time.IsZero() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	st := d.Status()
	if st.Sessions.Err != "" || !slices.Equal(st.Sessions.ExportedOn(DefaultPrefixes), []string{"rs1"}) || len(st.Sessions.List) != 2 {
		t.Errorf("sessions %+v", st.Sessions)
	}
}
