#!/usr/bin/env bash
# Checks the layers of ARCHITECTURE.md against the code: every call between two modules of
# bridge/ (read from the object files' symbol tables, so a call is a call, whatever the
# source looks like) and every #include of a module's header must go to the same layer or a
# lower one, the calls must make no circle, and the pure core must do no I/O. Fails naming
# each violation.
#   scripts/layers.sh [build-dir]      default build (needs a build of sse-bridge there)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
objs=("$build"/CMakeFiles/ssecore.dir/bridge/*.c.o "$build"/CMakeFiles/sse-bridge.dir/bridge/*.c.o)
[ -f "${objs[0]}" ] || { echo "layers: no object files under $build (build it first)" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The layer table: lines "N NAME: module module ..." in the ```layers block.
awk '/^```layers/ {on = 1; next} /^```/ {on = 0} on && NF' ARCHITECTURE.md |
    awk -F: '{split($1, h, " "); n = split($2, m, " "); for (i = 1; i <= n; i++) print m[i], h[1]}' \
        >"$tmp/layer"
for src in bridge/*.c; do
    m=$(basename "$src" .c)
    grep -q "^$m " "$tmp/layer" || { echo "layers: bridge/$m.c is in no layer of ARCHITECTURE.md" >&2; exit 1; }
done

for o in "${objs[@]}"; do
    m=$(basename "$o" .c.o)
    nm --defined-only -g "$o" | awk -v m="$m" '$2 ~ /[TDBR]/ {print $3, m}' >>"$tmp/defs"
    nm -u "$o" | awk -v m="$m" '{print m, $2}' >>"$tmp/uses"
done
# "caller callee symbol" for every call or reference between two modules.
awk 'NR == FNR {def[$1] = $2; next} ($2 in def) && def[$2] != $1 {print $1, def[$2], $2}' \
    "$tmp/defs" "$tmp/uses" | sort -u >"$tmp/calls"
# "includer module header" for every #include of a header named after a module.
for src in bridge/*.c; do
    m=$(basename "$src" .c)
    headers=("$src")
    [ -f "include/$m.h" ] && headers+=("include/$m.h")
    { grep -ho '^#include "[a-z_]*\.h"' "${headers[@]}" || true; } |
        sed 's/^#include "\(.*\)\.h"/\1/' | while read -r h; do
        if [ "$h" != "$m" ] && [ -f "bridge/$h.c" ]; then echo "$m $h $h.h"; fi
    done
done | sort -u >"$tmp/includes"

status=0
check() { # file kind
    awk -v kind="$2" 'NR == FNR {layer[$1] = $2; next}
        layer[$2] > layer[$1] {
            printf "layers: %s (layer %d) %s %s of %s (layer %d)\n", $1, layer[$1], kind, $3, $2, layer[$2]
            bad = 1
        }
        END {exit bad}' "$tmp/layer" "$1" || status=1
}
check "$tmp/calls" calls
check "$tmp/includes" includes
if ! awk '{print $1, $2}' "$tmp/calls" | sort -u | tsort >/dev/null 2>"$tmp/tsort"; then
    echo "layers: modules call each other in a circle:" >&2
    cat "$tmp/tsort" >&2
    status=1
fi
# The pure core (layer 0) does no I/O: no sockets, files, event loop, Redis or MQTT calls.
pure=$(awk '$2 == 0 {print $1}' "$tmp/layer")
for m in $pure; do
    allowed='^$'
    [ "$m" = log ] && continue            # the logger writes to stderr: that is its job
    [ "$m" = config ] && allowed='^fopen$' # config_load_file opens the file it is given
    for o in "${objs[@]}"; do
        [ "$(basename "$o" .c.o)" = "$m" ] || continue
        if nm -u "$o" | awk '{print $2}' | grep -v "$allowed" |
            grep -E '^(event_|evhttp_|bufferevent_|evbuffer_|evconnlistener_|redis|mosquitto_|socket$|connect$|accept4?$|send$|recv$|read$|write$|writev$|open$|close$|fopen$)'; then
            echo "layers: $m is in the pure core but does I/O (above)" >&2
            status=1
        fi
    done
done
if [ "$status" -eq 0 ]; then
    echo "layers: $(wc -l <"$tmp/layer") modules, $(wc -l <"$tmp/calls") references between them, none upward, no circle"
fi
exit "$status"
