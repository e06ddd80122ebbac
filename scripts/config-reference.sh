#!/usr/bin/env bash
# README's configuration reference is generated: `sse-bridge --config-reference` prints it from
# the settings table in bridge/config.c, and README.md holds that output between the lines
# <!-- config-reference:begin --> and <!-- config-reference:end --> (with one blank line after
# the first and before the second, so that Markdown sees the tables as blocks of their own).
#
#   scripts/config-reference.sh BIN            fails, with a diff, when README.md differs
#   scripts/config-reference.sh --write BIN    puts the output into README.md
#   scripts/config-reference.sh --flags BIN    every flag the reference names is a flag of BIN:
#                                              its default is accepted, a bad value refused
set -euo pipefail
cd "$(dirname "$0")/.."
mode=check
case "${1:-}" in
--write | --flags) mode=${1#--}; shift ;;
esac
bin=${1:?usage: scripts/config-reference.sh [--write|--flags] path/to/sse-bridge}
readme=README.md
begin='<!-- config-reference:begin -->'
end='<!-- config-reference:end -->'
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$bin" --config-reference >"$tmp/reference"
[ -s "$tmp/reference" ] || { echo "config-reference: $bin printed nothing" >&2; exit 1; }

if [ "$mode" = flags ]; then
    # Rows read "| `key` | `default` | range | meaning; env `VAR`, flag `--name` |".
    # shellcheck disable=SC2016 # the backticks are Markdown's
    sed -n 's/^| `[^`]*` | `\([^`]*\)` |.*flag `--\([a-z-]*\)` |$/\2\t\1/p' "$tmp/reference" \
        >"$tmp/flags"
    n=0
    while IFS=$'\t' read -r flag default; do
        n=$((n + 1))
        if ! out=$("$bin" --check-config "--$flag" "$default" 2>&1); then
            echo "config-reference: --$flag $default refused: $out" >&2
            exit 1
        fi
        if out=$("$bin" --check-config "--$flag" '%bad%' 2>&1) ||
            ! grep -qF -- "sse-bridge: --$flag %bad%: " <<<"$out"; then
            echo "config-reference: --$flag %bad% not refused as a flag: $out" >&2
            exit 1
        fi
    done <"$tmp/flags"
    total=$(grep -c 'flag `--' "$tmp/reference" || true)
    if [ "$n" -eq 0 ] || [ "$n" != "$total" ]; then
        echo "config-reference: $n of $total flag rows could be read" >&2
        exit 1
    fi
    echo "config-reference: $n flags accepted with their defaults, bad values refused"
    exit 0
fi

if [ "$(grep -cxF "$begin" "$readme")" != 1 ] || [ "$(grep -cxF "$end" "$readme")" != 1 ]; then
    echo "config-reference: $readme needs one '$begin' and one '$end' line" >&2
    exit 1
fi
{ echo; cat "$tmp/reference"; echo; } >"$tmp/want"
awk -v b="$begin" -v e="$end" '$0 == e { inside = 0 } inside { print } $0 == b { inside = 1 }' \
    "$readme" >"$tmp/have"

if [ "$mode" = write ]; then
    awk -v b="$begin" -v e="$end" -v f="$tmp/want" '
        $0 == e { inside = 0 }
        !inside { print }
        $0 == b { inside = 1; while ((getline line < f) > 0) print line }' \
        "$readme" >"$tmp/readme"
    cat "$tmp/readme" >"$readme"
    echo "config-reference: $readme written"
elif ! diff -u --label "$readme (configuration reference)" --label "$bin --config-reference" \
    "$tmp/have" "$tmp/want"; then
    echo "config-reference: $readme differs from the settings table; run" \
        "scripts/config-reference.sh --write $bin" >&2
    exit 1
else
    echo "config-reference: $readme matches the settings table"
fi
