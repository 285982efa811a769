package mancheck

import (
	"bytes"
	"regexp"
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
