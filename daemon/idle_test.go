package daemon

import (
	"testing"
	"time"
)

func TestIdleSpinFromConfig(t *testing.T) {
	for _, c := range []struct{ in, want time.Duration }{
		{0, -1}, // socket.idle_poll: 0s sleeps at once (0 would mean the worker's default)
		{200 * time.Microsecond, 200 * time.Microsecond},
		{5 * time.Millisecond, 5 * time.Millisecond},
	} {
		if got := idleSpin(c.in); got != c.want {
			t.Errorf("idleSpin(%v) = %v, want %v", c.in, got, c.want)
		}
	}
}
