package config

import (
	"strings"
	"testing"
	"time"
)

func TestParsePeerState(t *testing.T) {
	c, err := Parse([]byte(minimal + "peers: {capacity: 5000}\npeer_state: {file: /srv/p.state, save_interval: 1m, max_peers: 100}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if want := (PeerState{File: "/srv/p.state", SaveInterval: time.Minute, MaxPeers: 100}); c.PeerState != want {
		t.Fatalf("peer_state %+v, want %+v", c.PeerState, want)
	}
	// The file follows the bubble key's directory and the cap the peer
	// capacity by default; "" disables persistence.
	c, err = Parse([]byte(minimal + "bubbles: {key_file: /srv/relay/key}\npeers: {capacity: 5000}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if want := (PeerState{File: "/srv/relay/peers.state", SaveInterval: 10 * time.Second, MaxPeers: 5000}); c.PeerState != want {
		t.Fatalf("peer_state defaults %+v, want %+v", c.PeerState, want)
	}
	c, err = Parse([]byte(minimal + "peer_state: {file: \"\"}\n"))
	if err != nil || c.PeerState.File != "" {
		t.Fatalf("disabled: %+v %v", c, err)
	}
}

func TestParsePeerStateErrors(t *testing.T) {
	tests := []struct{ doc, want string }{
		{"peer_state: {file: peers.state}\n", "peer_state.file: \"peers.state\" is not an absolute path"},
		{"bubbles: {key_file: /x/k}\npeer_state: {file: /x/k}\n", "peer_state.file: \"/x/k\" is also bubbles.key_file"},
		{"peer_state: {file: /var/lib/teredo-relayd/drained}\n", "peer_state.file: \"/var/lib/teredo-relayd/drained\" is also drain.state_file"},
		{"peer_state: {save_interval: 500ms}\n", "peer_state.save_interval: 500ms is out of range (1s-1h0m0s)"},
		{"peer_state: {save_interval: 10}\n", "peer_state.save_interval: line 5: \"10\" is not a duration"},
		{"peer_state: {max_peers: 0}\n", "peer_state.max_peers: 0 is out of range (1-16777216)"},
		{"peer_state: {max_peers: 16777217}\n", "peer_state.max_peers: 16777217 is out of range"},
		{"peer_state: {path: /x}\n", "unknown key peer_state.path"},
	}
	for _, tt := range tests {
		_, err := Parse([]byte(minimal + tt.doc))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: error %v, want it to contain %q", tt.doc, err, tt.want)
		}
	}
}

func TestPeerStateNotReloadable(t *testing.T) {
	old, err := Parse([]byte(minimal))
	if err != nil {
		t.Fatal(err)
	}
	next, err := Parse([]byte(minimal + "peer_state: {save_interval: 20s}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := old.CheckReload(next); err == nil || !strings.Contains(err.Error(), "peer_state.save_interval cannot change on reload") {
		t.Fatalf("CheckReload: %v", err)
	}
}
