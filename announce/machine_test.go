package announce

import (
	"testing"
	"time"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func at(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }

func newMachine() *machine {
	return &machine{rise: 10 * time.Second, retryMin: time.Second, retryMax: 8 * time.Second}
}

type step struct {
	ms        int
	healthy   *bool // set before next
	wantApply bool
	wantWant  bool
	wantWake  int // ms; -1: zero
	result    *bool
	changed   bool
}

var yes, no = ptr(true), ptr(false)

func ptr(b bool) *bool { return &b }

func runSteps(t *testing.T, m *machine, steps []step) {
	t.Helper()
	for i, s := range steps {
		now := at(s.ms)
		if s.healthy != nil {
			m.setHealthy(*s.healthy, now)
		}
		apply, want, wake := m.next(now)
		wantWake := time.Time{}
		if s.wantWake >= 0 {
			wantWake = at(s.wantWake)
		}
		if apply != s.wantApply || want != s.wantWant || !wake.Equal(wantWake) {
			t.Fatalf("step %d at %dms: next = (%v, %v, %v), want (%v, %v, %v)", i, s.ms, apply, want, wake.Sub(t0),
				s.wantApply, s.wantWant, wantWake.Sub(t0))
		}
		if s.result != nil {
			changed, _ := m.result(want, *s.result, now)
			if changed != s.changed {
				t.Fatalf("step %d: result changed = %v, want %v", i, changed, s.changed)
			}
		}
	}
}

// Start: withdrawn is written first (not a transition); ready becomes
// announced only after the rise time; a drain withdraws at once; flapping
// health restarts the rise timer.
func TestMachineHysteresis(t *testing.T) {
	runSteps(t, newMachine(), []step{
		{ms: 0, wantApply: true, wantWant: false, wantWake: -1, result: yes, changed: false},
		{ms: 1, wantApply: false, wantWant: false, wantWake: -1},
		{ms: 100, healthy: yes, wantApply: false, wantWant: false, wantWake: 10100},
		{ms: 5000, healthy: yes, wantApply: false, wantWant: false, wantWake: 10100}, // staying healthy keeps the timer
		{ms: 10099, wantApply: false, wantWant: false, wantWake: 10100},
		{ms: 10100, wantApply: true, wantWant: true, wantWake: -1, result: yes, changed: true},
		{ms: 10200, wantApply: false, wantWant: true, wantWake: -1},
		{ms: 20000, healthy: no, wantApply: true, wantWant: false, wantWake: -1, result: yes, changed: true},
		{ms: 20001, healthy: yes, wantApply: false, wantWant: false, wantWake: 30001},
		{ms: 25000, healthy: no, wantApply: false, wantWant: false, wantWake: -1}, // flap: nothing to do
		{ms: 26000, healthy: yes, wantApply: false, wantWant: false, wantWake: 36000},
		{ms: 36000, wantApply: true, wantWant: true, wantWake: -1, result: yes, changed: true},
	})
}

func TestMachineZeroRise(t *testing.T) {
	m := newMachine()
	m.rise = 0
	runSteps(t, m, []step{
		{ms: 0, healthy: yes, wantApply: true, wantWant: true, wantWake: -1, result: yes, changed: true},
		{ms: 1, wantApply: false, wantWant: true, wantWake: -1},
	})
}

// Failures back off exponentially up to the maximum, per target; a change of
// target is applied at once, whatever the backoff.
func TestMachineRetryBackoff(t *testing.T) {
	m := newMachine()
	runSteps(t, m, []step{
		{ms: 0, wantApply: true, wantWant: false, wantWake: -1, result: no},
		{ms: 500, wantApply: false, wantWant: false, wantWake: 1000},
		{ms: 1000, wantApply: true, wantWant: false, wantWake: -1, result: no}, // 2nd failure: 2 s
		{ms: 2999, wantApply: false, wantWant: false, wantWake: 3000},
		{ms: 3000, wantApply: true, wantWant: false, wantWake: -1, result: no},  // 3rd: 4 s
		{ms: 7000, wantApply: true, wantWant: false, wantWake: -1, result: no},  // 4th: 8 s (max)
		{ms: 15000, wantApply: true, wantWant: false, wantWake: -1, result: no}, // 5th: still 8 s
		{ms: 22999, wantApply: false, wantWant: false, wantWake: 23000},
		{ms: 23000, wantApply: true, wantWant: false, wantWake: -1, result: yes, changed: false},
	})
	for f, want := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second, 4: 8 * time.Second, 9: 8 * time.Second} {
		if got := m.backoff(f); got != want {
			t.Errorf("backoff(%d) = %v, want %v", f, got, want)
		}
	}
}

// A failed announcement in backoff does not delay a withdrawal, and after a
// failed withdrawal the include file may say "withdrawn" while BIRD last
// confirmed "announced": becoming healthy again rewrites it.
func TestMachineTargetChangeDuringBackoff(t *testing.T) {
	m := newMachine()
	m.rise = 0
	runSteps(t, m, []step{
		{ms: 0, healthy: yes, wantApply: true, wantWant: true, wantWake: -1, result: yes, changed: true},
		{ms: 100, healthy: no, wantApply: true, wantWant: false, wantWake: -1, result: no}, // withdrawal fails
		{ms: 200, wantApply: false, wantWant: false, wantWake: 1100},
		{ms: 300, healthy: yes, wantApply: true, wantWant: true, wantWake: -1, result: yes, changed: false},
		{ms: 400, wantApply: false, wantWant: true, wantWake: -1},
		{ms: 500, healthy: no, wantApply: true, wantWant: false, wantWake: -1, result: no},
		{ms: 600, healthy: yes, wantApply: true, wantWant: true, wantWake: -1, result: no}, // announce fails too
		{ms: 700, healthy: no, wantApply: true, wantWant: false, wantWake: -1, result: yes, changed: true},
	})
}

func TestEarliest(t *testing.T) {
	z := time.Time{}
	for _, tt := range []struct{ a, b, want time.Time }{
		{z, z, z}, {at(1), z, at(1)}, {z, at(2), at(2)}, {at(1), at(2), at(1)}, {at(3), at(2), at(2)},
	} {
		if got := earliest(tt.a, tt.b); !got.Equal(tt.want) {
			t.Errorf("earliest(%v, %v) = %v", tt.a, tt.b, got)
		}
	}
}
