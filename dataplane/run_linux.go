package dataplane

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/teredorelay/teredorelay/relay"
)

// Run serves the queue until ctx is done: it locks the goroutine to its OS
// thread (pinned to WorkerConfig.CPU when set), hands the fill rings their
// first frames, then loops over Step, sleeping in poll(2) (POLLIN only)
// while no frame arrives.
func (w *Worker) Run(ctx context.Context) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if w.cpu >= 0 {
		var set unix.CPUSet
		set.Set(w.cpu)
		if err := unix.SchedSetaffinity(0, &set); err != nil {
			return fmt.Errorf("pin queue %d worker to CPU %d: %w", w.queue, w.cpu, err)
		}
	}
	var stop atomic.Bool
	defer context.AfterFunc(ctx, func() { stop.Store(true) })()
	fds := make([]unix.PollFd, 0, MaxPorts)
	for i := range w.nports {
		if p := &w.ports[i]; p.Receive {
			fds = append(fds, unix.PollFd{Fd: int32(p.Socket.FD()), Events: unix.POLLIN})
			p.Socket.Fill(1 << 20) // as many as the fill ring takes
		}
	}
	idle := newIdler(w.idleSpin)
	for !stop.Load() {
		if w.Step() > 0 {
			idle.busy()
			continue
		}
		timeout := idle.next(relay.MonotonicNow())
		if timeout < 0 {
			continue
		}
		for i := range fds {
			fds[i].Revents = 0
		}
		if _, err := unix.Poll(fds, timeout); err != nil && !errors.Is(err, unix.EINTR) {
			return fmt.Errorf("poll queue %d: %w", w.queue, err)
		}
	}
	return nil
}
