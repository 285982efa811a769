#!/usr/bin/env bash
# Installs the Debian packages the build, the tests and the demo need. Idempotent:
# it does nothing when every package is already installed. Needs root.
set -euo pipefail

packages=(
	clang-19 llvm-19 libbpf-dev linux-libc-dev bpftool # bpf2go (make generate)
	miredo miredo-server                            # a real Teredo client, server and relay
	iproute2 iptables tcpdump iperf3 iputils-ping curl # namespace lab
	bird2                                           # anycast announcement tests
	prometheus                                      # promtool
	systemd                                         # systemd-analyze verify of the units
	lintian                                         # make deb-check
)
# Tests run this script against a scratch policy-rc.d, a fake apt-get and
# their own package list (scripts/install_deps_test.go).
policy_rc_d=${INSTALL_DEPS_POLICY_RC_D:-/usr/sbin/policy-rc.d}
apt_get=${INSTALL_DEPS_APT_GET:-apt-get}
if [ -n "${INSTALL_DEPS_PACKAGES:-}" ]; then
	read -r -a packages <<<"$INSTALL_DEPS_PACKAGES"
fi

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: need root to install: ${missing[*]}" >&2
	exit 1
fi
# No service may start on install (miredo, bird, prometheus ship units). A policy-rc.d that
# forbids starts is created only for this install and removed again on any exit: left behind,
# it would stop every later apt run on the server from starting or restarting services.
# A policy-rc.d that was there before (a container's, an administrator's) is
# left alone.
if [ ! -e "$policy_rc_d" ]; then
	trap 'rm -f "$policy_rc_d"' EXIT
	trap 'exit 130' INT TERM HUP # an interrupted install removes it too
	printf '#!/bin/sh\n# temporary: scripts/install-deps.sh (teredo-relayd)\nexit 101\n' >"$policy_rc_d"
	chmod +x "$policy_rc_d"
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"$apt_get" update -qq
"$apt_get" install -y -qq "${missing[@]}" >/dev/null
