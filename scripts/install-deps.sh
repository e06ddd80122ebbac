#!/usr/bin/env bash
# Installs everything sse-bridge needs to build, test and run its demo, from Debian 12 packages
# and the npm lockfile. Used by the README, .ci/run and the Dockerfile alike, so that the three
# never drift apart. Idempotent: when every package is present it only runs `npm ci` if needed.
#
#   scripts/install-deps.sh            build + test + demo dependencies
#   scripts/install-deps.sh --demo     build + what scripts/demo.sh runs (redis, mosquitto, curl)
#   scripts/install-deps.sh --runtime  only the shared libraries the daemon links (for images)
#   scripts/install-deps.sh --publisher  what examples/publisher.sh runs (redis-cli, mosquitto_pub)
#   scripts/install-deps.sh --bench    everything, plus the peers and charts of bench/run.sh
set -euo pipefail
cd "$(dirname "$0")/.."

runtime=(libevent-2.1-7 libevent-pthreads-2.1-7 libhiredis0.14 libjansson4 libinih1 libmosquitto1 libjose0
         ca-certificates)
build=(build-essential cmake pkg-config libevent-dev libhiredis-dev libjansson-dev libinih-dev
       libmosquitto-dev libjose-dev)
# chromium: Debian's browser for the browser tests (driven by playwright-core from npm; nothing
# is downloaded by the tests themselves).
test=(redis-server redis-sentinel redis-tools mosquitto mosquitto-clients openssl curl docker-compose chromium strace
      clang-format clang-tidy cppcheck clang libclang-rt-14-dev)

mode=${1:-all}
case "$mode" in
--runtime) pkgs=("${runtime[@]}") ;;
--build) pkgs=("${runtime[@]}" "${build[@]}") ;;
--publisher) pkgs=(redis-tools mosquitto-clients) ;;
--bench) pkgs=("${runtime[@]}" "${build[@]}" "${test[@]}" nginx libnginx-mod-nchan gnuplot-nox) ;;
--demo) pkgs=("${runtime[@]}" "${build[@]}" redis-server redis-tools mosquitto mosquitto-clients curl openssl) ;;
all | --all) pkgs=("${runtime[@]}" "${build[@]}" "${test[@]}") ;;
*) echo "usage: $0 [--runtime|--build|--publisher|--demo|--all|--bench]" >&2; exit 2 ;;
esac
# Node.js (with npm) runs the integration tests' harness and the npm `eventsource` client.
if { [ "$mode" = all ] || [ "$mode" = --all ] || [ "$mode" = --bench ]; } && ! command -v npm >/dev/null 2>&1; then
    pkgs+=(nodejs)
    apt-cache show npm >/dev/null 2>&1 && ! apt-cache show nodejs 2>/dev/null | grep -q nodesource &&
        pkgs+=(npm)
fi

missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo=sudo
    echo "install-deps: installing ${missing[*]}" >&2
    $sudo apt-get update -qq
    # Packaged servers (nginx, redis, mosquitto) must not start on their public default ports:
    # the tests, the demo and the benchmarks start their own on loopback.
    policy=""
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null
        $sudo chmod +x /usr/sbin/policy-rc.d
        policy=/usr/sbin/policy-rc.d
        trap '$sudo rm -f /usr/sbin/policy-rc.d' EXIT
    fi
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
    [ -z "$policy" ] || $sudo rm -f "$policy"
fi
# The packaged servers were kept from starting (policy-rc.d); the tests, the demo and the
# benchmarks start their own on free loopback ports.
if [ "$mode" = all ] || [ "$mode" = --all ] || [ "$mode" = --bench ]; then
    if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
        npm ci --no-audit --no-fund
    fi
fi
