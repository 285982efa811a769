// Command genman writes the manual pages of the commands the Debian package
// ships (make deb): relayctl's, one per subcommand, generated from its cobra
// commands, and every docs/man/NAME.SECTION.md rendered to roff. A command
// added to the package gets its page by adding docs/man/NAME.1.md.
//
//	go run ./internal/cmd/genman -o build/man -version 0.1.0
//
// A markdown page starts with its title line, NAME SECTION "@DATE@"
// "teredo-relayd @VERSION@" "teredo-relayd manual", underlined with =;
// genman fills in the date and the version. Pages land in
// OUT/manSECTION/NAME.SECTION, uncompressed (make deb
// compresses them). The date is SOURCE_DATE_EPOCH's, for reproducible pages.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"time"

	"github.com/cpuguy83/go-md2man/v2/md2man"
	"github.com/spf13/cobra/doc"

	"github.com/teredorelay/teredorelay/relayctl"
)

var mdPage = regexp.MustCompile(`^([a-z0-9-]+)\.([1-8])\.md$`)

func main() {
	out := flag.String("o", "build/man", "output directory")
	src := flag.String("src", "docs/man", "directory of the markdown pages")
	version := flag.String("version", "", "version named in the page footers")
	flag.Parse()
	if err := run(*out, *src, *version); err != nil {
		fmt.Fprintf(os.Stderr, "genman: %v\n", err)
		os.Exit(1)
	}
}

func run(out, src, version string) error {
	date := time.Now().UTC()
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		sec, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return fmt.Errorf("SOURCE_DATE_EPOCH %q: %w", s, err)
		}
		date = time.Unix(sec, 0).UTC()
	}
	man1 := filepath.Join(out, "man1")
	if err := os.MkdirAll(man1, 0o755); err != nil {
		return err
	}
	root := relayctl.NewCommand(relayctl.Options{})
	root.DisableAutoGenTag = true
	header := &doc.GenManHeader{Title: "RELAYCTL", Section: "1", Date: &date,
		Source: "teredo-relayd " + version, Manual: "teredo-relayd manual"}
	if err := doc.GenManTree(root, header, man1); err != nil {
		return fmt.Errorf("relayctl pages: %w", err)
	}
	entries, err := os.ReadDir(src)
	if err != nil {
		return err
	}
	for _, e := range entries {
		m := mdPage.FindStringSubmatch(e.Name())
		if m == nil {
			continue
		}
		md, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			return err
		}
		dir := filepath.Join(out, "man"+m[2])
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		md = bytes.ReplaceAll(bytes.ReplaceAll(md, []byte("@DATE@"), []byte(date.Format("January 2006"))), []byte("@VERSION@"), []byte(version))
		if err := os.WriteFile(filepath.Join(dir, m[1]+"."+m[2]), md2man.Render(md), 0o644); err != nil {
			return err
		}
	}
	return nil
}
