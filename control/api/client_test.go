package api_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/teredorelay/teredorelay/control/api"
)

func serveUnix(t *testing.T, h http.Handler) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "api.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return path
}

func TestClientErrors(t *testing.T) {
	path := serveUnix(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v1/status":
			http.Error(w, "proxy says no", http.StatusBadGateway)
		case "/v1/stats":
			w.Write([]byte("{not json"))
		default:
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte(`{"error":{"code":"not_found","message":"peer 2001::1 is not in the peer cache"}}`))
		}
	}))
	c := api.NewClient(path, 5*time.Second)
	ctx := context.Background()

	_, _, err := c.Status(ctx)
	var ae *api.Error
	if !errors.As(err, &ae) || ae.Status != 502 || ae.Code != api.CodeInternal || ae.Message != "GET /v1/status: HTTP 502: proxy says no" {
		t.Errorf("non-JSON error answer: %#v", err)
	}
	if _, _, err := c.Stats(ctx); err == nil || err.Error() != "decode answer to GET /v1/stats: invalid character 'n' looking for beginning of object key string" {
		t.Errorf("bad JSON: %v", err)
	}
	_, _, err = c.Drain(ctx)
	if !errors.As(err, &ae) || ae.Code != api.CodeNotFound || err.Error() != "teredo-relayd: peer 2001::1 is not in the peer cache (not_found)" {
		t.Errorf("API error: %v", err)
	}
}

func TestClientUnreachable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "api.sock")
	_, _, err := api.NewClient(path, time.Second).Status(context.Background())
	var ue *api.UnreachableError
	if !errors.As(err, &ue) || err.Error() != "cannot reach teredo-relayd at "+path+": dial unix "+path+": connect: no such file or directory (is teredo-relayd running, with this api.socket?)" {
		t.Fatalf("err = %v", err)
	}
	// A socket nobody accepts on: refused, not a hang.
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close()
	_, _, err = api.NewClient(path, time.Second).Status(context.Background())
	if !errors.As(err, &ue) || err.Error() != "cannot reach teredo-relayd at "+path+": dial unix "+path+": connect: connection refused (is teredo-relayd running, with this api.socket?)" {
		t.Fatalf("err = %v", err)
	}
}
