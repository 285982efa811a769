#!/bin/sh
# Prints the version (default) or the VCS revision (with "revision") that
# `make build` and `make deb` stamp into the binaries (internal/buildinfo).
# Every version form is a valid Debian version, sorting in release order:
#   on a release tag v0.1.0            0.1.0
#   3 commits past it                  0.1.0+3.gabc1234
#   no tag yet (VERSION file 0.1.0)    0.1.0~dev.gabc1234   (before 0.1.0)
#   uncommitted changes                ... with .dirty appended
#   no git (a source tarball)          the VERSION file as it is
set -eu
cd "$(dirname "$0")/.."
what=${1:-version}
file_version=$(tr -d ' \n' <VERSION)
if ! git rev-parse --git-dir >/dev/null 2>&1; then
	case $what in
	revision) echo unknown ;;
	*) echo "$file_version" ;;
	esac
	exit 0
fi
if [ "$what" = revision ]; then
	git rev-parse HEAD
	exit 0
fi
dirty=
if [ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]; then
	dirty=.dirty
fi
if described=$(git describe --tags --match 'v[0-9]*' --long 2>/dev/null); then
	# v0.1.0-3-gabc1234: tag, commits since, abbreviated hash
	hash=${described##*-}
	rest=${described%-*}
	count=${rest##*-}
	tag=${rest%-*}
	tag=${tag#v}
	if [ "$count" = 0 ]; then
		echo "$tag$dirty"
	else
		echo "$tag+$count.$hash$dirty"
	fi
	exit 0
fi
echo "$file_version~dev.g$(git rev-parse --short=7 HEAD)$dirty"
