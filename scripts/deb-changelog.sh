#!/bin/sh
# Prints the Debian changelog for the package of version $1: deploy/debian/changelog,
# with an entry for $1 on top when $1 is a development build (it differs from
# the latest release in the file), so the package's changelog always starts
# with the package's own version.
set -eu
cd "$(dirname "$0")/.."
version=$1
file=deploy/debian/changelog
latest=$(sed -n '1s/^teredo-relayd (\([^)]*\)).*/\1/p' "$file")
if [ "$version" != "$latest" ]; then
	revision=$(scripts/version.sh revision)
	date=$(git log -1 --format=%cD 2>/dev/null || date -R)
	printf 'teredo-relayd (%s) UNRELEASED; urgency=medium\n\n  * Development build of revision %s\n    (the latest release in this changelog is %s).\n\n -- teredo-relayd maintainers <teredorelay@users.noreply.github.com>  %s\n\n' \
		"$version" "$revision" "$latest" "$date"
fi
cat "$file"
