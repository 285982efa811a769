package control_test

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/teredorelay/teredorelay/control"
	"github.com/teredorelay/teredorelay/control/api"
	"github.com/teredorelay/teredorelay/control/controltest"
)

func TestListenModeAndStaleSocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run", "api.sock")
	ln, err := control.Listen(path, "")
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != 0o660 {
		t.Errorf("socket mode %v, want socket 0660", fi.Mode())
	}
	if di, _ := os.Stat(filepath.Dir(path)); di.Mode().Perm() != 0o750 {
		t.Errorf("directory mode %v, want 0750", di.Mode().Perm())
	}
	// A live listener is not stolen.
	if _, err := control.Listen(path, ""); err == nil || !strings.Contains(err.Error(), "another process is listening on it") {
		t.Errorf("second listen: %v", err)
	}
	ln.Close() // unlinks
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("socket not removed on close: %v", err)
	}

	// A stale socket (its listener gone without unlinking) is replaced.
	stale, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	stale.(*net.UnixListener).SetUnlinkOnClose(false)
	stale.Close()
	ln, err = control.Listen(path, "")
	if err != nil {
		t.Fatalf("listen over stale socket: %v", err)
	}
	ln.Close()

	// A regular file is never removed.
	if err := os.WriteFile(path, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := control.Listen(path, ""); err == nil || !strings.Contains(err.Error(), "exists and is not a socket") {
		t.Errorf("listen over a file: %v", err)
	}
}

func TestListenGroup(t *testing.T) {
	path := filepath.Join(t.TempDir(), "api.sock")
	if _, err := control.Listen(path, "no-such-group-teredo"); err == nil || !strings.Contains(err.Error(), "look up control socket group no-such-group-teredo") {
		t.Errorf("unknown group: %v", err)
	}
	gid := os.Getgid()
	ln, err := control.Listen(path, strconv.Itoa(gid))
	if err != nil {
		t.Fatalf("own gid: %v", err)
	}
	ln.Close()
}

func TestRunServesOverSocketAndSamples(t *testing.T) {
	path := filepath.Join(t.TempDir(), "api.sock")
	b := controltest.Sample()
	srv := control.NewServer(control.Config{Backend: b, SampleInterval: 10 * time.Millisecond, RateWindow: time.Minute})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx, path) }()

	c := api.NewClient(path, 5*time.Second)
	var st api.Status
	var err error
	for i := 0; i < 200; i++ {
		if st, _, err = c.Status(ctx); err == nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err != nil || st.Version != "1.2.3" {
		t.Fatalf("status over socket: %+v %v", st, err)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return")
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("socket left behind: %v", err)
	}
}
