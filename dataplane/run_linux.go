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
// first frames, then loops over Step, sleeping in epoll_wait(2) (EPOLLIN)
// while no frame arrives. Each turn of the loop advances Heartbeat.
//
// Why epoll and not poll(2): poll calls the socket's poll method on every
// call (twice when it times out), and the AF_XDP poll method drives TX in
// copy mode (and wakes the driver in zero-copy mode), where the kernel
// finds the TX ring empty and counts tx_ring_empty_descs. An idle relay
// sleeping in poll raised that counter about 20 times a second per socket.
// epoll_wait calls the poll method only for a socket whose wait queue was
// woken (a frame arrived), so an idle relay's counters stay still. Nothing
// is lost: the last Step's Receive already woke the kernel for the fill
// ring (need_wakeup) and its Complete kicked any TX still pending.
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
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return fmt.Errorf("queue %d: epoll_create1: %w", w.queue, err)
	}
	defer unix.Close(epfd)
	for i := range w.nports {
		if p := &w.ports[i]; p.Receive {
			fd := p.Socket.FD()
			if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, fd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(fd)}); err != nil {
				return fmt.Errorf("queue %d: epoll_ctl %s: %w", w.queue, p.Name, err)
			}
			p.Socket.Fill(1 << 20) // as many as the fill ring takes
		}
	}
	var events [MaxPorts]unix.EpollEvent
	idle := newIdler(w.idleSpin)
	for !stop.Load() {
		w.beat.Store(w.beat.Load() + 1)
		if w.Step() > 0 {
			idle.busy()
			continue
		}
		timeout := idle.next(relay.MonotonicNow())
		if timeout < 0 {
			continue
		}
		if _, err := unix.EpollWait(epfd, events[:], timeout); err != nil && !errors.Is(err, unix.EINTR) {
			return fmt.Errorf("epoll_wait queue %d: %w", w.queue, err)
		}
	}
	return nil
}
