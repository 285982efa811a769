//go:build linux

package client

import (
	"errors"
	"fmt"
	"runtime"

	"golang.org/x/sys/unix"
)

// namespace is a network namespace held open by a file descriptor (-1: the
// process's own, nothing to switch).
type namespace struct{ fd int }

// startNetNS is the inode of the network namespace the process started
// in, read while package initialisation runs on the main thread, before any
// thread can have switched. Comparing with /proc/self/ns/net later would be
// wrong: that is the main thread's namespace, and a goroutine that locks
// its thread and enters a namespace may be running on the main thread.
var startNetNS = func() uint64 {
	var st unix.Stat_t
	if unix.Stat("/proc/thread-self/ns/net", &st) != nil {
		return 0
	}
	return st.Ino
}()

// currentNamespace holds the calling thread's network namespace when it is
// not the one the process started in: a transport opened inside a namespace
// (a test lab switching one locked thread) opens its siblings there too.
func currentNamespace() namespace {
	var self unix.Stat_t
	if startNetNS == 0 || unix.Stat("/proc/thread-self/ns/net", &self) != nil || self.Ino == startNetNS {
		return namespace{fd: -1}
	}
	fd, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return namespace{fd: -1}
	}
	return namespace{fd: fd}
}

// do runs fn on a thread inside the namespace.
func (n namespace) do(fn func() error) error {
	if n.fd < 0 {
		return fn()
	}
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			runtime.UnlockOSThread()
			done <- fmt.Errorf("open current netns: %w", err)
			return
		}
		defer unix.Close(orig)
		if err := unix.Setns(n.fd, unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			done <- fmt.Errorf("enter netns: %w", err)
			return
		}
		ferr := fn()
		if err := unix.Setns(orig, unix.CLONE_NEWNET); err != nil {
			done <- errors.Join(ferr, fmt.Errorf("return from netns: %w", err)) // the thread stays locked and dies
			return
		}
		runtime.UnlockOSThread()
		done <- ferr
	}()
	return <-done
}

func (n *namespace) close() {
	if n.fd >= 0 {
		unix.Close(n.fd)
		n.fd = -1
	}
}
