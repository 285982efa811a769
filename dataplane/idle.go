package dataplane

import "time"

// DefaultIdleSpin is how long a worker keeps polling its rings after the last
// received frame before it sleeps in epoll_wait(2) (WorkerConfig.IdleSpin).
//
// Sleeping costs more than the syscall: the wake-up comes from the softirq
// that filled the RX ring, and the woken thread may wait for the CPU's
// current task to use up its slice (milliseconds under load). A 2048-entry
// fill ring lasts 1.6 ms at 1.25 Mpps, so a worker that sleeps whenever its
// ring is momentarily empty loses packets at moderate rates while a CPU sits
// idle; spinning this long keeps it running for as long as traffic flows and
// still lets an idle relay sleep.
const DefaultIdleSpin = 200 * time.Microsecond

// Poll timeouts once the spin is over: the first sleeps are short, because
// copy-mode TX descriptors may still wait for a kick (the kernel sends 32
// per sendto) that the next Step's Complete gives; then the worker sleeps
// until RX has frames.
const (
	busyPollMillis = 1
	idlePollMillis = 100
	// shortPolls is the number of busyPollMillis sleeps before idlePollMillis.
	shortPolls = 2
)

// idler decides what a worker does after a Step that received nothing: spin
// (poll the rings again at once) or sleep in epoll_wait(2), and for how long.
type idler struct {
	spin  int64 // nanoseconds of spinning after the last frame; <= 0: none
	since int64 // start of the current idle period; -1 while busy
	polls int   // sleeps in the current idle period
}

func newIdler(spin time.Duration) idler { return idler{spin: int64(spin), since: -1} }

// busy records a Step that received frames.
func (i *idler) busy() { i.since, i.polls = -1, 0 }

// next is called after a Step that received nothing, at monotonic time now
// (nanoseconds). It returns -1 to spin, else the epoll_wait(2) timeout in
// milliseconds.
func (i *idler) next(now int64) int {
	if i.since < 0 {
		i.since = now
	}
	if now-i.since < i.spin {
		return -1
	}
	i.polls++
	if i.polls > shortPolls {
		return idlePollMillis
	}
	return busyPollMillis
}
