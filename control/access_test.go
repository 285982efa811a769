package control_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/teredorelay/teredorelay/control"
	"github.com/teredorelay/teredorelay/control/api"
	"github.com/teredorelay/teredorelay/control/controltest"
	"github.com/teredorelay/teredorelay/internal/testenv"
)

// stranger is a uid and gid no user database knows.
const stranger = 4242424

func callAs(h http.Handler, p *control.Peer, method, path string) (int, api.ErrorBody) {
	req := httptest.NewRequest(method, path, nil)
	if p != nil {
		req = req.WithContext(control.WithPeer(req.Context(), *p))
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var eb api.ErrorBody
	_ = json.Unmarshal(rec.Body.Bytes(), &eb)
	return rec.Code, eb
}

// TestChangesNeedAdmin: anyone connected reads; only root, the daemon's own
// user and members of the admin group change the relay; every change and
// every refusal is logged with the caller's uid and pid.
func TestChangesNeedAdmin(t *testing.T) {
	g, err := user.LookupGroupId(strconv.Itoa(os.Getgid()))
	if err != nil {
		t.Fatalf("look up my group: %v", err)
	}
	gid, _ := strconv.Atoi(g.Gid)
	var logs bytes.Buffer
	b := controltest.Sample()
	h := control.NewServer(control.Config{Backend: b, AdminGroup: g.Name,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))}).Handler()

	outsider := &control.Peer{PID: 4321, UID: stranger, GID: stranger}
	for _, path := range []string{api.PathStatus, api.PathStats, api.PathPeers, api.PathPeerCount} {
		if code, _ := callAs(h, outsider, "GET", path); code != http.StatusOK {
			t.Errorf("outsider GET %s: %d, want 200", path, code)
		}
	}
	for _, path := range []string{api.PathDrain, api.PathUndrain, api.PathReload} {
		code, eb := callAs(h, outsider, "POST", path)
		if code != http.StatusForbidden || eb.Error.Code != api.CodeForbidden ||
			!strings.Contains(eb.Error.Message, "needs root or the daemon's own user or a member of group "+g.Name+"; uid 4242424 is none of them") {
			t.Errorf("outsider POST %s: %d %+v, want 403 forbidden", path, code, eb.Error)
		}
	}
	if b.State().Draining {
		t.Fatal("a refused drain drained the relay")
	}
	if code, eb := callAs(h, nil, "POST", api.PathDrain); code != http.StatusForbidden || !strings.Contains(eb.Error.Message, "credentials are unknown") {
		t.Errorf("caller without credentials: %d %+v", code, eb.Error)
	}
	if !strings.Contains(logs.String(), `level=WARN msg="control: refused drain" uid=4242424 user="" pid=4321 reason=`) {
		t.Errorf("refusal not logged with uid and pid:\n%s", logs.String())
	}

	for _, tt := range []struct {
		name string
		p    control.Peer
	}{
		{"root", control.Peer{PID: 11, UID: 0, GID: 0}},
		{"the daemon's own user", control.Peer{PID: 12, UID: uint32(os.Geteuid()), GID: stranger}},
		{"primary group is the admin group", control.Peer{PID: 13, UID: stranger, GID: uint32(gid)}},
	} {
		logs.Reset()
		code, eb := callAs(h, &tt.p, "POST", api.PathDrain)
		if code != http.StatusOK {
			t.Errorf("%s: drain %d %+v, want 200", tt.name, code, eb.Error)
		}
		if !strings.Contains(logs.String(), `msg="control: drain" changed=`) || !strings.Contains(logs.String(), fmt.Sprintf(" uid=%d ", tt.p.UID)) ||
			!strings.Contains(logs.String(), fmt.Sprintf(" pid=%d", tt.p.PID)) {
			t.Errorf("%s: drain not logged with uid %d and pid %d:\n%s", tt.name, tt.p.UID, tt.p.PID, logs.String())
		}
		callAs(h, &tt.p, "POST", api.PathUndrain)
	}

	// Without an admin group only root and the daemon's user may.
	h = control.NewServer(control.Config{Backend: b}).Handler()
	if code, eb := callAs(h, &control.Peer{UID: stranger, GID: uint32(gid)}, "POST", api.PathReload); code != http.StatusForbidden ||
		!strings.Contains(eb.Error.Message, "api.admin_group is empty") {
		t.Errorf("no admin group: %d %+v", code, eb.Error)
	}
	// An admin group that does not exist admits nobody through it.
	h = control.NewServer(control.Config{Backend: b, AdminGroup: "no-such-group-teredo"}).Handler()
	if code, eb := callAs(h, &control.Peer{UID: stranger, GID: stranger}, "POST", api.PathReload); code != http.StatusForbidden ||
		!strings.Contains(eb.Error.Message, "member of group no-such-group-teredo, which does not exist") {
		t.Errorf("missing admin group: %d %+v", code, eb.Error)
	}
}

// envClient makes the test binary act as a control client (run as another
// user by TestPeerCredentialsOverSocket).
const envClient = "TEREDO_CONTROL_TEST_CLIENT"

func TestMain(m *testing.M) {
	if socket := os.Getenv(envClient); socket != "" {
		os.Exit(clientMain(socket))
	}
	os.Exit(m.Run())
}

// clientMain reads the status and tries a drain; it prints "read=<err or
// ok> drain=<err or ok>".
func clientMain(socket string) int {
	c := api.NewClient(socket, 5*time.Second)
	ctx := context.Background()
	_, _, rerr := c.Status(ctx)
	_, _, derr := c.Drain(ctx)
	res := func(err error) string {
		if err == nil {
			return "ok"
		}
		if ae, ok := err.(*api.Error); ok {
			return fmt.Sprintf("%d/%s", ae.Status, ae.Code)
		}
		return err.Error()
	}
	fmt.Printf("read=%s drain=%s\n", res(rerr), res(derr))
	return 0
}

// TestPeerCredentialsOverSocket runs a client process as nobody against a
// server on a real socket: SO_PEERCRED identifies it, it reads, and its
// drain is refused until nobody's group is the admin group.
func TestPeerCredentialsOverSocket(t *testing.T) {
	testenv.RequireRoot(t)
	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Fatal(err)
	}
	uid, _ := strconv.Atoi(nobody.Uid)
	gid, _ := strconv.Atoi(nobody.Gid)
	grp, err := user.LookupGroupId(nobody.Gid)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for d := dir; d != os.TempDir() && strings.HasPrefix(d, os.TempDir()); d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil { // nobody must reach the socket and the binary
			t.Fatal(err)
		}
	}
	// The test binary's own directory is private: nobody runs a copy.
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(dir, "control.test")
	if err := os.WriteFile(exe, bin, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		admin, want string
	}{
		{"", "read=ok drain=403/forbidden"},
		{grp.Name, "read=ok drain=ok"},
	} {
		t.Run("admin_group="+tt.admin, func(t *testing.T) {
			socket := filepath.Join(dir, "api-"+tt.admin+".sock")
			var logs bytes.Buffer
			srv := control.NewServer(control.Config{Backend: controltest.Sample(), SocketGroup: nobody.Gid, AdminGroup: tt.admin,
				Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			ln, err := srv.Listen(socket)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- srv.Serve(ctx, ln) }()
			defer func() { cancel(); <-done }()

			cmd := exec.Command(exe)
			cmd.Env = append(os.Environ(), envClient+"="+socket)
			cmd.SysProcAttr = credential(uint32(uid), uint32(gid))
			out, err := cmd.CombinedOutput()
			if err != nil || strings.TrimSpace(string(out)) != tt.want {
				t.Fatalf("client as nobody: %v: %q, want %q", err, out, tt.want)
			}
			want := fmt.Sprintf(" uid=%d user=nobody pid=%d", uid, cmd.Process.Pid)
			if !strings.Contains(logs.String(), want) {
				t.Errorf("log lacks %q:\n%s", want, logs.String())
			}
		})
	}
}
