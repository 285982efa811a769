package bpf

import (
	"encoding/binary"
	"errors"
	"fmt"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

func TestAttach(t *testing.T) {
	p := loadTest(t, testConfig)
	ns := newNetNS(t)
	veth := ns.veth(t)
	lo := ns.loopback(t)

	attach := func(p *Program, ifindex int, mode AttachMode) (got AttachMode, err error) {
		ns.do(func() { got, err = p.Attach(ifindex, mode) })
		return got, err
	}

	if _, err := attach(p, 0, AttachAuto); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("Attach(ifindex 0) = %v, want ErrInvalidConfig", err)
	}
	if _, err := attach(p, veth, AttachMode(9)); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("Attach(mode 9) = %v, want ErrInvalidConfig", err)
	}

	mode, err := attach(p, veth, AttachNative)
	if err != nil || mode != AttachNative {
		t.Fatalf("Attach(veth, native) = %v, %v; want native", mode, err)
	}
	if ns.xdpProgID(t, veth) == 0 {
		t.Fatal("no XDP program on the veth after Attach")
	}
	if _, err := attach(p, lo, AttachGeneric); !errors.Is(err, ErrAttached) {
		t.Errorf("second Attach = %v, want ErrAttached", err)
	}

	// A second program cannot take the hook while the link holds it.
	other := loadTest(t, testConfig)
	if _, err := attach(other, veth, AttachAuto); err == nil {
		t.Error("second program attached to an occupied hook")
	}

	// lo has no native XDP: auto falls back to generic, native fails.
	if mode, err := attach(other, lo, AttachAuto); err != nil || mode != AttachGeneric {
		t.Errorf("Attach(lo, auto) = %v, %v; want generic", mode, err)
	}
	third := loadTest(t, Config{SteerIPv6: true})
	if _, err := attach(third, lo, AttachNative); err == nil {
		t.Error("Attach(lo, native) succeeded")
	}

	if err := p.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if id := ns.xdpProgID(t, veth); id != 0 {
		t.Errorf("XDP program %d still on the veth after Close", id)
	}
	if err := other.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if id := ns.xdpProgID(t, lo); id != 0 {
		t.Errorf("XDP program %d still on lo after Close", id)
	}
}

// TestAttachLiveTraffic attaches in native mode to a veth in a private
// namespace and sends frames from the peer: steered frames reach the AF_XDP
// socket (its rx_dropped grows, as the test never fills its fill ring), and
// after Unregister they go to the kernel.
func TestAttachLiveTraffic(t *testing.T) {
	p := loadTest(t, testConfig)
	ns := newNetNS(t)
	veth := ns.veth(t)
	fd := ns.xsk(t, veth, 0)
	var err error
	ns.do(func() { _, err = p.Attach(veth, AttachNative) })
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Register(0, fd); err != nil {
		t.Fatal(err)
	}
	relay := frame(ethernet(etherIPv4), relayUDP(relayAddrA))
	teredo := frame(ethernet(etherIPv6), ipv6(nativePeer, teredoClient, 59, nil))
	arp := frame(ethernet(etherARP), make([]byte, 28))

	start, _ := p.Counters()
	ns.send(t, relay, 5)
	ns.send(t, teredo, 2)
	ns.send(t, arp, 3)
	got := waitCounters(t, p, start, map[Reason]uint64{ReasonSteerIPv4UDP: 5, ReasonSteerIPv6Teredo: 2, ReasonPassARP: 3})
	if got[ReasonPassNoSocket] != 0 {
		t.Errorf("pass_no_socket = %d with a socket registered", got[ReasonPassNoSocket])
	}
	if st := xskStats(t, fd); st.Rx_dropped != 7 {
		t.Errorf("socket rx_dropped = %d, want the 7 steered frames", st.Rx_dropped)
	}

	if err := p.Unregister(0); err != nil {
		t.Fatal(err)
	}
	start, _ = p.Counters()
	ns.send(t, relay, 4)
	waitCounters(t, p, start, map[Reason]uint64{ReasonPassNoSocket: 4})
	if st := xskStats(t, fd); st.Rx_dropped != 7 {
		t.Errorf("socket rx_dropped = %d after Unregister, want 7", st.Rx_dropped)
	}
}

// send transmits frame count times from the veth peer (AF_PACKET).
func (ns *netNS) send(t *testing.T, frame []byte, count int) {
	t.Helper()
	var err error
	ns.do(func() {
		var peer int
		if peer, err = linkUp(peerName); err != nil {
			return
		}
		var fd int
		if fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0); err != nil {
			err = fmt.Errorf("socket AF_PACKET: %w", err)
			return
		}
		defer unix.Close(fd)
		to := &unix.SockaddrLinklayer{Ifindex: peer, Halen: 6, Protocol: htons(binary.BigEndian.Uint16(frame[12:]))}
		for range count {
			if err = unix.Sendto(fd, frame, 0, to); err != nil {
				err = fmt.Errorf("send on %s: %w", peerName, err)
				return
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// waitCounters waits (at most 5 s) until the counters grew by at least want
// since start, then requires the growth of those reasons to be exactly want.
func waitCounters(t *testing.T, p *Program, start Counters, want map[Reason]uint64) Counters {
	t.Helper()
	var delta Counters
	for deadline := time.Now().Add(5 * time.Second); ; {
		now, err := p.Counters()
		if err != nil {
			t.Fatal(err)
		}
		done := true
		for r := range delta {
			delta[r] = now[r] - start[r]
		}
		for r, n := range want {
			done = done && delta[r] >= n
		}
		if done || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	for r, n := range want {
		if delta[r] != n {
			t.Errorf("%v grew by %d, want %d (all: %s)", r, delta[r], n, deltaString(delta))
		}
	}
	return delta
}

func xskStats(t *testing.T, fd int) unix.XDPStatistics {
	t.Helper()
	var st unix.XDPStatistics
	size := uint32(unsafe.Sizeof(st))
	if _, _, errno := unix.Syscall6(unix.SYS_GETSOCKOPT, uintptr(fd), unix.SOL_XDP, unix.XDP_STATISTICS,
		uintptr(unsafe.Pointer(&st)), uintptr(unsafe.Pointer(&size)), 0); errno != 0 {
		t.Fatalf("getsockopt XDP_STATISTICS: %v", errno)
	}
	return st
}
