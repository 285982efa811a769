package bpf

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/teredorelay/teredorelay/internal/testenv"
	"golang.org/x/sys/unix"
)

// childEnv marks the re-executed test binary that loads the program with
// reduced capabilities.
const childEnv = "TEREDO_BPF_LOAD_CHILD"

// childLoaded is the line the child prints after every load succeeded, so
// the parent can tell a pass from a skip.
const childLoaded = "steer loaded with CAP_BPF and CAP_NET_ADMIN only"

// TestLoadWithoutPerfmon loads the program in a child process that runs as
// nobody with only CAP_BPF and CAP_NET_ADMIN (setpriv), the capabilities
// deploy/teredo-relayd.service grants for it. Without CAP_PERFMON the
// verifier refuses pointer arithmetic it cannot bound, pointer comparisons
// between unrelated types and other "pointer leak" constructs; this test
// keeps steer.c free of them for every combination of the load-time switches.
func TestLoadWithoutPerfmon(t *testing.T) {
	if os.Getenv(childEnv) == "1" {
		loadAsChild(t)
		return
	}
	testenv.RequireRoot(t)
	testenv.RequireBinary(t, "setpriv")

	// The go test work directory is private to root; nobody needs a copy of
	// the test binary it can execute.
	self, err := os.Executable()
	if err != nil {
		t.Fatalf("find test binary: %v", err)
	}
	dir, err := os.MkdirTemp("", "bpf-caps-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "bpf.test")
	if err := copyFile(bin, self, 0o755); err != nil {
		t.Fatalf("copy test binary: %v", err)
	}

	const caps = "-all,+bpf,+net_admin"
	cmd := exec.Command("setpriv",
		"--reuid=nobody", "--regid=nogroup", "--clear-groups",
		"--inh-caps="+caps, "--ambient-caps="+caps, "--bounding-set="+caps,
		"--", bin, "-test.run=^TestLoadWithoutPerfmon$", "-test.v", "-test.count=1")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), childEnv+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("load as nobody with CAP_BPF and CAP_NET_ADMIN: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), childLoaded) {
		t.Fatalf("child did not report a load:\n%s", out)
	}
}

// loadAsChild runs in the setpriv child: it first proves the reduced
// privileges (not root, no CAP_PERFMON, no CAP_SYS_ADMIN, CAP_BPF and
// CAP_NET_ADMIN effective), then loads every switch combination.
func loadAsChild(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Fatal("child runs as root; setpriv did not change the user")
	}
	var hdr = unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		t.Fatalf("capget: %v", err)
	}
	has := func(bit uint) bool { return data[bit/32].Effective&(1<<(bit%32)) != 0 }
	for _, c := range []capability{capBPF, capNetAdmin} {
		if !has(c.bit) {
			t.Fatalf("child lacks %s", c.name)
		}
	}
	for _, bit := range []uint{unix.CAP_PERFMON, unix.CAP_SYS_ADMIN, unix.CAP_SYS_RESOURCE} {
		if has(bit) {
			t.Fatalf("child has capability %d; the test would prove nothing", bit)
		}
	}

	for _, sw := range []struct{ v4, v6 bool }{{true, true}, {true, false}, {false, true}} {
		cfg := testConfig
		cfg.SteerIPv4, cfg.SteerIPv6 = sw.v4, sw.v6
		if !cfg.SteerIPv4 {
			cfg.Addrs = nil
		}
		p, err := Load(cfg)
		if err != nil {
			var ve *ebpf.VerifierError
			if errors.As(err, &ve) {
				t.Fatalf("Load(ipv4=%v ipv6=%v): %+v", sw.v4, sw.v6, ve)
			}
			t.Fatalf("Load(ipv4=%v ipv6=%v): %v", sw.v4, sw.v6, err)
		}
		if err := p.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
	}
	fmt.Println(childLoaded)
}

func copyFile(dst, src string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
