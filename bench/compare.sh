#!/usr/bin/env bash
# Two sse-bridge binaries measured alternately by the same generator, at the defaults (no
# config file: the zero-config routes, journal on): 1,000 clients x 1,000 msg/s of 100-byte
# events for 5 s, and the memory of 9,000 idle streams (the default max_clients is 10,000). The bridge on core 0, loadgen and
# Redis on core 1. ROUNDS rounds (default 3); every run is a JSON line in OUT (default
# bench/results/compare.jsonl) with "binary": "before" or "after"; the medians are printed.
# BRIDGE_ARGS adds flags to both (e.g. "--journal 0", the configuration of older reports).
#   bench/compare.sh BEFORE_BINARY AFTER_BINARY
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -eq 2 ] || { echo "usage: $0 BEFORE_BINARY AFTER_BINARY" >&2; exit 2; }
before=$1 after=$2
rounds=${ROUNDS:-3}
out=${OUT:-bench/results/compare.jsonl}
# shellcheck source=bench/redis-on-core1.sh
. bench/redis-on-core1.sh

# run <label> <binary> <clients> <rate> [loadgen args]
run() {
    local label=$1 bin=$2 clients=$3 rate=$4
    shift 4
    local port
    port=$(free_port)
    # shellcheck disable=SC2086 # BRIDGE_ARGS is a list of flags
    taskset -c 0 "$bin" --listen "127.0.0.1:$port" --redis "redis://127.0.0.1:$redis_port" \
        --log-level warn ${BRIDGE_ARGS:-} 2>>"$work/bridge.log" &
    local pid=$!
    for _ in $(seq 200); do curl -s -o /dev/null "http://127.0.0.1:$port/healthz" && break; sleep 0.05; done
    taskset -c 1 build/loadgen -u "http://127.0.0.1:$port/events/bench" -n "$clients" -s 2 \
        -r "$rate" -z 100 -d 5 -m redis-publish -R "127.0.0.1:$redis_port" -c bench -P "$pid" \
        -l "$label" "$@" | sed -e "s/^{/{\"binary\":\"$label\",\"scenario\":\"$clients x $rate\",/" |
        tee -a "$out"
    kill "$pid"
    wait "$pid" 2>/dev/null || true
    redis-cli -p "$redis_port" flushall >/dev/null
}

for ((r = 1; r <= rounds; r++)); do
    for which in before after; do
        bin=$before
        [ "$which" = after ] && bin=$after
        run "$which" "$bin" 1000 1000
        run "$which" "$bin" 9000 0 -m none -d 1
    done
done
node -e '
const rows = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").map(JSON.parse);
const med = (a) => { a = [...a].sort((x, y) => x - y); return a[Math.floor(a.length / 2)]; };
for (const scenario of [...new Set(rows.map((r) => r.scenario))])
  for (const binary of ["before", "after"]) {
    const rs = rows.filter((r) => r.scenario === scenario && r.binary === binary);
    const perConn = rs.map((r) => ((r.server_rss_kb - r.server_rss_kb_before) * 1024) / r.connected);
    console.log(`${scenario} ${binary}: deliveries/s ${med(rs.map((r) => r.deliveries_per_s))}, ` +
      `lost ${med(rs.map((r) => r.lost))}, p99 ${med(rs.map((r) => r.p99_ms))} ms, ` +
      `server CPU ${med(rs.map((r) => r.server_cpu_pct))}%, generator CPU ${med(rs.map((r) => r.gen_cpu_pct))}%, ` +
      `bytes/connection ${Math.round(med(perConn))} (${rs.length} runs)`);
  }' "$out"
