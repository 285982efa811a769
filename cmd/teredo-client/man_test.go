package main

import (
	"bytes"
	"context"
	"os"
	"regexp"
	"strings"
	"testing"
)

// The manual page documents every flag of run and show state (read from each
// command's -h), and every command.
func TestManPageDocumentsEveryFlag(t *testing.T) {
	page, err := os.ReadFile("../../docs/man/teredo-client.8.md")
	if err != nil {
		t.Fatal(err)
	}
	flagLine := regexp.MustCompile(`(?m)^  -([a-z0-9-]+)`)
	n := 0
	for _, cmd := range [][]string{{"run", "-h"}, {"show", "state", "-h"}} {
		var out bytes.Buffer
		if code := run(context.Background(), cmd, &out, &out); code != 0 {
			t.Fatalf("teredo-client %v: exit %d\n%s", cmd, code, out.String())
		}
		for _, m := range flagLine.FindAllStringSubmatch(out.String(), -1) {
			n++
			want := "**--" + m[1] + "**"
			if len(m[1]) == 1 {
				want = "**-" + m[1] + "**"
			}
			if !strings.Contains(string(page), want) {
				t.Errorf("docs/man/teredo-client.8.md does not document %s (teredo-client %s)", want, strings.Join(cmd[:len(cmd)-1], " "))
			}
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
