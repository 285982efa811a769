package main

import (
	"bytes"
	"flag"
	"os"
	"strings"
	"testing"
)

// The manual page documents every flag.
func TestManPageDocumentsEveryFlag(t *testing.T) {
	page, err := os.ReadFile("../../docs/man/teredo-relayd.8.md")
	if err != nil {
		t.Fatal(err)
	}
	var o options
	n := 0
	newFlags(&o, &bytes.Buffer{}).VisitAll(func(f *flag.Flag) {
		n++
		if !bytes.Contains(page, []byte("**-"+f.Name+"**")) {
			t.Errorf("docs/man/teredo-relayd.8.md does not document -%s", f.Name)
		}
	})
	if n < 5 {
		t.Fatalf("only %d flags", n)
	}
}

func TestCommandLine(t *testing.T) {
	for _, tt := range []struct {
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{[]string{"-version"}, 0, "teredo-relayd devel (revision ", ""},
		{[]string{"-h"}, 0, "", "exit status: 0 clean stop"},
		{[]string{"-bogus"}, 2, "", "flag provided but not defined: -bogus"},
		{[]string{"extra"}, 2, "", `teredo-relayd: unexpected arguments ["extra"] (flags only)`},
		{[]string{"-skip-host-checks"}, 2, "", "-skip-host-checks goes with -check-config"},
		{[]string{"-check-config", "-config", "/nonexistent.yaml"}, 1, "", "teredo-relayd: config: read /nonexistent.yaml: no such file or directory"},
		{[]string{"-check-config", "-skip-host-checks", "-config", "../../deploy/teredo-relayd.example.yaml"}, 0, "../../deploy/teredo-relayd.example.yaml: configuration OK\n", ""},
	} {
		var out, errb bytes.Buffer
		code := run(tt.args, &out, &errb)
		if code != tt.code || !strings.HasPrefix(out.String(), tt.stdout) || !strings.Contains(errb.String(), tt.stderr) {
			t.Errorf("%v: exit %d\nstdout %q\nstderr %q\nwant exit %d, stdout prefix %q, stderr containing %q", tt.args, code, out.String(), errb.String(), tt.code, tt.stdout, tt.stderr)
		}
	}
}
