package config

import (
	"fmt"
	"path/filepath"
	"time"
)

// Defaults of the peer_state section.
const (
	// DefaultPeerStateFileName is the peer table file's name in the
	// directory of bubbles.key_file (the daemon's state directory) unless
	// peer_state.file names another.
	DefaultPeerStateFileName = "peers.state"
	DefaultPeerStateInterval = 10 * time.Second
	// MaxPeerStatePeers bounds peer_state.max_peers: the most records the
	// file format takes (peerstate.MaxRecords, 512 MiB).
	MaxPeerStatePeers = 1 << 24
)

// PeerState configures the persistence of the trusted peers across
// restarts (package peerstate).
type PeerState struct {
	// File is written on SIGTERM and every SaveInterval, and read at
	// start. Empty: peers are not persisted.
	File         string
	SaveInterval time.Duration
	// MaxPeers caps the file: at most this many peers are written, and a
	// file claiming more is rejected at start (default peers.capacity).
	MaxPeers int
}

// rawPeerState mirrors the peer_state section.
type rawPeerState struct {
	File         *string   `yaml:"file"`
	SaveInterval *duration `yaml:"save_interval"`
	MaxPeers     *int      `yaml:"max_peers"`
}

// peerState fills c.PeerState; it runs after bubbles.key_file, peers and
// drain are known.
func (r *rawConfig) peerState(c *Config) error {
	p := &c.PeerState
	p.File = filepath.Join(filepath.Dir(c.Bubbles.KeyFile), DefaultPeerStateFileName)
	if r.PeerState.File != nil {
		p.File = *r.PeerState.File
	}
	switch {
	case p.File == "":
	case !filepath.IsAbs(p.File):
		return fmt.Errorf("peer_state.file: %q is not an absolute path (use \"\" to disable)", p.File)
	case p.File == c.Bubbles.KeyFile:
		return fmt.Errorf("peer_state.file: %q is also bubbles.key_file", p.File)
	case p.File == c.Drain.StateFile:
		return fmt.Errorf("peer_state.file: %q is also drain.state_file", p.File)
	}
	var err error
	if p.SaveInterval, err = durationIn("peer_state.save_interval", r.PeerState.SaveInterval, DefaultPeerStateInterval, time.Second, time.Hour); err != nil {
		return err
	}
	if p.MaxPeers, err = intIn("peer_state.max_peers", r.PeerState.MaxPeers, min(c.Peers.Capacity, MaxPeerStatePeers), 1, MaxPeerStatePeers); err != nil {
		return err
	}
	return nil
}

// peerStateFixedKeys join the restart-only keys CheckReload checks.
var peerStateFixedKeys = []struct {
	key string
	get func(*Config) any
}{
	{"peer_state.file", func(c *Config) any { return c.PeerState.File }},
	{"peer_state.save_interval", func(c *Config) any { return c.PeerState.SaveInterval }},
	{"peer_state.max_peers", func(c *Config) any { return c.PeerState.MaxPeers }},
}

func init() { fixedKeys = append(fixedKeys, peerStateFixedKeys...) }
