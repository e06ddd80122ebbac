#!/usr/bin/env bash
# Every test, in one command: installs what is missing (Debian packages, npm ci), checks
# formatting and static analysis, builds every configuration a user may pick (gcc and clang x
# four build types), runs each libFuzzer driver briefly, builds and runs the whole suite twice
# with ctest, plainly and under AddressSanitizer + UndefinedBehaviorSanitizer, and finally
# builds the container images and runs the compose stack under podman.
#   scripts/test.sh            all of it
#   scripts/test.sh --quick    plain build and ctest only
# Warnings are errors here (-DWERROR=ON), as in CI; a user's own build keeps them warnings.
set -euo pipefail
cd "$(dirname "$0")/.."
quick=0
[ "${1:-}" = "--quick" ] && quick=1

scripts/install-deps.sh
jobs=$(nproc)

cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DWERROR=ON
cmake --build build -j "$jobs"
[ "$quick" -eq 1 ] || scripts/lint.sh build
ctest --test-dir build --output-on-failure -j "$jobs"
[ "$quick" -eq 1 ] && exit 0

scripts/build-matrix.sh
scripts/fuzz.sh 15

cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DSANITIZE=ON -DWERROR=ON
cmake --build build-asan -j "$jobs"
ctest --test-dir build-asan --output-on-failure -j "$jobs"

# The container stack as a user runs it (Dockerfile + docker-compose.yml) under podman. Exit 77
# means it could not run here: said and counted as skipped, never as passed.
status=0
tests/container/run.sh || status=$?
if [ "$status" -eq 77 ]; then
    echo "container: SKIPPED (see the reason above)"
elif [ "$status" -ne 0 ]; then
    echo "container: FAILED (exit $status)" >&2
    exit "$status"
fi
