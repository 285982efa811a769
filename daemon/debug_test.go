package daemon

import (
	"path/filepath"
	"testing"
)

func TestDebugListenOnlyLoopbackOrUnix(t *testing.T) {
	for _, spec := range []string{"0.0.0.0:0", "192.0.2.1:6060", "[::]:0", "localhost:0", "unix:", "127.0.0.1"} {
		if ln, err := debugListen(spec); err == nil {
			ln.Close()
			t.Errorf("debugListen(%q) accepted", spec)
		}
	}
	for _, spec := range []string{"127.0.0.1:0", "unix:" + filepath.Join(t.TempDir(), "debug.sock")} {
		ln, err := debugListen(spec)
		if err != nil {
			t.Errorf("debugListen(%q): %v", spec, err)
			continue
		}
		ln.Close()
	}
}
