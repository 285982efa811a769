package mancheck

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// flagLine matches a flag in the usage text of Go's flag package: two
// spaces, a dash and the name at the start of a line.
var flagLine = regexp.MustCompile(`(?m)^  -([a-z0-9-]+)`)

// HelpFlags returns the names of the flags a flag.FlagSet's usage text
// (PrintDefaults) lists, in order.
func HelpFlags(help string) []string {
	var names []string
	for _, m := range flagLine.FindAllStringSubmatch(help, -1) {
		names = append(names, m[1])
	}
	return names
}

// Markup is how a manual page names flag name: **-x** for a one-letter
// flag, **--name** for the others.
func Markup(name string) string {
	if len(name) == 1 {
		return "**-" + name + "**"
	}
	return "**--" + name + "**"
}

// Undocumented returns the Markup of every flag in names that page does not
// contain.
func Undocumented(page []byte, names []string) []string {
	var missing []string
	for _, n := range names {
		if m := Markup(n); !bytes.Contains(page, []byte(m)) {
			missing = append(missing, m)
		}
	}
	return missing
}

// CommandFlags checks that the manual page at path documents every flag in
// the help of each command in cmds (help returns it: the command's -h
// output), and returns the page. It reports each undocumented flag through
// t, naming tool and the command, and fails when the commands list fewer
// than minFlags flags in all, which means the help is no longer read right.
func CommandFlags(t testing.TB, path, tool string, cmds [][]string, minFlags int, help func(cmd []string) string) []byte {
	t.Helper()
	page, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, cmd := range cmds {
		flags := HelpFlags(help(cmd))
		n += len(flags)
		for _, m := range Undocumented(page, flags) {
			t.Errorf("%s does not document %s (%s %s)", filepath.Base(path), m, tool, strings.Join(cmd, " "))
		}
	}
	if n < minFlags {
		t.Fatalf("only %d flags found in the help of %s %q", n, tool, cmds)
	}
	return page
}
