package daemon

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"time"
)

// The systemd watchdog (WatchdogSec= in the unit): systemd passes the
// interval in WATCHDOG_USEC and expects WATCHDOG=1 more often than that, or
// it kills the daemon (SIGABRT: Go prints every goroutine's stack) and
// Restart=on-failure starts it again. The pings follow the data plane's
// health: once the workers run, a ping is sent only while every worker's
// loop has turned since the previous ping (dataplane.Worker.Heartbeat
// advances at least every 100 ms, idle or not). A stuck worker therefore
// stops the pings and the relay is restarted, instead of reporting healthy
// while it black-holes its queue.

// watchdogInterval returns how often to ping: half of WATCHDOG_USEC, when
// it is set and meant for this process (WATCHDOG_PID unset or ours).
func watchdogInterval(getenv func(string) string) (time.Duration, bool) {
	usec, err := strconv.ParseUint(getenv("WATCHDOG_USEC"), 10, 63)
	if err != nil || usec == 0 {
		return 0, false
	}
	if pid := getenv("WATCHDOG_PID"); pid != "" && pid != strconv.Itoa(os.Getpid()) {
		return 0, false
	}
	return time.Duration(usec) * time.Microsecond / 2, true
}

// heartbeats reads every worker's heartbeat; workers only exist once the
// daemon is ready (startWorkers finished).
type heartbeats struct {
	last []uint64
}

// stalled returns the index of the first worker whose heartbeat has not
// moved since the previous call, or -1; the first call (no previous
// reading) reports none.
func (h *heartbeats) stalled(now []uint64) int {
	prev := h.last
	h.last = append(h.last[:0:0], now...)
	if len(prev) != len(now) {
		return -1
	}
	for i := range now {
		if now[i] == prev[i] {
			return i
		}
	}
	return -1
}

// startWatchdog pings systemd's watchdog until ctx ends. Before the relay is
// ready it pings unconditionally (TimeoutStartSec bounds the start); then
// only while every worker makes progress.
func (d *Daemon) startWatchdog(ctx context.Context) {
	every, ok := watchdogInterval(os.Getenv)
	if !ok {
		return
	}
	d.log.Info("systemd watchdog on: pings follow the workers' heartbeats", "interval", every)
	d.goBackground("watchdog", func() error {
		t := time.NewTicker(every)
		defer t.Stop()
		var hb heartbeats
		withheld := false
		for {
			if d.ready.Load() {
				now := make([]uint64, len(d.workers))
				for i, w := range d.workers {
					now[i] = w.Heartbeat()
				}
				if i := hb.stalled(now); i >= 0 {
					if !withheld {
						d.log.Error("watchdog ping withheld: a worker made no progress; systemd restarts the relay if this lasts WatchdogSec",
							"queue", d.workers[i].Queue(), "for", every)
					}
					withheld = true
				} else {
					if withheld {
						d.log.Warn("watchdog pings resumed: every worker makes progress again")
					}
					withheld = false
					d.ping()
				}
			} else {
				d.ping()
			}
			select {
			case <-ctx.Done():
				return nil
			case <-t.C:
			}
		}
	})
}

func (d *Daemon) ping() {
	if err := notify("WATCHDOG=1"); err != nil {
		d.log.Warn("sd_notify WATCHDOG=1 failed", "err", fmt.Sprint(err))
	}
}
