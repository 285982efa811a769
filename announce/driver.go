package announce

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of the optional Config fields.
const (
	DefaultBirdc    = "birdc"
	DefaultTimeout  = 5 * time.Second
	DefaultRetryMin = time.Second
	DefaultRetryMax = 30 * time.Second
)

// DefaultPrefixes is what is announced unless configured: the Teredo prefix.
var DefaultPrefixes = []netip.Prefix{netip.MustParsePrefix("2001::/32")}

// Config configures a Driver.
type Config struct {
	// IncludeFile is the BIRD include file (absolute path). Required.
	IncludeFile string
	// SetName is the prefix-set constant it defines (default DefaultSetName).
	SetName string
	// Prefixes are announced while healthy (default DefaultPrefixes).
	Prefixes []netip.Prefix
	// Birdc is the birdc program (default "birdc", found in PATH).
	Birdc string
	// Socket is BIRD's control socket; empty: birdc's default.
	Socket string
	// Rise is how long the relay must stay healthy without interruption
	// before it is announced; 0 announces as soon as it is healthy.
	Rise time.Duration
	// Timeout bounds one birdc run (default DefaultTimeout).
	Timeout time.Duration
	// RetryMin and RetryMax bound the backoff between failed attempts
	// (defaults DefaultRetryMin, DefaultRetryMax).
	RetryMin, RetryMax time.Duration
	// SessionPoll is how often Run asks BIRD about its BGP sessions and
	// what they export (sessions.go), and after each confirmed change;
	// 0 never asks.
	SessionPoll time.Duration
	// Runner runs birdc (default ExecRunner).
	Runner Runner
	// Logger receives transitions and errors (default: discarded).
	Logger *slog.Logger
}

// Status is a snapshot of the driver.
type Status struct {
	Prefixes []netip.Prefix
	// Healthy is the relay health the driver was last given.
	Healthy bool
	// Desired is true when the prefixes should be announced now (healthy
	// for at least the rise time, not stopped).
	Desired bool
	// Announced is the state BIRD last confirmed (false before the first
	// confirmation).
	Announced bool
	// Confirmed is true once BIRD has confirmed any state.
	Confirmed bool
	// Announcements and Withdrawals count confirmed transitions to each
	// state (the initial withdrawn state at start is not a transition).
	Announcements, Withdrawals uint64
	// Errors counts failed attempts (include file or birdc).
	Errors        uint64
	LastError     string
	LastErrorTime time.Time
	// LastSuccess is when BIRD last confirmed a configuration.
	LastSuccess time.Time
	// Sessions is BIRD's last answer about its BGP sessions (Config.SessionPoll).
	Sessions Sessions
}

// Driver keeps BIRD's announcement in line with the relay's health.
type Driver struct {
	cfg  Config
	log  *slog.Logger
	wake chan struct{}
	// askSessions wakes the session poller after a confirmed change.
	askSessions chan struct{}

	healthy atomic.Bool
	stopped atomic.Bool

	applyMu sync.Mutex // one include write + birdc run at a time

	mu sync.Mutex // guards m and st
	m  machine
	st Status
}

// New checks cfg, fills in the defaults and returns a driver that does
// nothing until Run.
func New(cfg Config) (*Driver, error) {
	if cfg.IncludeFile == "" || !filepath.IsAbs(cfg.IncludeFile) {
		return nil, fmt.Errorf("announce: include file %q is not an absolute path", cfg.IncludeFile)
	}
	if cfg.SetName == "" {
		cfg.SetName = DefaultSetName
	}
	if !ValidSetName(cfg.SetName) {
		return nil, fmt.Errorf("announce: set name %q is not a BIRD symbol (letters, digits, _)", cfg.SetName)
	}
	if len(cfg.Prefixes) == 0 {
		cfg.Prefixes = DefaultPrefixes
	}
	cfg.Prefixes = append([]netip.Prefix(nil), cfg.Prefixes...)
	if err := checkPrefixes(cfg.Prefixes); err != nil {
		return nil, fmt.Errorf("announce: %w", err)
	}
	if cfg.Birdc == "" {
		cfg.Birdc = DefaultBirdc
	}
	if cfg.Rise < 0 {
		return nil, fmt.Errorf("announce: negative rise time %v", cfg.Rise)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.RetryMin <= 0 {
		cfg.RetryMin = DefaultRetryMin
	}
	if cfg.RetryMax < cfg.RetryMin {
		cfg.RetryMax = max(DefaultRetryMax, cfg.RetryMin)
	}
	if cfg.Runner == nil {
		cfg.Runner = ExecRunner{}
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	d := &Driver{
		cfg:         cfg,
		log:         log.With("component", "announce"),
		wake:        make(chan struct{}, 1),
		askSessions: make(chan struct{}, 1),
		m:           machine{rise: cfg.Rise, retryMin: cfg.RetryMin, retryMax: cfg.RetryMax},
	}
	d.st.Prefixes = cfg.Prefixes
	return d, nil
}

// Config returns the configuration in use, defaults filled in.
func (d *Driver) Config() Config { return d.cfg }

// SetHealthy tells the driver whether the relay is fit to attract traffic
// (ready and not drained). It never blocks; Run acts on it.
func (d *Driver) SetHealthy(h bool) {
	d.healthy.Store(h)
	d.poke()
}

func (d *Driver) poke() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Run applies the announcement until ctx ends: first the withdrawn state
// (nothing is announced before the relay has been healthy for the rise
// time), then every change. It returns nil when ctx ends and does not
// withdraw then: the caller calls Withdraw during its shutdown.
func (d *Driver) Run(ctx context.Context) error {
	if d.cfg.SessionPoll > 0 {
		done := make(chan struct{})
		defer func() { <-done }()
		go func() { defer close(done); d.pollSessions(ctx) }()
	}
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for ctx.Err() == nil {
		applied, wake := d.step(ctx)
		if applied {
			continue
		}
		if !wake.IsZero() {
			timer.Reset(max(time.Until(wake), 0))
		}
		select {
		case <-ctx.Done():
		case <-d.wake:
		case <-timer.C:
		}
		timer.Stop()
	}
	return nil
}

// step decides and, when needed, applies; the decision is taken under
// applyMu so that it never acts on a state another apply has just changed.
func (d *Driver) step(ctx context.Context) (applied bool, wake time.Time) {
	d.applyMu.Lock()
	defer d.applyMu.Unlock()
	now := time.Now()
	d.mu.Lock()
	d.m.setHealthy(d.healthy.Load() && !d.stopped.Load(), now)
	apply, want, wake := d.m.next(now)
	d.mu.Unlock()
	if !apply {
		return false, wake
	}
	d.applyLocked(ctx, want, false)
	return true, time.Time{}
}

// Withdraw withdraws the prefixes for good (the daemon is stopping): the
// include file gets the placeholder and BIRD is reconfigured once, bounded by
// ctx and the timeout. Run announces nothing afterwards.
func (d *Driver) Withdraw(ctx context.Context) error {
	d.stopped.Store(true)
	d.applyMu.Lock()
	defer d.applyMu.Unlock()
	return d.applyLocked(ctx, false, true)
}

// applyLocked writes the include file for want and has BIRD re-read it.
// final is set for Withdraw: its failure counts even when ctx ended, while
// an attempt of Run cut short by Run's own end is not a failure of BIRD.
func (d *Driver) applyLocked(ctx context.Context, want, final bool) error {
	err := d.configure(ctx, want)
	if err != nil && !final && ctx.Err() != nil {
		return err
	}
	now := time.Now()
	d.mu.Lock()
	changed, backoff := d.m.result(want, err == nil, now)
	st := &d.st
	if err == nil {
		st.Announced, st.Confirmed, st.LastSuccess = want, true, now
		if changed && want {
			st.Announcements++
		} else if changed {
			st.Withdrawals++
		}
	} else {
		st.Errors++
		st.LastError, st.LastErrorTime = err.Error(), now
	}
	d.mu.Unlock()
	switch {
	case err != nil && final:
		d.log.Error("withdrawal not applied", "err", err)
	case err != nil:
		d.log.Warn("announcement not applied; retrying", "want", stateName(want), "err", err, "retry_in", backoff)
	case changed:
		d.log.Info("announcement confirmed by bird", "state", stateName(want), "prefixes", d.cfg.Prefixes)
		select {
		case d.askSessions <- struct{}{}:
		default:
		}
	default:
		d.log.Debug("announcement confirmed by bird (unchanged)", "state", stateName(want))
	}
	return err
}

func (d *Driver) configure(ctx context.Context, want bool) error {
	if err := writeAtomic(d.cfg.IncludeFile, Render(d.cfg.SetName, d.cfg.Prefixes, want)); err != nil {
		return fmt.Errorf("write include file: %w", err)
	}
	rctx, cancel := context.WithTimeout(ctx, d.cfg.Timeout)
	defer cancel()
	out, err := d.cfg.Runner.Run(rctx, ConfigureArgv(d.cfg.Birdc, d.cfg.Socket))
	if rerr := CheckConfigureReply(out); err != nil || rerr != nil {
		switch {
		case errors.Is(err, context.DeadlineExceeded) || errors.Is(rctx.Err(), context.DeadlineExceeded):
			return fmt.Errorf("birdc configure: timed out after %v", d.cfg.Timeout)
		case err != nil && rerr != nil:
			return fmt.Errorf("birdc configure: %w: %s", err, strings.TrimPrefix(rerr.Error(), "no confirmation from bird: "))
		case err != nil:
			return fmt.Errorf("birdc configure: %w", err)
		}
		return fmt.Errorf("birdc configure: %w", rerr)
	}
	return nil
}

// pollSessions asks BIRD about its sessions every SessionPoll and soon
// after a confirmed change (when BGP has had a moment to send the update),
// until ctx ends.
func (d *Driver) pollSessions(ctx context.Context) {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-d.askSessions:
			t.Reset(time.Second)
			continue
		case <-t.C:
		}
		s, err := QuerySessions(ctx, d.cfg.Runner, d.cfg.Birdc, d.cfg.Socket, d.cfg.Prefixes, d.cfg.Timeout)
		if ctx.Err() != nil {
			return
		}
		s.Time = time.Now()
		if err != nil {
			s.Err = err.Error()
			d.log.Debug("cannot ask bird about its sessions", "err", err)
		}
		d.mu.Lock()
		d.st.Sessions = s
		d.mu.Unlock()
		t.Reset(d.cfg.SessionPoll)
	}
}

// Status returns a snapshot.
func (d *Driver) Status() Status {
	d.mu.Lock()
	defer d.mu.Unlock()
	st := d.st
	st.Prefixes = append([]netip.Prefix(nil), d.st.Prefixes...)
	st.Sessions.List = append([]Session(nil), d.st.Sessions.List...)
	st.Healthy = d.healthy.Load()
	st.Desired = !d.stopped.Load() && d.m.healthy && d.m.target(time.Now())
	return st
}

func stateName(announce bool) string {
	if announce {
		return "announced"
	}
	return "withdrawn"
}
