package metrics_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/teredorelay/teredorelay/internal/testenv"
	"github.com/teredorelay/teredorelay/metrics"
	"github.com/teredorelay/teredorelay/metrics/metricstest"
)

func get(t *testing.T, h http.Handler, path string) (int, string, http.Header) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	return rec.Code, rec.Body.String(), rec.Header()
}

func TestHandlerEndpoints(t *testing.T) {
	src := metricstest.Sample()
	h := metrics.Handler(metrics.ServerConfig{
		Gatherer: metrics.NewRegistry(src, testBuild),
		Ready:    metrics.ReadyFromSource(src),
	})

	code, body, hdr := get(t, h, "/metrics")
	if code != http.StatusOK || !strings.Contains(body, `teredo_relay_packets_total{direction="v4_to_v6"} 1000`) {
		t.Fatalf("/metrics: %d\n%s", code, body)
	}
	if ct := hdr.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("/metrics content type %q", ct)
	}
	if !strings.Contains(body, "go_goroutines") || !strings.Contains(body, "process_") {
		t.Error("/metrics lacks the Go runtime or process collector")
	}

	if code, body, _ := get(t, h, "/healthz"); code != http.StatusOK || body != "ok\n" {
		t.Errorf("/healthz: %d %q", code, body)
	}
	if code, body, _ := get(t, h, "/readyz"); code != http.StatusOK || body != "ready\n" {
		t.Errorf("/readyz ready: %d %q", code, body)
	}

	src.Update(func(s *metricstest.Source) {
		s.St.Ready = false
		s.St.NotReady = []string{"queue eth0/1: no AF_XDP socket", "draining"}
	})
	if code, body, _ := get(t, h, "/readyz"); code != http.StatusServiceUnavailable ||
		body != "not ready: queue eth0/1: no AF_XDP socket; draining\n" {
		t.Errorf("/readyz not ready: %d %q", code, body)
	}
	src.Update(func(s *metricstest.Source) { s.St.NotReady = nil; s.St.Draining = true })
	if code, body, _ := get(t, h, "/readyz"); code != http.StatusServiceUnavailable || body != "not ready: draining\n" {
		t.Errorf("/readyz draining: %d %q", code, body)
	}

	if code, _, _ := get(t, h, "/nope"); code != http.StatusNotFound {
		t.Errorf("/nope: %d", code)
	}
}

func TestHandlerAliveFails(t *testing.T) {
	h := metrics.Handler(metrics.ServerConfig{
		Gatherer: metrics.NewRegistry(metricstest.Sample(), testBuild),
		Alive:    func() error { return io.ErrClosedPipe },
	})
	if code, body, _ := get(t, h, "/healthz"); code != http.StatusServiceUnavailable || body != "unhealthy: io: read/write on closed pipe\n" {
		t.Errorf("/healthz: %d %q", code, body)
	}
	// No Ready func: ready.
	if code, _, _ := get(t, h, "/readyz"); code != http.StatusOK {
		t.Errorf("/readyz: %d", code)
	}
}

func TestServerServesAndShutsDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	srv := metrics.NewServer(metrics.ServerConfig{Gatherer: metrics.NewRegistry(metricstest.Sample(), testBuild)})
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()

	resp, err := http.Get("http://" + ln.Addr().String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte("teredo_relay_build_info")) {
		t.Fatalf("scrape: %d", resp.StatusCode)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve returned %v after cancel", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after cancel")
	}
	if _, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second); err == nil {
		t.Error("listener still accepts after shutdown")
	}
}

func TestServerRunBadAddr(t *testing.T) {
	err := metrics.NewServer(metrics.ServerConfig{Addr: "256.0.0.1:1"}).Run(context.Background())
	if err == nil || !strings.HasPrefix(err.Error(), "listen for metrics on 256.0.0.1:1: ") {
		t.Fatalf("err = %v", err)
	}
}

// A scrape of the collector over fake sources (plus Go and process
// collectors) passes `promtool check metrics`, which also lints names.
func TestPromtoolCheckMetrics(t *testing.T) {
	testenv.RequireBinary(t, "promtool")
	h := metrics.Handler(metrics.ServerConfig{Gatherer: metrics.NewRegistry(metricstest.Sample(), testBuild)})
	_, body, _ := get(t, h, "/metrics")
	cmd := exec.Command("promtool", "check", "metrics")
	cmd.Stdin = strings.NewReader(body)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check metrics: %v\n%s", err, out)
	}
}

func TestMarkdownUpToDate(t *testing.T) {
	const path = "../docs/metrics.md"
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v (generate it: go run ./metrics/cmd/metricsdoc > docs/metrics.md)", path, err)
	}
	if string(got) != metrics.Markdown() {
		t.Fatalf("%s is out of date: run go run ./metrics/cmd/metricsdoc > docs/metrics.md", path)
	}
	for _, d := range metrics.Defs {
		if !strings.Contains(string(got), "| `"+d.Name+"` |") {
			t.Errorf("%s has no row for %s", path, d.Name)
		}
	}
}
