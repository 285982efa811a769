package daemon

import (
	"fmt"
	"net/netip"

	"github.com/teredorelay/teredorelay/config"
	"github.com/teredorelay/teredorelay/dataplane"
	"github.com/teredorelay/teredorelay/relay"
	"github.com/teredorelay/teredorelay/server"
)

// The Teredo server role (RFC 4380 §5.3) in the same data plane as the
// relay: the server's two addresses join the addresses XDP steers, each
// queue's fast path runs the server handler before the relay worker
// (dataplane.ServerPath), and what the relay sends to a server address (its
// indirect bubbles to this server's clients) is delivered in process
// (dataplane.ServerLoop). With the server role alone, IPv6 is not steered,
// the relay worker never runs. The kernel UDP sockets (reassembled
// fragments) are bound to the server's two addresses too, and their
// datagrams go to the server first when they arrive on a server address:
// with both roles on one address, a fragmented Router Solicitation is
// answered, and what the server hands on (relay business on the shared
// address) reaches the relay. The server's addresses must be configured on
// an interface of this host, as miredo-server requires.

// startServer builds the server when the role is on and returns the Output
// the relay engine sends through.
func (d *Daemon) startServer(cfg *config.Config) (relay.Output, error) {
	if !cfg.ServerRole() {
		return d.kernel, nil
	}
	sc := cfg.Server
	srv, err := server.New(server.Config{
		Primary:          sc.Primary,
		Secondary:        sc.Secondary,
		RelayAddr:        cfg.ServerRelayAddr(),
		MTU:              sc.MTU,
		ICMPv6PayloadMax: sc.ICMPv6PayloadMax,
		ExtraBogons:      cfg.ExtraBogons,
		RatePerSource:    sc.RatePerSource,
		RateBurst:        sc.RateBurst,
		RateTableSize:    sc.RateTableSize,
		Now:              relay.MonotonicNow,
	})
	if err != nil {
		return nil, fmt.Errorf("create teredo server: %w", err)
	}
	raw, err := dataplane.NewRawSender()
	if err != nil {
		return nil, explain(err, "open raw sockets for the server's kernel path")
	}
	d.senders = append(d.senders, raw)
	d.srv = srv
	d.srvLoop = dataplane.NewServerLoop(d.kernel, srv, netip.AddrPortFrom(cfg.IPv4.Addresses[0], cfg.IPv4.Port), raw)
	d.log.Info("teredo server role on", "primary", sc.Primary, "secondary", sc.Secondary,
		"relay", cfg.RelayRole(), "shared_relay_address", cfg.ServerRelayAddr() == sc.Primary || cfg.ServerRelayAddr() == sc.Secondary)
	return d.srvLoop, nil
}

// steerAddrs returns the IPv4 addresses XDP steers: the relay's and the
// server's, each once.
func (d *Daemon) steerAddrs(cfg *config.Config) []netip.Addr {
	var out []netip.Addr
	add := func(a netip.Addr) {
		for _, b := range out {
			if a == b {
				return
			}
		}
		out = append(out, a)
	}
	if cfg.RelayRole() {
		for _, a := range cfg.IPv4.Addresses {
			add(a)
		}
	}
	if cfg.ServerRole() {
		add(cfg.Server.Primary)
		add(cfg.Server.Secondary)
	}
	return out
}

// fastPath returns one queue's per-packet engine: the relay worker, the
// server handler, or the server in front of the relay.
func (d *Daemon) fastPath(cfg *config.Config) dataplane.Relay {
	if d.srv == nil {
		return d.engine.NewWorker()
	}
	var r dataplane.Relay
	if cfg.RelayRole() {
		r = d.engine.NewWorker()
	}
	return dataplane.NewServerPath(d.srv, d.srv.NewHandler(), r)
}

// kernelHandler returns what handles the kernel UDP sockets' datagrams (by
// the address they arrived on): the server for its two addresses, then the
// relay for what the server hands on on a shared address and for the
// relay's own addresses.
func (d *Daemon) kernelHandler(cfg *config.Config) func(local netip.Addr, from netip.AddrPort, payload []byte) {
	relay := cfg.RelayRole()
	if d.srv == nil {
		return func(_ netip.Addr, from netip.AddrPort, payload []byte) { d.engine.HandleUDP(from, payload) }
	}
	primary, secondary := cfg.Server.Primary, cfg.Server.Secondary
	return func(local netip.Addr, from netip.AddrPort, payload []byte) {
		if local == primary || local == secondary {
			toRelay, err := d.srvLoop.Deliver(local, from, payload)
			if err != nil {
				d.log.Debug("server kernel path send", "err", err)
			}
			if !toRelay {
				return
			}
		}
		if relay {
			d.engine.HandleUDP(from, payload)
		}
	}
}

// checkServerAddrs refuses to start the server role when one of its
// addresses is configured on no interface of this host: its kernel socket
// could not be bound and clients qualifying against it (cone RSs are
// answered from the other address) would fail. miredo-server refuses too.
func checkServerAddrs(cfg *config.Config, assigned func(netip.Addr) bool) error {
	if !cfg.ServerRole() {
		return nil
	}
	for _, a := range []struct {
		key  string
		addr netip.Addr
	}{{"server.primary", cfg.Server.Primary}, {"server.secondary", cfg.Server.Secondary}} {
		if !assigned(a.addr) {
			return fmt.Errorf("config: %s: %s is not assigned to an interface on this host (the server receives on both addresses)", a.key, a.addr)
		}
	}
	return nil
}

// ServerCounters returns the server role's counters (false without the role).
func (d *Daemon) ServerCounters() (server.Counters, bool) {
	if d.srv == nil {
		return server.Counters{}, false
	}
	return d.srv.Counters(), true
}
