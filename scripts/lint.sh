#!/usr/bin/env bash
# Static checks: clang-format (the tree must be formatted), cppcheck and clang-tidy on the C
# sources, the layers of ARCHITECTURE.md (scripts/layers.sh, on the build's objects), and the
# container files (docker-compose.yml valid for Debian's docker-compose, the Dockerfile
# installing packages only through scripts/install-deps.sh). Fails on any finding.
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t sources < <(git ls-files '*.c' '*.h' 2>/dev/null || find bridge include tools tests -name '*.[ch]')
echo "lint: clang-format on ${#sources[@]} files"
clang-format --dry-run --Werror "${sources[@]}"
echo "lint: cppcheck"
cppcheck --quiet --error-exitcode=1 --inline-suppr --std=c11 --enable=warning,performance,portability \
    --suppress=missingIncludeSystem -I include bridge tools bench
checks='-*,clang-analyzer-*,-clang-analyzer-security.insecureAPI.*,-clang-analyzer-valist.Uninitialized'
checks+=',bugprone-*,-bugprone-easily-swappable-parameters,-bugprone-reserved-identifier'
checks+=',-bugprone-narrowing-conversions,-bugprone-assignment-in-if-condition,-bugprone-macro-parentheses'
checks+=',-bugprone-implicit-widening-of-multiplication-result,-bugprone-sizeof-expression'
checks+=',-bugprone-not-null-terminated-result'
build=${1:-build}
if command -v clang-tidy >/dev/null 2>&1 && [ -f "$build/compile_commands.json" ]; then
    echo "lint: clang-tidy"
    out=$(clang-tidy --quiet -p "$build" --checks="$checks" bridge/*.c tools/*.c bench/*.c 2>/dev/null || true)
    if grep -qE '(warning|error):' <<<"$out"; then
        echo "$out"
        exit 1
    fi
fi
if [ -f "$build/CMakeFiles/sse-bridge.dir/bridge/bridge.c.o" ]; then
    echo "lint: layers (ARCHITECTURE.md)"
    scripts/layers.sh "$build"
else
    echo "lint: layers skipped: no build in $build"
fi
echo "lint: docker-compose.yml, docker-compose.proxy.yml, Dockerfile"
docker-compose config -q
docker-compose -f docker-compose.proxy.yml config -q
if grep -nE '(apt-get|apt|dpkg|npm) +install' Dockerfile; then
    echo "lint: the Dockerfile installs packages itself; use scripts/install-deps.sh" >&2
    exit 1
fi
[ "$(grep -c 'scripts/install-deps.sh --' Dockerfile)" -ge 3 ] ||
    { echo "lint: every Dockerfile stage installs through scripts/install-deps.sh" >&2; exit 1; }
echo "lint: clean"
