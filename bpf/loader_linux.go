package bpf

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/features"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/rlimit"
	"golang.org/x/sys/unix"
)

// Compile-time checks that the Go mirror of steer.h has the same length as
// the generated enum (both directions of the difference must be >= 0).
const (
	_ = uint(NumReasons) - uint(steerReasonREASON_LEN)
	_ = uint(steerReasonREASON_LEN) - uint(NumReasons)
)

// Program is the loaded steering program with its maps: one per interface
// (the XSKMAP is indexed by the RX queue of that interface). Its methods are
// control-path operations and safe for concurrent use.
type Program struct {
	mu      sync.Mutex
	objs    steerObjects
	link    link.Link
	ifindex int
	steerV4 bool
	percpu  []uint64 // Counters scratch, one slot per possible CPU
	closed  bool
}

// Load verifies and loads the program with cfg's constants and addresses.
// It is not attached yet. Loading needs Linux 5.18 (the program's XDP
// helpers) and CAP_BPF and CAP_NET_ADMIN (or CAP_SYS_ADMIN); CAP_PERFMON is
// not needed.
func Load(cfg Config) (*Program, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if err := rlimit.RemoveMemlock(); err != nil {
		return nil, fmt.Errorf("remove memlock rlimit (needs CAP_SYS_RESOURCE before Linux 5.11): %w", err)
	}
	spec, err := loadSteer()
	if err != nil {
		return nil, fmt.Errorf("parse steer objects: %w", err)
	}
	if err := setConstants(spec, &cfg); err != nil {
		return nil, err
	}
	ncpu, err := ebpf.PossibleCPU()
	if err != nil {
		return nil, fmt.Errorf("count possible cpus: %w", err)
	}

	// Only a conclusive "not supported" is reported here; any other probe
	// failure (EPERM, say) shows up again, better explained, in the load.
	for _, h := range []asm.BuiltinFunc{asm.FnXdpGetBuffLen, asm.FnXdpLoadBytes} {
		if err := features.HaveProgramHelper(ebpf.XDP, h); errors.Is(err, ebpf.ErrNotSupported) {
			return nil, fmt.Errorf("load steer objects: kernel lacks XDP helper %v (needs Linux 5.18): %w", h, err)
		}
	}

	p := &Program{steerV4: cfg.SteerIPv4, percpu: make([]uint64, ncpu)}
	if err := spec.LoadAndAssign(&p.objs, nil); err != nil {
		return nil, fmt.Errorf("load steer objects: %w", permissionHint(err, capBPF, capNetAdmin))
	}
	if err := p.setAddrsLocked(cfg.Addrs); err != nil {
		return nil, errors.Join(err, p.objs.Close())
	}
	if err := p.setMACsLocked(cfg.MACs); err != nil {
		return nil, errors.Join(err, p.objs.Close())
	}
	return p, nil
}

func setConstants(spec *ebpf.CollectionSpec, cfg *Config) error {
	consts := []struct {
		name  string
		value any
	}{
		{steerVarRelayPort, cfg.port()},
		{steerVarSteerIpv4, boolByte(cfg.SteerIPv4)},
		{steerVarSteerIpv6, boolByte(cfg.SteerIPv6)},
		{steerVarMaxFrameLen, maxFrameLen(cfg.MaxFrameLen)},
	}
	for _, c := range consts {
		v, ok := spec.Variables[c.name]
		if !ok {
			return fmt.Errorf("set %s: variable missing from steer objects", c.name)
		}
		if err := v.Set(c.value); err != nil {
			return fmt.Errorf("set %s: %w", c.name, err)
		}
	}
	return nil
}

// maxFrameLen is the max_frame_len constant for Config.MaxFrameLen.
func maxFrameLen(n int) uint32 {
	if n <= 0 || n > 0xffffffff {
		return 0xffffffff
	}
	return uint32(n)
}

func boolByte(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

// Attach links the program to the XDP hook of ifindex through a bpf_link,
// so the kernel detaches it when the process exits. AttachAuto tries native
// mode, then generic. It returns the mode in use. A Program attaches once.
func (p *Program) Attach(ifindex int, mode AttachMode) (AttachMode, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return 0, fmt.Errorf("attach xdp: %w", ErrClosed)
	}
	if p.link != nil {
		return 0, fmt.Errorf("attach xdp to %s: %w (to %s)", ifaceName(ifindex), ErrAttached, ifaceName(p.ifindex))
	}
	if ifindex <= 0 {
		return 0, fmt.Errorf("attach xdp: %w: ifindex %d", ErrInvalidConfig, ifindex)
	}

	var tries []AttachMode
	switch mode {
	case AttachAuto:
		tries = []AttachMode{AttachNative, AttachGeneric}
	case AttachNative, AttachGeneric:
		tries = []AttachMode{mode}
	default:
		return 0, fmt.Errorf("attach xdp: %w: mode %v", ErrInvalidConfig, mode)
	}
	var errs []error
	for _, m := range tries {
		flags := link.XDPDriverMode
		if m == AttachGeneric {
			flags = link.XDPGenericMode
		}
		l, err := link.AttachXDP(link.XDPOptions{Program: p.objs.Steer, Interface: ifindex, Flags: flags})
		if err == nil {
			p.link, p.ifindex = l, ifindex
			return m, nil
		}
		errs = append(errs, fmt.Errorf("%v mode: %w", m, permissionHint(err, capNetAdmin)))
	}
	return 0, fmt.Errorf("attach xdp to %s: %w", ifaceName(ifindex), errors.Join(errs...))
}

// Register puts the AF_XDP socket xskFD into the slot of RX queue queue: from
// now on steered frames received on that queue go to the socket. The socket
// must be bound to the attached interface and that queue, or the kernel
// drops the frames it cannot deliver.
func (p *Program) Register(queue int, xskFD int) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return fmt.Errorf("register xsk: %w", ErrClosed)
	}
	if queue < 0 || queue >= MaxQueues {
		return fmt.Errorf("register xsk for queue %d: %w: queue outside 0..%d", queue, ErrInvalidConfig, MaxQueues-1)
	}
	if xskFD < 0 {
		return fmt.Errorf("register xsk for queue %d: %w: fd %d", queue, ErrInvalidConfig, xskFD)
	}
	if err := p.objs.Xsks.Put(uint32(queue), uint32(xskFD)); err != nil {
		return fmt.Errorf("register xsk fd %d for queue %d: %w", xskFD, queue, err)
	}
	return nil
}

// Unregister empties the slot of queue; its frames go to the kernel again
// (counted as pass_no_socket). Unregistering an empty slot is not an error.
func (p *Program) Unregister(queue int) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return fmt.Errorf("unregister xsk: %w", ErrClosed)
	}
	if queue < 0 || queue >= MaxQueues {
		return fmt.Errorf("unregister xsk for queue %d: %w: queue outside 0..%d", queue, ErrInvalidConfig, MaxQueues-1)
	}
	if err := p.objs.Xsks.Delete(uint32(queue)); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
		return fmt.Errorf("unregister xsk for queue %d: %w", queue, err)
	}
	return nil
}

// SetAddrs replaces the relay IPv4 addresses (a configuration reload).
// Removed addresses stop being steered before new ones start, so the map
// never exceeds MaxAddrs; addresses in both sets are steered throughout.
func (p *Program) SetAddrs(addrs []netip.Addr) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return fmt.Errorf("set relay addresses: %w", ErrClosed)
	}
	return p.setAddrsLocked(addrs)
}

func (p *Program) setAddrsLocked(addrs []netip.Addr) error {
	want, err := relayAddrs(addrs, p.steerV4)
	if err != nil {
		return fmt.Errorf("set relay addresses: %w", err)
	}
	have, err := p.addrsLocked()
	if err != nil {
		return fmt.Errorf("set relay addresses: %w", err)
	}
	for _, a := range have {
		if slices.Contains(want, a) {
			continue
		}
		if err := p.objs.RelayAddrs.Delete(a.As4()); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
			return fmt.Errorf("set relay addresses: delete %v: %w", a, err)
		}
	}
	for _, a := range want {
		if err := p.objs.RelayAddrs.Put(a.As4(), uint8(1)); err != nil {
			return fmt.Errorf("set relay addresses: add %v: %w", a, err)
		}
	}
	return nil
}

// SetMACs replaces the interface's own MAC addresses (Config.MACs): the
// daemon follows a MAC change of the interface or of its VLAN
// sub-interfaces. The update is not atomic for frames in flight: a few may
// be judged by a partly written set.
func (p *Program) SetMACs(macs [][6]byte) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return fmt.Errorf("set own MACs: %w", ErrClosed)
	}
	return p.setMACsLocked(macs)
}

func (p *Program) setMACsLocked(macs [][6]byte) error {
	v, err := ownMACs(macs)
	if err != nil {
		return fmt.Errorf("set own MACs: %w", err)
	}
	if err := p.objs.OwnMacs.Put(uint32(0), &v); err != nil {
		return fmt.Errorf("set own MACs: %w", err)
	}
	return nil
}

// MACs returns the own MAC addresses in the program's map.
func (p *Program) MACs() ([][6]byte, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, fmt.Errorf("read own MACs: %w", ErrClosed)
	}
	var v macSet
	if err := p.objs.OwnMacs.Lookup(uint32(0), &v); err != nil {
		return nil, fmt.Errorf("read own MACs: %w", err)
	}
	return slices.Clone(v.Addr[:min(v.N, MaxMACs)]), nil
}

// Addrs returns the relay addresses in the program's map, sorted.
func (p *Program) Addrs() ([]netip.Addr, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, fmt.Errorf("read relay addresses: %w", ErrClosed)
	}
	addrs, err := p.addrsLocked()
	if err != nil {
		return nil, fmt.Errorf("read relay addresses: %w", err)
	}
	return addrs, nil
}

func (p *Program) addrsLocked() ([]netip.Addr, error) {
	var (
		key   [4]byte
		value uint8
		addrs []netip.Addr
	)
	it := p.objs.RelayAddrs.Iterate()
	for it.Next(&key, &value) {
		addrs = append(addrs, netip.AddrFrom4(key))
	}
	if err := it.Err(); err != nil {
		return nil, fmt.Errorf("iterate relay_addrs: %w", err)
	}
	slices.SortFunc(addrs, netip.Addr.Compare)
	return addrs, nil
}

// Counters returns the per-reason totals summed over all CPUs.
func (p *Program) Counters() (Counters, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var c Counters
	if p.closed {
		return c, fmt.Errorf("read counters: %w", ErrClosed)
	}
	for r := range c {
		if err := p.objs.Counters.Lookup(uint32(r), &p.percpu); err != nil {
			return Counters{}, fmt.Errorf("read counter %v: %w", Reason(r), err)
		}
		for _, v := range p.percpu {
			c[r] += v
		}
	}
	return c, nil
}

// Close detaches the program (if attached) and releases the program and its
// maps. Registered sockets stay open; they belong to the caller. Close is
// idempotent.
func (p *Program) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil
	}
	p.closed = true
	var errs []error
	if p.link != nil {
		if err := p.link.Close(); err != nil {
			errs = append(errs, fmt.Errorf("detach xdp from %s: %w", ifaceName(p.ifindex), err))
		}
		p.link = nil
	}
	if err := p.objs.Close(); err != nil {
		errs = append(errs, fmt.Errorf("close steer objects: %w", err))
	}
	return errors.Join(errs...)
}

func ifaceName(ifindex int) string {
	if ifi, err := net.InterfaceByIndex(ifindex); err == nil {
		return fmt.Sprintf("%s (ifindex %d)", ifi.Name, ifindex)
	}
	return fmt.Sprintf("ifindex %d", ifindex)
}

type capability struct {
	bit  uint
	name string
}

var (
	capNetAdmin = capability{unix.CAP_NET_ADMIN, "CAP_NET_ADMIN"}
	capSysAdmin = capability{unix.CAP_SYS_ADMIN, "CAP_SYS_ADMIN"}
	capBPF      = capability{unix.CAP_BPF, "CAP_BPF"}
)

// permissionHint adds to an EPERM which of the needed capabilities the
// process lacks (CAP_SYS_ADMIN stands in for all of them).
func permissionHint(err error, needed ...capability) error {
	if !errors.Is(err, os.ErrPermission) {
		return err
	}
	var hdr = unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if capErr := unix.Capget(&hdr, &data[0]); capErr != nil {
		return fmt.Errorf("%w (read capabilities: %v)", err, capErr)
	}
	has := func(c capability) bool { return data[c.bit/32].Effective&(1<<(c.bit%32)) != 0 }
	var missing []string
	if !has(capSysAdmin) {
		for _, c := range needed {
			if !has(c) {
				missing = append(missing, c.name)
			}
		}
	}
	if len(missing) == 0 {
		return fmt.Errorf("%w (capabilities present; check RLIMIT_MEMLOCK on kernels before 5.11, "+
			"kernel.unprivileged_bpf_disabled, lockdown and LSM policy)", err)
	}
	return fmt.Errorf("%w (missing %s)", err, strings.Join(missing, ", "))
}
