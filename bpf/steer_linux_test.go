package bpf

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"runtime"
	"slices"
	"strings"
	"testing"
	"unsafe"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"github.com/teredorelay/teredorelay/internal/testenv"
	"golang.org/x/sys/unix"
)

const (
	xdpDrop     = 1
	xdpPass     = 2
	xdpRedirect = 4
)

func loadTest(t testing.TB, cfg Config) *Program {
	t.Helper()
	testenv.RequireRoot(t)
	p, err := Load(cfg)
	if err != nil {
		var ve *ebpf.VerifierError
		if errors.As(err, &ve) {
			t.Fatalf("Load: %+v", ve)
		}
		t.Fatalf("Load: %v", err)
	}
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return p
}

// xdpMd mirrors struct xdp_md for RunOptions.Context.
type xdpMd struct {
	Data, DataEnd, DataMeta, IngressIfindex, RxQueueIndex, EgressIfindex uint32
}

type runResult struct {
	action uint32
	out    []byte
	delta  Counters
}

// run executes the program once on frame (BPF_PROG_TEST_RUN) and returns the
// action, the output frame and the counter changes. ctx may be nil.
func run(t testing.TB, p *Program, frame []byte, ctx *xdpMd) runResult {
	t.Helper()
	before, err := p.Counters()
	if err != nil {
		t.Fatal(err)
	}
	opts := &ebpf.RunOptions{Data: frame, DataOut: make([]byte, len(frame)+256), Repeat: 1}
	if ctx != nil {
		opts.Context = *ctx
	}
	action, err := p.objs.Steer.Run(opts)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	after, err := p.Counters()
	if err != nil {
		t.Fatal(err)
	}
	var delta Counters
	for i := range delta {
		delta[i] = after[i] - before[i]
	}
	return runResult{action: action, out: opts.DataOut, delta: delta}
}

// only returns counters with a single 1 at r: every frame counts once.
func only(r Reason) Counters {
	var c Counters
	c[r] = 1
	return c
}

func deltaString(c Counters) string {
	var parts []string
	for r, v := range c {
		if v != 0 {
			parts = append(parts, fmt.Sprintf("%v:%d", Reason(r), v))
		}
	}
	return "{" + strings.Join(parts, " ") + "}"
}

// checkRun asserts the verdict for a frame whose expected reason (with a
// socket registered) is want; socket says whether one is registered.
func checkRun(t *testing.T, p *Program, frame []byte, ctx *xdpMd, want Reason, socket bool) {
	t.Helper()
	got := run(t, p, frame, ctx)
	wantAction, wantReason := uint32(xdpPass), want
	switch {
	case !socket && (want.Dropped() || want.Steered()):
		// With no socket on the queue nothing is steered or dropped.
		wantReason = ReasonPassNoSocket
	case want.Dropped():
		wantAction = xdpDrop
	case want.Steered():
		wantAction = xdpRedirect
	}
	if got.action != wantAction {
		t.Errorf("action = %d, want %d", got.action, wantAction)
	}
	if got.delta != only(wantReason) {
		t.Errorf("counter delta = %s, want %s", deltaString(got.delta), deltaString(only(wantReason)))
	}
	if !bytes.Equal(got.out, frame) {
		t.Errorf("output frame changed:\n got %x\nwant %x", got.out, frame)
	}
}

// TestSteer runs every hand-built case through the program, first with no
// socket on queue 0 (steerable frames fall back to the kernel) and then with
// a real AF_XDP socket registered (steerable frames are redirected).
func TestSteer(t *testing.T) {
	p := loadTest(t, testConfig)
	ns := newNetNS(t)
	for _, socket := range []bool{false, true} {
		if socket {
			fd := ns.xsk(t, ns.loopback(t), 0)
			if err := p.Register(0, fd); err != nil {
				t.Fatal(err)
			}
		}
		for _, tc := range steerCases() {
			t.Run(fmt.Sprintf("socket=%v/%s", socket, tc.name), func(t *testing.T) {
				checkRun(t, p, tc.frame, nil, tc.want, socket)
			})
		}
	}
	if err := p.Unregister(0); err != nil {
		t.Fatal(err)
	}
	t.Run("after unregister", func(t *testing.T) {
		checkRun(t, p, steerCases()[0].frame, nil, ReasonSteerIPv4UDP, false)
	})
	if err := p.Unregister(0); err != nil {
		t.Errorf("second Unregister: %v", err)
	}
}

// TestSteerPcap feeds the frames of the miredo captures, checking each
// frame against the reference model and the totals against tcpdump counts.
func TestSteerPcap(t *testing.T) {
	testenv.RequireRoot(t)
	ns := newNetNS(t)
	// One socket for all programs: a closed socket stays bound until the
	// kernel frees the map that references it, which happens asynchronously.
	fd := ns.xsk(t, ns.loopback(t), 0)
	for _, pc := range pcapCases {
		t.Run(pc.file[strings.LastIndex(pc.file, "/")+1:], func(t *testing.T) {
			frames, err := readPcap(pc.file)
			if err != nil {
				t.Fatal(err)
			}
			p := loadTest(t, pc.cfg)
			if err := p.Register(0, fd); err != nil {
				t.Fatal(err)
			}
			before, _ := p.Counters()
			for i, f := range frames {
				want := modelReason(f, modelOf(pc.cfg))
				t.Run(fmt.Sprintf("frame%02d", i+1), func(t *testing.T) { checkRun(t, p, f, nil, want, true) })
			}
			after, _ := p.Counters()
			for r := range after {
				if got, want := after[r]-before[r], uint64(pc.want[Reason(r)]); got != want {
					t.Errorf("%v: %d frames, want %d", Reason(r), got, want)
				}
			}
		})
	}
}

// TestSteerSwitches checks the load-time constants: port and per-family
// switches.
func TestSteerSwitches(t *testing.T) {
	v4 := frame(ethernet(etherIPv4), relayUDP(relayAddrA))
	v4port := frame(ethernet(etherIPv4), ipv4Header{src: clientAddr, dst: relayAddrA, proto: protoUDP}.packet(udp(1, 3545, bubble())))
	v6 := frame(ethernet(etherIPv6), ipv6(nativePeer, teredoClient, 59, nil))
	arp := frame(ethernet(etherARP), make([]byte, 28))
	tests := []struct {
		name string
		cfg  Config
		want map[string]Reason
	}{
		{"ipv4 only", Config{Addrs: []netip.Addr{relayAddrA}, SteerIPv4: true},
			map[string]Reason{"v4": ReasonSteerIPv4UDP, "v4port": ReasonPassIPv4NotRelayPort, "v6": ReasonPassIPv6Disabled, "arp": ReasonPassARP}},
		{"ipv6 only", Config{SteerIPv6: true},
			map[string]Reason{"v4": ReasonPassIPv4Disabled, "v4port": ReasonPassIPv4Disabled, "v6": ReasonSteerIPv6Teredo, "arp": ReasonPassARP}},
		{"port 3545", Config{Addrs: []netip.Addr{relayAddrA}, Port: 3545, SteerIPv4: true, SteerIPv6: true},
			map[string]Reason{"v4": ReasonPassIPv4NotRelayPort, "v4port": ReasonSteerIPv4UDP, "v6": ReasonSteerIPv6Teredo, "arp": ReasonPassARP}},
	}
	frames := map[string][]byte{"v4": v4, "v4port": v4port, "v6": v6, "arp": arp}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := loadTest(t, tt.cfg)
			for name, want := range tt.want {
				t.Run(name, func(t *testing.T) { checkRun(t, p, frames[name], nil, want, false) })
			}
		})
	}
}

// TestSetAddrs replaces the relay addresses at run time.
func TestSetAddrs(t *testing.T) {
	p := loadTest(t, testConfig)
	a, b, c := relayAddrA, relayAddrB, netip.MustParseAddr("198.51.100.2")
	check := func(want ...netip.Addr) {
		t.Helper()
		got, err := p.Addrs()
		if err != nil {
			t.Fatal(err)
		}
		slices.SortFunc(want, netip.Addr.Compare)
		if !slices.Equal(got, want) {
			t.Fatalf("Addrs = %v, want %v", got, want)
		}
		for _, addr := range []netip.Addr{a, b, c} {
			wantReason := ReasonPassIPv4NotRelayAddr
			if slices.Contains(want, addr) {
				wantReason = ReasonSteerIPv4UDP
			}
			checkRun(t, p, frame(ethernet(etherIPv4), relayUDP(addr)), nil, wantReason, false)
		}
	}
	check(a, b)
	if err := p.SetAddrs([]netip.Addr{b, c}); err != nil {
		t.Fatal(err)
	}
	check(b, c)
	if err := p.SetAddrs(addrRange(MaxAddrs)); err != nil {
		t.Fatal(err)
	}
	check(addrRange(MaxAddrs)...)
	if err := p.SetAddrs(nil); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("SetAddrs(nil) with IPv4 steering = %v, want ErrInvalidConfig", err)
	}
	if err := p.SetAddrs(addrRange(MaxAddrs + 1)); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("SetAddrs(9 addresses) = %v, want ErrInvalidConfig", err)
	}
	check(addrRange(MaxAddrs)...) // a rejected set leaves the map alone
	if err := p.SetAddrs([]netip.Addr{netip.MustParseAddr("::ffff:192.0.2.1")}); err != nil {
		t.Fatal(err)
	}
	check(b)
}

// TestSetMACs replaces the own MAC addresses at run time (a bond failing
// over, a VLAN sub-interface added) and refuses invalid sets.
func TestSetMACs(t *testing.T) {
	p := loadTest(t, testConfig)
	relay, second := [6]byte(macRelay), [6]byte(macRelayVLAN)
	other := [6]byte(macOther)
	check := func(want [][6]byte, dst []byte, reason Reason, socket bool) {
		t.Helper()
		got, err := p.MACs()
		if err != nil || !slices.Equal(got, want) {
			t.Fatalf("MACs = %x, %v; want %x", got, err, want)
		}
		checkRun(t, p, frame(ethernetTo(dst, etherIPv4), relayUDP(relayAddrA)), nil, reason, socket)
	}
	check([][6]byte{relay, second}, macRelay, ReasonSteerIPv4UDP, false)
	if err := p.SetMACs([][6]byte{other}); err != nil {
		t.Fatal(err)
	}
	ns := newNetNS(t)
	if err := p.Register(0, ns.xsk(t, ns.loopback(t), 0)); err != nil {
		t.Fatal(err)
	}
	// The old MAC is another host's now; the new one is steered.
	checkRun(t, p, frame(ethernetTo(macRelay, etherIPv4), relayUDP(relayAddrA)), nil, ReasonDropNotOurMAC, true)
	checkRun(t, p, frame(ethernetTo(macOther, etherIPv4), relayUDP(relayAddrA)), nil, ReasonSteerIPv4UDP, true)
	if err := p.SetMACs(nil); err != nil {
		t.Fatal(err)
	}
	// No MAC: the check is off.
	checkRun(t, p, frame(ethernetTo(macPeer, etherIPv4), relayUDP(relayAddrA)), nil, ReasonSteerIPv4UDP, true)
	nine := make([][6]byte, MaxMACs+1)
	for i := range nine {
		nine[i] = [6]byte{2, 0, 0, 0, 0, byte(i + 1)}
	}
	for _, bad := range [][][6]byte{nine, {[6]byte(macBroadcast)}, {{}}} {
		if err := p.SetMACs(bad); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("SetMACs(%x) = %v, want ErrInvalidConfig", bad, err)
		}
	}
	if got, _ := p.MACs(); len(got) != 0 {
		t.Errorf("a refused set changed the map: %x", got)
	}
	if err := p.SetMACs([][6]byte{relay, relay}); err != nil {
		t.Fatal(err)
	}
	check([][6]byte{relay}, macRelay, ReasonSteerIPv4UDP, true)
}

func TestRegisterErrors(t *testing.T) {
	p := loadTest(t, testConfig)
	for _, q := range []int{-1, MaxQueues} {
		if err := p.Register(q, 0); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("Register(%d) = %v, want ErrInvalidConfig", q, err)
		}
		if err := p.Unregister(q); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("Unregister(%d) = %v, want ErrInvalidConfig", q, err)
		}
	}
	if err := p.Register(0, -1); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("Register(0, -1) = %v, want ErrInvalidConfig", err)
	}
	// An fd that is not an AF_XDP socket is refused by the kernel.
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if err := p.Register(0, fd); err == nil || !strings.Contains(err.Error(), "register xsk fd") {
		t.Errorf("Register(udp socket) = %v, want an error", err)
	}
}

func TestClose(t *testing.T) {
	testenv.RequireRoot(t)
	p, err := Load(testConfig)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := p.Counters(); !errors.Is(err, ErrClosed) {
		t.Errorf("Counters after Close = %v, want ErrClosed", err)
	}
	if err := p.Register(0, 3); !errors.Is(err, ErrClosed) {
		t.Errorf("Register after Close = %v, want ErrClosed", err)
	}
	if _, err := p.Attach(1, AttachAuto); !errors.Is(err, ErrClosed) {
		t.Errorf("Attach after Close = %v, want ErrClosed", err)
	}
	if err := p.SetAddrs(testConfig.Addrs); !errors.Is(err, ErrClosed) {
		t.Errorf("SetAddrs after Close = %v, want ErrClosed", err)
	}
}

func TestLoadRejectsInvalidConfig(t *testing.T) {
	// Validation comes before any privileged step, so this needs no root.
	if _, err := Load(Config{}); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("Load(Config{}) = %v, want ErrInvalidConfig", err)
	}
}

// TestPermissionHint checks the EPERM message names missing capabilities.
func TestPermissionHint(t *testing.T) {
	plain := errors.New("other")
	if got := permissionHint(plain, capBPF); got != plain {
		t.Errorf("non-EPERM error changed: %v", got)
	}
	err := permissionHint(fmt.Errorf("map create: %w", unix.EPERM), capBPF, capNetAdmin)
	if !errors.Is(err, unix.EPERM) {
		t.Errorf("hint lost the cause: %v", err)
	}
	if unix.Geteuid() == 0 && !strings.Contains(err.Error(), "capabilities present") {
		t.Errorf("as root: %v, want the capabilities-present hint", err)
	}
}

// TestReasonTableMatchesBTF fails when enum reason in steer.h and the Go
// table drift: same names (REASON_ + upper-case label), same values.
func TestReasonTableMatchesBTF(t *testing.T) {
	spec, err := loadSteer()
	if err != nil {
		t.Fatal(err)
	}
	var enum *btf.Enum
	if err := spec.Types.TypeByName("reason", &enum); err != nil {
		t.Fatalf("enum reason not in BTF: %v", err)
	}
	if len(enum.Values) != NumReasons+1 {
		t.Fatalf("C enum has %d values (with REASON_LEN), Go has %d reasons", len(enum.Values), NumReasons)
	}
	for i, v := range enum.Values[:NumReasons] {
		want := "REASON_" + strings.ToUpper(Reason(i).String())
		if v.Name != want || v.Value != uint64(i) {
			t.Errorf("C enumerator %d is %s = %d, Go expects %s = %d", i, v.Name, v.Value, want, i)
		}
	}
	if last := enum.Values[NumReasons]; last.Name != "REASON_LEN" || last.Value != uint64(NumReasons) {
		t.Errorf("sentinel is %s = %d, want REASON_LEN = %d", last.Name, last.Value, NumReasons)
	}
	var reasonLen uint32
	if err := spec.Variables[steerVarReasonLen].Get(&reasonLen); err != nil || reasonLen != uint32(NumReasons) {
		t.Errorf("reason_len = %d (%v), want %d", reasonLen, err, NumReasons)
	}
}

// TestLimitsMatchObject fails when the map sizes in steer.h and the Go
// constants drift.
func TestLimitsMatchObject(t *testing.T) {
	spec, err := loadSteer()
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]int{steerMapXsks: MaxQueues, steerMapRelayAddrs: MaxAddrs, steerMapCounters: NumReasons} {
		if got := spec.Maps[name].MaxEntries; got != uint32(want) {
			t.Errorf("map %s has %d entries, Go expects %d", name, got, want)
		}
	}
	// own_macs: one struct own_macs {__u32 n; __u8 addr[MaxMACs][6];}, as macSet.
	if m := spec.Maps[steerMapOwnMacs]; m.MaxEntries != 1 || m.ValueSize != uint32(unsafe.Sizeof(macSet{})) {
		t.Errorf("map %s: %d entries of %d bytes, Go expects 1 of %d", steerMapOwnMacs, m.MaxEntries, m.ValueSize, unsafe.Sizeof(macSet{}))
	}
	var own *btf.Struct
	if err := spec.Types.TypeByName("own_macs", &own); err != nil {
		t.Fatalf("struct own_macs not in BTF: %v", err)
	}
	if arr, ok := own.Members[1].Type.(*btf.Array); !ok || arr.Nelems != MaxMACs || own.Members[1].Offset.Bytes() != 4 {
		t.Errorf("struct own_macs member %s: %v, want [%d][6]__u8 at offset 4", own.Members[1].Name, own.Members[1].Type, MaxMACs)
	}
	var port uint16
	if err := spec.Variables[steerVarRelayPort].Get(&port); err != nil || port != DefaultPort {
		t.Errorf("relay_port default = %d (%v), want %d", port, err, DefaultPort)
	}
}

// TestSteerQueueIndex proves the program uses the receiving queue's slot: on
// a veth with 4 RX queues a socket bound to queue 2 gets queue 2's frames
// only.
func TestSteerQueueIndex(t *testing.T) {
	p := loadTest(t, testConfig)
	ns := newNetNS(t)
	veth := ns.veth(t)
	if err := p.Register(2, ns.xsk(t, veth, 2)); err != nil {
		t.Fatal(err)
	}
	relay := frame(ethernet(etherIPv4), relayUDP(relayAddrA))
	for _, q := range []uint32{0, 1, 2, 3} {
		t.Run(fmt.Sprintf("queue%d", q), func(t *testing.T) {
			ns.do(func() {
				checkRun(t, p, relay, &xdpMd{DataEnd: uint32(len(relay)), IngressIfindex: uint32(veth), RxQueueIndex: q}, ReasonSteerIPv4UDP, q == 2)
			})
		})
	}
	if err := p.Unregister(2); err != nil {
		t.Fatal(err)
	}
	ns.do(func() {
		checkRun(t, p, relay, &xdpMd{DataEnd: uint32(len(relay)), IngressIfindex: uint32(veth), RxQueueIndex: 2}, ReasonSteerIPv4UDP, false)
	})
}

// FuzzSteer compares the program with the reference model on arbitrary
// frames, with a socket registered.
func FuzzSteer(f *testing.F) {
	for _, tc := range steerCases() {
		f.Add(tc.frame)
	}
	for _, pc := range pcapCases {
		frames, err := readPcap(pc.file)
		if err != nil {
			f.Fatal(err)
		}
		for _, fr := range frames {
			f.Add(fr)
		}
	}
	p := loadTest(f, testConfig)
	ns := newNetNS(f)
	if err := p.Register(0, ns.xsk(f, ns.loopback(f), 0)); err != nil {
		f.Fatal(err)
	}
	model := modelOf(testConfig)
	f.Fuzz(func(t *testing.T, fr []byte) {
		if len(fr) < 14 || len(fr) > 1514 { // BPF_PROG_TEST_RUN bounds for XDP
			t.Skip()
		}
		want := modelReason(fr, model)
		got := run(t, p, fr, nil)
		wantAction := uint32(xdpPass)
		switch {
		case want.Dropped():
			wantAction = xdpDrop
		case want.Steered():
			wantAction = xdpRedirect
		}
		if got.action != wantAction || got.delta != only(want) || !bytes.Equal(got.out, fr) {
			t.Fatalf("frame %x: action %d delta %s; model wants %v", fr, got.action, deltaString(got.delta), want)
		}
	})
}

// BenchmarkSteer measures the program per frame inside the kernel
// (BPF_PROG_TEST_RUN with Repeat, one syscall per iteration batch).
func BenchmarkSteer(b *testing.B) {
	p := loadTest(b, testConfig)
	ns := newNetNS(b)
	if err := p.Register(0, ns.xsk(b, ns.loopback(b), 0)); err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name  string
		frame []byte
	}{
		{"ipv4_relay", frame(ethernet(etherIPv4), relayUDP(relayAddrA))},
		{"ipv4_qinq_relay", frame(ethernet(etherIPv4, etherQinQ, etherVLAN), relayUDP(relayAddrA))},
		{"ipv6_teredo", frame(ethernet(etherIPv6), ipv6(nativePeer, teredoClient, 59, nil))},
		{"ipv4_other_addr", frame(ethernet(etherIPv4), relayUDP(clientAddr))},
		{"arp", frame(ethernet(etherARP), make([]byte, 28))},
	} {
		b.Run(bc.name, func(b *testing.B) {
			_, perRun, err := p.objs.Steer.Benchmark(bc.frame, b.N, b.ResetTimer)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(perRun.Nanoseconds()), "ns/frame")
		})
	}
}

// netNS is an OS thread in a private network namespace. Functions passed to
// do run on it; the namespace dies with the thread when the test ends.
type netNS struct {
	calls chan func()
}

func newNetNS(t testing.TB) *netNS {
	t.Helper()
	testenv.RequireRoot(t)
	ns := &netNS{calls: make(chan func())}
	ready := make(chan error)
	go func() {
		// Never unlocked: the goroutine exits with the thread locked, so
		// the runtime terminates the thread instead of reusing it.
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			ready <- fmt.Errorf("unshare network namespace: %w", err)
			return
		}
		ready <- nil
		for fn := range ns.calls {
			fn()
		}
	}()
	if err := <-ready; err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { close(ns.calls) })
	return ns
}

func (ns *netNS) do(fn func()) {
	done := make(chan struct{})
	ns.calls <- func() {
		defer close(done)
		fn()
	}
	<-done
}

func (ns *netNS) loopback(t testing.TB) int {
	t.Helper()
	var ifindex int
	var err error
	ns.do(func() { ifindex, err = linkUp("lo") })
	if err != nil {
		t.Fatal(err)
	}
	return ifindex
}

// xsk opens a copy-mode AF_XDP socket bound to ifindex/queue in the
// namespace: enough for the XSKMAP to accept it and for redirects to succeed.
// No traffic is read from it.
func (ns *netNS) xsk(t testing.TB, ifindex, queue int) int {
	t.Helper()
	var fd int
	var err error
	ns.do(func() { fd, err = openXSK(ifindex, queue) })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return fd
}

func openXSK(ifindex, queue int) (int, error) {
	const frameSize, frames = 4096, 16
	fd, err := unix.Socket(unix.AF_XDP, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("socket AF_XDP: %w", err)
	}
	// The kernel pins the UMEM pages; they are never unmapped here, as the
	// test process ends soon after (64 KiB per socket).
	umem, err := unix.Mmap(-1, 0, frameSize*frames, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("mmap umem: %w", err)
	}
	reg := unix.XDPUmemReg{Addr: uint64(uintptr(unsafe.Pointer(&umem[0]))), Len: uint64(len(umem)), Size: frameSize}
	if _, _, errno := unix.Syscall6(unix.SYS_SETSOCKOPT, uintptr(fd), unix.SOL_XDP, unix.XDP_UMEM_REG,
		uintptr(unsafe.Pointer(&reg)), unsafe.Sizeof(reg), 0); errno != 0 {
		unix.Close(fd)
		return -1, fmt.Errorf("register umem: %w", errno)
	}
	for _, opt := range []int{unix.XDP_UMEM_FILL_RING, unix.XDP_UMEM_COMPLETION_RING, unix.XDP_RX_RING} {
		if err := unix.SetsockoptInt(fd, unix.SOL_XDP, opt, frames); err != nil {
			unix.Close(fd)
			return -1, fmt.Errorf("ring size option %d: %w", opt, err)
		}
	}
	if err := unix.Bind(fd, &unix.SockaddrXDP{Flags: unix.XDP_COPY, Ifindex: uint32(ifindex), QueueID: uint32(queue)}); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("bind xsk to ifindex %d queue %d: %w", ifindex, queue, err)
	}
	return fd, nil
}
