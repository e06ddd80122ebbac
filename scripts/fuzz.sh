#!/usr/bin/env bash
# Builds the libFuzzer drivers (tests/fuzz/) with clang + ASan/UBSan and runs each for a
# bounded time on its seed corpus (copied: the committed seeds are not modified).
#   scripts/fuzz.sh [seconds-per-driver]      default 20
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-20}
CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Debug -DFUZZ=ON >/dev/null
cmake --build build-fuzz -j "$(nproc)" --target fuzz_sse_parse fuzz_sse_encode fuzz_route fuzz_config fuzz_text fuzz_frame fuzz_request fuzz_streamid fuzz_webroot fuzz_auth >/dev/null
for name in sse_parse sse_encode route config text frame request streamid webroot auth; do
    corpus=$(mktemp -d)
    cp -r "tests/fuzz/corpus/$name/." "$corpus/"
    echo "fuzz: $name for ${seconds}s"
    status=0
    build-fuzz/tests/fuzz_$name -max_total_time="$seconds" -timeout=5 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$corpus.crash-" "$corpus" >"$corpus.log" 2>&1 ||
        status=$?
    grep -E '^stat::number_of_executed_units' "$corpus.log" || true
    if [ "$status" -ne 0 ]; then
        tail -40 "$corpus.log" >&2
        echo "fuzz: $name failed (exit $status); the input is in $corpus.crash-*" >&2
        exit 1
    fi
    rm -rf "$corpus" "$corpus.log"
done
echo "fuzz: all drivers ran clean"
