package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/teredorelay/teredorelay/internal/mancheck"
)

// The manual page documents every flag of run and show state (read from each
// command's -h), and every command.
func TestManPageDocumentsEveryFlag(t *testing.T) {
	page := mancheck.CommandFlags(t, "../../docs/man/teredo-client.8.md", "teredo-client", [][]string{{"run"}, {"show", "state"}}, 20, func(cmd []string) string {
		var out bytes.Buffer
		if code := run(context.Background(), append(cmd, "-h"), &out, &out); code != 0 {
			t.Fatalf("teredo-client %v -h: exit %d\n%s", cmd, code, out.String())
		}
		return out.String()
	})
	for _, cmd := range []string{"**run**", "**show state**", "**version**"} {
		if !strings.Contains(string(page), cmd) {
			t.Errorf("docs/man/teredo-client.8.md does not document the command %s", cmd)
		}
	}
}
