// Command relayctl inspects and controls a running teredo-relayd through its
// control socket. The logic lives in package relayctl.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/teredorelay/teredorelay/relayctl"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := relayctl.Main(ctx, os.Args[1:], relayctl.Options{
		Stdout:   os.Stdout,
		Stderr:   os.Stderr,
		Terminal: isTerminal(os.Stdout),
	})
	stop()
	os.Exit(code)
}

// isTerminal reports whether f is a character device (a terminal), so that
// --watch redraws the screen instead of appending snapshots.
func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
