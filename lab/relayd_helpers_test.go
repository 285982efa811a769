package lab

import (
	"bufio"
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// relaydMetrics scrapes teredo-relayd's Prometheus endpoint inside the relay
// namespace and returns every sample as "name{labels}" -> value.
func relaydMetrics(t *testing.T, l *Lab) map[string]float64 {
	t.Helper()
	return scrapeMetrics(t, l, Relay, l.RelaydEnv().MetricsListen)
}

// scrapeMetrics scrapes a teredo-relayd Prometheus endpoint at listen
// inside node's namespace, as relaydMetrics.
func scrapeMetrics(t *testing.T, l *Lab, node Node, listen string) map[string]float64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := l.Exec(ctx, node, "curl", "-sf", "http://"+listen+"/metrics")
	if err != nil {
		t.Fatalf("scrape teredo-relayd metrics: %v\n%s", err, out)
	}
	m := map[string]float64{}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			continue
		}
		m[line[:i]] = v
	}
	return m
}

// logNonZeroMetrics logs the non-zero teredo_relay_* samples (debugging aid).
func logNonZeroMetrics(t *testing.T, m map[string]float64) {
	t.Helper()
	var b strings.Builder
	for k, v := range m {
		if v != 0 && strings.HasPrefix(k, "teredo_relay") {
			b.WriteString(k + " " + strconv.FormatFloat(v, 'g', -1, 64) + "\n")
		}
	}
	t.Logf("teredo-relayd metrics (non-zero):\n%s", b.String())
}

// TestRelaydDebug brings a one-armed lab up, pings both ways and dumps the
// daemon's metrics and the relay namespace's neighbours. It runs only with
// TEREDO_LAB_DEBUG set (a tool for developing the daemon, not a proof).
func TestRelaydDebug(t *testing.T) {
	if os.Getenv("TEREDO_LAB_DEBUG") == "" {
		t.Skip("set TEREDO_LAB_DEBUG=1 to run")
	}
	bin := relaydBinary(t)
	mode := OneArmed
	if os.Getenv("TEREDO_LAB_DEBUG") == "two" {
		mode = TwoArmed
	}
	l := startLab(t, Options{Relay: RelayTeredod, Mode: mode, RelaydBinary: bin, RelaydConfig: func(env RelaydEnv) ([]byte, error) {
		b, err := DefaultRelaydConfig(env)
		if d := os.Getenv("TEREDO_LAB_DIRECT"); d != "" {
			b = []byte(strings.Replace(string(b), "bubbles:\n", "bubbles:\n  direct: "+d+"\n", 1))
		}
		return append(b, os.Getenv("TEREDO_LAB_EXTRA")...), err
	}})
	ctx := context.Background()
	res, err := l.Ping6(ctx, Client, l.NativeAddr(), 3)
	t.Logf("client -> native: %v %v", res, err)
	res, err = l.Ping6(ctx, Native, l.ClientAddr(), 3)
	t.Logf("native -> client: %v %v", res, err)
	logNonZeroMetrics(t, relaydMetrics(t, l))
	for _, argv := range [][]string{{"ip", "neigh"}, {"ip", "-6", "neigh"}, {"ip", "route"}, {"ip", "-6", "route"}, {"ip", "-s", "link"}} {
		out, _ := l.Exec(ctx, Relay, argv...)
		t.Logf("%v:\n%s", argv, out)
	}
	t.Logf("relay log:\n%s", l.ProcessLog("relay"))
}

// nonZero returns the series of metric (every label set) that are not 0.
func nonZero(m map[string]float64, metric string) map[string]float64 {
	out := map[string]float64{}
	for k, v := range m {
		if v != 0 && strings.HasPrefix(k, metric+"{") {
			out[k] = v
		}
	}
	return out
}
