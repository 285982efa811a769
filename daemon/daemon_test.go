package daemon

import (
	"fmt"
	"net"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

func TestExplain(t *testing.T) {
	tests := []struct {
		err  error
		step string
		want string
	}{
		{fmt.Errorf("load: %w", unix.EPERM), "load XDP program",
			"missing capability CAP_BPF and CAP_NET_ADMIN (or CAP_SYS_ADMIN): load XDP program: load: operation not permitted"},
		{unix.EPERM, "attach XDP program to ix0 (interfaces.one_armed)",
			"missing capability CAP_NET_ADMIN: attach XDP program to ix0 (interfaces.one_armed): operation not permitted"},
		{unix.EPERM, "open AF_XDP socket on ix0 queue 0 (interfaces.one_armed, queues)",
			"missing capability CAP_NET_RAW: open AF_XDP socket on ix0 queue 0 (interfaces.one_armed, queues): operation not permitted"},
		{unix.EPERM, "open kernel sockets", "missing capability CAP_NET_RAW: open kernel sockets: operation not permitted"},
		{unix.EADDRNOTAVAIL, "open kernel sockets",
			"config: ipv4.address: not assigned to an interface on this host: open kernel sockets: cannot assign requested address"},
		{unix.EADDRINUSE, "open kernel sockets",
			"config: ipv4.port: in use by another socket (is miredo running?): open kernel sockets: address already in use"},
		{unix.ENOMEM, "allocate UMEM for queue 0 (umem.frames × umem.frame_size)",
			"cannot lock packet memory (grant CAP_IPC_LOCK or LimitMEMLOCK=infinity, or lower umem.frames): allocate UMEM for queue 0 (umem.frames × umem.frame_size): cannot allocate memory"},
		{unix.EINVAL, "load XDP program", "load XDP program: invalid argument"},
	}
	for _, tt := range tests {
		if got := explain(tt.err, tt.step).Error(); got != tt.want {
			t.Errorf("explain(%v, %q)\n got %q\nwant %q", tt.err, tt.step, got, tt.want)
		}
	}
}

func TestNotify(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	t.Setenv("NOTIFY_SOCKET", path)
	for _, state := range []string{"READY=1\nSTATUS=relaying", "STOPPING=1"} {
		if err := notify(state); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 128)
		n, err := conn.Read(buf)
		if err != nil || string(buf[:n]) != state {
			t.Fatalf("read %q, %v; want %q", buf[:n], err, state)
		}
	}
	t.Setenv("NOTIFY_SOCKET", "")
	if err := notify("READY=1"); err != nil {
		t.Fatalf("no NOTIFY_SOCKET must be a no-op: %v", err)
	}
}

func TestIfindexByNameUnknown(t *testing.T) {
	if _, err := ifindexByName("tdp-nonexist0"); err == nil || err.Error() != "no such network interface" {
		t.Fatalf("err %v", err)
	}
}
