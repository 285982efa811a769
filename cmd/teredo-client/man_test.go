package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"

	"github.com/teredorelay/teredorelay/internal/mancheck"
)

// The manual page documents every flag of run and show state (read from each
// command's -h), and every command.
func TestManPageDocumentsEveryFlag(t *testing.T) {
	page, err := os.ReadFile("../../docs/man/teredo-client.8.md")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, cmd := range [][]string{{"run", "-h"}, {"show", "state", "-h"}} {
		var out bytes.Buffer
		if code := run(context.Background(), cmd, &out, &out); code != 0 {
			t.Fatalf("teredo-client %v: exit %d\n%s", cmd, code, out.String())
		}
		flags := mancheck.HelpFlags(out.String())
		n += len(flags)
		for _, m := range mancheck.Undocumented(page, flags) {
			t.Errorf("docs/man/teredo-client.8.md does not document %s (teredo-client %s)", m, strings.Join(cmd[:len(cmd)-1], " "))
		}
	}
	if n < 20 {
		t.Fatalf("only %d flags found in the commands' help", n)
	}
	for _, cmd := range []string{"**run**", "**show state**", "**version**"} {
		if !strings.Contains(string(page), cmd) {
			t.Errorf("docs/man/teredo-client.8.md does not document the command %s", cmd)
		}
	}
}
