#!/usr/bin/env bash
# Checks the Debian package the way an operator meets it (make deb-check;
# make test runs it as root):
#   1. its control fields, conffiles and contents; lintian (errors and
#      warnings fail; deploy/debian/lintian-overrides justifies the rest);
#   2. dpkg -i: the user and the admin group exist (systemd-sysusers), the
#      state directory too (tmpfiles), the relay's unit is enabled but not
#      started, the client's unit neither, the commands print the package's
#      version and their help, the installed units pass systemd-analyze
#      verify, the shipped configuration passes -check-config, and
#      teredo-client runs with the credentials its unit gives it (a user that
#      is not root, CAP_NET_ADMIN only) in a network namespace of its own:
#      its TUN interface appears, `show state` reads it, SIGTERM removes it;
#   3. dpkg -r: nothing is left but the conffiles and the relay unit's
#      enablement (deb-systemd-helper keeps it like a conffile until purge);
#   4. dpkg -P: nothing is left.
# It runs on a machine without the package and leaves none: the package is
# purged on any exit, and the system user and group it created are deleted
# again (the package itself keeps them on purge, as Debian does).
#
# usage: scripts/deb-check.sh PACKAGE.deb VERSION   (DEB_COMMANDS from the Makefile)
set -euo pipefail

deb=$1
version=$2
pkg=teredo-relayd
fail() { echo "deb-check: FAIL: $*" >&2; exit 1; }
note() { echo "deb-check: $*"; }

if [ "$(id -u)" -ne 0 ]; then
	if [ -n "${CI:-}" ]; then fail "needs root (dpkg -i) and CI is set"; fi
	note "SKIP: needs root (dpkg -i); run as root, or with CI set to make it mandatory"
	exit 0
fi
if dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "installed\|config-files"; then
	if [ -n "${CI:-}" ]; then fail "$pkg is already on this machine; the check installs and purges it"; fi
	note "SKIP: $pkg is already on this machine (dpkg -P $pkg first: the check installs and purges it)"
	exit 0
fi
[ -f "$deb" ] || fail "no package $deb (make deb)"
case $version in
*devel* | "") fail "version '$version': a package must carry a stamped version" ;;
esac

# 1. The package file.
field() { dpkg-deb -f "$deb" "$1"; }
[ "$(field Package)" = "$pkg" ] || fail "Package: $(field Package)"
[ "$(field Version)" = "$version" ] || fail "Version: $(field Version), want $version"
[ "$(field Architecture)" = "$(dpkg --print-architecture)" ] || fail "Architecture: $(field Architecture)"
contents=$(dpkg-deb -c "$deb" | awk '{print $NF}' | sed 's|^\./|/|')
conffiles=$(dpkg-deb -I "$deb" conffiles | sort)
[ "$conffiles" = "$(printf '%s\n' /etc/default/teredo-client /etc/teredo-relayd/teredo-relayd.yaml)" ] ||
	fail "conffiles: $conffiles"
want=(
	/etc/teredo-relayd/teredo-relayd.yaml
	/lib/systemd/system/teredo-relayd.service
	/lib/systemd/system/teredo-announce.service
	/lib/systemd/system/teredo-client.service
	/etc/default/teredo-client
	/usr/libexec/teredo-relayd/teredo-announce-withdraw
	/usr/lib/sysusers.d/teredo-relayd.conf
	/usr/lib/tmpfiles.d/teredo-relayd.conf
	/usr/share/teredo-relayd/teredo-relayd.example.yaml
	/usr/share/teredo-relayd/web-config.example.yml
	/usr/share/teredo-relayd/grafana/dashboards/teredo-relay.json
	/usr/share/teredo-relayd/grafana/provisioning/dashboards/teredo-relay.yaml
	/usr/share/teredo-relayd/prometheus/teredo-relay.rules.yml
	/usr/share/teredo-relayd/bird/bird.conf
	/usr/share/teredo-relayd/bird/teredo-relayd-bird.tmpfiles.conf
	/usr/share/teredo-relayd/bird/teredo-relayd.service.d/announce.conf
	/usr/share/doc/teredo-relayd/README.md
	/usr/share/doc/teredo-relayd/copyright
	/usr/share/doc/teredo-relayd/changelog.gz
	/usr/share/doc/teredo-relayd/client.md
	/usr/share/man/man8/teredo-relayd.8.gz
	/usr/share/man/man1/relayctl.1.gz
	/usr/share/man/man1/relayctl-peers.1.gz
)
commands=()
for c in ${DEB_COMMANDS:?DEB_COMMANDS is not set (run through make deb-check)}; do
	name=${c%%:*}
	commands+=("/usr/${c##*:}/$name")
	want+=("/usr/${c##*:}/$name")
done
for f in "${want[@]}"; do
	grep -qxF "$f" <<<"$contents" || fail "the package lacks $f"
done
# Every command has a manual page.
for c in "${commands[@]}"; do
	name=$(basename "$c")
	grep -qE "^/usr/share/man/man[18]/$name\.[18]\.gz$" <<<"$contents" || fail "no manual page for $name"
done
note "contents: ${#want[@]} required files present, conffiles $(tr '\n' ' ' <<<"$conffiles")"

if command -v lintian >/dev/null; then
	# lintian refuses to run as root without this; errors and warnings fail.
	lintian --allow-root --fail-on error,warning --display-info "$deb" || fail "lintian"
	note "lintian: no error or warning (overrides: deploy/debian/lintian-overrides)"
else
	if [ -n "${CI:-}" ]; then fail "lintian is not installed (scripts/install-deps.sh installs it)"; fi
	note "lintian not installed: skipped"
fi

# Files outside dpkg's database that the package may create or leave.
snapshot() {
	find /etc /usr /var/lib /opt /srv -xdev \( -path /var/lib/dpkg -o -path /var/lib/apt -o -path /var/lib/ucf \
		-o -path /var/lib/systemd/coredump -o -path /var/lib/man-db \) -prune -o -print 2>/dev/null | sort
}
user_existed=no
getent passwd teredo-relayd >/dev/null && user_existed=yes
admin_existed=no
getent group teredo-relayd-admin >/dev/null && admin_existed=yes
before=$(mktemp)
snapshot >"$before"
# The client's run check: its network namespace, scratch directory and pid.
clientns=debcheck-tc-$$
clientdir=
clientpid=
cleanup() {
	if [ -n "$clientpid" ]; then kill -KILL "$clientpid" 2>/dev/null || true; fi
	ip netns del "$clientns" 2>/dev/null || true
	[ -z "$clientdir" ] || rm -rf "$clientdir"
	dpkg -P "$pkg" >/dev/null 2>&1 || true
	if [ "$user_existed" = no ] && getent passwd teredo-relayd >/dev/null; then userdel teredo-relayd 2>/dev/null || true; fi
	getent group teredo-relayd >/dev/null && [ "$user_existed" = no ] && groupdel teredo-relayd 2>/dev/null || true
	if [ "$admin_existed" = no ] && getent group teredo-relayd-admin >/dev/null; then groupdel teredo-relayd-admin || true; fi
	rm -f "$before"
}
trap cleanup EXIT

# 2. Install.
dpkg -i "$deb" >/dev/null || fail "dpkg -i"
[ "$(dpkg-query -W -f='${Status}' "$pkg")" = "install ok installed" ] || fail "not installed: $(dpkg-query -W -f='${Status}' "$pkg")"
getent passwd teredo-relayd >/dev/null || fail "no user teredo-relayd (systemd-sysusers)"
getent group teredo-relayd-admin >/dev/null || fail "no group teredo-relayd-admin (systemd-sysusers)"
[ "$(stat -c '%U:%G %a' /var/lib/teredo-relayd)" = "teredo-relayd:teredo-relayd 700" ] ||
	fail "state directory: $(stat -c '%U:%G %a' /var/lib/teredo-relayd 2>&1) (systemd-tmpfiles)"
[ "$(readlink /etc/systemd/system/multi-user.target.wants/teredo-relayd.service)" = /lib/systemd/system/teredo-relayd.service ] ||
	fail "teredo-relayd.service is not enabled"
[ ! -e /etc/systemd/system/multi-user.target.wants/teredo-client.service ] ||
	fail "teredo-client.service was enabled on install (a relay needs no Teredo client)"
for p in /proc/[0-9]*; do
	case $(readlink "$p/exe" 2>/dev/null) in
	/usr/sbin/teredo-relayd | /usr/sbin/teredo-client) fail "$(readlink "$p/exe") was started on install (pid ${p#/proc/})" ;;
	esac
done
note "installed: user teredo-relayd and group teredo-relayd-admin, /var/lib/teredo-relayd 0700, teredo-relayd.service enabled and not started, teredo-client.service neither"

out=$(/usr/sbin/teredo-relayd -version)
[[ $out == "teredo-relayd $version (revision "* ]] || fail "teredo-relayd -version: $out"
out=$(/usr/sbin/teredo-client --version)
[[ $out == "teredo-client $version (revision "* ]] || fail "teredo-client --version: $out"
out=$(/usr/sbin/teredo-client --help 2>&1) || fail "teredo-client --help exited $?"
[[ $out == *"usage: teredo-client COMMAND"*"show state"* ]] || fail "teredo-client --help: $out"
out=$(/usr/sbin/teredo-client run --help 2>&1) || fail "teredo-client run --help exited $?"
[[ $out == *"-managed-probe"*"-server"* ]] || fail "teredo-client run --help: $out"
out=$(relayctl version --client)
[[ $out == "relayctl $version (revision "* ]] || fail "relayctl version: $out"
out=$(relayctl version) || fail "relayctl version without a daemon exited $?"
[[ $out == *"teredo-relayd: unknown: cannot reach teredo-relayd at /run/teredo-relayd/api.sock"* ]] || fail "relayctl version: $out"
for c in "${commands[@]}"; do
	grep -qaF "$version" "$c" || fail "$c is not stamped with $version"
done
note "versions: teredo-relayd, relayctl and teredo-client report $version; teredo-client prints its help"

systemd-analyze verify /lib/systemd/system/teredo-relayd.service /lib/systemd/system/teredo-announce.service \
	/lib/systemd/system/teredo-client.service || fail "systemd-analyze verify"
note "systemd-analyze verify: the installed units pass"
/usr/sbin/teredo-relayd -check-config -skip-host-checks -config /etc/teredo-relayd/teredo-relayd.yaml >/dev/null ||
	fail "the shipped configuration does not pass -check-config"
note "the shipped configuration passes teredo-relayd -check-config"

# teredo-client with its unit's credentials (a user that is not root, with
# CAP_NET_ADMIN only: User=/DynamicUser= and AmbientCapabilities=) in a
# network namespace with only a loopback interface. The server is a
# documentation address with no route: nothing leaves the namespace.
ip netns add "$clientns" || fail "ip netns add $clientns"
clientdir=$(mktemp -d)
chown nobody "$clientdir"
ip netns exec "$clientns" setpriv --reuid=nobody --regid=nogroup --clear-groups \
	--inh-caps=-all,+net_admin --ambient-caps=-all,+net_admin --bounding-set=-all,+net_admin \
	/usr/sbin/teredo-client run --server 192.0.2.1 --interface tcdebcheck --control-socket "$clientdir/control.sock" \
	>"$clientdir/log" 2>&1 &
clientpid=$!
for _ in $(seq 50); do
	[ -S "$clientdir/control.sock" ] && break
	kill -0 "$clientpid" 2>/dev/null || fail "teredo-client (nobody, CAP_NET_ADMIN) exited: $(cat "$clientdir/log")"
	sleep 0.1
done
state=$(/usr/sbin/teredo-client show state --socket "$clientdir/control.sock") ||
	fail "teredo-client show state: $(cat "$clientdir/log")"
grep -q '^Interface  *: tcdebcheck (MTU 1280)$' <<<"$state" || fail "show state: $state"
link=$(ip -n "$clientns" -o link show dev tcdebcheck) || fail "no TUN interface tcdebcheck: $(cat "$clientdir/log")"
[[ $link == *"mtu 1280"* && $link == *NOARP* && $link == *UP* ]] || fail "TUN interface: $link"
ip -n "$clientns" -6 -o addr show dev tcdebcheck | grep -q 'inet6 fe80::ffff:ffff:ffff/64' ||
	fail "no link-local address on tcdebcheck: $(ip -n "$clientns" -6 -o addr show dev tcdebcheck)"
[ "$(ip netns exec "$clientns" cat /proc/sys/net/ipv6/conf/tcdebcheck/accept_ra)" = 0 ] ||
	fail "accept_ra on the TUN interface was not set to 0"
kill -TERM "$clientpid"
rc=0
wait "$clientpid" || rc=$?
clientpid=
[ "$rc" = 0 ] || fail "teredo-client exited $rc on SIGTERM: $(cat "$clientdir/log")"
! ip -n "$clientns" link show dev tcdebcheck >/dev/null 2>&1 || fail "the TUN interface stayed after SIGTERM"
ip netns del "$clientns"
rm -rf "$clientdir"
clientdir=
note "teredo-client as nobody with CAP_NET_ADMIN only: TUN interface up (MTU 1280, link-local, accept_ra 0), show state read it, SIGTERM removed it (exit 0)"

# 3. Remove: only the conffiles and the unit's enablement stay.
dpkg -r "$pkg" >/dev/null || fail "dpkg -r"
[ "$(dpkg-query -W -f='${Status}' "$pkg")" = "deinstall ok config-files" ] || fail "after dpkg -r: $(dpkg-query -W -f='${Status}' "$pkg")"
left=$(comm -13 "$before" <(snapshot))
allowed='^(/etc/teredo-relayd|/etc/teredo-relayd/teredo-relayd\.yaml|/etc/default/teredo-client|/etc/systemd/system/multi-user\.target\.wants(/teredo-relayd\.service)?|/var/lib/systemd/deb-systemd-helper-enabled(/.*teredo-(relayd|client)\.service.*|/multi-user\.target\.wants)?)$'
unexpected=$(grep -Ev "$allowed" <<<"$left" || true)
[ -z "$unexpected" ] || fail "dpkg -r left behind: $unexpected"
[ -f /etc/teredo-relayd/teredo-relayd.yaml ] && [ -f /etc/default/teredo-client ] || fail "dpkg -r removed a conffile"
note "dpkg -r left only: $(tr '\n' ' ' <<<"$left")"

# 4. Purge: nothing stays.
dpkg -P "$pkg" >/dev/null || fail "dpkg -P"
dpkg-query -W "$pkg" >/dev/null 2>&1 && fail "still known to dpkg after dpkg -P"
left=$(comm -13 "$before" <(snapshot))
# deb-systemd-helper may keep the empty directories it created.
unexpected=$(grep -Ev '^(/etc/systemd/system/multi-user\.target\.wants|/var/lib/systemd/deb-systemd-helper-enabled(/multi-user\.target\.wants)?)$' <<<"$left" || true)
[ -z "$unexpected" ] || fail "dpkg -P left behind: $unexpected"
for d in $left; do
	[ -d "$d" ] && [ -z "$(ls -A "$d")" ] || fail "dpkg -P left $d, not an empty directory"
done
note "dpkg -P: nothing left"
note "PASS: $deb"
