package daemon

import (
	"os"
	"strconv"
	"testing"
	"time"
)

func TestWatchdogInterval(t *testing.T) {
	me := strconv.Itoa(os.Getpid())
	for _, tt := range []struct {
		usec, pid string
		want      time.Duration
		ok        bool
	}{
		{"", "", 0, false},
		{"10000000", "", 5 * time.Second, true},
		{"10000000", me, 5 * time.Second, true},
		{"10000000", "1", 0, false}, // meant for another process
		{"0", "", 0, false},
		{"soon", "", 0, false},
	} {
		env := map[string]string{"WATCHDOG_USEC": tt.usec, "WATCHDOG_PID": tt.pid}
		got, ok := watchdogInterval(func(k string) string { return env[k] })
		if got != tt.want || ok != tt.ok {
			t.Errorf("WATCHDOG_USEC=%q WATCHDOG_PID=%q: %v %v, want %v %v", tt.usec, tt.pid, got, ok, tt.want, tt.ok)
		}
	}
}

func TestHeartbeatsStalled(t *testing.T) {
	var h heartbeats
	steps := []struct {
		now  []uint64
		want int
	}{
		{[]uint64{5, 9}, -1},  // first reading
		{[]uint64{6, 12}, -1}, // both moved
		{[]uint64{7, 12}, 1},  // queue index 1 stuck
		{[]uint64{7, 13}, 0},  // now index 0
		{[]uint64{8, 14}, -1}, // both again
	}
	for i, s := range steps {
		if got := h.stalled(s.now); got != s.want {
			t.Errorf("step %d: stalled(%v) = %d, want %d", i, s.now, got, s.want)
		}
	}
}

func TestStatusLine(t *testing.T) {
	d := &Daemon{}
	if got := d.statusLine(); got != "starting or stopping" {
		t.Errorf("not started: %q", got)
	}
	d.ready.Store(true)
	if got := d.statusLine(); got != "relaying" {
		t.Errorf("ready: %q", got)
	}
	d.draining.Store(true)
	if got := d.statusLine(); got != "drained: forwarding, but not ready for new traffic (relayctl undrain)" {
		t.Errorf("drained: %q", got)
	}
	d.draining.Store(false)
	d.routeMissing.Store(true)
	if got := d.statusLine(); got != "not ready: a readiness.require_route_to destination has no route" {
		t.Errorf("route missing: %q", got)
	}
}
