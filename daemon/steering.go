package daemon

import (
	"context"
	"net"
	"slices"
	"time"

	"github.com/teredorelay/teredorelay/bpf"
	"github.com/teredorelay/teredorelay/config"
	"github.com/teredorelay/teredorelay/xsk"
)

// What the XDP program checks on every frame it would steer (bpf.Config):
// the destination MAC is one of the interface's own (the port's and those of
// its VLAN sub-interfaces, from the next-hop table's link mirror), and the
// frame fits an AF_XDP frame. Generic XDP is warned about at start-up: it
// runs after GRO and on GSO super-frames, which cannot be steered.

// macCheckInterval is how often the own MAC addresses are compared with the
// next-hop snapshot (a bond failing over changes its MAC).
const macCheckInterval = time.Second

// maxFrameLen is the longest frame the AF_XDP sockets take: a UMEM frame
// less the UMEM and kernel headrooms in front of every received packet.
func maxFrameLen(cfg *config.Config) int {
	return cfg.UMEM.FrameSize - cfg.UMEM.Headroom - xsk.KernelHeadroom
}

// ownMACs returns the MAC addresses XDP steers frames to on side i, or nil
// (no check) when the next-hop table does not know the link or when it has
// more addresses than the program holds (tooMany).
func (d *Daemon) ownMACs(i int) (macs [][6]byte, tooMany bool) {
	macs = d.hops.Load().OwnMACs(i)
	if len(macs) > bpf.MaxMACs {
		return nil, true
	}
	return slices.Clone(macs), false
}

// warnTooManyMACs says that side i's MAC addresses are not checked.
func (d *Daemon) warnTooManyMACs(i int) {
	d.log.Warn("the interface and its VLAN sub-interfaces have more MAC addresses than XDP can check; frames to any MAC are steered",
		"interface", d.sides[i].name, "max", bpf.MaxMACs)
}

// steerConfig is side i's steering program configuration.
func (d *Daemon) steerConfig(cfg *config.Config, i int) bpf.Config {
	s := d.sides[i]
	var tooMany bool
	if s.macs, tooMany = d.ownMACs(i); tooMany {
		d.warnTooManyMACs(i)
	}
	return bpf.Config{
		Addrs: d.steerAddrs(cfg), Port: cfg.IPv4.Port, SteerIPv4: s.v4, SteerIPv6: s.v6 && cfg.RelayRole(),
		MACs: s.macs, MaxFrameLen: maxFrameLen(cfg),
	}
}

// warnGenericXDP explains, for a side attached in generic mode, what the
// relay cannot take there.
func (d *Daemon) warnGenericXDP(cfg *config.Config, s *side) {
	if s.mode != bpf.AttachGeneric {
		return
	}
	gro, err := groEnabled(s.name)
	groState := "unknown"
	if err == nil {
		groState = map[bool]string{true: "on", false: "off"}[gro]
	}
	d.log.Warn("generic XDP runs after GRO and sees GSO super-frames (GRO on this interface, TSO/GSO of a local veth peer): "+
		"steered frames longer than one UMEM frame cannot enter the AF_XDP sockets and are dropped (XDP reason drop_oversize), "+
		"so TCP through the relay stalls when they occur; turn GRO off on the interface (ethtool -K "+s.name+" gro off), "+
		"keep senders on the same host from using TSO/GSO, or use a driver with native XDP",
		"interface", s.name, "max_frame_bytes", maxFrameLen(cfg), "gro", groState)
}

// watchMACs follows MAC address changes of the sides (and of their VLAN
// sub-interfaces) into the steering programs.
func (d *Daemon) watchMACs(ctx context.Context) {
	d.goEvery(ctx, "own MAC addresses", macCheckInterval, d.syncMACs)
}

// syncMACs updates every side whose own MAC addresses changed.
func (d *Daemon) syncMACs() {
	for i, s := range d.sides {
		macs, tooMany := d.ownMACs(i)
		if slices.Equal(macs, s.macs) {
			continue
		}
		if tooMany {
			d.warnTooManyMACs(i)
		}
		if err := s.prog.SetMACs(macs); err != nil {
			d.log.Error("update the interface's MAC addresses in the XDP program", "interface", s.name, "err", err)
			continue
		}
		d.log.Info("interface MAC addresses changed; XDP follows", "interface", s.name, "macs", macString(macs))
		s.macs = macs
	}
}

func macString(macs [][6]byte) []string {
	out := make([]string, len(macs))
	for i, m := range macs {
		out[i] = net.HardwareAddr(m[:]).String()
	}
	return out
}
