package announce

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// DefaultSetName is the BIRD constant the include file defines.
const DefaultSetName = "TEREDO_ANNOUNCE"

// WithdrawnPlaceholder is the only member of the set while nothing is
// announced: BIRD refuses an empty prefix set, and ::/128 (the unspecified
// address) is never a route anyone originates.
var WithdrawnPlaceholder = netip.MustParsePrefix("::/128")

// setName is what BIRD accepts as a symbol: a letter or underscore, then
// letters, digits and underscores.
var setName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// ValidSetName reports whether name can be the BIRD constant's name.
func ValidSetName(name string) bool { return setName.MatchString(name) }

// Render returns the include file's text: name defined as a prefix set of
// prefixes when announce is true, else of WithdrawnPlaceholder alone. The
// prefixes must be valid and masked (New checks that).
func Render(name string, prefixes []netip.Prefix, announce bool) []byte {
	var b strings.Builder
	b.WriteString("# Written by teredo-relayd (package announce); do not edit: it is rewritten\n")
	if announce {
		b.WriteString("# on every change. State: announced.\n")
	} else {
		b.WriteString("# on every change. State: withdrawn (BIRD refuses an empty set: placeholder).\n")
	}
	fmt.Fprintf(&b, "define %s = [ ", name)
	if !announce {
		prefixes = []netip.Prefix{WithdrawnPlaceholder}
	}
	for i, p := range prefixes {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(p.String())
	}
	b.WriteString(" ];\n")
	return []byte(b.String())
}

// IncludeMode is the include file's permission: BIRD runs as another user
// and must read it; the contents are not secret.
const IncludeMode = 0o644

// writeAtomic replaces path with data: a temporary file in the same
// directory is written, synced and renamed over path, so BIRD never reads a
// half-written file. The directory is created (0755) when missing.
func writeAtomic(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create include directory: %w", err)
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("create temporary include file: %w", err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			os.Remove(tmp)
		}
	}()
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	// Chmod, not the creation mode: the daemon's umask (0027 under systemd)
	// would hide the file from BIRD.
	if err := f.Chmod(IncludeMode); err != nil {
		f.Close()
		return fmt.Errorf("chmod %s: %w", tmp, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sync %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("rename into %s: %w", path, err)
	}
	return nil
}

// checkPrefixes validates the announced prefixes: IPv6, masked, no
// duplicates, at least one, and not the placeholder.
func checkPrefixes(ps []netip.Prefix) error {
	if len(ps) == 0 {
		return errors.New("no prefix to announce")
	}
	seen := make(map[netip.Prefix]bool, len(ps))
	for i, p := range ps {
		switch {
		case !p.IsValid() || !p.Addr().Is6() || p.Addr().Is4In6() || p.Addr().Zone() != "":
			return fmt.Errorf("prefixes[%d]: %v is not an IPv6 prefix", i, p)
		case p != p.Masked():
			return fmt.Errorf("prefixes[%d]: %v has host bits set (did you mean %v?)", i, p, p.Masked())
		case p == WithdrawnPlaceholder:
			return fmt.Errorf("prefixes[%d]: %v is the withdrawn placeholder", i, p)
		case seen[p]:
			return fmt.Errorf("prefixes[%d]: %v is listed twice", i, p)
		}
		seen[p] = true
	}
	return nil
}
