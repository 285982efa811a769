// Package buildinfo holds the version and VCS revision stamped into the
// binaries at build time, for teredo-relayd -version, relayctl version, the
// control API's status and teredo_relay_build_info.
//
// `make build` and `make deb` set both with the linker:
//
//	go build -ldflags "-X github.com/teredorelay/teredorelay/internal/buildinfo.version=0.1.0 \
//	    -X github.com/teredorelay/teredorelay/internal/buildinfo.revision=<commit>"
//
// The version comes from scripts/version.sh: the release tag (v0.1.0 gives
// 0.1.0), git describe past a tag (0.1.0+3.gabc1234), the VERSION file with
// ~dev before the first tag (0.1.0~dev.gabc1234), or the VERSION file alone
// when there is no git. Every form is a valid Debian version, so the package
// and the binaries it holds carry the same string. A plain `go build` or
// `go run` (tests) is not stamped: Version then reports the module version
// when the binary was built by `go install module@version`, else "devel".
package buildinfo
