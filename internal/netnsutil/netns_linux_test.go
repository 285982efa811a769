//go:build linux

package netnsutil

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/teredorelay/teredorelay/internal/testenv"
)

func TestProcUDPKey(t *testing.T) {
	little := binary.NativeEndian.Uint16([]byte{1, 0}) == 1
	tests := []struct {
		ap         string
		le, bigEnd string // as /proc/net/udp shows it on each kind of host
	}{
		{"127.0.0.1:53", "0100007F:0035", "7F000001:0035"},
		{"198.51.100.1:3544", "016433C6:0DD8", "C6336401:0DD8"},
		{"0.0.0.0:65535", "00000000:FFFF", "00000000:FFFF"},
	}
	for _, tt := range tests {
		want := tt.bigEnd
		if little {
			want = tt.le
		}
		if got := procUDPKey(netip.MustParseAddrPort(tt.ap)); got != want {
			t.Errorf("procUDPKey(%s) = %s, want %s", tt.ap, got, want)
		}
	}
}

// TestUDPBound binds and closes a loopback socket in the test's own namespace.
func TestUDPBound(t *testing.T) {
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	ap := c.LocalAddr().(*net.UDPAddr).AddrPort()
	ap = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	if ok, err := UDPBound(ap); err != nil || !ok {
		t.Fatalf("UDPBound(%v) with the socket open = %v, %v", ap, ok, err)
	}
	c.Close()
	if ok, err := UDPBound(ap); err != nil || ok {
		t.Fatalf("UDPBound(%v) after close = %v, %v", ap, ok, err)
	}
	if _, err := UDPBound(netip.MustParseAddrPort("[::1]:53")); err == nil {
		t.Fatal("UDPBound accepted an IPv6 address")
	}
}

// TestDo binds a socket inside a fresh namespace (AddForTest) and finds it
// there only.
func TestDo(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.RequireBinary(t, "ip")
	ns := fmt.Sprintf("tnu%d", os.Getpid()%100000)
	t.Run("inside", func(t *testing.T) {
		AddForTest(t, ns)
		if _, err := os.Stat(Dir + ns); err != nil {
			t.Fatalf("namespace %s: %v", ns, err)
		}
		var c *net.UDPConn
		err := Do(ns, func() error {
			var err error
			c, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		port := c.LocalAddr().(*net.UDPAddr).AddrPort().Port()
		ap := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port)
		if ok, err := UDPBoundIn(ns, ap); err != nil || !ok {
			t.Fatalf("UDPBoundIn(%s, %v) = %v, %v", ns, ap, ok, err)
		}
		if ok, err := UDPBoundIn(ns, ap, netip.AddrPortFrom(ap.Addr(), port^1)); err != nil || ok {
			t.Fatalf("UDPBoundIn with an unbound second port = %v, %v", ok, err)
		}
		// The program Command starts sees the same socket table.
		out, err := Command(context.Background(), ns, "cat", "/proc/self/net/udp").Output()
		if err != nil || !strings.Contains(string(out), procUDPKey(ap)) {
			t.Fatalf("ip netns exec %s: %v:\n%s", ns, err, out)
		}
		// Errors: fn's own, and a namespace that does not exist.
		errFn := errors.New("from fn")
		if err := Do(ns, func() error { return errFn }); !errors.Is(err, errFn) {
			t.Fatalf("Do returned %v, want fn's error", err)
		}
		if err := Do(ns+"-none", func() error { t.Error("fn ran"); return nil }); err == nil {
			t.Fatal("Do into a missing namespace succeeded")
		}
	})
	if _, err := os.Stat(Dir + ns); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("namespace %s left behind after the test: %v", ns, err)
	}
}
