package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"strings"
	"time"

	"github.com/teredorelay/teredorelay/dataplane"
	"github.com/teredorelay/teredorelay/relay"
	"github.com/teredorelay/teredorelay/xsk"
)

// DebugListenEnv names the environment variable that turns on the debug
// listener, for performance work only: net/http/pprof under /debug/pprof/ and
// every internal counter (relay engine, data plane, AF_XDP rings) as JSON
// under /debug/counters. Its value is "unix:/path/to/socket" or a loopback
// "host:port" (127.0.0.1:6060, [::1]:6060); anything else is refused, so the
// profiler is never reachable from the network. Unset: no listener.
const DebugListenEnv = "TEREDO_RELAYD_DEBUG_LISTEN"

// debugListen opens the listener named by spec (see DebugListenEnv).
func debugListen(spec string) (net.Listener, error) {
	if path, ok := strings.CutPrefix(spec, "unix:"); ok {
		if path == "" {
			return nil, errors.New("empty unix socket path")
		}
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("remove stale socket: %w", err)
		}
		return net.Listen("unix", path)
	}
	host, _, err := net.SplitHostPort(spec)
	if err != nil {
		return nil, err
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("%q is not a loopback address (use unix:/path or 127.0.0.1:port)", host)
	}
	return net.Listen("tcp", spec)
}

// startDebug starts the debug listener when DebugListenEnv is set.
func (d *Daemon) startDebug(ctx context.Context) error {
	spec := os.Getenv(DebugListenEnv)
	if spec == "" {
		return nil
	}
	ln, err := debugListen(spec)
	if err != nil {
		return fmt.Errorf("%s: %w", DebugListenEnv, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("/debug/counters", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(d.debugCounters())
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	d.log.Warn("debug listener on: profiler and internal counters exposed", "listen", spec)
	d.goBackground("debug listener", func() error {
		go func() {
			<-ctx.Done()
			shut, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			_ = srv.Shutdown(shut)
		}()
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	})
	return nil
}

// DebugCounters is every internal counter, the /debug/counters document.
// Zero counters are left out of the maps.
type DebugCounters struct {
	Time time.Time `json:"time"`
	// Relay is the engine's counters without the drop array (Drops below).
	Relay relay.Counters `json:"relay"`
	// Drops are the relay engine's drops by reason.
	Drops map[string]uint64 `json:"relay_drops"`
	// Dataplane are the workers' counters summed: frames, batches, and the
	// dataplane.Reason events (drops, kernel hand-offs, forwards).
	Dataplane DebugDataplane `json:"dataplane"`
	Sockets   []DebugSocket  `json:"sockets"`
	// XDP are the steering programs' verdicts by reason, summed over the
	// interfaces (zero ones left out).
	XDP      map[string]uint64 `json:"xdp"`
	XDPError string            `json:"xdp_error,omitempty"`
}

// DebugDataplane is dataplane.Counters with named events.
type DebugDataplane struct {
	RxFrames [dataplane.MaxPorts]uint64 `json:"rx_frames"`
	TxFrames [dataplane.MaxPorts]uint64 `json:"tx_frames"`
	Batches  uint64                     `json:"batches"`
	Events   map[string]uint64          `json:"events"`
}

// DebugSocket is one AF_XDP socket's Go-side and kernel ring statistics.
type DebugSocket struct {
	Interface string    `json:"interface"`
	Queue     int       `json:"queue"`
	Stats     xsk.Stats `json:"stats"`
	Error     string    `json:"error,omitempty"`
}

func (d *Daemon) debugCounters() DebugCounters {
	out := DebugCounters{Time: time.Now(), Drops: map[string]uint64{}}
	if d.engine != nil {
		out.Relay = d.engine.Counters()
		for r := relay.DropReason(0); r < relay.NumDropReasons; r++ {
			if v := out.Relay.Drops[r]; v != 0 {
				out.Drops[r.String()] = v
			}
		}
		out.Relay.Drops = [relay.NumDropReasons]uint64{}
	}
	dp := d.DataplaneCounters()
	out.Dataplane = DebugDataplane{RxFrames: dp.RxFrames, TxFrames: dp.TxFrames, Batches: dp.Batches, Events: map[string]uint64{}}
	for r := dataplane.Reason(0); r < dataplane.NumReasons; r++ {
		if v := dp.Events[r]; v != 0 {
			out.Dataplane.Events[r.String()] = v
		}
	}
	out.XDP = map[string]uint64{}
	xdp, err := d.XDPCounters()
	if err != nil {
		out.XDPError = err.Error()
	}
	for _, x := range xdp {
		if x.Packets != 0 {
			out.XDP[x.Action+"/"+x.Reason] = x.Packets
		}
	}
	for _, q := range d.queues {
		for si, sock := range q.sockets {
			ds := DebugSocket{Interface: d.sides[si].name, Queue: q.id}
			st, err := sock.Stats()
			ds.Stats = st
			if err != nil {
				ds.Error = err.Error()
			}
			out.Sockets = append(out.Sockets, ds)
		}
	}
	return out
}
