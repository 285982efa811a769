package server

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	mrand "math/rand/v2"
	"net/netip"
	"sync"

	"github.com/teredorelay/teredorelay/teredo"
)

// Address indexes of Server.addrs.
const (
	primary   = 0
	secondary = 1
)

// Server holds the immutable server configuration and the handlers' counters.
// It hands out one Handler per goroutine that processes datagrams.
type Server struct {
	cfg       Config
	bogons    *teredo.Bogons
	addrs     [2][4]byte        // primary, secondary
	addrPorts [2]netip.AddrPort // addrs with port 3544
	relay4    [4]byte           // Config.RelayAddr (zero when unset)
	hasRelay  bool
	relayAt   int      // index of the server address the relay shares, or -1
	linkLocal [16]byte // the server's link-local address (RA source)
	allRouter [16]byte // ff02::2
	keySeed   uint64   // rate-limiter hash key

	mu       sync.Mutex
	handlers []*Handler
}

// New validates cfg (after defaults) and returns a Server.
func New(cfg Config) (*Server, error) {
	cfg = cfg.withDefaults()
	bogons := teredo.NewBogons(cfg.ExtraBogons)
	if err := cfg.validate(bogons); err != nil {
		return nil, err
	}
	var seed [8]byte
	if _, err := rand.Read(seed[:]); err != nil {
		return nil, fmt.Errorf("server: read rate-limiter key: %w", err)
	}
	s := &Server{
		cfg:       cfg,
		bogons:    bogons,
		addrs:     [2][4]byte{cfg.Primary.As4(), cfg.Secondary.As4()},
		addrPorts: [2]netip.AddrPort{netip.AddrPortFrom(cfg.Primary, teredo.Port), netip.AddrPortFrom(cfg.Secondary, teredo.Port)},
		relayAt:   -1,
		linkLocal: teredo.ServerLinkLocal(cfg.Primary).As16(),
		allRouter: teredo.AllRouters.As16(),
		keySeed:   binary.LittleEndian.Uint64(seed[:]),
	}
	if cfg.RelayAddr.IsValid() {
		s.relay4, s.hasRelay = cfg.RelayAddr.As4(), true
		for i, a := range s.addrs {
			if a == s.relay4 {
				s.relayAt = i
			}
		}
	}
	return s, nil
}

// Config returns the configuration in use, defaults filled in.
func (s *Server) Config() Config { return s.cfg }

// Primary returns the primary address and port 3544.
func (s *Server) Primary() netip.AddrPort { return s.addrPorts[primary] }

// Secondary returns the secondary address and port 3544.
func (s *Server) Secondary() netip.AddrPort { return s.addrPorts[secondary] }

// Prefix returns the prefix the server advertises, 2001:0:<primary>::/64.
func (s *Server) Prefix() netip.Prefix { return teredo.ServerPrefix(s.cfg.Primary) }

// LinkLocal returns the server's link-local address, the source of its RAs.
func (s *Server) LinkLocal() netip.Addr { return netip.AddrFrom16(s.linkLocal) }

// NewHandler returns a Handler with its own counters and rate-limit table.
// A Handler is used by one goroutine at a time.
func (s *Server) NewHandler() *Handler {
	c := s.cfg
	s.mu.Lock()
	defer s.mu.Unlock()
	h := &Handler{
		s:     s,
		limit: newSourceLimiter(c.RatePerSource, c.RateBurst, c.RateTableSize, mix(s.keySeed+uint64(len(s.handlers)))),
		ipID:  uint16(mrand.Uint32()), // a random start per handler, as the relay's workers
	}
	s.handlers = append(s.handlers, h)
	return h
}

// Counters sums the counters of every handler.
func (s *Server) Counters() Counters {
	var out Counters
	s.mu.Lock()
	hs := s.handlers
	s.mu.Unlock()
	for _, h := range hs {
		h.c.addTo(&out)
	}
	return out
}

// SharedWithRelay reports whether a is the server address a co-located
// relay shares (Config.RelayAddr), where relay business is handed on.
func (s *Server) SharedWithRelay(a netip.Addr) bool {
	return s.relayAt >= 0 && a.Unmap() == netip.AddrFrom4(s.addrs[s.relayAt])
}

// addrIndex returns the index of a server address, or -1.
func (s *Server) addrIndex(a [4]byte) int {
	switch a {
	case s.addrs[primary]:
		return primary
	case s.addrs[secondary]:
		return secondary
	}
	return -1
}

// isSelf reports whether a is one of our addresses (server or relay).
func (s *Server) isSelf(a [4]byte) bool {
	return a == s.addrs[primary] || a == s.addrs[secondary] || (s.hasRelay && a == s.relay4)
}

// ownsTeredo reports whether the Teredo address ip was allocated through this
// server (its server field is one of our addresses).
func (s *Server) ownsTeredo(ip *[16]byte) bool {
	srv := [4]byte(ip[4:8])
	return srv == s.addrs[primary] || srv == s.addrs[secondary]
}
