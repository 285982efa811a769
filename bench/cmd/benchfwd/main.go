// Command benchfwd is the benchmark's bare AF_XDP forwarder (package
// bench/fwd): the floor of the relay's packet path, with the project's
// xsk sockets or with asavie/xdp. It runs until SIGINT or SIGTERM and
// then prints its counters as JSON on stdout.
//
//	benchfwd -impl xsk -ipv4-if r0 -ipv6-if r1 -relay 198.51.100.1 \
//	    -ipv4-nexthop 02:..:01 -ipv6-nexthop 02:..:02 [-ready-file F]
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"syscall"

	"github.com/teredorelay/teredorelay/bench/fwd"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "benchfwd:", err)
		os.Exit(1)
	}
}

func run() error {
	impl := flag.String("impl", string(fwd.ImplXSK), "socket implementation: xsk or asavie")
	v4if := flag.String("ipv4-if", "", "IPv4 (Teredo) side interface")
	v6if := flag.String("ipv6-if", "", "IPv6 (native) side interface")
	relay := flag.String("relay", "", "relay IPv4 address (UDP to it and -port is forwarded)")
	port := flag.Uint("port", 3544, "relay UDP port")
	v4nh := flag.String("ipv4-nexthop", "", "MAC of the IPv4 side's next hop")
	v6nh := flag.String("ipv6-nexthop", "", "MAC of the IPv6 side's next hop")
	ready := flag.String("ready-file", "", "file created once the forwarder receives")
	flag.Parse()

	addr, err := netip.ParseAddr(*relay)
	if err != nil {
		return fmt.Errorf("-relay: %w", err)
	}
	mac4, err := net.ParseMAC(*v4nh)
	if err != nil {
		return fmt.Errorf("-ipv4-nexthop: %w", err)
	}
	mac6, err := net.ParseMAC(*v6nh)
	if err != nil {
		return fmt.Errorf("-ipv6-nexthop: %w", err)
	}
	cfg := fwd.Config{
		Impl: fwd.Impl(*impl), IPv4If: *v4if, IPv6If: *v6if, RelayAddr: addr, Port: uint16(*port),
		IPv4NextHop: mac4, IPv6NextHop: mac6,
	}
	var readyErr error
	if *ready != "" {
		cfg.Ready = func() { readyErr = os.WriteFile(*ready, []byte("ready\n"), 0o644) }
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	var st fwd.Stats
	err = fwd.Run(ctx, cfg, &st)
	if err == nil {
		err = readyErr
	}
	if jerr := json.NewEncoder(os.Stdout).Encode(st.Snapshot()); err == nil {
		err = jerr
	}
	return err
}
