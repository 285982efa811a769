package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"runtime"
	"slices"
	"time"

	"github.com/teredorelay/teredorelay/control/api"
	"github.com/teredorelay/teredorelay/metrics"
)

// Config configures a Server.
type Config struct {
	Backend Backend
	// Logger receives request errors and mutating calls (drain, undrain,
	// reload); nil discards. Peer addresses are never logged.
	Logger *slog.Logger
	// RateWindow is the span rates are computed over (default 10 s);
	// SampleInterval how often Run samples the counters (default 1 s).
	RateWindow, SampleInterval time.Duration
	// SocketGroup, when set, is the group given the socket (mode 0660): who
	// may connect, and so read.
	SocketGroup string
	// AdminGroup names the group whose members may change the relay (drain,
	// undrain, reload) besides root and the daemon's own user; empty: only
	// those two. See access.go.
	AdminGroup string
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Server serves the control API.
type Server struct {
	cfg   Config
	b     Backend
	log   *slog.Logger
	now   func() time.Time
	rates *rates
}

// NewServer returns a Server; nothing listens until Run or Serve.
func NewServer(cfg Config) *Server {
	if cfg.RateWindow <= 0 {
		cfg.RateWindow = 10 * time.Second
	}
	if cfg.SampleInterval <= 0 {
		cfg.SampleInterval = time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Server{cfg: cfg, b: cfg.Backend, log: log, now: cfg.Now, rates: &rates{window: cfg.RateWindow}}
}

// Sample records the counters now for rate computation. Run calls it every
// SampleInterval.
func (s *Server) Sample() {
	st := buildStats(s.b, s.now())
	s.rates.add(&st)
}

// Run listens on the unix socket at path (see Listen), samples the counters
// and serves until ctx is done; it removes the socket on return.
func (s *Server) Run(ctx context.Context, path string) error {
	ln, err := s.Listen(path)
	if err != nil {
		return err
	}
	return s.RunListener(ctx, ln)
}

// Listen creates the control socket at path with the configured group (see
// the package-level Listen). A daemon calls it before it reports ready, so a
// socket that cannot be created is a startup error, then RunListener.
func (s *Server) Listen(path string) (net.Listener, error) {
	if g := s.cfg.AdminGroup; g != "" {
		if _, err := lookupGroupID(g); err != nil {
			s.log.Warn("api.admin_group does not exist: only root and the daemon's user may drain, undrain or reload", "group", g, "err", err)
		}
	}
	return Listen(path, s.cfg.SocketGroup)
}

// RunListener samples the counters and serves on ln (from Listen) until ctx
// is done; it closes ln, which removes a unix socket.
func (s *Server) RunListener(ctx context.Context, ln net.Listener) error {
	go func() {
		t := time.NewTicker(s.cfg.SampleInterval)
		defer t.Stop()
		s.Sample()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				s.Sample()
			}
		}
	}()
	return s.Serve(ctx, ln)
}

// Serve serves on ln until ctx is done, then shuts down (5 s grace). It
// closes ln.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	hs := &http.Server{
		Handler:           s.Handler(),
		ConnContext:       connContext,
		ReadHeaderTimeout: 5 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve control API on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	shutCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := hs.Shutdown(shutCtx); err != nil {
		return fmt.Errorf("shut down control API: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve control API on %s: %w", ln.Addr(), err)
	}
	return nil
}

// Handler returns the API's routes.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	for _, r := range []struct {
		method, path string
		h            http.HandlerFunc
	}{
		{http.MethodGet, api.PathStatus, s.status},
		{http.MethodGet, api.PathStats, s.stats},
		{http.MethodGet, api.PathPeers, s.peers},
		{http.MethodGet, api.PathPeerCount, s.peerCount},
		{http.MethodGet, api.PathPeer + "{addr}", s.peer},
		{http.MethodPost, api.PathDrain, s.changer("drain", s.drain)},
		{http.MethodPost, api.PathUndrain, s.changer("undrain", s.undrain)},
		{http.MethodPost, api.PathReload, s.changer("reload", s.reload)},
	} {
		mux.HandleFunc(r.path, s.only(r.method, r.h))
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.fail(w, r, http.StatusNotFound, api.CodeNotFound, fmt.Sprintf("no such endpoint %s %s (API version v1)", r.Method, r.URL.Path))
	})
	return mux
}

// only answers 405 to methods other than method.
func (s *Server) only(method string, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != method && (method != http.MethodGet || r.Method != http.MethodHead) {
			w.Header().Set("Allow", method)
			s.fail(w, r, http.StatusMethodNotAllowed, api.CodeBadRequest, fmt.Sprintf("%s needs %s, not %s", r.URL.Path, method, r.Method))
			return
		}
		h(w, r)
	}
}

func (s *Server) reply(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		s.log.Warn("write control API answer", "err", err)
	}
}

func (s *Server) fail(w http.ResponseWriter, r *http.Request, status int, code, msg string) {
	if status >= 500 {
		s.log.Error("control API request failed", "method", r.Method, "path", r.URL.Path, "err", msg)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(api.ErrorBody{Error: api.ErrorDetail{Code: code, Message: msg}})
}

func (s *Server) status(w http.ResponseWriter, _ *http.Request) {
	now := s.now()
	info := s.b.Info()
	st := s.b.State()
	out := api.Status{
		Time:       now,
		Version:    info.Version,
		Revision:   info.Revision,
		GoVersion:  runtime.Version(),
		Roles:      nonNil(st.Roles),
		Addresses:  nonNil(info.Addresses),
		Ready:      st.Ready,
		NotReady:   nonNil(st.NotReady),
		Draining:   st.Draining,
		StartTime:  st.StartTime,
		Interfaces: []api.Interface{},
		Reload: api.Reload{
			Reloads: st.Reloads, Failures: st.ReloadFailures,
			LastReloadSuccessful: st.LastReloadSuccessful,
			LastSuccess:          st.LastReloadSuccess,
			LastError:            info.LastReloadError,
		},
		Drain:    api.Drain{StateFile: info.DrainStateFile, Persisted: info.DrainPersisted},
		Announce: announceStatus(st.Announce),
	}
	if slices.Contains(st.Roles, metrics.RoleServer) {
		out.Server = serverStatus(s.b.ServerStats(), info.ServerAddresses)
	}
	if !st.StartTime.IsZero() {
		out.UptimeSeconds = now.Sub(st.StartTime).Seconds()
	}
	index := map[string]int{}
	iface := func(name string) *api.Interface {
		i, ok := index[name]
		if !ok {
			i = len(out.Interfaces)
			index[name] = i
			out.Interfaces = append(out.Interfaces, api.Interface{Name: name, Queues: []api.Queue{}})
		}
		return &out.Interfaces[i]
	}
	for _, name := range info.Interfaces {
		iface(name)
	}
	for _, q := range s.b.Queues() {
		ifc := iface(q.Interface)
		ifc.XDPMode = q.XDPMode
		aq := api.Queue{ID: q.ID, SocketMode: q.SocketMode(), RxPackets: q.RxPackets, TxPackets: q.TxPackets}
		if q.RingErr != nil {
			aq.RingError = q.RingErr.Error()
		}
		ifc.Queues = append(ifc.Queues, aq)
	}
	s.reply(w, out)
}

func (s *Server) currentStats() api.Stats {
	st := buildStats(s.b, s.now())
	s.rates.fill(&st)
	return st
}

func (s *Server) stats(w http.ResponseWriter, _ *http.Request) {
	s.reply(w, s.currentStats())
}

func (s *Server) summary() api.PeerSummary {
	p := s.b.PeerStats()
	sum := api.PeerSummary{
		Total: p.Pending + p.Trusted, Capacity: p.Capacity,
		Pending: p.Pending, Trusted: p.Trusted, QueuedBytes: p.QueuedBytes,
	}
	if p.Capacity > 0 {
		sum.FillRatio = float64(sum.Total) / float64(p.Capacity)
	}
	st := api.Stats{Time: s.now(), Evictions: counters(p.Evictions)}
	s.rates.fill(&st)
	sum.Evictions = st.Evictions
	for _, e := range st.Evictions {
		sum.EvictionRate += e.Rate
	}
	return sum
}

func (s *Server) peers(w http.ResponseWriter, r *http.Request) {
	q, err := api.ParsePeerQuery(r.URL.Query())
	if err != nil {
		s.fail(w, r, http.StatusBadRequest, api.CodeBadRequest, err.Error())
		return
	}
	out := api.Peers{Time: s.now(), Note: api.SnapshotNote, Summary: s.summary(), Sort: q.Sort, Limit: q.Limit}
	sel := selectPeers(s.b, q.PeerFilter, q.Sort, q.Limit)
	out.Scanned, out.Matched, out.Peers = sel.scanned, sel.matched, sel.peers
	out.Truncated = sel.matched > len(sel.peers)
	s.reply(w, out)
}

func (s *Server) peerCount(w http.ResponseWriter, r *http.Request) {
	f, err := api.ParsePeerFilter(r.URL.Query())
	if err != nil {
		s.fail(w, r, http.StatusBadRequest, api.CodeBadRequest, err.Error())
		return
	}
	out := api.PeerCount{Time: s.now(), Summary: s.summary(), Filtered: !f.IsZero()}
	if f.IsZero() {
		out.Matched = int(out.Summary.Total)
	} else {
		out.Matched = selectPeers(s.b, f, api.SortAddress, 0).matched
	}
	s.reply(w, out)
}

func (s *Server) peer(w http.ResponseWriter, r *http.Request) {
	raw := r.PathValue("addr")
	addr, err := netip.ParseAddr(raw)
	if err != nil || !addr.Is6() || addr.Is4In6() {
		s.fail(w, r, http.StatusBadRequest, api.CodeBadRequest, fmt.Sprintf("%q is not an IPv6 address", raw))
		return
	}
	addr = addr.WithZone("")
	fields, ok := teredoFields(addr)
	if !ok {
		s.fail(w, r, http.StatusBadRequest, api.CodeBadRequest, fmt.Sprintf("%s is not a Teredo address (2001::/32)", addr))
		return
	}
	p, ok := s.b.LookupPeer(addr)
	if !ok {
		s.fail(w, r, http.StatusNotFound, api.CodeNotFound, fmt.Sprintf("peer %s is not in the peer cache", addr))
		return
	}
	decode(&p)
	s.reply(w, api.PeerDetail{Time: s.now(), Peer: p, Teredo: fields})
}

func (s *Server) drain(w http.ResponseWriter, r *http.Request, who []any) {
	s.setDrain(w, r, true, who)
}

func (s *Server) undrain(w http.ResponseWriter, r *http.Request, who []any) {
	s.setDrain(w, r, false, who)
}

func (s *Server) setDrain(w http.ResponseWriter, r *http.Request, drain bool, who []any) {
	op, fn := "undrain", s.b.Undrain
	if drain {
		op, fn = "drain", s.b.Drain
	}
	changed, err := fn(r.Context())
	if err != nil {
		s.fail(w, r, http.StatusInternalServerError, api.CodeInternal, fmt.Sprintf("%s: %v", op, err))
		return
	}
	st := s.b.State()
	s.log.Info("control: "+op, append([]any{"changed", changed, "draining", st.Draining, "ready", st.Ready}, who...)...)
	res := api.DrainResult{Draining: st.Draining, Changed: changed, Ready: st.Ready}
	switch {
	case drain && changed:
		res.Message = "drained: readiness is false, the route will be withdrawn"
	case drain:
		res.Message = "already drained"
	case changed:
		res.Message = "undrained: the relay attracts traffic again once ready"
	default:
		res.Message = "was not drained"
	}
	s.reply(w, res)
}

func (s *Server) reload(w http.ResponseWriter, r *http.Request, who []any) {
	res, err := s.b.Reload(r.Context())
	if err != nil {
		s.fail(w, r, http.StatusInternalServerError, api.CodeInternal, fmt.Sprintf("reload: %v", err))
		return
	}
	if res.Time.IsZero() {
		res.Time = s.now()
	}
	if res.Changed == nil {
		res.Changed = []string{}
	}
	s.log.Info("control: reload", append([]any{"successful", res.Successful, "changed", res.Changed, "err", res.Error}, who...)...)
	s.reply(w, res)
}

func announceStatus(a metrics.AnnounceState) api.Announce {
	return api.Announce{
		Enabled: a.Enabled, Prefixes: nonNil(a.Prefixes),
		Desired: a.Desired, Announced: a.Announced, Confirmed: a.Confirmed,
		Announcements: a.Announcements, Withdrawals: a.Withdrawals, Errors: a.Errors,
		LastError: a.LastError, LastErrorTime: a.LastErrorTime, LastSuccess: a.LastSuccess,
		SessionsTime: a.SessionsTime, SessionsError: a.SessionsError, Sessions: sessions(a.Sessions),
	}
}

func sessions(in []metrics.BGPSession) []api.BGPSession {
	var out []api.BGPSession
	for _, s := range in {
		out = append(out, api.BGPSession{Name: s.Name, State: s.State, Established: s.Established, Exported: s.Exported})
	}
	return out
}

func serverStatus(c metrics.ServerStats, addrs []string) *api.ServerStatus {
	out := &api.ServerStatus{Addresses: nonNil(addrs), Packets: c.Packets, RSReceived: c.RSReceived, RelayHandoffs: c.RelayHandoffs}
	for _, x := range c.RASent {
		out.RASent += x.Value
		if x.Label == metrics.RAFromOtherAddress {
			out.RASentOther += x.Value
		}
	}
	for _, x := range c.Forwarded {
		out.Forwarded += x.Value
	}
	for _, x := range c.Drops {
		out.Drops += x.Value
	}
	return out
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
