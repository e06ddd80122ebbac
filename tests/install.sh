#!/usr/bin/env bash
# `cmake --install` into a temporary prefix, as a user installs from source: the daemon, the
# example configuration and the systemd unit land where GNUInstallDirs says, the unit points at
# them, the installed daemon accepts the installed configuration, and systemd-analyze finds
# nothing wrong with the unit (where systemd-analyze exists; said when it does not).
#   tests/install.sh BUILD_DIR
set -euo pipefail
build=$1
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT
fail() { echo "install: $*" >&2; exit 1; }

cmake --install "$build" --prefix "$prefix" >"$prefix.log" 2>&1 || { cat "$prefix.log"; fail "cmake --install failed"; }
rm -f "$prefix.log"
bin=$prefix/bin/sse-bridge
ini=$prefix/etc/sse-bridge/sse-bridge.ini
unit=$prefix/lib/systemd/system/sse-bridge.service
for f in "$bin" "$ini" "$unit"; do [ -f "$f" ] || fail "missing $f"; done
[ -x "$bin" ] || fail "$bin is not executable"

"$bin" --version | grep -qE '^libevent .*hiredis .*libmosquitto .*jansson ' || fail "--version names no libraries"
out=$("$bin" --config "$ini" --check-config) || fail "the installed config is refused: $out"
grep -q "^$ini: OK" <<<"$out" || fail "unexpected --check-config output: $out"

# The unit runs the installed files, hardened, restarted on failure, stopped by SIGTERM.
grep -qx "ExecStart=$bin --config $ini" "$unit" || fail "ExecStart does not name the installed files"
for line in DynamicUser=yes NoNewPrivileges=yes ProtectSystem=strict Restart=on-failure \
    KillSignal=SIGTERM LimitNOFILE=65536; do
    grep -qx "$line" "$unit" || fail "the unit lacks $line"
done
grep -q '^ExecReload=' "$unit" && fail "the unit has ExecReload, but the daemon has no reload"

if command -v systemd-analyze >/dev/null 2>&1; then
    # verify resolves ExecStart's binary: it must exist, which it does under the prefix.
    out=$(systemd-analyze verify "$unit" 2>&1) || fail "systemd-analyze verify: $out"
    # Unknown keys are warnings, not failures: none may appear.
    if grep -iE 'unknown|ignoring|invalid' <<<"$out"; then fail "systemd-analyze warns"; fi
    echo "install: systemd-analyze verify clean"
else
    echo "install: systemd-analyze not found: the unit's syntax was not verified"
fi
echo "install: ok ($(find "$prefix" -type f | wc -l) files)"
