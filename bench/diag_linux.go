//go:build linux

package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
)

// Diagnostics (Options.DiagDir): teredo-relayd runs with its debug listener
// (daemon.DebugListenEnv) on a unix socket in the work directory; after every
// step the counters that changed during the step are logged and the whole
// /debug/counters document is saved; during every unpaced step a Go CPU
// profile of teredo-relayd and, when perf(1) works, a system-wide
// `perf record -g` are taken.

// debugListenEnv is daemon.DebugListenEnv (not imported: bench does not link
// the daemon).
const debugListenEnv = "TEREDO_RELAYD_DEBUG_LISTEN"

func (e *env) debugSocket() string { return filepath.Join(e.dir, "relayd-debug.sock") }

// diagEnv returns the argv prefix that enables teredo-relayd's debug listener.
func (e *env) diagEnv() []string {
	if e.opts.DiagDir == "" {
		return nil
	}
	return []string{"env", debugListenEnv + "=unix:" + e.debugSocket()}
}

func (e *env) debugClient() *http.Client {
	sock := e.debugSocket()
	return &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", sock)
	}}}
}

// debugGet fetches path from teredo-relayd's debug listener.
func (e *env) debugGet(ctx context.Context, path string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://relayd"+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := e.debugClient().Do(req)
	if err != nil {
		return nil, fmt.Errorf("debug listener: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("debug listener: %s: %s", path, resp.Status)
	}
	return b, err
}

// diagStep wraps one step: counters before and after, profiles while it runs.
type diagStep struct {
	e      *env
	sys    string
	name   string
	pid    int
	sched  map[int]threadSched
	before []byte
	perf   *exec.Cmd
	prof   chan []byte
}

// diagStart starts the diagnostics of step name of system sys; profile
// takes the CPU profiles.
func (e *env) diagStart(ctx context.Context, p *proc, sys, name string, profile bool) *diagStep {
	if e.opts.DiagDir == "" {
		return nil
	}
	d := &diagStep{e: e, sys: sys, name: strings.ReplaceAll(sys+"-"+name, " ", ""), pid: p.cmd.Process.Pid}
	d.sched = readThreadSched(d.pid)
	if sys == SysRelayd {
		d.before, _ = e.debugGet(ctx, "/debug/counters")
	}
	if !profile {
		return d
	}
	secs := max(1, int(e.opts.StepDuration.Seconds()))
	if _, err := exec.LookPath("perf"); err == nil {
		out := filepath.Join(e.opts.DiagDir, d.name+".perf.data")
		d.perf = exec.Command("perf", "record", "-a", "-g", "-F", "1999", "-o", out, "--", "sleep", fmt.Sprint(secs))
		d.perf.Stdout, d.perf.Stderr = io.Discard, io.Discard
		if d.perf.Start() != nil {
			d.perf = nil
		}
	}
	if sys == SysRelayd {
		d.prof = make(chan []byte, 1)
		go func() {
			b, err := e.debugGet(ctx, fmt.Sprintf("/debug/pprof/profile?seconds=%d", secs))
			if err != nil {
				b = nil
			}
			d.prof <- b
		}()
	}
	return d
}

// finish saves the profiles and logs the counters that moved.
func (d *diagStep) finish(ctx context.Context) {
	if d == nil {
		return
	}
	e := d.e
	if d.perf != nil {
		_ = d.perf.Wait()
	}
	if d.prof != nil {
		if b := <-d.prof; len(b) > 0 {
			_ = os.WriteFile(filepath.Join(e.opts.DiagDir, d.name+".pprof"), b, 0o644)
		}
	}
	e.logf("  diag %s: threads (CPU time, time runnable but waiting for a CPU, context switches):%s", d.name, schedDelta(d.sched, readThreadSched(d.pid)))
	if d.sys != SysRelayd {
		return
	}
	after, err := e.debugGet(ctx, "/debug/counters")
	if err != nil {
		e.logf("  diag: %v", err)
		return
	}
	_ = os.WriteFile(filepath.Join(e.opts.DiagDir, d.name+".json"), after, 0o644)
	delta := counterDelta(d.before, after)
	var b strings.Builder
	for _, kv := range delta {
		fmt.Fprintf(&b, "\n    %-60s %12d", kv.key, kv.v)
	}
	e.logf("  diag %s: counters that moved:%s", d.name, b.String())
}

type keyDelta struct {
	key string
	v   int64
}

// counterDelta flattens two JSON documents of counters and returns the
// numeric leaves that changed, sorted by key.
func counterDelta(before, after []byte) []keyDelta {
	a, b := map[string]float64{}, map[string]float64{}
	flattenJSON(before, a)
	flattenJSON(after, b)
	var out []keyDelta
	for k, v := range b {
		if d := int64(v - a[k]); d != 0 {
			out = append(out, keyDelta{k, d})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].key < out[j].key })
	return out
}

func flattenJSON(doc []byte, out map[string]float64) {
	var v any
	if json.Unmarshal(doc, &v) != nil {
		return
	}
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		switch t := v.(type) {
		case map[string]any:
			for k, c := range t {
				walk(prefix+"/"+k, c)
			}
		case []any:
			for i, c := range t {
				key := fmt.Sprint(i)
				if m, ok := c.(map[string]any); ok {
					if n, ok := m["interface"].(string); ok {
						key = n
					}
				}
				walk(prefix+"/"+key, c)
			}
		case float64:
			out[strings.TrimPrefix(prefix, "/")] = t
		}
	}
	walk("", v)
}

// threadSched is one thread's scheduler statistics.
type threadSched struct {
	comm                    string
	runNs, waitNs           uint64 // /proc/…/schedstat: on CPU, runnable but waiting
	voluntary, nonvoluntary uint64 // context switches
}

// readThreadSched reads the scheduler statistics of every thread of pid.
func readThreadSched(pid int) map[int]threadSched {
	out := map[int]threadSched{}
	dir := fmt.Sprintf("/proc/%d/task", pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return out
	}
	for _, ent := range ents {
		var tid int
		if _, err := fmt.Sscan(ent.Name(), &tid); err != nil {
			continue
		}
		var ts threadSched
		if b, err := os.ReadFile(filepath.Join(dir, ent.Name(), "schedstat")); err == nil {
			fmt.Sscan(string(b), &ts.runNs, &ts.waitNs)
		}
		if b, err := os.ReadFile(filepath.Join(dir, ent.Name(), "comm")); err == nil {
			ts.comm = strings.TrimSpace(string(b))
		}
		if b, err := os.ReadFile(filepath.Join(dir, ent.Name(), "status")); err == nil {
			for _, line := range strings.Split(string(b), "\n") {
				k, v, _ := strings.Cut(line, ":")
				switch k {
				case "voluntary_ctxt_switches":
					fmt.Sscan(v, &ts.voluntary)
				case "nonvoluntary_ctxt_switches":
					fmt.Sscan(v, &ts.nonvoluntary)
				}
			}
		}
		out[tid] = ts
	}
	return out
}

// schedDelta formats the threads that ran at least 1 ms between a and b.
func schedDelta(a, b map[int]threadSched) string {
	tids := make([]int, 0, len(b))
	for tid := range b {
		tids = append(tids, tid)
	}
	sort.Ints(tids)
	var s strings.Builder
	for _, tid := range tids {
		x, y := a[tid], b[tid]
		run := y.runNs - x.runNs
		if run < 1e6 {
			continue
		}
		fmt.Fprintf(&s, "\n    tid %-7d %-15s cpu %7.1f ms  waiting %7.1f ms  switches %6d voluntary %6d involuntary",
			tid, y.comm, float64(run)/1e6, float64(y.waitNs-x.waitNs)/1e6, y.voluntary-x.voluntary, y.nonvoluntary-x.nonvoluntary)
	}
	return s.String()
}
