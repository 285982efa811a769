package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/teredorelay/teredorelay/internal/mancheck"
)

// The manual page documents every flag of every command (read from each
// command's -h).
func TestManPageDocumentsEveryFlag(t *testing.T) {
	mancheck.CommandFlags(t, "../../docs/man/teredo-probe.1.md", "teredo-probe", [][]string{{"qualify"}, {"ping"}, {"bubble"}}, 15, func(cmd []string) string {
		var out bytes.Buffer
		run(context.Background(), append(cmd, "-h"), &out, &out)
		return out.String()
	})
}

func TestVersion(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"version"}, &out, &errb); code != 0 || !strings.HasPrefix(out.String(), "teredo-probe devel (revision ") {
		t.Errorf("version: exit %d %q %q", code, out.String(), errb.String())
	}
}
