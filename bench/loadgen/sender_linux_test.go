//go:build linux

package loadgen

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/teredorelay/teredorelay/bench/sink"
	"github.com/teredorelay/teredorelay/bench/topo"
	"github.com/teredorelay/teredorelay/internal/testenv"
)

// TestAutoFallsBackToAFXDP plays a kernel that refuses live frames (the
// probe answers EPERM, as the CI machines' kernels do): Auto must choose the
// AF_XDP generator, say why, and its frames must arrive. With a transmit
// device that does not exist, no generator works and Open must say so,
// naming both failures.
func TestAutoFallsBackToAFXDP(t *testing.T) {
	testenv.RequireRoot(t)
	tp, err := topo.Up(fmt.Sprintf("bl%d", os.Getpid()%100000))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tp.Down() })
	var sk *sink.Sink
	if err := topo.Do(tp.RelayNS, func() error {
		var err error
		sk, err = sink.Attach(tp.RelayV4.Index)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sk.Close() })

	old := probeLiveFrames
	t.Cleanup(func() { probeLiveFrames = old })
	probeLiveFrames = func(ifindex int) error {
		return fmt.Errorf("probe live frames: one-frame BPF_PROG_RUN on ifindex %d: run program: %w", ifindex, unix.EPERM)
	}

	var snd *Sender
	if err := topo.Do(tp.GenNS, func() error {
		var err error
		snd, err = Open(Auto, Devices{TX: tp.Gen.Index})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer snd.Close()
	if snd.Method() != AFXDP || !errors.Is(snd.LiveFramesRefused(), unix.EPERM) {
		t.Fatalf("method %s, live frames refused: %v; want afxdp and EPERM", snd.Method(), snd.LiveFramesRefused())
	}
	ep := Endpoints{Relay: netip.AddrPortFrom(topo.RelayIPv4, 3544), Server: topo.ServerIPv4,
		GenMAC: tp.Gen.MAC, RelayV4MAC: tp.RelayV4.MAC, RelayV6MAC: tp.RelayV6.MAC, NativeMAC: tp.Native.MAC}
	tr, err := Decap(ep, Clients(4, topo.ServerIPv4), 0)
	if err != nil {
		t.Fatal(err)
	}
	g, err := snd.New(tr, 0)
	if err != nil {
		t.Fatal(err)
	}
	before, err := sk.Read()
	if err != nil {
		t.Fatal(err)
	}
	var st Stats
	if err := topo.Do(tp.GenNS, func() error {
		var err error
		st, err = g.Send(t.Context(), Pace{Count: 1000})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	after, err := sk.Read()
	if err != nil {
		t.Fatal(err)
	}
	if got := after.Sub(before).Pkts[KindDecap]; st.Sent != 1000 || st.Method != AFXDP || got != 1000 {
		t.Errorf("sent %d with %s, sink counted %d; want 1000 with afxdp", st.Sent, st.Method, got)
	}

	// No generator at all: the device does not exist.
	err = topo.Do(tp.GenNS, func() error {
		s, err := Open(Auto, Devices{TX: 1 << 30})
		if err == nil {
			s.Close()
		}
		return err
	})
	if err == nil || !errors.Is(err, unix.EPERM) || !strings.Contains(err.Error(), "AF_XDP") {
		t.Errorf("Open with no working generator: %v; want the EPERM of live frames and the AF_XDP error", err)
	}
}
