#!/usr/bin/env bash
# Builds every configuration a user may pick: gcc and clang x Release, RelWithDebInfo, Debug,
# MinSizeRel, with warnings as errors, each in build-matrix/<cc>-<type>/. The daemon, the tools
# and the unit tests are built (what `cmake --build` builds by default).
#   scripts/build-matrix.sh            all eight
#   scripts/build-matrix.sh gcc        one compiler's four
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p build-matrix
compilers=("${@:-gcc clang}")
read -r -a compilers <<<"${compilers[*]}"
for cc in "${compilers[@]}"; do
    for type in Release RelWithDebInfo Debug MinSizeRel; do
        dir=build-matrix/$cc-$type
        start=$(date +%s)
        CC=$cc cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE="$type" -DWERROR=ON >"$dir.log" 2>&1 ||
            { cat "$dir.log" >&2; echo "build-matrix: $cc $type: configure failed" >&2; exit 1; }
        cmake --build "$dir" -j "$(nproc)" >>"$dir.log" 2>&1 ||
            { grep -E 'error|warning' "$dir.log" | head -40 >&2; echo "build-matrix: $cc $type failed" >&2; exit 1; }
        echo "build-matrix: $cc $type ok ($(($(date +%s) - start)) s)"
    done
done
