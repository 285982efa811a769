package metrics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/exporter-toolkit/web"
)

// Paths served by Handler.
const (
	PathMetrics = "/metrics"
	PathHealthz = "/healthz"
	PathReadyz  = "/readyz"
)

// ServerConfig configures the operational HTTP listener.
type ServerConfig struct {
	// Addr is the TCP listen address, e.g. "127.0.0.1:9544" or "[::]:9544".
	Addr string
	// Gatherer is scraped on /metrics (usually NewRegistry's result).
	Gatherer prometheus.Gatherer
	// Ready reports readiness for /readyz: fit to attract traffic, with the
	// reasons when not. Nil means always ready.
	Ready func() (ready bool, reasons []string)
	// Alive reports liveness for /healthz (nil error: alive). Nil means alive
	// whenever the listener answers.
	Alive func() error
	// WebConfigFile is the exporter-toolkit web configuration (TLS, basic
	// auth; the Prometheus exporters' --web.config.file), read again on every
	// connection and request, so certificate and password changes apply
	// without a restart. Empty: plain HTTP, no authentication.
	WebConfigFile string
	// Version is shown on the landing page.
	Version string
	// Logger receives the listener's start and its HTTP errors; nil discards.
	Logger *slog.Logger
}

// PathLanding is the landing page listing the endpoints.
const PathLanding = "/"

// ValidateWebConfig reads the web configuration file and the certificates it
// names, as the listener will (nil for an empty path).
func ValidateWebConfig(path string) error {
	if err := web.Validate(path); err != nil {
		return fmt.Errorf("web configuration %s: %w", path, err)
	}
	return nil
}

// Handler returns the mux serving the landing page, /metrics, /healthz and
// /readyz.
func Handler(cfg ServerConfig) http.Handler {
	mux := http.NewServeMux()
	landing, err := web.NewLandingPage(web.LandingConfig{
		Name:        "teredo-relayd",
		Description: "Teredo relay (RFC 4380) with an XDP/AF_XDP data plane",
		Version:     cfg.Version,
		Profiling:   "false",
		Links: []web.LandingLinks{
			{Address: PathMetrics, Text: "Metrics", Description: "Prometheus metrics (docs/metrics.md)"},
			{Address: PathHealthz, Text: "Liveness", Description: "200 while the process serves"},
			{Address: PathReadyz, Text: "Readiness", Description: "200 while fit to attract traffic (started, not drained), else 503 with the reasons"},
		},
	})
	if err != nil { // the template is the toolkit's own: a failure is a bug
		panic(fmt.Sprintf("metrics: landing page: %v", err))
	}
	mux.Handle("GET "+PathLanding+"{$}", landing)
	mux.Handle("GET "+PathMetrics, promhttp.HandlerFor(cfg.Gatherer, promhttp.HandlerOpts{
		ErrorHandling:       promhttp.ContinueOnError,
		MaxRequestsInFlight: 4,
		Timeout:             10 * time.Second,
	}))
	mux.HandleFunc("GET "+PathHealthz, func(w http.ResponseWriter, _ *http.Request) {
		if cfg.Alive != nil {
			if err := cfg.Alive(); err != nil {
				writeText(w, http.StatusServiceUnavailable, "unhealthy: "+err.Error())
				return
			}
		}
		writeText(w, http.StatusOK, "ok")
	})
	mux.HandleFunc("GET "+PathReadyz, func(w http.ResponseWriter, _ *http.Request) {
		if cfg.Ready != nil {
			if ready, reasons := cfg.Ready(); !ready {
				msg := "not ready"
				if len(reasons) > 0 {
					msg += ": " + strings.Join(reasons, "; ")
				}
				writeText(w, http.StatusServiceUnavailable, msg)
				return
			}
		}
		writeText(w, http.StatusOK, "ready")
	})
	return mux
}

// ReadyFromSource adapts a Source's State to ServerConfig.Ready.
func ReadyFromSource(src Source) func() (bool, []string) {
	return func() (bool, []string) {
		s := src.State()
		reasons := s.NotReady
		if !s.Ready && len(reasons) == 0 && s.Draining {
			reasons = []string{"draining"}
		}
		return s.Ready, reasons
	}
}

func writeText(w http.ResponseWriter, code int, body string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	fmt.Fprintln(w, body)
}

// Server is the operational HTTP listener.
type Server struct {
	cfg ServerConfig
}

// NewServer returns a Server; nothing listens until Run or Serve.
func NewServer(cfg ServerConfig) *Server { return &Server{cfg: cfg} }

// Run listens on cfg.Addr and serves until ctx is done.
func (s *Server) Run(ctx context.Context) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen for metrics on %s: %w", s.cfg.Addr, err)
	}
	return s.Serve(ctx, ln)
}

// Serve serves on ln until ctx is done, then shuts down gracefully (5 s).
// It closes ln. With WebConfigFile, TLS and basic authentication apply as
// that file says (exporter-toolkit); a file that cannot be used is an
// error before anything is served.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	hs := &http.Server{
		Handler:           Handler(s.cfg),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	log := s.cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := ValidateWebConfig(s.cfg.WebConfigFile); err != nil {
		ln.Close()
		return err
	}
	addrs, systemdSocket, webConfig := []string{ln.Addr().String()}, false, s.cfg.WebConfigFile
	flags := &web.FlagConfig{WebListenAddresses: &addrs, WebSystemdSocket: &systemdSocket, WebConfigFile: &webConfig}
	errc := make(chan error, 1)
	go func() { errc <- web.Serve(ln, hs, flags, log) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve metrics on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	shutCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := hs.Shutdown(shutCtx); err != nil {
		return fmt.Errorf("shut down metrics server: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve metrics on %s: %w", ln.Addr(), err)
	}
	return nil
}
