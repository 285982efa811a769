package daemon

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strings"

	"github.com/teredorelay/teredorelay/config"
	"github.com/teredorelay/teredorelay/metrics"
)

// CheckOptions select what CheckConfig verifies besides the file itself.
type CheckOptions struct {
	// SkipHost leaves out the checks against this host (interfaces present,
	// addresses assigned): for a file meant for another host.
	SkipHost bool
}

// CheckConfig validates the configuration file at path the way a start
// would, and writes a report to w: that the file is valid, what was checked
// on this host, and the memory the configuration will take. It returns the
// first problem that would make the start fail.
func CheckConfig(w io.Writer, path string, opts CheckOptions) error {
	cfg, err := config.Load(path)
	if err != nil {
		return err
	}
	if err := metrics.ValidateWebConfig(cfg.Metrics.WebConfigFile); err != nil {
		return fmt.Errorf("config: metrics.web_config_file: %w", err)
	}
	var notes []string
	if opts.SkipHost {
		notes = []string{"host checks skipped (-skip-host-checks): interfaces and addresses not verified"}
	} else {
		host, err := currentHost()
		if err != nil {
			return err
		}
		if notes, err = host.check(cfg); err != nil {
			return err
		}
	}
	fp, err := MeasureFootprint(cfg)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "%s: configuration OK\n", path)
	for _, n := range notes {
		fmt.Fprintf(w, "  %s\n", n)
	}
	writeFootprint(w, cfg, fp)
	return nil
}

func writeFootprint(w io.Writer, cfg *config.Config, fp Footprint) {
	umem := fmt.Sprintf("%d UMEM(s) of %d frames × %d B, pinned by the kernel", fp.UMEMs, cfg.UMEM.Frames, cfg.UMEM.FrameSize)
	if fp.UMEMMayDouble {
		umem += fmt.Sprintf("; %s if the kernel refuses a shared UMEM (umem.sharing auto)", IEC(2*fp.UMEMLocked))
	}
	how := "measured"
	if !fp.Measured {
		how = "upper bound of 128 B per entry: more than this host's memory"
	}
	rows := [][2]string{
		{IEC(fp.UMEMLocked), "UMEM, locked: " + umem},
		{IEC(fp.PeerTable), fmt.Sprintf("peer table: %d entries (peers.capacity), allocated and made resident at start (%s)", cfg.Peers.Capacity, how)},
		{IEC(fp.QueueArena), fmt.Sprintf("queue arena: peers.queue_bytes_total %s and its chunk index, allocated at start", IEC(uint64(cfg.Peers.QueueBytesTotal)))},
		{IEC(fp.Total()), "total"},
	}
	width := 0
	for _, r := range rows {
		width = max(width, len(r[0]))
	}
	fmt.Fprintln(w, "memory:")
	for _, r := range rows {
		fmt.Fprintf(w, "  %*s  %s\n", width, r[0], r[1])
	}
}

// host is what CheckConfig verifies a configuration against: this host's
// name, interfaces and addresses.
type host struct {
	name   string
	ifaces map[string]bool
	addrs  map[netip.Addr]bool
}

func currentHost() (*host, error) {
	h := &host{ifaces: map[string]bool{}, addrs: map[netip.Addr]bool{}}
	h.name, _ = os.Hostname()
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, fmt.Errorf("list this host's interfaces: %w", err)
	}
	for _, ifc := range ifs {
		h.ifaces[ifc.Name] = true
		addrs, err := ifc.Addrs()
		if err != nil {
			continue
		}
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok {
				if ip, ok := netip.AddrFromSlice(n.IP); ok {
					h.addrs[ip.Unmap()] = true
				}
			}
		}
	}
	return h, nil
}

// check returns an error for what would fail the start on this host (a
// missing interface, an IPv4 service address not assigned here) and notes
// for what only degrades it.
func (h *host) check(cfg *config.Config) (notes []string, err error) {
	here := "this host"
	if h.name != "" {
		here = fmt.Sprintf("this host (%s)", h.name)
	}
	hint := "; checking a file meant for another host? add -skip-host-checks"
	type named struct{ key, name string }
	ifaces := []named{{"interfaces.one_armed", cfg.Interfaces.OneArmed}}
	if cfg.Interfaces.TwoArmed() {
		ifaces = []named{{"interfaces.ipv4_side", cfg.Interfaces.IPv4Side}, {"interfaces.ipv6_side", cfg.Interfaces.IPv6Side}}
	}
	var errs []string
	var found []string
	for _, i := range ifaces {
		if !h.ifaces[i.name] {
			errs = append(errs, fmt.Sprintf("config: %s: %s: no such network interface on %s", i.key, i.name, here))
			continue
		}
		found = append(found, i.name)
	}
	var missing4 []string
	for _, a := range cfg.IPv4.Addresses {
		if !h.addrs[a] {
			missing4 = append(missing4, a.String())
		}
	}
	if len(missing4) > 0 {
		errs = append(errs, fmt.Sprintf("config: ipv4.address: %s not assigned to an interface on %s (the relay binds its kernel socket to it)",
			strings.Join(missing4, ", "), here))
	}
	if l := cfg.Metrics.Listen; l != "" {
		if hostPart, _, err := net.SplitHostPort(l); err == nil {
			if a, err := netip.ParseAddr(hostPart); err == nil && !a.IsUnspecified() && !h.addrs[a.Unmap()] {
				errs = append(errs, fmt.Sprintf("config: metrics.listen: %s is not assigned to an interface on %s", a, here))
			}
		}
	}
	if len(errs) > 0 {
		return nil, errors.New(strings.Join(errs, "\n") + hint)
	}
	notes = append(notes, fmt.Sprintf("checked on %s: interface(s) %s present, ipv4.address assigned", here, strings.Join(found, ", ")))
	if !h.addrs[cfg.IPv6.Address] && cfg.RelayRole() {
		notes = append(notes, fmt.Sprintf("warning: ipv6.address %s is not assigned here: the relay still sends from it, but nothing answers to it", cfg.IPv6.Address))
	}
	if s := cfg.Server; s != nil {
		for _, a := range []struct {
			key  string
			addr netip.Addr
		}{{"server.primary", s.Primary}, {"server.secondary", s.Secondary}} {
			if !h.addrs[a.addr] {
				notes = append(notes, fmt.Sprintf("warning: %s %s is not assigned here: the kernel will not answer ARP for it", a.key, a.addr))
			}
		}
	}
	return notes, nil
}
