package announce

import "time"

// machine decides when to (re)write the announcement. It holds no clock and
// does no I/O: the caller passes the time and reports each attempt's result.
type machine struct {
	rise               time.Duration
	retryMin, retryMax time.Duration

	healthy      bool
	healthySince time.Time

	// known is false until the first attempt succeeds; confirmed is then
	// what BIRD last accepted. synced is true while the last attempt
	// succeeded: after a failure the include file on disk may say something
	// else than confirmed, so any target is written again.
	known, confirmed, synced bool
	// failures counts consecutive failed attempts at lastTarget; retryAt is
	// when the next one is due.
	failures   int
	lastTarget bool
	retryAt    time.Time
}

// setHealthy records the relay's health. Becoming healthy restarts the rise
// timer; staying healthy does not.
func (m *machine) setHealthy(h bool, now time.Time) {
	if h && !m.healthy {
		m.healthySince = now
	}
	m.healthy = h
}

// target is what should be announced at now: true only after rise of
// uninterrupted health.
func (m *machine) target(now time.Time) bool {
	return m.healthy && now.Sub(m.healthySince) >= m.rise
}

// next says whether to apply want now; when not, wake is when to ask again
// (zero: only on a health change).
func (m *machine) next(now time.Time) (apply, want bool, wake time.Time) {
	want = m.target(now)
	if m.healthy && !want {
		wake = m.healthySince.Add(m.rise)
	}
	switch {
	case m.synced && m.confirmed == want:
		return false, want, wake
	case !m.synced && m.failures > 0 && m.lastTarget == want && now.Before(m.retryAt):
		// The last attempt at this target failed: wait for the backoff.
		return false, want, earliest(wake, m.retryAt)
	}
	// A new target (a withdrawal is never delayed by a failed announcement's
	// backoff, nor the reverse), a due retry, or nothing confirmed yet.
	return true, want, time.Time{}
}

// result records an attempt to apply want at now. It returns whether the
// confirmed state changed (a transition) and the backoff before a retry on
// failure.
func (m *machine) result(want bool, ok bool, now time.Time) (changed bool, backoff time.Duration) {
	if ok {
		changed = m.confirmed != want && (m.known || want)
		m.known, m.confirmed, m.synced = true, want, true
		m.failures, m.retryAt = 0, time.Time{}
		return changed, 0
	}
	m.synced = false
	if m.lastTarget != want {
		m.failures = 0
	}
	m.lastTarget = want
	m.failures++
	backoff = m.backoff(m.failures)
	m.retryAt = now.Add(backoff)
	return false, backoff
}

// backoff doubles from retryMin per consecutive failure, up to retryMax.
func (m *machine) backoff(failures int) time.Duration {
	d := m.retryMin
	for i := 1; i < failures && d < m.retryMax; i++ {
		d *= 2
	}
	return min(d, m.retryMax)
}

// earliest returns the earlier of two times, ignoring zero ones.
func earliest(a, b time.Time) time.Time {
	switch {
	case a.IsZero():
		return b
	case b.IsZero() || a.Before(b):
		return a
	}
	return b
}
