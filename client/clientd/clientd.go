package clientd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/teredorelay/teredorelay/client"
	"github.com/teredorelay/teredorelay/client/clientmetrics"
)

// DefaultControlSocket is where the daemon serves its state.
const DefaultControlSocket = "/run/teredo-client/control.sock"

// Config is the daemon's configuration (teredo-client run's flags).
type Config struct {
	// Server is an IPv4 address or a DNS name. A name with two IPv4
	// addresses gives the primary and the secondary address.
	Server string
	// Secondary overrides the secondary address: an IPv4 address, "" for
	// the default (the name's second address, else primary+1, the
	// convention of RFC 4380 servers and Miredo), or "none".
	Secondary string
	Bind      netip.AddrPort // local address and port of the service port (port 0: random)
	Interface string         // TUN device name
	Metric    int            // default route metric (0: 1029)
	Tunnel    client.TunnelConfig
	Run       client.RunConfig
	// ControlSocket is the unix socket of the control API ("" for the
	// default; "-" for none).
	ControlSocket string
	// MetricsListen is the Prometheus listener ("" for none).
	MetricsListen string
	Build         clientmetrics.BuildInfo
	Logger        *slog.Logger
}

// lookupNetIP is the resolver (a variable for tests).
var lookupNetIP = net.DefaultResolver.LookupNetIP

// ResolveServers turns the configured server and secondary into addresses.
func ResolveServers(ctx context.Context, server, secondary string) (primary, second netip.Addr, err error) {
	if a, perr := netip.ParseAddr(server); perr == nil {
		if !a.Is4() {
			return primary, second, fmt.Errorf("server %q: not an IPv4 address", server)
		}
		primary = a
	} else {
		addrs, lerr := lookupNetIP(ctx, "ip4", server)
		if lerr != nil {
			return primary, second, fmt.Errorf("resolve server %q: %w", server, lerr)
		}
		if len(addrs) == 0 {
			return primary, second, fmt.Errorf("resolve server %q: no IPv4 address", server)
		}
		primary = addrs[0].Unmap()
		for _, a := range addrs[1:] {
			if a.Unmap() != primary {
				second = a.Unmap()
				break
			}
		}
	}
	switch secondary {
	case "none":
		second = netip.Addr{}
	case "":
		if !second.IsValid() {
			second = primary.Next()
		}
	default:
		a, perr := netip.ParseAddr(secondary)
		if perr != nil || !a.Is4() || a == primary {
			return primary, second, fmt.Errorf("secondary %q: want another IPv4 address than the primary, or none", secondary)
		}
		second = a
	}
	return primary, second, nil
}

// Run runs the daemon until ctx ends.
func Run(ctx context.Context, cfg Config) error {
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	primary, secondary, err := ResolveServers(ctx, cfg.Server, cfg.Secondary)
	if err != nil {
		return err
	}
	tc := cfg.Tunnel
	tc.Primary, tc.Secondary, tc.ServerName = primary, secondary, cfg.Server
	if _, perr := netip.ParseAddr(cfg.Server); perr != nil {
		tc.Resolve = func() (netip.Addr, netip.Addr, error) {
			rctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			return ResolveServers(rctx, cfg.Server, cfg.Secondary)
		}
	}
	tc.Log = func(format string, args ...any) { log.Info(fmt.Sprintf(format, args...)) }
	if !cfg.Bind.IsValid() {
		cfg.Bind = netip.AddrPortFrom(netip.IPv4Unspecified(), 0)
	}
	tr, err := client.ListenUDP(cfg.Bind)
	if err != nil {
		return fmt.Errorf("open the Teredo service port: %w", err)
	}
	defer tr.Close()
	dev, err := openDevice(cfg.Interface, cfg.Metric)
	if err != nil {
		return err
	}
	defer dev.Close()
	tc.Interface = dev.Name()
	t, err := client.NewTunnel(tc, tr, dev)
	if err != nil {
		return err
	}
	rc := cfg.Run
	rc.Opener = tr
	if rc.QualifyTimeout == 0 {
		rc.QualifyTimeout, rc.QualifyRetries = tc.QualifyTimeout, tc.QualifyRetries
	}
	r := client.NewRunner(t, tr, dev, rc)
	log.Info("teredo-client starting", "server", cfg.Server, "primary", primary, "secondary", secondary,
		"port", tr.LocalAddr().Port(), "interface", dev.Name(), "type", tc.Type)

	var servers []*http.Server
	src := &source{r: r, t: t}
	if cfg.ControlSocket != "-" {
		path := cfg.ControlSocket
		if path == "" {
			path = DefaultControlSocket
		}
		srv, err := serveControl(path, src)
		if err != nil {
			return err
		}
		defer os.Remove(path)
		servers = append(servers, srv)
	}
	if cfg.MetricsListen != "" {
		ln, err := net.Listen("tcp", cfg.MetricsListen)
		if err != nil {
			return fmt.Errorf("metrics listener %s: %w", cfg.MetricsListen, err)
		}
		mux := http.NewServeMux()
		mux.Handle("/metrics", promhttp.HandlerFor(clientmetrics.NewRegistry(src, cfg.Build), promhttp.HandlerOpts{}))
		srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		go srv.Serve(ln)
		servers = append(servers, srv)
	}
	err = r.Run(ctx)
	for _, s := range servers {
		s.Close()
	}
	tr.Close()
	dev.Close()
	r.Wait()
	if err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	log.Info("teredo-client stopped")
	return nil
}

// source adapts the runner for the metrics collector and the control API.
type source struct {
	r *client.Runner
	t *client.Tunnel
}

func (s *source) Counters() *client.Counters { return s.t.Counters() }

func (s *source) Snapshot() (client.Snapshot, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return s.r.Snapshot(ctx)
}

func serveControl(path string, src *source) (*http.Server, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("control socket directory: %w", err)
	}
	os.Remove(path) // a stale socket of an earlier run
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("control socket %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o660); err != nil {
		ln.Close()
		return nil, fmt.Errorf("control socket %s: %w", path, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/state", func(w http.ResponseWriter, _ *http.Request) {
		s, err := src.Snapshot()
		if err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(s)
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	return srv, nil
}

// FetchState asks a running daemon for its state over its control socket.
func FetchState(ctx context.Context, socket string) (client.Snapshot, error) {
	if socket == "" {
		socket = DefaultControlSocket
	}
	hc := http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", socket)
	}}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://teredo-client/v1/state", nil)
	if err != nil {
		return client.Snapshot{}, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return client.Snapshot{}, fmt.Errorf("is teredo-client running? %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return client.Snapshot{}, fmt.Errorf("control socket %s: %s", socket, resp.Status)
	}
	var s client.Snapshot
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		return s, fmt.Errorf("decode the state: %w", err)
	}
	return s, nil
}
