//go:build linux

package lab

import (
	"fmt"
	"runtime"

	"golang.org/x/sys/unix"
)

// netnsPath is where "ip netns add" bind-mounts named namespaces.
const netnsPath = "/run/netns/"

// inNamespace runs fn on a fresh goroutine whose OS thread is switched into
// the named network namespace. Sockets fn creates stay in that namespace
// after the thread switches back. If the thread cannot be switched back it is
// left locked, so the runtime retires it when the goroutine ends.
func inNamespace(name string, fn func() error) error {
	done := make(chan error, 1)
	go func() { done <- runInNamespace(name, fn) }()
	return <-done
}

func runInNamespace(name string, fn func() error) error {
	runtime.LockOSThread()
	orig, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("open current netns: %w", err)
	}
	defer unix.Close(orig)
	target, err := unix.Open(netnsPath+name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("open netns %s: %w", name, err)
	}
	defer unix.Close(target)
	if err := unix.Setns(target, unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("enter netns %s: %w", name, err)
	}
	ferr := fn()
	if err := unix.Setns(orig, unix.CLONE_NEWNET); err != nil {
		return fmt.Errorf("return from netns %s: %w", name, err)
	}
	runtime.UnlockOSThread()
	return ferr
}
