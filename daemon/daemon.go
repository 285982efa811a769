package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/teredorelay/teredorelay/bpf"
	"github.com/teredorelay/teredorelay/cache"
	"github.com/teredorelay/teredorelay/config"
	"github.com/teredorelay/teredorelay/control"
	"github.com/teredorelay/teredorelay/control/api"
	"github.com/teredorelay/teredorelay/dataplane"
	"github.com/teredorelay/teredorelay/metrics"
	"github.com/teredorelay/teredorelay/nexthop"
	"github.com/teredorelay/teredorelay/peerstate"
	"github.com/teredorelay/teredorelay/relay"
	"github.com/teredorelay/teredorelay/server"
	"github.com/teredorelay/teredorelay/xsk"
)

// Options are the daemon's command-line settings.
type Options struct {
	ConfigPath string
	// ReadyFile is created (with the PID) once XDP is attached and every
	// worker runs, and removed on shutdown. Empty: none.
	ReadyFile string
	// Level is the log level variable the logger was built with; reloads set it.
	Level   *slog.LevelVar
	Logger  *slog.Logger
	Version string
	// Revision is the VCS revision of the build, if known.
	Revision string
}

// Daemon is a running relay: the control API and the metrics collector read
// it through its methods (control.Backend, metrics.Source), which are safe for
// concurrent use.
type Daemon struct {
	opts  Options
	log   *slog.Logger
	start time.Time
	// monoAtStart converts the cache's monotonic times to wall time.
	monoAtStart int64

	cfgMu sync.Mutex
	cfg   *config.Config

	peers   *cache.Cache
	engine  *relay.Engine
	srv     *server.Server        // server role (daemon/server.go), nil without it
	srvLoop *dataplane.ServerLoop // server role: in-process delivery and kernel path
	kernel  *dataplane.Kernel
	hops    *nexthop.Table
	sides   []*side
	queues  []*queue
	workers []*dataplane.Worker
	senders []*dataplane.RawSender

	// announce is the BIRD announcement driver (daemon/announce.go), nil
	// unless announce.enabled.
	announce *announcer
	// peerState saves and restores the trusted peers (daemon/peerstate.go),
	// nil unless peer_state.file is set.
	peerState *peerstate.Keeper

	ready, draining atomic.Bool
	// routeMissing is set while a readiness.require_route_to destination has
	// no usable route (daemon/readiness.go); missingRoute names it.
	routeMissing            atomic.Bool
	missingRoute            atomic.Pointer[netip.Addr]
	reloads, reloadFailures atomic.Uint64
	lastReloadOK            atomic.Bool
	lastReload              atomic.Int64 // Unix nanoseconds of the last successful load
	lastReloadErr           atomic.Pointer[string]

	workerWG   sync.WaitGroup
	stopWork   context.CancelFunc
	background sync.WaitGroup
	fatal      chan error
}

// side is one interface with its steering program.
type side struct {
	name     string
	key      string // config key naming the interface
	ifindex  int
	v4, v6   bool // what this side steers
	prog     *bpf.Program
	macs     [][6]byte // own MAC addresses in prog (steering.go)
	mode     bpf.AttachMode
	attached bool
}

// queue is one RX queue id: its UMEM(s) and one socket per side.
type queue struct {
	id      int
	umems   []*xsk.Umem
	sockets []*xsk.Socket // per side, in d.sides order
	shared  bool
}

// Run loads the configuration, starts the relay, serves until ctx is done or
// SIGTERM/SIGINT arrives (SIGHUP reloads), then shuts down cleanly: XDP
// detached, sockets closed. It returns the first error that stopped it.
func Run(ctx context.Context, opts Options) error {
	cfg, err := config.Load(opts.ConfigPath)
	if err != nil {
		return err
	}
	if opts.Level == nil {
		opts.Level = new(slog.LevelVar)
	}
	opts.Level.Set(cfg.Log.Level)
	if opts.Logger == nil {
		opts.Logger = NewLogger(os.Stderr, cfg.Log.Format, opts.Level)
	}
	d := &Daemon{opts: opts, log: opts.Logger, cfg: cfg, start: time.Now(), monoAtStart: relay.MonotonicNow(), fatal: make(chan error, 8)}
	d.lastReloadOK.Store(true)
	d.lastReload.Store(d.start.UnixNano())

	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	// runCtx ends with a signal or with Run itself: an error (from startup
	// or from a background task) must also stop the tasks shutdown waits for.
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	d.startWatchdog(runCtx) // daemon/watchdog.go
	err = d.startAll(runCtx)
	if err == nil {
		err = d.serve(runCtx, hup)
	}
	cancel()
	if cerr := d.shutdown(); err == nil {
		err = cerr
	}
	return err
}

// NewLogger returns the daemon's logger: text or JSON to w at level.
func NewLogger(w io.Writer, format config.LogFormat, level *slog.LevelVar) *slog.Logger {
	ho := &slog.HandlerOptions{Level: level}
	if format == config.LogJSON {
		return slog.New(slog.NewJSONHandler(w, ho))
	}
	return slog.New(slog.NewTextHandler(w, ho))
}

// serve waits for the end, handling SIGHUP.
func (d *Daemon) serve(ctx context.Context, hup <-chan os.Signal) error {
	for {
		select {
		case <-ctx.Done():
			d.log.Info("shutting down", "cause", context.Cause(ctx))
			return nil
		case err := <-d.fatal:
			return err
		case <-hup:
			res := d.reload()
			if res.Error != "" {
				d.log.Error("reload refused; the running configuration stays", "err", res.Error)
			} else {
				d.log.Info("configuration reloaded", "changed", res.Changed)
			}
		}
	}
}

func (d *Daemon) config() *config.Config {
	d.cfgMu.Lock()
	defer d.cfgMu.Unlock()
	return d.cfg
}

// startAll builds everything in dependency order. On error the caller runs
// shutdown, which releases whatever was built.
func (d *Daemon) startAll(ctx context.Context) error {
	cfg := d.cfg
	if d.opts.ReadyFile != "" { // a stale one from a killed run must not claim readiness
		if err := os.Remove(d.opts.ReadyFile); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove stale ready file: %w", err)
		}
	}
	priv, err := currentPrivileges()
	if err != nil {
		return err
	}
	if err := checkPrivileges(cfg, priv); err != nil { // daemon/privileges.go
		return err
	}
	if err := d.loadDrain(cfg); err != nil { // daemon/announce.go
		return err
	}
	if err := d.resolveSides(cfg); err != nil {
		return err
	}
	d.warnUnassignedIPv6(cfg)
	key, err := relay.LoadOrCreateKey(cfg.Bubbles.KeyFile)
	if err != nil {
		return fmt.Errorf("config: bubbles.key_file: %w", err)
	}
	if d.peers, err = cache.New(cache.Config{
		Capacity:       cfg.Peers.Capacity,
		PeerQueueBytes: cfg.Peers.QueueBytesPerPeer,
		QueueBytes:     cfg.Peers.QueueBytesTotal,
		Now:            relay.MonotonicNow,
	}); err != nil {
		return fmt.Errorf("create peer cache: %w", err)
	}
	if err := checkServerAddrs(cfg, addrAssigned); err != nil { // daemon/server.go
		return err
	}
	if err := d.loadPeerState(cfg); err != nil { // daemon/peerstate.go
		return err
	}
	// A kernel UDP socket on every address XDP steers (reassembled
	// fragments), the relay's primary first: it sends the relay's output.
	if d.kernel, err = dataplane.OpenKernel(d.steerAddrs(cfg), cfg.IPv4.Port); err != nil {
		return explain(err, "open kernel sockets")
	}
	out, err := d.startServer(cfg) // daemon/server.go
	if err != nil {
		return err
	}
	if d.engine, err = relay.NewEngine(relayConfig(cfg, key), d.peers, out); err != nil {
		return fmt.Errorf("create relay engine: %w", err)
	}
	ports := make([]int32, len(d.sides))
	for i, s := range d.sides {
		ports[i] = int32(s.ifindex)
	}
	if d.hops, err = nexthop.Start(nexthop.Options{Ports: ports, Logger: d.log}); err != nil {
		return explain(err, "mirror kernel routes")
	}
	for i, s := range d.sides {
		if s.prog, err = bpf.Load(d.steerConfig(cfg, i)); err != nil { // daemon/steering.go
			return explain(err, "load XDP program")
		}
	}
	if err := d.openQueues(cfg); err != nil {
		return err
	}
	mode, err := bpf.ParseAttachMode(string(cfg.XDP.Mode))
	if err != nil {
		return fmt.Errorf("config: xdp.mode: %w", err)
	}
	for _, s := range d.sides {
		if s.mode, err = s.prog.Attach(s.ifindex, mode); err != nil {
			return explain(err, fmt.Sprintf("attach XDP program to %s (%s)", s.name, s.key))
		}
		s.attached = true
		d.log.Info("XDP program attached", "interface", s.name, "mode", s.mode.String(), "steer_ipv4", s.v4, "steer_ipv6", s.v6,
			"own_macs", macString(s.macs))
		d.warnGenericXDP(cfg, s)
	}
	// The listeners are bound before the workers start, so that a taken port
	// or an unusable socket path fails the start instead of a running relay;
	// they serve once the workers (which they report on) exist.
	srv := control.NewServer(control.Config{Backend: d, Logger: d.log, SocketGroup: cfg.API.Group, AdminGroup: cfg.API.AdminGroup})
	apiLn, err := srv.Listen(cfg.API.Socket)
	if err != nil {
		return fmt.Errorf("config: api.socket: %w", err)
	}
	if err := metrics.ValidateWebConfig(cfg.Metrics.WebConfigFile); err != nil {
		apiLn.Close()
		return fmt.Errorf("config: metrics.web_config_file: %w", err)
	}
	var metricsLn net.Listener
	if cfg.Metrics.Listen != "" {
		if metricsLn, err = net.Listen("tcp", cfg.Metrics.Listen); err != nil {
			apiLn.Close()
			return fmt.Errorf("config: metrics.listen: %w", err)
		}
	}
	if err := d.startWorkers(ctx, cfg); err != nil {
		apiLn.Close()
		if metricsLn != nil {
			metricsLn.Close()
		}
		return err
	}
	d.goBackground("relay slow path", func() error { return d.engine.Run(ctx) })
	d.goBackground("kernel UDP socket", func() error { return d.kernel.Serve(ctx, d.kernelHandler(cfg)) })
	d.goBackground("control API", func() error { return srv.RunListener(ctx, apiLn) })
	if metricsLn != nil {
		ms := metrics.NewServer(metrics.ServerConfig{
			Addr:          cfg.Metrics.Listen,
			Gatherer:      metrics.NewRegistry(d, metrics.BuildInfo{Version: d.opts.Version, Revision: d.opts.Revision}),
			Ready:         metrics.ReadyFromSource(d),
			WebConfigFile: cfg.Metrics.WebConfigFile,
			Version:       d.opts.Version,
			Logger:        d.log.With("component", "metrics"),
		})
		d.goBackground("metrics listener", func() error { return ms.Serve(ctx, metricsLn) })
	}
	if err := d.startDebug(ctx); err != nil { // daemon/debug.go
		return err
	}
	d.watchRoutes(ctx, cfg)                           // daemon/readiness.go
	d.startPeerStateSaver(ctx)                        // daemon/peerstate.go
	d.watchMACs(ctx)                                  // daemon/steering.go
	if err := d.startAnnounce(ctx, cfg); err != nil { // daemon/announce.go
		return err
	}
	return d.markReady()
}

// resolveSides finds the interfaces; one-armed: one side steering both
// families, two-armed: an IPv4 side and an IPv6 side.
func (d *Daemon) resolveSides(cfg *config.Config) error {
	type want struct {
		key, name string
		v4, v6    bool
	}
	var wants []want
	if cfg.Interfaces.TwoArmed() {
		wants = []want{{"interfaces.ipv4_side", cfg.Interfaces.IPv4Side, true, false}, {"interfaces.ipv6_side", cfg.Interfaces.IPv6Side, false, true}}
	} else {
		wants = []want{{"interfaces.one_armed", cfg.Interfaces.OneArmed, true, true}}
	}
	for _, w := range wants {
		idx, err := ifindexByName(w.name)
		if err != nil {
			return fmt.Errorf("config: %s: %s: %w", w.key, w.name, err)
		}
		d.sides = append(d.sides, &side{name: w.name, key: w.key, ifindex: idx, v4: w.v4, v6: w.v6})
	}
	return nil
}

// openQueues creates, per queue, the UMEM(s) and one socket per side, and
// registers each socket in its side's XSKMAP.
func (d *Daemon) openQueues(cfg *config.Config) error {
	ucfg := xsk.UmemConfig{
		NumFrames: cfg.UMEM.Frames, FrameSize: cfg.UMEM.FrameSize, Headroom: cfg.UMEM.Headroom,
		FillSize: cfg.Socket.FillRing, CompSize: cfg.Socket.CompletionRing,
	}
	scfg := xsk.SocketConfig{
		RxSize: cfg.Socket.RXRing, TxSize: cfg.Socket.TXRing,
		ForceCopy: cfg.Socket.Mode == config.SocketCopy, ForceZeroCopy: cfg.Socket.Mode == config.SocketZeroCopy,
	}
	for _, qid := range cfg.Queues {
		q := &queue{id: qid}
		d.queues = append(d.queues, q)
		u, err := xsk.NewUmem(ucfg)
		if err != nil {
			return explain(err, fmt.Sprintf("allocate UMEM for queue %d (umem.frames × umem.frame_size)", qid))
		}
		q.umems = append(q.umems, u)
		for i, s := range d.sides {
			sock, err := xsk.Open(s.ifindex, qid, u, scfg)
			if err != nil && i > 0 && cfg.UMEM.Sharing == config.SharingAuto {
				d.log.Warn("XDP_SHARED_UMEM refused; the sides get separate UMEMs (frames are copied between them)",
					"queue", qid, "interface", s.name, "err", err)
				if u, err = xsk.NewUmem(ucfg); err != nil {
					return explain(err, fmt.Sprintf("allocate UMEM for queue %d", qid))
				}
				q.umems = append(q.umems, u)
				sock, err = xsk.Open(s.ifindex, qid, u, scfg)
			} else if err == nil && i == 0 && len(d.sides) > 1 && cfg.UMEM.Sharing == config.SharingSeparate {
				if u, err = xsk.NewUmem(ucfg); err != nil {
					q.sockets = append(q.sockets, sock)
					return explain(err, fmt.Sprintf("allocate UMEM for queue %d", qid))
				}
				q.umems = append(q.umems, u)
			}
			if err != nil {
				return explain(err, fmt.Sprintf("open AF_XDP socket on %s queue %d (%s, queues)", s.name, qid, s.key))
			}
			q.sockets = append(q.sockets, sock)
			if err := s.prog.Register(qid, sock.FD()); err != nil {
				return explain(err, fmt.Sprintf("register %s queue %d in the XSKMAP", s.name, qid))
			}
			d.log.Info("AF_XDP socket open", "interface", s.name, "queue", qid, "zerocopy", sock.ZeroCopy())
		}
		q.shared = len(q.umems) == 1
	}
	return nil
}

// startWorkers starts one worker per queue on its own goroutine.
func (d *Daemon) startWorkers(ctx context.Context, cfg *config.Config) error {
	wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	d.stopWork = cancel
	for i, q := range d.queues {
		ports := make([]dataplane.Port, len(d.sides))
		for j, s := range d.sides {
			sock := q.sockets[j]
			ports[j] = dataplane.Port{Name: s.name, Socket: sock, UMEM: sock.Umem(), Receive: true, Alloc: sock.Umem().Alloc}
		}
		sender, err := dataplane.NewRawSender()
		if err != nil {
			return explain(err, "open raw sockets for the kernel path")
		}
		d.senders = append(d.senders, sender)
		cpu := -1
		if len(cfg.CPUs) > 0 {
			cpu = cfg.CPUs[i]
		}
		w, err := dataplane.NewWorker(dataplane.WorkerConfig{
			Queue: q.id, Ports: ports, Relay: d.fastPath(cfg), Hops: d.hops, Kernel: sender, CPU: cpu,
			IdleSpin: idleSpin(cfg.Socket.IdlePoll),
		})
		if err != nil {
			return fmt.Errorf("queue %d: %w", q.id, err)
		}
		d.workers = append(d.workers, w)
		d.workerWG.Go(func() {
			if err := w.Run(wctx); err != nil {
				d.reportFatal(fmt.Errorf("worker for queue %d: %w", w.Queue(), err))
			}
		})
	}
	return nil
}

func (d *Daemon) goBackground(name string, fn func() error) {
	d.background.Go(func() {
		if err := fn(); err != nil {
			d.reportFatal(fmt.Errorf("%s: %w", name, err))
		}
	})
}

// goEvery runs fn every interval in the background until ctx ends.
func (d *Daemon) goEvery(ctx context.Context, name string, interval time.Duration, fn func()) {
	d.goBackground(name, func() error {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return nil
			case <-t.C:
				fn()
			}
		}
	})
}

func (d *Daemon) reportFatal(err error) {
	select {
	case d.fatal <- err:
	default:
	}
}

// markReady writes the ready file and tells systemd.
func (d *Daemon) markReady() error {
	if d.opts.ReadyFile != "" {
		if err := os.WriteFile(d.opts.ReadyFile, fmt.Appendf(nil, "%d\n", os.Getpid()), 0o644); err != nil {
			return fmt.Errorf("write ready file: %w", err)
		}
	}
	d.ready.Store(true)
	d.updateAnnounce()
	// READY=1 ends systemd's start job in any case; STATUS= and the log say
	// whether the relay is fit for traffic (daemon/status.go).
	d.notifyStatus("READY=1")
	cfg := d.cfg
	args := []any{"ipv4", cfg.IPv4.Addresses, "port", cfg.IPv4.Port, "ipv6", cfg.IPv6.Address,
		"queues", cfg.Queues, "two_armed", cfg.Interfaces.TwoArmed()}
	if d.fitForTraffic() {
		d.log.Info("teredo-relayd ready", args...)
	} else {
		d.log.Warn("teredo-relayd started, NOT ready for traffic", append([]any{"status", d.statusLine()}, args...)...)
	}
	return nil
}

// shutdown releases everything in reverse order: XDP first (traffic goes back
// to the kernel), then workers, sockets, routes and the slow path.
func (d *Daemon) shutdown() error {
	d.ready.Store(false)
	d.withdrawAnnounce() // before XDP goes: the route leaves while we still forward
	if err := notify("STOPPING=1"); err != nil {
		d.log.Warn("sd_notify STOPPING=1 failed", "err", err)
	}
	if d.opts.ReadyFile != "" {
		if err := os.Remove(d.opts.ReadyFile); err != nil && !errors.Is(err, os.ErrNotExist) {
			d.log.Warn("remove ready file", "err", err)
		}
	}
	var errs []error
	detached := false
	for _, s := range d.sides {
		detached = detached || s.attached
		if s.prog != nil {
			errs = append(errs, s.prog.Close())
		}
	}
	if d.stopWork != nil {
		d.stopWork()
	}
	d.workerWG.Wait()
	d.savePeerStateAtShutdown() // daemon/peerstate.go
	for _, q := range d.queues {
		for _, s := range q.sockets {
			errs = append(errs, s.Close())
		}
		for _, u := range q.umems {
			errs = append(errs, u.Close())
		}
	}
	for _, s := range d.senders {
		errs = append(errs, s.Close())
	}
	if d.kernel != nil {
		errs = append(errs, d.kernel.Close())
	}
	if d.hops != nil {
		errs = append(errs, d.hops.Close())
	}
	d.background.Wait()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if detached {
		d.log.Info("stopped: XDP detached, sockets closed")
	}
	return nil
}

// relayConfig maps the file's settings to the engine's.
func relayConfig(cfg *config.Config, key []byte) relay.Config {
	rl := cfg.RateLimits
	var localServer netip.Addr
	if cfg.Server != nil { // the server role in this process gets the relay's indirect bubbles
		localServer = cfg.Server.Primary
	}
	return relay.Config{
		LocalServer:        localServer,
		IPv4Addr:           cfg.PrimaryIPv4(),
		IPv4Addrs:          cfg.SecondaryIPv4(),
		Port:               cfg.IPv4.Port,
		IPv6Addr:           cfg.IPv6.Address,
		Key:                key,
		AcceptUnknownPeers: cfg.AcceptUnknownPeers,
		DirectBubbles:      cfg.Bubbles.Direct,
		// The YAML keys say what is done (true by default), the engine's
		// fields what is not (false by default).
		StrictMapping:           !cfg.AcceptSymmetricNAT,
		DisableEncapUDPChecksum: !cfg.EncapUDPChecksum,
		ExtraBogons:             cfg.ExtraBogons,
		ICMPv6Rate:              cfg.ICMPv6.Rate,
		ICMPv6Burst:             cfg.ICMPv6.Burst,
		DisableICMPv6Errors:     !cfg.ICMPv6.Enabled,
		NewPeerRate:             rl.NewPeerRate,
		NewPeerBurst:            rl.NewPeerBurst,
		BubbleRate:              rl.BubbleRate,
		BubbleBurst:             rl.BubbleBurst,
		ClientSlowPathRate:      rl.ClientSlowPathRate,
		ClientSlowPathBurst:     rl.ClientSlowPathBurst,
		BubbleShare:             rl.BubbleShare,
		DestinationHandoffRate:  rl.DestinationHandoffRate,
		DestinationHandoffBurst: rl.DestinationHandoffBurst,
		Now:                     relay.MonotonicNow,
	}
}

// reload re-reads the configuration file and applies the reloadable settings.
func (d *Daemon) reload() api.ReloadResult {
	res := api.ReloadResult{Time: time.Now()}
	d.reloads.Add(1)
	changed, err := d.applyReload()
	if err != nil {
		d.reloadFailures.Add(1)
		d.lastReloadOK.Store(false)
		msg := err.Error()
		d.lastReloadErr.Store(&msg)
		res.Error = msg
		return res
	}
	d.lastReloadOK.Store(true)
	d.lastReload.Store(res.Time.UnixNano())
	d.lastReloadErr.Store(nil)
	res.Successful, res.Changed = true, changed
	return res
}

// idleSpin maps socket.idle_poll to dataplane.WorkerConfig.IdleSpin, where 0
// means the default and a negative value sleeps at once.
func idleSpin(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}
