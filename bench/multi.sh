#!/usr/bin/env bash
# Several processes on one Redis through the journal path (issue 14): 1,000 clients x 1,000
# msg/s of 100-byte events for 5 s, through the zero-config journalled route, in these
# configurations, alternating, ROUNDS rounds (default 3), medians printed:
#   default       one bridge (journal on, lease on: the defaults)
#   three         three bridges (the defaults) on their own ports, the clients spread over them:
#                 one writer holds the lease, all three read the journal
#   lease-off     one bridge, --journal-lease 0 (plain XADD, no lease): what the lease costs
#   workers-2     --workers 2: two bridges on the port, one lease, each reads the journal
#   journal-0     --journal 0 (no journal at all), for reference
# The bridge (all its processes) on core 0, loadgen and Redis on core 1. Redis's own CPU per
# published message comes from INFO cpu around each run. Every run is a JSON line in OUT
# (default bench/results/multi.jsonl). On 2 cores this shows what a second process costs on the
# same core, not how far they scale: see bench/CHANGES.md.
#   bench/multi.sh [BINARY]
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-build/sse-bridge}
rounds=${ROUNDS:-3}
out=${OUT:-bench/results/multi.jsonl}
# shellcheck source=bench/redis-on-core1.sh
. bench/redis-on-core1.sh
redis_cpu() { redis-cli -p "$redis_port" info cpu | awk -F: '/^used_cpu_(sys|user):/ { s += $2 } END { printf "%.3f", s }'; }

# run <label> <bridges> [bridge flags]
run() {
    local label=$1 nbridges=$2
    shift 2
    local port ports="" pids=() procs="" children pid i
    for ((i = 0; i < nbridges; i++)); do
        port=$(free_port)
        taskset -c 0 "$bin" --listen "127.0.0.1:$port" --redis "redis://127.0.0.1:$redis_port" \
            --log-level warn "$@" 2>>"$work/bridge.log" &
        pid=$!
        pids+=("$pid")
        for _ in $(seq 200); do curl -s -o /dev/null "http://127.0.0.1:$port/healthz" && break; sleep 0.05; done
        children=$(pgrep -P "$pid" | paste -sd, -) || true
        # A supervisor only waits: its workers do the work.
        procs+=${procs:+,}${children:-$pid}
        ports+=${ports:+,}$port
    done
    local cpu0
    cpu0=$(redis_cpu)
    taskset -c 1 build/loadgen -u "http://127.0.0.1:$ports/events/bench" -n 1000 -s 2 \
        -r 1000 -z 100 -d 5 -m redis-publish -R "127.0.0.1:$redis_port" -c bench -P "$procs" \
        -l "$label" >"$work/run.json"
    local cpu1
    cpu1=$(redis_cpu)
    node -e '
const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
r.config = process.argv[2];
r.redis_cpu_us_per_msg = r.published ? Math.round((process.argv[4] - process.argv[3]) * 1e6 / r.published) : null;
console.log(JSON.stringify(r));' "$work/run.json" "$label" "$cpu0" "$cpu1" | tee -a "$out"
    kill "${pids[@]}"
    wait "${pids[@]}" 2>/dev/null || true
    redis-cli -p "$redis_port" flushall >/dev/null
    redis-cli -p "$redis_port" function flush >/dev/null
}

for ((r = 1; r <= rounds; r++)); do
    run default 1
    run three 3
    run lease-off 1 --journal-lease 0
    run workers-2 1 --workers 2
    run journal-0 1 --journal 0
done
node -e '
const rows = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").map(JSON.parse);
const med = (a) => { a = [...a].sort((x, y) => x - y); return a[Math.floor(a.length / 2)]; };
for (const config of [...new Set(rows.map((r) => r.config))]) {
  const rs = rows.filter((r) => r.config === config);
  console.log(`${config}: deliveries/s ${med(rs.map((r) => r.deliveries_per_s))}, ` +
    `lost ${med(rs.map((r) => r.lost))}, duplicated ${med(rs.map((r) => r.duplicated))}, ` +
    `p50 ${med(rs.map((r) => r.p50_ms))} ms, p99 ${med(rs.map((r) => r.p99_ms))} ms, ` +
    `bridge CPU ${med(rs.map((r) => r.server_cpu_pct))}%, generator CPU ${med(rs.map((r) => r.gen_cpu_pct))}%, ` +
    `Redis ${med(rs.map((r) => r.redis_cpu_us_per_msg))} us/message (${rs.length} runs)`);
}' "$out"
