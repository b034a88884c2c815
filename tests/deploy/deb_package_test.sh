#!/usr/bin/env bash
# The Debian package of a build folder: builds it with cpack into a temporary folder, then checks
# its control fields, its file list, its maintainer scripts, the extracted binary (--help, and a
# start with the unit's environment), the man page and the systemd unit (`systemd-analyze
# verify` and an exposure ceiling from `systemd-analyze security`).
#
# The unit is verified from a temporary copy whose ExecStart points at the binary extracted by
# `dpkg -x` (the package's /usr/bin/lmcache is not installed on the machine running the test) and
# with MANPATH at the extracted man page, so the Documentation= check finds lmcache(1). Every
# other line is the packaged one. `verify` exits 0 on warnings, so any output fails the test.
#
#   deb_package_test.sh BUILD_DIR VERSION
# Exit 77 (skipped) when a tool it needs is missing; CI installs them (scripts/install-deps.sh).
set -euo pipefail
build_dir="$1"
version="$2"

# shellcheck source=tests/deploy/deploy_test_common.sh
source "$(dirname "$0")/deploy_test_common.sh"
require_tools cpack dpkg dpkg-deb dpkg-shlibdeps systemd-analyze gzip

cpack --config "$build_dir/CPackConfig.cmake" -B "$tmp/out" >"$tmp/cpack.log" 2>&1 ||
  { cat "$tmp/cpack.log"; echo "FAIL: cpack"; exit 1; }
deb="$tmp/out/lmcache-coordinator_${version}_amd64.deb"
[ -f "$deb" ] || { ls "$tmp/out"; echo "FAIL: no $deb"; exit 1; }

# Control fields.
field() { dpkg-deb -f "$deb" "$1"; }
[ "$(field Package)" = lmcache-coordinator ] || fail "Package: $(field Package)"
[ "$(field Version)" = "$version" ] || fail "Version: $(field Version)"
[ "$(field Architecture)" = amd64 ] || fail "Architecture: $(field Architecture)"
[ -n "$(field Maintainer)" ] || fail "no Maintainer"
[ -n "$(field Description)" ] || fail "no Description"
depends=$(field Depends)
for needed in adduser libc6 libstdc++6 libsqlite3-0 libspdlog libfmt libprometheus-cpp-core libboost-json; do
  grep -q "$needed" <<<"$depends" || fail "Depends lacks $needed: $depends"
done

# Files: exactly these, besides directories.
dpkg-deb -c "$deb" >"$tmp/contents"
grep -v '^d' "$tmp/contents" | awk '{print $1, $2, $6}' | sort >"$tmp/files"
cat >"$tmp/expected" <<'LIST'
-rw-r--r-- root/root ./etc/default/lmcache-coordinator
-rw-r--r-- root/root ./usr/lib/systemd/system/lmcache-coordinator.service
-rw-r--r-- root/root ./usr/share/man/man1/lmcache.1.gz
-rwxr-xr-x root/root ./usr/bin/lmcache
LIST
sort -o "$tmp/expected" "$tmp/expected"
diff -u "$tmp/expected" "$tmp/files" || fail "file list differs (expected, got above)"

# Maintainer scripts and conffiles.
dpkg-deb -e "$deb" "$tmp/control"
[ "$(cat "$tmp/control/conffiles")" = /etc/default/lmcache-coordinator ] || fail "conffiles"
for script in postinst prerm postrm; do
  [ -x "$tmp/control/$script" ] || fail "$script missing or not executable"
  sh -n "$tmp/control/$script" || fail "$script: shell syntax"
done
grep -Eq 'adduser --system|useradd --system' "$tmp/control/postinst" || fail "postinst creates no system user"

# The extracted tree: the binary runs.
root="$tmp/root"
dpkg -x "$deb" "$root"
binary="$root/usr/bin/lmcache"
"$binary" coordinator --help >"$tmp/help" 2>&1 || { cat "$tmp/help"; fail "--help exit code"; }
grep -q 'LMCACHE_MP_COORDINATOR_PORT' "$tmp/help" || fail "--help does not list the env fallbacks"
if command -v file >/dev/null; then
  if file "$binary" | grep -q 'not stripped'; then fail "binary is not stripped"; fi
fi

# Every variable the unit and the default file set is one the binary reads.
unit="$root/usr/lib/systemd/system/lmcache-coordinator.service"
defaults="$root/etc/default/lmcache-coordinator"
for name in $(grep -ohE 'LMCACHE_MP_COORDINATOR_[A-Z_]+' "$unit" "$defaults" | sort -u); do
  grep -q "$name" "$tmp/help" || fail "$name (unit or /etc/default) is not in --help"
done

# The unit's promises.
for line in 'User=lmcache-coordinator' 'StateDirectory=lmcache-coordinator' \
  'EnvironmentFile=-/etc/default/lmcache-coordinator' 'ExecStart=/usr/bin/lmcache coordinator' \
  'Restart=on-failure' 'ProtectSystem=strict' 'ProtectHome=yes' 'NoNewPrivileges=yes' \
  'PrivateTmp=yes' 'PrivateDevices=yes' 'CapabilityBoundingSet=' \
  'RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX' \
  'Environment=LMCACHE_MP_COORDINATOR_STATE_PATH=/var/lib/lmcache-coordinator/lmcache-coordinator.db' \
  'WantedBy=multi-user.target'; do
  grep -qxF "$line" "$unit" || fail "unit lacks the line: $line"
done

# The binary starts with the unit's environment (the state file moved into the temporary
# folder, the port picked free) and the default file sourced as systemd would read it.
(
  set -a
  # shellcheck disable=SC1090
  . "$defaults"
  set +a
  export LMCACHE_MP_COORDINATOR_STATE_PATH="$tmp/lmcache-coordinator.db"
  export LMCACHE_MP_COORDINATOR_HOST=127.0.0.1 LMCACHE_MP_COORDINATOR_PORT=0
  exec "$binary" coordinator
) 2>"$tmp/run.log" &
coordinator_pid=$!
[ -n "$(wait_for_log "$tmp/run.log" '(MP coordinator listening on)')" ] ||
  { cat "$tmp/run.log"; fail "the packaged binary did not start"; }
stop_coordinator "the packaged binary"
[ -f "$tmp/lmcache-coordinator.db" ] || fail "no state file written at LMCACHE_MP_COORDINATOR_STATE_PATH"

# The man page: valid, and every option it documents is one the binary has (it is written by
# hand from --help; options added later are listed by --help until the page describes them).
gzip -t "$root/usr/share/man/man1/lmcache.1.gz" || fail "man page is not gzip"
for option in $(gzip -dc "$root/usr/share/man/man1/lmcache.1.gz" | sed 's/\\-/-/g' |
  grep -oE -- '--[a-z][a-z-]+' | sort -u); do
  grep -qE -- "(^|[ ,])$option( |,|=|$)" "$tmp/help" || fail "the man page documents $option, which --help lacks"
done
if command -v man >/dev/null; then
  warnings=$(MANWIDTH=80 man --warnings -l "$root/usr/share/man/man1/lmcache.1.gz" 2>&1 >/dev/null)
  [ -z "$warnings" ] || fail "man page warnings: $warnings"
fi

# The unit, verified by systemd.
mkdir "$tmp/units"
sed "s|^ExecStart=/usr/bin/lmcache|ExecStart=$binary|" "$unit" >"$tmp/units/lmcache-coordinator.service"
verify=$(cd "$tmp/units" && MANPATH="$root/usr/share/man" systemd-analyze verify lmcache-coordinator.service 2>&1) ||
  fail "systemd-analyze verify failed"
[ -z "$verify" ] || fail "systemd-analyze verify: $verify"
# Exposure at most 2.0 of 10 ("OK"); the packaged unit scores 1.6.
systemd-analyze security --offline=yes --threshold=20 "$tmp/units/lmcache-coordinator.service" >"$tmp/security" 2>&1 ||
  { tail -3 "$tmp/security"; fail "systemd-analyze security: exposure above 2.0"; }

finish "package $deb: all checks passed"
