package relayctl_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/teredorelay/teredorelay/control/api"
	"github.com/teredorelay/teredorelay/control/controltest"
	"github.com/teredorelay/teredorelay/relayctl"
)

// "--watch 1s" takes its interval like "--watch=1s"; "--watch" alone still
// means 2 s and leaves a following non-duration argument alone.
func TestWatchTakesTheNextArgument(t *testing.T) {
	d := startDaemon(t)
	for _, args := range [][]string{{"peers", "--limit", "1", "--watch", "10ms"}, {"peers", "--limit", "1", "-w", "10ms"}, {"stats", "--watch", "10ms"}} {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		marker := "\npeers: "
		if args[0] == "stats" {
			marker = "stats at "
		}
		out := &syncBuffer{marker: marker, n: 3, cancel: cancel}
		code := relayctl.Main(ctx, append([]string{"--socket", d.socket}, args...),
			relayctl.Options{Stdout: out, Stderr: out, Getenv: func(string) string { return "" }})
		deadline := ctx.Err() == context.DeadlineExceeded
		cancel()
		if code != 0 || deadline {
			t.Errorf("%v: exit %d (deadline %v):\n%s", args, code, deadline, out.buf.String())
		}
	}
	// A value that is not a duration is not taken: "peers count" still works
	// after a bare --watch would have taken it.
	r := d.run(t, "peers", "count", "--state", "pending")
	if r.code != 0 {
		t.Errorf("peers count: %d %s", r.code, r.stderr)
	}
	if r := d.run(t, "peers", "--watch", "soon"); r.code != relayctl.ExitUsage {
		t.Errorf("--watch soon: exit %d, want usage", r.code)
	}
}

func TestUnknownCommandIsUsage(t *testing.T) {
	d := startDaemon(t)
	for _, args := range [][]string{{"bogus"}, {"peers", "bogus"}, {"--bogus"}} {
		r := d.run(t, args...)
		if r.code != relayctl.ExitUsage || !strings.Contains(r.stderr, "Run 'relayctl --help' for usage.") {
			t.Errorf("%v: exit %d %q, want %d", args, r.code, r.stderr, relayctl.ExitUsage)
		}
	}
}

func TestHelpDocumentsExitCodes(t *testing.T) {
	d := startDaemon(t)
	r := d.run(t, "--help")
	for _, want := range []string{"Exit status:", "  2  usage error", "  3  the daemon cannot be reached", "  4  the requested peer", "  5  not allowed"} {
		if r.code != 0 || !strings.Contains(r.stdout, want) {
			t.Errorf("--help lacks %q (exit %d):\n%s", want, r.code, r.stdout)
		}
	}
	if got := relayctl.ExitCode(&api.Error{Status: 403, Code: api.CodeForbidden}); got != relayctl.ExitDenied {
		t.Errorf("forbidden exits %d, want %d", got, relayctl.ExitDenied)
	}
}

func TestVersion(t *testing.T) {
	d := startDaemon(t)
	r := d.run(t, "version")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if r.code != 0 || len(lines) != 2 || !strings.HasPrefix(lines[0], "relayctl devel (revision ") ||
		!strings.HasPrefix(lines[1], "teredo-relayd 1.2.3 (revision abc123, go") {
		t.Errorf("version: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = d.run(t, "version", "-o", "json")
	var v struct {
		Client, Daemon struct{ Version string }
	}
	if err := json.Unmarshal([]byte(r.stdout), &v); err != nil || v.Client.Version != "devel" || v.Daemon.Version != "1.2.3" {
		t.Errorf("version -o json: %v\n%s", err, r.stdout)
	}
	// Without a daemon: the client's version, the reason, exit 0.
	r = run(t, context.Background(), filepath.Join(t.TempDir(), "none.sock"), "version")
	if r.code != 0 || !strings.Contains(r.stdout, "teredo-relayd: unknown: cannot reach teredo-relayd at ") {
		t.Errorf("version without a daemon: %d %q %q", r.code, r.stdout, r.stderr)
	}
	r = run(t, context.Background(), filepath.Join(t.TempDir(), "none.sock"), "version", "--client")
	if r.code != 0 || strings.Count(r.stdout, "\n") != 1 {
		t.Errorf("version --client: %d %q", r.code, r.stdout)
	}
}

// The wide table humanises RX and TX bytes like QUEUED.
func TestWideBytesHumanised(t *testing.T) {
	d := startDaemon(t)
	r := d.run(t, "peers", "-o", "wide", "--sort", "rx-bytes", "--limit", "1")
	want := "2001:0:4136:e378:8000:63bf:3fff:fdd2  192.0.2.45:40000*  65.54.227.120  cone  trusted  10s  20s  0  500  20  0 B  62.5 KiB  2.0 KiB  192.0.2.99:40000\n"
	if r.code != 0 || !strings.Contains(norm(r.stdout), want) || !strings.Contains(r.stdout, "RX BYTES") {
		t.Errorf("wide:\n%s\nwant row\n%s", r.stdout, want)
	}
}

// A pending peer from which nothing was accepted shows no observed source
// and "never" instead of "- ago (-)".
func TestPendingPeerShow(t *testing.T) {
	d := startDaemon(t)
	r := d.run(t, "peers", "show", controltest.PeerT7.String())
	for _, want := range []string{"observed source:  none yet: no packet from this peer accepted\n", "last rx:  never\n", "last tx:  0.5s ago (2026-03-01T13:59:59Z)\n"} {
		if r.code != 0 || !strings.Contains(norm(r.stdout), want) {
			t.Errorf("pending peer lacks %q:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "- ago") {
		t.Errorf("pending peer shows %q:\n%s", "- ago", r.stdout)
	}
}
