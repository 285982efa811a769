#!/bin/sh
# check-generated.sh: fail when the committed steer_bpfel.{go,o} are not what
# the go:generate line in gen.go produces from steer.c, steer.h and include/.
#
# It regenerates into a scratch copy of the C sources (the working tree is not
# touched) with the bpf2go pinned in go.mod and the clang named in gen.go, then
# compares bytes. Output is deterministic for one clang version and does not
# depend on the directory (bpf2go maps the source path, -fno-ident drops the
# clang version string, DWARF is stripped), so any difference means stale
# objects: run `go generate ./bpf` and commit the result.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
gen_args=$(sed -n 's|^//go:generate go tool bpf2go ||p' "$here/gen.go")
[ -n "$gen_args" ] || { echo "check-generated: no bpf2go line in $here/gen.go" >&2; exit 2; }
cc=$(printf '%s\n' "$gen_args" | sed -n 's|.*-cc \([^ ]*\).*|\1|p')
command -v "${cc:-clang}" >/dev/null || { echo "check-generated: ${cc:-clang} not installed" >&2; exit 2; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
mkdir "$tmp/bpf" "$tmp/bin"
cp -R "$here/steer.c" "$here/steer.h" "$here/include" "$tmp/bpf/"
(cd "$root" && go build -o "$tmp/bin/bpf2go" github.com/cilium/ebpf/cmd/bpf2go)
(cd "$tmp/bpf" && eval "GOPACKAGE=bpf \"$tmp/bin/bpf2go\" $gen_args")

status=0
for f in steer_bpfel.o steer_bpfel.go; do
	if ! cmp -s "$here/$f" "$tmp/bpf/$f"; then
		echo "check-generated: bpf/$f is stale; run 'go generate ./bpf' and commit it" >&2
		status=1
	fi
done
[ "$status" -ne 0 ] || echo "check-generated: bpf/steer_bpfel.{go,o} are up to date"
exit "$status"
