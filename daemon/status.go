package daemon

import "strings"

// statusLine is what the daemon tells systemd (STATUS=, shown by systemctl
// status) and what its start log says: "relaying" only when it is fit to
// attract traffic, else why not.
func (d *Daemon) statusLine() string {
	switch {
	case !d.ready.Load():
		return "starting or stopping"
	case d.draining.Load():
		return "drained: forwarding, but not ready for new traffic (relayctl undrain)"
	case d.routeMissing.Load():
		return "not ready: " + d.routeMissingReason()
	}
	return "relaying"
}

// notifyStatus sends STATUS= to systemd; extra states (READY=1) go first.
func (d *Daemon) notifyStatus(extra ...string) {
	state := strings.Join(append(extra, "STATUS="+d.statusLine()), "\n")
	if err := notify(state); err != nil {
		d.log.Warn("sd_notify failed", "state", state, "err", err)
	}
}
