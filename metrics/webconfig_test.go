package metrics_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/teredorelay/teredorelay/metrics"
	"github.com/teredorelay/teredorelay/metrics/metricstest"
)

// selfSigned writes a certificate for 127.0.0.1 and its key into dir and
// returns the certificate's pool.
func selfSigned(t *testing.T, dir string) *x509.CertPool {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "teredo-relayd test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name, typ string, b []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b}), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("server.crt", "CERTIFICATE", der)
	write("server.key", "PRIVATE KEY", kder)
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return pool
}

// TestTLSAndBasicAuth serves through a web configuration with TLS and one
// bcrypt user: a scrape with the password gets the metrics, one without
// or with a wrong password gets 401, plain HTTP gets no metrics.
func TestTLSAndBasicAuth(t *testing.T) {
	dir := t.TempDir()
	pool := selfSigned(t, dir)
	hash, err := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	webConfig := filepath.Join(dir, "web.yml")
	// Relative certificate paths are relative to the web configuration.
	if err := os.WriteFile(webConfig, []byte("tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"+
		"basic_auth_users:\n  prometheus: "+string(hash)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := metrics.ValidateWebConfig(webConfig); err != nil {
		t.Fatalf("ValidateWebConfig: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	srv := metrics.NewServer(metrics.ServerConfig{Gatherer: metrics.NewRegistry(metricstest.Sample(), testBuild), WebConfigFile: webConfig, Version: "1.2.3"})
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	}()

	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	get := func(scheme, path, user, pass string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, scheme+"://"+ln.Addr().String()+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if user != "" {
			req.SetBasicAuth(user, pass)
		}
		resp, err := client.Do(req)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("https", "/metrics", "prometheus", "s3cret"); code != http.StatusOK || !strings.Contains(body, "teredo_relay_build_info{") {
		t.Errorf("TLS scrape with the password: %d\n%.300s", code, body)
	}
	for _, c := range []struct{ what, user, pass string }{{"no credentials", "", ""}, {"wrong password", "prometheus", "guess"}, {"unknown user", "root", "s3cret"}} {
		if code, body := get("https", "/metrics", c.user, c.pass); code != http.StatusUnauthorized || strings.Contains(body, "teredo_relay") {
			t.Errorf("TLS scrape, %s: %d, want 401 without metrics\n%.300s", c.what, code, body)
		}
	}
	if code, body := get("https", "/", "prometheus", "s3cret"); code != http.StatusOK || !strings.Contains(body, `href="/metrics"`) ||
		!strings.Contains(body, "teredo-relayd") || !strings.Contains(body, "1.2.3") {
		t.Errorf("landing page: %d\n%.600s", code, body)
	}
	if code, body := get("http", "/metrics", "prometheus", "s3cret"); code == http.StatusOK || strings.Contains(body, "teredo_relay_build_info") {
		t.Errorf("plain HTTP to the TLS listener served metrics: %d", code)
	}
}

func TestBadWebConfigIsAnError(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "web.yml")
	if err := os.WriteFile(bad, []byte("tls_server_config:\n  cert_file: missing.crt\n  key_file: missing.key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := metrics.ValidateWebConfig(bad); err == nil || !strings.Contains(err.Error(), "web configuration "+bad) {
		t.Errorf("ValidateWebConfig(missing certificate) = %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	err = metrics.NewServer(metrics.ServerConfig{Gatherer: metrics.NewRegistry(metricstest.Sample(), testBuild), WebConfigFile: bad}).Serve(context.Background(), ln)
	if err == nil {
		t.Fatal("Serve accepted a web configuration naming missing files")
	}
	if _, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second); err == nil {
		t.Error("the listener stays open after the refusal")
	}
	if err := metrics.ValidateWebConfig(""); err != nil {
		t.Errorf("no web configuration: %v", err)
	}
}

// The landing page is served on / only; other paths are 404.
func TestLandingPage(t *testing.T) {
	h := metrics.Handler(metrics.ServerConfig{Gatherer: metrics.NewRegistry(metricstest.Sample(), testBuild), Version: "0.1.0"})
	code, body, hdr := get(t, h, "/")
	if code != http.StatusOK || !strings.HasPrefix(hdr.Get("Content-Type"), "text/html") {
		t.Fatalf("/: %d %q", code, hdr.Get("Content-Type"))
	}
	for _, want := range []string{`href="/metrics"`, `href="/healthz"`, `href="/readyz"`, "0.1.0"} {
		if !strings.Contains(body, want) {
			t.Errorf("landing page lacks %s", want)
		}
	}
	if strings.Contains(body, "debug/pprof") {
		t.Error("landing page links profiling endpoints this listener does not serve")
	}
}

// deploy/web-config.example.yml is valid once its certificate paths exist,
// and its example user can scrape.
func TestWebConfigExample(t *testing.T) {
	b, err := os.ReadFile("../deploy/web-config.example.yml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	selfSigned(t, dir)
	text := strings.NewReplacer("/etc/teredo-relayd/metrics.crt", filepath.Join(dir, "server.crt"),
		"/etc/teredo-relayd/metrics.key", filepath.Join(dir, "server.key")).Replace(string(b))
	path := filepath.Join(dir, "web.yml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := metrics.ValidateWebConfig(path); err != nil {
		t.Fatal(err)
	}
	_, hash, _ := strings.Cut(text, "prometheus: ")
	if err := bcrypt.CompareHashAndPassword([]byte(strings.TrimSpace(hash)), []byte("example-only-change-me")); err != nil {
		t.Errorf("the example hash is not of the documented password: %v", err)
	}
}
