#!/usr/bin/env bash
# Every test, in one command: installs what is missing (Debian packages, npm ci), checks
# formatting and static analysis, runs each libFuzzer driver briefly, then builds and runs the
# whole suite twice with ctest, plainly and under AddressSanitizer + UndefinedBehaviorSanitizer.
#   scripts/test.sh            lint + plain + sanitizers
#   scripts/test.sh --quick    plain build only
set -euo pipefail
cd "$(dirname "$0")/.."
quick=0
[ "${1:-}" = "--quick" ] && quick=1

scripts/install-deps.sh
jobs=$(nproc)

cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build build -j "$jobs"
[ "$quick" -eq 1 ] || scripts/lint.sh build
ctest --test-dir build --output-on-failure -j "$jobs"
[ "$quick" -eq 1 ] && exit 0

scripts/fuzz.sh 15

cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DSANITIZE=ON
cmake --build build-asan -j "$jobs"
ctest --test-dir build-asan --output-on-failure -j "$jobs"
