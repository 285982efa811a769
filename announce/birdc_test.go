package announce

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// Replies of birdc -v (BIRD 2.0.12, Debian 12) captured on this project's
// lab machine, plus the documented codes 0004-0006 in the same format.
const (
	replyReconfigured = "0001 BIRD 2.0.12 ready.\n0002-Reading configuration from /etc/bird/bird.conf\n0003 Reconfigured\n"
	replySyntaxError  = "0001 BIRD 2.0.12 ready.\n0002-Reading configuration from a.conf\n8002 a.conf:3:1 syntax error, unexpected PROTOCOL\n"
	replyNoSocket     = "Unable to connect to server control socket (nonexist.ctl): No such file or directory\n"
	replyIncludeGone  = "0001 BIRD 2.0.12 ready.\n0002-Reading configuration from a.conf\n8002 a.conf:2:10 Unable to open included file /run/x/announce.conf: No such file or directory\n"
)

func TestCheckConfigureReply(t *testing.T) {
	tests := []struct {
		name, out string
		want      string // "" accepted
	}{
		{"reconfigured", replyReconfigured, ""},
		{"in progress", "0001 BIRD 2.0.12 ready.\n0002-Reading configuration from x\n0004 Reconfiguration in progress\n", ""},
		{"queued", "0001 BIRD 2.0.12 ready.\n0005 Reconfiguration already in progress, queueing new config\n", ""},
		{"crlf", strings.ReplaceAll(replyReconfigured, "\n", "\r\n"), ""},
		{"syntax error", replySyntaxError, "bird error 8002: a.conf:3:1 syntax error, unexpected PROTOCOL"},
		{"include missing", replyIncludeGone, "bird error 8002: a.conf:2:10 Unable to open included file /run/x/announce.conf: No such file or directory"},
		{"shutting down", "0001 BIRD 2.0.12 ready.\n0006 Reconfiguration ignored, shutting down\n", "bird refused: 0006 Reconfiguration ignored, shutting down"},
		{"access denied", "0001 BIRD 2.0.12 ready.\n8007 Access denied\n", "bird error 8007: Access denied"},
		{"no socket", replyNoSocket, "no confirmation from bird: Unable to connect to server control socket (nonexist.ctl): No such file or directory"},
		{"empty", "", "no confirmation from bird: empty reply"},
		{"greeting only", "0001 BIRD 2.0.12 ready.\n", "no confirmation from bird: empty reply"},
		{"plain (no -v)", "BIRD 2.0.12 ready.\nReconfigured\n", "no confirmation from bird: BIRD 2.0.12 ready."},
		{"code-like garbage", "00x3 Reconfigured\n0003Reconfigured\n", "no confirmation from bird: 00x3 Reconfigured"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckConfigureReply([]byte(tt.out))
			if (err == nil) != (tt.want == "") || (err != nil && err.Error() != tt.want) {
				t.Fatalf("CheckConfigureReply = %v, want %q", err, tt.want)
			}
		})
	}
	long := "8002 " + strings.Repeat("x", 1000) + "\n"
	if err := CheckConfigureReply([]byte(long)); err == nil || len(err.Error()) > maxErrText+40 {
		t.Errorf("long error not clipped: %d bytes", len(err.Error()))
	}
}

func FuzzCheckConfigureReply(f *testing.F) {
	for _, s := range []string{replyReconfigured, replySyntaxError, replyNoSocket, replyIncludeGone, "", "0003 \n", "0003-"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		err := CheckConfigureReply(b)
		if err == nil {
			ok := false
			for _, code := range []string{"0003", "0004", "0005"} {
				ok = ok || strings.Contains(string(b), code+" ") || strings.Contains(string(b), code+"-")
			}
			if !ok {
				t.Fatalf("accepted a reply without a success code: %q", b)
			}
		}
		if err != nil && len(err.Error()) > maxErrText+64 {
			t.Fatalf("error of %d bytes", len(err.Error()))
		}
	})
}

func TestConfigureArgv(t *testing.T) {
	if got := ConfigureArgv("/usr/sbin/birdc", "/run/bird/bird.ctl"); !reflect.DeepEqual(got,
		[]string{"/usr/sbin/birdc", "-v", "-s", "/run/bird/bird.ctl", "configure"}) {
		t.Errorf("argv %q", got)
	}
	if got := ConfigureArgv("birdc", ""); !reflect.DeepEqual(got, []string{"birdc", "-v", "configure"}) {
		t.Errorf("argv without socket %q", got)
	}
}

// writeScript writes an executable shell script standing in for birdc.
func writeScript(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "fake-birdc")
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestExecRunner(t *testing.T) {
	dir := t.TempDir()
	script := writeScript(t, `echo "$@" > `+dir+`/args; echo "env=$HOME"; printf '0001 BIRD 2.0.12 ready.\n0003 Reconfigured\n'`)
	out, err := ExecRunner{}.Run(context.Background(), ConfigureArgv(script, "/tmp/s.ctl"))
	if err != nil || CheckConfigureReply(out) != nil {
		t.Fatalf("run: %v\n%s", err, out)
	}
	if !strings.HasPrefix(string(out), "env=\n") {
		t.Errorf("environment not cleared: %q", out)
	}
	args, err := os.ReadFile(dir + "/args")
	if err != nil || string(args) != "-v -s /tmp/s.ctl configure\n" {
		t.Errorf("args %q %v", args, err)
	}

	fail := writeScript(t, `echo "8002 parse error" ; exit 1`)
	out, err = ExecRunner{}.Run(context.Background(), []string{fail})
	var ee interface{ ExitCode() int }
	if !errors.As(err, &ee) || ee.ExitCode() != 1 || string(out) != "8002 parse error\n" {
		t.Errorf("failing script: %v %q", err, out)
	}

	// A hung birdc (and its children) is killed at the deadline.
	hang := writeScript(t, "sleep 30 &\nwait\n")
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() { _, err := ExecRunner{}.Run(ctx, []string{hang}); done <- err }()
	select {
	case err := <-done:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("hung script: %v, want deadline exceeded", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("hung script not killed")
	}
	if _, err := (ExecRunner{}).Run(context.Background(), nil); err == nil {
		t.Error("empty argv accepted")
	}
}
