package daemon

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/teredorelay/teredorelay/announce"
	"github.com/teredorelay/teredorelay/config"
	"github.com/teredorelay/teredorelay/metrics"
)

// announcer is the BIRD announcement driver and the cancel of its loop.
type announcer struct {
	drv    *announce.Driver
	cancel context.CancelFunc
	// withdrawTimeout bounds the final withdrawal at shutdown.
	withdrawTimeout time.Duration
}

// fitForTraffic is the health the announcement follows: ready and not
// drained (the same as metrics.State.Ready and /readyz).
func (d *Daemon) fitForTraffic() bool {
	return d.ready.Load() && !d.draining.Load() && !d.routeMissing.Load()
}

// startAnnounce starts the announcement driver when announce.enabled: it
// writes the withdrawn state at once and announces once the relay has been
// fit for traffic for announce.rise.
func (d *Daemon) startAnnounce(ctx context.Context, cfg *config.Config) error {
	a := cfg.Announce
	if !a.Enabled {
		return nil
	}
	drv, err := announce.New(announce.Config{
		IncludeFile: a.IncludeFile, SetName: a.SetName, Prefixes: a.Prefixes,
		Birdc: a.Birdc, Socket: a.Socket, Rise: a.Rise, Timeout: a.Timeout, Logger: d.log,
		SessionPoll: announce.DefaultSessionPoll,
	})
	if err != nil {
		return fmt.Errorf("config: announce: %w", err)
	}
	actx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	d.announce = &announcer{drv: drv, cancel: cancel, withdrawTimeout: a.Timeout + time.Second}
	drv.SetHealthy(d.fitForTraffic())
	d.goBackground("announcement driver", func() error { return drv.Run(actx) })
	d.log.Info("announcement driver started", "include_file", a.IncludeFile, "socket", a.Socket,
		"prefixes", a.Prefixes, "rise", a.Rise)
	return nil
}

// updateAnnounce passes a readiness or drain change to the driver.
func (d *Daemon) updateAnnounce() {
	if d.announce != nil {
		d.announce.drv.SetHealthy(d.fitForTraffic())
	}
}

// withdrawAnnounce withdraws the prefixes for good (first step of the
// shutdown, while the data plane still forwards) and stops the driver.
func (d *Daemon) withdrawAnnounce() {
	if d.announce == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), d.announce.withdrawTimeout)
	defer cancel()
	if err := d.announce.drv.Withdraw(ctx); err != nil {
		d.log.Error("withdraw the announcement at shutdown: the route may stay until BIRD notices (teredo-announce.service withdraws too)", "err", err)
	}
	d.announce.cancel()
}

// announceState implements the announcement part of metrics.State; when
// the driver is off, the configured prefixes are reported not announced.
func (d *Daemon) announceState() metrics.AnnounceState {
	if d.announce == nil {
		var out metrics.AnnounceState
		for _, p := range d.config().Announce.Prefixes {
			out.Prefixes = append(out.Prefixes, p.String())
		}
		return out
	}
	st := d.announce.drv.Status()
	out := metrics.AnnounceState{
		Enabled: true, Announced: st.Announced, Desired: st.Desired,
		Announcements: st.Announcements, Withdrawals: st.Withdrawals, Errors: st.Errors,
	}
	for _, p := range st.Prefixes {
		out.Prefixes = append(out.Prefixes, p.String())
	}
	out.SessionsTime, out.SessionsError = st.Sessions.Time, st.Sessions.Err
	exported := st.Sessions.ExportedOn(st.Prefixes)
	for _, s := range st.Sessions.List {
		out.Sessions = append(out.Sessions, metrics.BGPSession{Name: s.Name, State: strings.TrimSpace(s.State + " " + s.Info),
			Established: s.Established, Exported: slices.Contains(exported, s.Name)})
	}
	return out
}

// loadDrain starts the daemon drained when the drain state file exists
// (relayctl drain before a restart, or an operator's maintenance tooling).
func (d *Daemon) loadDrain(cfg *config.Config) error {
	path := cfg.Drain.StateFile
	if path == "" {
		return nil
	}
	_, err := os.Stat(path)
	switch {
	case err == nil:
		d.draining.Store(true)
		d.log.Warn("starting drained: the drain state file exists (relayctl undrain removes it)", "file", path)
		return nil
	case errors.Is(err, fs.ErrNotExist):
		return nil
	}
	// Unreadable: starting undrained could attract traffic an operator
	// withheld, so refuse to start.
	return fmt.Errorf("config: drain.state_file: %w", err)
}

// persistDrain creates (drained) or removes (undrained) the drain state file.
func (d *Daemon) persistDrain(drained bool) error {
	path := d.config().Drain.StateFile
	if path == "" {
		return nil
	}
	if !drained {
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove drain state file: %w", err)
		}
		return nil
	}
	if err := writeFileAtomic(path, fmt.Appendf(nil, "drained at %s by relayctl drain; relayctl undrain removes this file\n",
		time.Now().UTC().Format(time.RFC3339))); err != nil {
		return fmt.Errorf("write drain state file: %w", err)
	}
	return nil
}

// writeFileAtomic writes data to a temporary file next to path, syncs it
// and renames it over path (and syncs the directory), so a crash leaves
// either the old or the new file.
func writeFileAtomic(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			os.Remove(f.Name())
		}
	}()
	if _, err = f.Write(data); err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return err
	}
	if dh, derr := os.Open(dir); derr == nil {
		_ = dh.Sync()
		dh.Close()
	}
	return nil
}
