package buildinfo

import (
	"runtime"
	"runtime/debug"
)

// Set with -ldflags -X (see the package documentation); empty when not
// stamped.
var version, revision string

// Unstamped is the version of a binary built without stamping.
const Unstamped = "devel"

// Version returns the stamped version, the module version of a `go install
// module@version` build, or Unstamped.
func Version() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return Unstamped
}

// Revision returns the stamped VCS revision, the one the Go toolchain
// recorded (builds with VCS stamping on), or "unknown".
func Revision() string {
	if revision != "" {
		return revision
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				return s.Value
			}
		}
	}
	return "unknown"
}

// GoVersion is the Go release the binary was built with.
func GoVersion() string { return runtime.Version() }

// String is the one-line form the binaries print: "NAME VERSION (revision
// REV, GOVERSION)".
func String(name string) string {
	return name + " " + Version() + " (revision " + Revision() + ", " + GoVersion() + ")"
}
