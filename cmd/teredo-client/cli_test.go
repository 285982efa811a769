package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

func TestUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{nil, 2, "usage: teredo-client"},
		{[]string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{[]string{"show"}, 2, `want "show state"`},
		{[]string{"run"}, 2, "--server is required"},
		{[]string{"run", "--server", "192.0.2.1", "--bind", "[::1]:0"}, 2, "--bind"},
		{[]string{"run", "--server", "192.0.2.1", "--type", "server"}, 2, "client or enterprise-client"},
		{[]string{"run", "--server", "192.0.2.1", "--managed-probe", "intranet"}, 2, "host:port"},
		{[]string{"run", "--server", "192.0.2.1", "--idle-timeout", "-1s"}, 2, "negative"},
		{[]string{"run", "--server", "192.0.2.1", "extra"}, 2, "unexpected arguments"},
		{[]string{"show", "state", "-o", "yaml"}, 2, "want text or json"},
		{[]string{"show", "state", "--socket", "/nonexistent/teredo.sock"}, 1, "is teredo-client running?"},
	} {
		var out, errOut bytes.Buffer
		code := run(context.Background(), tc.args, &out, &errOut)
		if code != tc.code || !strings.Contains(errOut.String(), tc.want) {
			t.Errorf("%q: exit %d, stderr %q; want %d and %q", tc.args, code, errOut.String(), tc.code, tc.want)
		}
	}
}

func TestVersion(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"version"}, &out, &errOut); code != 0 || !strings.HasPrefix(out.String(), "teredo-client ") {
		t.Errorf("exit %d, %q", code, out.String())
	}
}

func TestDaemonFlags(t *testing.T) {
	var errOut bytes.Buffer
	cfg, _, err := daemonFlags([]string{"--server", "teredo.example.net", "--secondary", "none", "--idle-timeout", "0",
		"--managed-probe", "intranet.example:443", "--managed-probe", "10.0.0.1:80", "--type", "enterprise-client",
		"--refresh-interval", "20s"}, &errOut)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Server != "teredo.example.net" || cfg.Secondary != "none" || cfg.Tunnel.IdleTimeout != -1 ||
		len(cfg.Run.ManagedProbes) != 2 || cfg.Tunnel.Type.String() != "enterprise-client" || cfg.Tunnel.RefreshInterval != 20*time.Second {
		t.Errorf("config %+v", cfg)
	}
}
