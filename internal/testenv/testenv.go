package testenv

import (
	"os"
	"testing"
)

// InCI reports whether the test runs under CI (the CI environment variable is
// set, as `.ci/run` and most CI systems do).
func InCI() bool { return os.Getenv("CI") != "" }

// RequireRoot skips t when the process is not root and CI is unset, and fails
// t when CI is set: in CI a privileged test that cannot run is a failure, never
// a silent skip.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if InCI() {
		t.Fatal("this test needs root (CAP_NET_ADMIN, CAP_BPF, CAP_SYS_ADMIN for namespaces) and CI is set")
	}
	t.Skip("needs root; run as root or with CI set to make it mandatory")
}

// RequireBinary skips (or fails in CI) when an external program the test
// drives, such as miredo or promtool, is not installed.
func RequireBinary(t testing.TB, names ...string) {
	t.Helper()
	for _, name := range names {
		if _, err := lookPath(name); err != nil {
			if InCI() {
				t.Fatalf("%s is not installed (CI must install it in .ci/run): %v", name, err)
			}
			t.Skipf("%s is not installed: %v", name, err)
		}
	}
}
