package announce

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeBirdc is an injected Runner: it records, for every call, the command
// line, the include file's content at that moment and the time, and answers
// with the next scripted reply (the last one repeats).
type fakeBirdc struct {
	include string

	mu      sync.Mutex
	replies []fakeReply
	calls   []fakeCall
}

type fakeReply struct {
	out string
	err error
}

type fakeCall struct {
	argv    []string
	include string
	at      time.Time
}

var okReply = fakeReply{out: replyReconfigured}

func (f *fakeBirdc) Run(ctx context.Context, argv []string) ([]byte, error) {
	inc, err := os.ReadFile(f.include)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fakeCall{argv: argv, include: string(inc), at: time.Now()})
	r := okReply
	if len(f.replies) > 0 {
		r = f.replies[0]
		if len(f.replies) > 1 {
			f.replies = f.replies[1:]
		}
	}
	return []byte(r.out), r.err
}

func (f *fakeBirdc) setReplies(rs ...fakeReply) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.replies = rs
}

func (f *fakeBirdc) snapshot() []fakeCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]fakeCall(nil), f.calls...)
}

// announced reports whether a call's include file announced the prefix.
func (c fakeCall) announced() bool { return strings.Contains(c.include, "[ 2001::/32 ]") }

type testLogWriter struct{ t *testing.T }

func (w testLogWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func newTestDriver(t *testing.T, rise time.Duration) (*Driver, *fakeBirdc, func()) {
	t.Helper()
	fake := &fakeBirdc{include: filepath.Join(t.TempDir(), "bird", "announce.conf")}
	d, err := New(Config{
		IncludeFile: fake.include, Birdc: "/usr/sbin/birdc", Socket: "/run/bird/test.ctl",
		Rise: rise, RetryMin: 10 * time.Millisecond, RetryMax: 40 * time.Millisecond, Timeout: time.Second,
		Runner: fake, Logger: slog.New(slog.NewTextHandler(testLogWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	var once sync.Once
	stop := func() { once.Do(func() { stopRun(t, cancel, done) }) }
	t.Cleanup(stop)
	return d, fake, stop
}

func stopRun(t *testing.T, cancel context.CancelFunc, done <-chan error) {
	t.Helper()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}

// waitStatus polls until cond holds (bounded: the test fails after 10 s).
func waitStatus(t *testing.T, d *Driver, what string, cond func(Status) bool) Status {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		st := d.Status()
		if cond(st) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; status %+v", what, st)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// The driver withdraws at start, announces only once health has held for the
// rise time, withdraws at once on a drain, and every birdc call sees the
// include file it is about to confirm.
func TestDriverAnnounceAndWithdraw(t *testing.T) {
	const rise = 150 * time.Millisecond
	d, fake, _ := newTestDriver(t, rise)
	st := waitStatus(t, d, "initial withdrawal", func(s Status) bool { return s.Confirmed })
	if st.Announced || st.Announcements != 0 || st.Withdrawals != 0 || st.Errors != 0 {
		t.Fatalf("after start: %+v", st)
	}
	calls := fake.snapshot()
	if len(calls) != 1 || calls[0].announced() || !strings.Contains(calls[0].include, "define TEREDO_ANNOUNCE = [ ::/128 ];") {
		t.Fatalf("start calls %+v", calls)
	}
	if got := strings.Join(calls[0].argv, " "); got != "/usr/sbin/birdc -v -s /run/bird/test.ctl configure" {
		t.Fatalf("argv %q", got)
	}

	healthyAt := time.Now()
	d.SetHealthy(true)
	if st := d.Status(); !st.Healthy || st.Desired {
		t.Fatalf("just healthy: %+v (desired before the rise time)", st)
	}
	st = waitStatus(t, d, "announcement", func(s Status) bool { return s.Announced })
	calls = fake.snapshot()
	if len(calls) != 2 || !calls[1].announced() {
		t.Fatalf("calls after ready: %d, last %+v", len(calls), calls[len(calls)-1])
	}
	if held := calls[1].at.Sub(healthyAt); held < rise {
		t.Fatalf("announced after %v of health, before the rise time %v", held, rise)
	}
	if st.Announcements != 1 || st.Withdrawals != 0 || !st.Desired || st.LastSuccess.IsZero() {
		t.Fatalf("after announce: %+v", st)
	}

	d.SetHealthy(false) // drain
	st = waitStatus(t, d, "withdrawal", func(s Status) bool { return !s.Announced })
	if st.Withdrawals != 1 || st.Desired {
		t.Fatalf("after drain: %+v", st)
	}
	if calls = fake.snapshot(); len(calls) != 3 || calls[2].announced() {
		t.Fatalf("calls after drain: %d", len(calls))
	}
	inc, err := os.ReadFile(fake.include)
	if err != nil || !strings.Contains(string(inc), "[ ::/128 ]") {
		t.Fatalf("include after drain: %q %v", inc, err)
	}
}

// Health that flaps faster than the rise time never reaches BIRD.
func TestDriverFlapIsNotAnnounced(t *testing.T) {
	d, fake, stop := newTestDriver(t, time.Hour)
	waitStatus(t, d, "initial withdrawal", func(s Status) bool { return s.Confirmed })
	for range 50 {
		d.SetHealthy(true)
		d.SetHealthy(false)
	}
	d.SetHealthy(true)
	stop()
	if calls := fake.snapshot(); len(calls) != 1 {
		t.Fatalf("%d birdc calls, want only the initial withdrawal", len(calls))
	}
	if st := d.Status(); st.Announcements != 0 || st.Announced {
		t.Fatalf("status %+v", st)
	}
}

// Failures are counted, retried with backoff, and the confirmed state stays
// what BIRD last accepted until a retry succeeds.
func TestDriverRetriesFailures(t *testing.T) {
	d, fake, _ := newTestDriver(t, 0)
	waitStatus(t, d, "initial withdrawal", func(s Status) bool { return s.Confirmed })
	fake.setReplies(
		fakeReply{out: replySyntaxError, err: errors.New("exit status 1")},
		fakeReply{out: replyNoSocket, err: errors.New("exit status 1")},
		fakeReply{out: "0001 BIRD 2.0.12 ready.\n"},
		okReply,
	)
	d.SetHealthy(true)
	st := waitStatus(t, d, "announcement after retries", func(s Status) bool { return s.Announced })
	if st.Errors != 3 || st.Announcements != 1 {
		t.Fatalf("status %+v, want 3 errors then one announcement", st)
	}
	if st.LastError != "birdc configure: no confirmation from bird: empty reply" || st.LastErrorTime.IsZero() {
		t.Errorf("last error %q", st.LastError)
	}
	calls := fake.snapshot()
	if len(calls) != 5 {
		t.Fatalf("%d calls, want 1 + 3 failures + 1", len(calls))
	}
	// Backoff: 10 ms, 20 ms, 40 ms between the attempts (lower bounds only).
	for i, min := range []time.Duration{10 * time.Millisecond, 20 * time.Millisecond, 40 * time.Millisecond} {
		if gap := calls[i+2].at.Sub(calls[i+1].at); gap < min {
			t.Errorf("retry %d came %v after the failure, before the %v backoff", i+1, gap, min)
		}
	}
}

// The error of a failed attempt names the step and quotes BIRD.
func TestDriverErrorMessages(t *testing.T) {
	fake := &fakeBirdc{include: filepath.Join(t.TempDir(), "announce.conf")}
	d, err := New(Config{IncludeFile: fake.include, Runner: fake, Timeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	fake.setReplies(fakeReply{out: replySyntaxError, err: errors.New("exit status 1")})
	if err := d.Withdraw(context.Background()); err == nil ||
		err.Error() != "birdc configure: exit status 1: bird error 8002: a.conf:3:1 syntax error, unexpected PROTOCOL" {
		t.Errorf("syntax error: %v", err)
	}
	fake.setReplies(fakeReply{out: replyNoSocket, err: errors.New("exit status 1")})
	if err := d.Withdraw(context.Background()); err == nil ||
		!strings.HasPrefix(err.Error(), "birdc configure: exit status 1: Unable to connect to server control socket") {
		t.Errorf("no socket: %v", err)
	}
	slow := runnerFunc(func(ctx context.Context, _ []string) ([]byte, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	})
	d.cfg.Runner = slow
	if err := d.Withdraw(context.Background()); err == nil || err.Error() != "birdc configure: timed out after 50ms" {
		t.Errorf("timeout: %v", err)
	}
	if st := d.Status(); st.Errors != 3 {
		t.Errorf("errors %d, want 3", st.Errors)
	}
	bad, err := New(Config{IncludeFile: "/proc/announce-test/announce.conf", Runner: fake})
	if err != nil {
		t.Fatal(err)
	}
	if err := bad.Withdraw(context.Background()); err == nil || !strings.HasPrefix(err.Error(), "write include file: create include directory: ") {
		t.Errorf("unwritable include: %v", err)
	}
}

type runnerFunc func(context.Context, []string) ([]byte, error)

func (f runnerFunc) Run(ctx context.Context, argv []string) ([]byte, error) { return f(ctx, argv) }

// Withdraw is final: the prefixes are withdrawn and Run does not announce
// them again, however healthy the relay says it is.
func TestDriverWithdrawIsFinal(t *testing.T) {
	d, fake, stop := newTestDriver(t, 0)
	d.SetHealthy(true)
	waitStatus(t, d, "announcement", func(s Status) bool { return s.Announced })
	if err := d.Withdraw(context.Background()); err != nil {
		t.Fatal(err)
	}
	st := d.Status()
	if st.Announced || st.Withdrawals != 1 || st.Desired {
		t.Fatalf("after Withdraw: %+v", st)
	}
	d.SetHealthy(true)
	time.Sleep(50 * time.Millisecond)
	stop()
	calls := fake.snapshot()
	if last := calls[len(calls)-1]; last.announced() {
		t.Fatalf("announced again after Withdraw: %d calls", len(calls))
	}
	if st := d.Status(); st.Announced || st.Announcements != 1 {
		t.Fatalf("final status %+v", st)
	}
}

// The real ExecRunner against a fake birdc script: the driver confirms an
// announcement and a withdrawal through a separate process.
func TestDriverWithScript(t *testing.T) {
	dir := t.TempDir()
	inc := filepath.Join(dir, "announce.conf")
	script := writeScript(t, `cat "`+inc+`" >> "`+dir+`/seen"
printf '0001 BIRD 2.0.12 ready.\n0002-Reading configuration from /etc/bird/bird.conf\n0003 Reconfigured\n'
`)
	d, err := New(Config{IncludeFile: inc, Birdc: script, Socket: dir + "/bird.ctl", Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	d.SetHealthy(true)
	waitStatus(t, d, "announcement", func(s Status) bool { return s.Announced })
	if err := d.Withdraw(context.Background()); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	seen, err := os.ReadFile(dir + "/seen")
	if err != nil {
		t.Fatal(err)
	}
	s := string(seen)
	if !strings.Contains(s, "[ 2001::/32 ]") || !strings.HasSuffix(s, "define TEREDO_ANNOUNCE = [ ::/128 ];\n") {
		t.Fatalf("includes seen by birdc:\n%s", s)
	}
	if st := d.Status(); st.Announcements != 1 || st.Withdrawals != 1 || st.Errors != 0 {
		t.Fatalf("status %+v", st)
	}
}

func TestNewValidates(t *testing.T) {
	p := netip.MustParsePrefix
	tests := []struct {
		cfg  Config
		want string
	}{
		{Config{}, `announce: include file "" is not an absolute path`},
		{Config{IncludeFile: "rel/a.conf"}, `announce: include file "rel/a.conf" is not an absolute path`},
		{Config{IncludeFile: "/a", SetName: "A-B"}, `announce: set name "A-B" is not a BIRD symbol (letters, digits, _)`},
		{Config{IncludeFile: "/a", Prefixes: []netip.Prefix{p("10.0.0.0/8")}}, "announce: prefixes[0]: 10.0.0.0/8 is not an IPv6 prefix"},
		{Config{IncludeFile: "/a", Rise: -time.Second}, "announce: negative rise time -1s"},
	}
	for _, tt := range tests {
		if _, err := New(tt.cfg); err == nil || err.Error() != tt.want {
			t.Errorf("New(%+v) = %v, want %q", tt.cfg, err, tt.want)
		}
	}
	d, err := New(Config{IncludeFile: "/a"})
	if err != nil {
		t.Fatal(err)
	}
	c := d.Config()
	if c.SetName != DefaultSetName || c.Birdc != DefaultBirdc || c.Timeout != DefaultTimeout ||
		c.RetryMin != DefaultRetryMin || c.RetryMax != DefaultRetryMax || len(c.Prefixes) != 1 || c.Prefixes[0] != p("2001::/32") {
		t.Errorf("defaults %+v", c)
	}
}
