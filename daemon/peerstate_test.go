package daemon

import (
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/teredorelay/teredorelay/cache"
	"github.com/teredorelay/teredorelay/peerstate"
	"github.com/teredorelay/teredorelay/relay"
)

func TestAcceptRestored(t *testing.T) {
	rec := func(addr, mapping string) *peerstate.Record {
		return &peerstate.Record{Addr: netip.MustParseAddr(addr).As16(), Mapping: netip.MustParseAddrPort(mapping)}
	}
	// T8 of teredo-spec.md: server 192.0.2.1, mapped 203.0.113.1:46240.
	const t8 = "2001:0:c000:201:3cc4:4b5f:34ff:8efe"
	tests := []struct {
		name, extra string
		r           *peerstate.Record
		want        bool
	}{
		{"matching mapping", "", rec(t8, "203.0.113.1:46240"), true},
		{"other mapping, strict mapping checks", "accept_symmetric_nat: false\n", rec(t8, "203.0.113.2:46240"), false},
		{"other mapping, symmetric NAT accepted (default)", "", rec(t8, "203.0.113.2:46240"), true},
		{"bogon mapping", "accept_symmetric_nat: true\n", rec(t8, "10.0.0.1:46240"), false},
		{"extra bogon mapping", "extra_bogons: [203.0.113.0/24]\n", rec(t8, "203.0.113.1:46240"), false},
		{"mapping on the relay's own address", "accept_symmetric_nat: true\n", rec(t8, "192.0.2.10:3544"), false},
		// Server 10.0.0.1, mapped 203.0.113.1:46240.
		{"bogon server", "", rec("2001:0:a00:1:3cc4:4b5f:34ff:8efe", "203.0.113.1:46240"), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := parseConfig(t, tc.extra)
			cfg.IPv4.Addresses = append(cfg.IPv4.Addresses, netip.MustParseAddr("192.0.2.10"))
			if got := acceptRestored(cfg)(tc.r); got != tc.want {
				t.Fatalf("accept = %v, want %v", got, tc.want)
			}
		})
	}
}

// The daemon's load step: saved peers come back into the cache and show in
// the metrics; an unusable file is a warning and an empty table.
func TestLoadPeerState(t *testing.T) {
	dir := t.TempDir()
	cfg := parseConfig(t, "bubbles: {key_file: "+dir+"/bubble.key}\n")
	if cfg.PeerState.File != dir+"/peers.state" {
		t.Fatalf("default peer state file %q", cfg.PeerState.File)
	}
	now := time.Now()
	t8 := netip.MustParseAddr("2001:0:c000:201:3cc4:4b5f:34ff:8efe").As16()
	recs := []peerstate.Record{
		{Addr: t8, Mapping: netip.MustParseAddrPort("203.0.113.1:46240"), LastRx: now.Add(-2 * time.Second).UnixNano()},
		{Addr: t8, Mapping: netip.MustParseAddrPort("10.0.0.1:46240"), LastRx: now.Add(-time.Second).UnixNano()}, // refused
	}
	if _, err := peerstate.Save(cfg.PeerState.File, now, 10, func(yield func(*peerstate.Record) bool) {
		for i := range recs {
			yield(&recs[i])
		}
	}); err != nil {
		t.Fatal(err)
	}
	newDaemon := func() *Daemon {
		d := testDaemon(t, cfg)
		var err error
		if d.peers, err = cache.New(cache.Config{Capacity: 64, Now: relay.MonotonicNow}); err != nil {
			t.Fatal(err)
		}
		if err := d.loadPeerState(cfg); err != nil {
			t.Fatal(err)
		}
		return d
	}
	d := newDaemon()
	p, ok := d.peers.Get(&t8)
	if !ok || p.State != cache.Trusted || p.Mapping != recs[0].Mapping {
		t.Fatalf("restored peer: %+v %v", p, ok)
	}
	st := d.peerStateStats()
	if !st.Enabled || st.LoadedTrusted != 1 || st.LoadedStale != 0 || st.FileRejected || st.Rejected[2].Label != "refused" || st.Rejected[2].Value != 1 {
		t.Fatalf("stats after load: %+v", st)
	}
	d.savePeerStateAtShutdown()
	if st := d.peerStateStats(); st.Saves != 1 || st.Saved != 1 || st.LastSave.IsZero() {
		t.Fatalf("stats after the final save: %+v", st)
	}

	// Corrupt the file: the next start warns, sets it aside, starts empty.
	b, err := os.ReadFile(cfg.PeerState.File)
	if err != nil {
		t.Fatal(err)
	}
	b[40] ^= 0xff
	if err := os.WriteFile(cfg.PeerState.File, b, 0o600); err != nil {
		t.Fatal(err)
	}
	d = newDaemon()
	if st := d.peerStateStats(); !st.FileRejected || st.LoadedTrusted != 0 || d.peers.Stats().Entries != 0 {
		t.Fatalf("corrupt file: %+v, %d entries", st, d.peers.Stats().Entries)
	}
	if _, err := os.Stat(cfg.PeerState.File + ".rejected"); err != nil {
		t.Fatalf("rejected file not kept: %v", err)
	}

	// Disabled: nothing is read or written.
	off := parseConfig(t, "bubbles: {key_file: "+dir+"/bubble.key}\npeer_state: {file: \"\"}\n")
	d = testDaemon(t, off)
	if err := d.loadPeerState(off); err != nil || d.peerState != nil || d.peerStateStats().Enabled {
		t.Fatalf("disabled: %v %v", err, d.peerState)
	}
	d.savePeerStateAtShutdown()
}
