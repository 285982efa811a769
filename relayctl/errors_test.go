package relayctl_test

import (
	"errors"
	"regexp"
)

func errorsAs(err error, target any) bool { return errors.As(err, target) }

var spaces = regexp.MustCompile(` {2,}`)

// norm collapses the padding of table columns so a test can name a row
// without depending on the widths of the other rows.
func norm(s string) string { return spaces.ReplaceAllString(s, "  ") }
