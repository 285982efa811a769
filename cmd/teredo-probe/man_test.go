package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"

	"github.com/teredorelay/teredorelay/internal/mancheck"
)

// The manual page documents every flag of every command (read from each
// command's -h).
func TestManPageDocumentsEveryFlag(t *testing.T) {
	page, err := os.ReadFile("../../docs/man/teredo-probe.1.md")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, cmd := range []string{"qualify", "ping", "bubble"} {
		var out bytes.Buffer
		run(context.Background(), []string{cmd, "-h"}, &out, &out)
		flags := mancheck.HelpFlags(out.String())
		n += len(flags)
		for _, m := range mancheck.Undocumented(page, flags) {
			t.Errorf("docs/man/teredo-probe.1.md does not document %s (teredo-probe %s)", m, cmd)
		}
	}
	if n < 15 {
		t.Fatalf("only %d flags found in the commands' help", n)
	}
}

func TestVersion(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"version"}, &out, &errb); code != 0 || !strings.HasPrefix(out.String(), "teredo-probe devel (revision ") {
		t.Errorf("version: exit %d %q %q", code, out.String(), errb.String())
	}
}
