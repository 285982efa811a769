package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/netip"
	"strings"
	"testing"

	"github.com/teredorelay/teredorelay/client"
	"github.com/teredorelay/teredorelay/internal/teredotest"
	"github.com/teredorelay/teredorelay/teredo"
)

func TestQualifyText(t *testing.T) {
	srv := teredotest.LoopbackServer(t, true)
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"qualify", "--server", srv.String(), "--local", srv.String() + ":0"}, &out, &errOut)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	for _, want := range []string{
		"qualify   sent       " + srv.String() + ":3544 [auth nonce ",
		"router solicitation fe80::ffff:ffff:ffff -> ff02::2",
		"qualify   accepted",
		"Teredo qualification with server " + srv.String(),
		"Teredo address   2001:0:",
		"NAT              none (the mapped endpoint is the local endpoint)",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestQualifyJSON(t *testing.T) {
	srv := teredotest.LoopbackServer(t, true)
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"qualify", "--server", srv.String(), "--local", srv.String() + ":0", "-o", "json"}, &out, &errOut)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	var rep struct {
		Command       string `json:"command"`
		Qualification struct {
			Address netip.Addr     `json:"address"`
			Mapped  netip.AddrPort `json:"mapped"`
			Local   netip.AddrPort `json:"local"`
			NAT     string         `json:"nat"`
		} `json:"qualification"`
		Events []struct {
			Kind, Step string
		} `json:"events"`
	}
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("json: %v\n%s", err, out.String())
	}
	q := rep.Qualification
	a, ok := teredo.ParseAddr(q.Address)
	if rep.Command != "qualify" || !ok || a.Server != srv || a.Mapped != q.Mapped || q.Mapped != q.Local || q.NAT != "none" {
		t.Errorf("report %+v", rep)
	}
	if len(rep.Events) < 3 || rep.Events[0].Kind != "sent" || rep.Events[0].Step != "qualify" {
		t.Errorf("events %+v", rep.Events)
	}
}

func TestQualifyFailureNamesTheStep(t *testing.T) {
	srv := teredotest.LoopbackServer(t, false)
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"qualify", "--server", srv.String(), "--local", srv.String() + ":0",
		"--timeout", "20ms", "--retries", "2", "--quiet"}, &out, &errOut)
	if code != 1 || !strings.Contains(errOut.String(), "teredo-probe: qualify: no valid answer after 2 request(s) to "+srv.String()+":3544") ||
		strings.Contains(errOut.String(), "qualify: qualify") {
		t.Errorf("exit %d, stderr %q", code, errOut.String())
	}
	if want := "hint: nothing came back from " + srv.String() + ":3544"; !strings.Contains(out.String(), want) || strings.Contains(out.String(), "sent") {
		t.Errorf("quiet output %q, want only %q...", out.String(), want)
	}
}

func TestUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{nil, 2, "usage: teredo-probe"},
		{[]string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{[]string{"qualify"}, 2, "--server is required"},
		{[]string{"qualify", "--server", "2001:db8::1"}, 2, "not an IPv4 address"},
		{[]string{"qualify", "--server", "192.0.2.1", "--secondary", "x"}, 2, "--secondary"},
		{[]string{"qualify", "--server", "192.0.2.1", "-o", "yaml"}, 2, "want text or json"},
		{[]string{"qualify", "--server", "192.0.2.1", "--local", "nowhere"}, 2, "--local"},
		{[]string{"qualify", "--server", "192.0.2.1", "extra"}, 2, "unexpected arguments"},
		{[]string{"ping", "--server", "192.0.2.1"}, 2, "--target"},
		{[]string{"ping", "--server", "192.0.2.1", "--target", "2001:db8::1", "--count", "0"}, 2, "--count"},
		{[]string{"bubble", "--server", "192.0.2.1"}, 2, "--peer"},
		{[]string{"qualify", "--server", "192.0.2.1", "--retries", "0"}, 2, "positive"},
		// Refused before qualifying (which would take T*N against this
		// silent server), with the documented usage status 2.
		{[]string{"ping", "--server", "192.0.2.1", "--timeout", "10ms", "--retries", "1", "--target", "2001:0:c000:201::1"}, 2, "is a Teredo address"},
		{[]string{"ping", "--server", "192.0.2.1", "--timeout", "10ms", "--retries", "1", "--target", "fe80::1"}, 2, "not a global IPv6 unicast"},
		{[]string{"bubble", "--server", "192.0.2.1", "--timeout", "10ms", "--retries", "1", "--peer", "2001:db8::1"}, 2, "not a Teredo address"},
		{[]string{"bubble", "--server", "192.0.2.1", "--timeout", "10ms", "--retries", "1", "--peer", "2001:0:c000:201:0:f227:f5ff:fffe"}, 2, "not a global unicast"},
	} {
		var out, errOut bytes.Buffer
		code := run(context.Background(), tc.args, &out, &errOut)
		if code != tc.code || !strings.Contains(errOut.String(), tc.want) {
			t.Errorf("%q: exit %d, stderr %q; want %d and %q", tc.args, code, errOut.String(), tc.code, tc.want)
		}
	}
}

// A connectivity test ended by an ICMPv6 error names the error, never an
// echo reply that did not come.
func TestRelayUnreachableText(t *testing.T) {
	var out bytes.Buffer
	rep := &report{Command: "ping", out: &out, quiet: true, Relay: &client.RelayResult{
		Target: netip.MustParseAddr("2001:db8:3::5"), Relay: netip.MustParseAddrPort("198.51.100.1:3544"), Attempts: 1,
		Unreachable: "destination unreachable (address unreachable) from 2001:db8:1::fe",
	}}
	if err := rep.finish(); err != nil {
		t.Fatal(err)
	}
	if s := out.String(); strings.Contains(s, "with our nonce") || strings.Contains(s, "rtt") ||
		!strings.Contains(s, "198.51.100.1:3544 passed on an ICMPv6 error instead of an echo reply: destination unreachable (address unreachable) from 2001:db8:1::fe") {
		t.Errorf("output:\n%s", s)
	}
}
