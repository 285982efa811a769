package mancheck

import (
	"bytes"
	"flag"
	"slices"
	"testing"
)

func TestHelpFlagsAndUndocumented(t *testing.T) {
	fs := flag.NewFlagSet("cmd", flag.ContinueOnError)
	fs.String("server", "", "Teredo `server`")
	fs.Bool("v", false, "verbose")
	fs.Duration("refresh-interval", 0, "refresh")
	var help bytes.Buffer
	fs.SetOutput(&help)
	fs.PrintDefaults()
	names := HelpFlags(help.String())
	if want := []string{"refresh-interval", "server", "v"}; !slices.Equal(names, want) {
		t.Fatalf("HelpFlags = %q, want %q (help:\n%s)", names, want, help.String())
	}
	page := []byte("**--server** *server*\n: the server\n\n**-v**\n: verbose\n\n--refresh-interval without markup\n")
	if got, want := Undocumented(page, names), []string{"**--refresh-interval**"}; !slices.Equal(got, want) {
		t.Fatalf("Undocumented = %q, want %q", got, want)
	}
}
