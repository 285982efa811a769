#!/usr/bin/env bash
# Fails when a committed bpf2go output (*_bpfel.go, *_bpfel.o) is not what
# `make generate` produces from the C sources. It regenerates in a scratch
# copy of the tree (the working tree is never touched) and compares bytes;
# bpf2go output is deterministic for one clang version and independent of the
# directory (see bpf/check-generated.sh for why).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
command -v clang-19 >/dev/null || { echo "check-generated: clang-19 not installed (make deps)" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
# Tracked and untracked (not ignored) files as they are in the working tree;
# a tracked file deleted in the working tree is left out.
(cd "$root" && git ls-files -co --exclude-standard -z |
	while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
	xargs -0 cp --parents -t "$tmp")
(cd "$tmp" && go generate ./bpf/... ./bench/internal/benchbpf/...)
status=0
while IFS= read -r f; do
	if ! cmp -s "$root/$f" "$tmp/$f"; then
		echo "check-generated: $f is stale; run 'make generate' and commit it" >&2
		status=1
	fi
done < <(cd "$root" && git ls-files -co --exclude-standard '*_bpfel.go' '*_bpfel.o')
[ "$status" -ne 0 ] || echo "check-generated: bpf2go outputs are up to date"
exit "$status"
