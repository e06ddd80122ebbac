#!/usr/bin/env bash
# The benchmark suite, in one command: sse-bridge and its peers (a plain Node.js bridge, nginx
# + nchan with its memory store and with its Redis store) measured side by side on this
# machine by the same load generator (bench/loadgen.c), servers pinned to core 0, generator,
# Redis and mosquitto to core 1, every run bounded in time, medians of RUNS runs. Writes every
# run as a JSON line to bench/results/runs.jsonl, runs the replay benchmark (bench/replay.mjs),
# then bench/summarize.mjs writes bench/README.md's tables and the charts (gnuplot).
#   bench/run.sh                 all scenarios (about 45 minutes)
#   RUNS=1 bench/run.sh quick    one run each, fewer points (a smoke test of the suite)
#   ONLY='idle-19000|fanout-10k' bench/run.sh
#                                only the scenarios matching that regex: their old lines
#                                are dropped from runs.jsonl, the others kept, the report
#                                regenerated (no replay run)
# Installs what it needs first (scripts/install-deps.sh --bench: nginx, libnginx-mod-nchan,
# gnuplot-nox from Debian, on top of the test dependencies).
#
# One process may hold 20,000 files here: up to 19,000 streams a server is one process; for
# 50,000 and 100,000 sse-bridge runs 3 and 6 processes sharing the port (reuse_port) and nginx
# as many workers, and the generator forks receivers (loadgen -F). The Node peer is one
# process (what the tutorials write) and is not run past 19,000.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --bench
quick=0
[ "${1:-}" = quick ] && quick=1
runs=${RUNS:-3}
out=bench/results/runs.jsonl
only=${ONLY:-}
mkdir -p bench/results
if [ -n "$only" ] && [ -f "$out" ]; then
    grep -Ev "\"scenario\":\"($only)\"" "$out" >"$out.keep" || true
    mv "$out.keep" "$out"
else
    : >"$out"
fi

cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$(nproc)" --target sse-bridge loadgen ssecat >/dev/null

work=$(mktemp -d)
pids=()
cleanup() {
    for pid in "${pids[@]}" "${server_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_http() {
    for _ in $(seq 200); do curl -s -o /dev/null "http://127.0.0.1:$1/${2:-}" && return 0; sleep 0.05; done
    echo "bench: nothing answers on port $1" >&2
    return 1
}

redis_port=$(free_port)
taskset -c 1 redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no \
    --dir "$work" >"$work/redis.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.05; done
mqtt_port=$(free_port)
printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\n' "$mqtt_port" \
    >"$work/mosquitto.conf"
taskset -c 1 mosquitto -c "$work/mosquitto.conf" >"$work/mosquitto.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do (echo >"/dev/tcp/127.0.0.1/$mqtt_port") 2>/dev/null && break; sleep 0.05; done

server_pids=()
# start_server <name> [processes]: sets server_port, server_pids and measured (the pids
# loadgen reads, comma-separated).
start_server() {
    local name=$1 procs=${2:-1}
    server_port=$(free_port)
    server_pids=()
    case "$name" in
    sse-bridge | sse-bridge-journal-0)
        # sse-bridge: the defaults (its channel route journalled, as the built-in one is);
        # sse-bridge-journal-0: the same without the journal (what the peers keep: nothing).
        local ini=bench/sse-bridge.ini extra=(--mqtt "mqtt://127.0.0.1:$mqtt_port")
        [ "$procs" -gt 1 ] && ini=bench/sse-bridge-multi.ini extra=()
        if [ "$name" = sse-bridge-journal-0 ]; then
            sed '/^journal = /d' "$ini" >"$work/journal-0.ini"
            ini=$work/journal-0.ini
        fi
        for ((p = 0; p < procs; p++)); do
            taskset -c 0 build/sse-bridge --config "$ini" --listen "127.0.0.1:$server_port" \
                --redis "redis://127.0.0.1:$redis_port" "${extra[@]}" \
                --log-level warn 2>>"$work/bridge.log" &
            server_pids+=($!)
        done
        wait_http "$server_port" healthz
        measured=$(IFS=,; echo "${server_pids[*]}")
        ;;
    node)
        taskset -c 0 node bench/peers/node-bridge.mjs "$server_port" "$redis_port" "$mqtt_port" \
            2>"$work/node.log" &
        server_pids+=($!)
        wait_http "$server_port" x
        measured=${server_pids[0]}
        ;;
    nchan-memory | nchan-redis)
        mkdir -p "$work/nginx"
        local redis_url="" redis_use=""
        if [ "$name" = nchan-redis ]; then
            redis_url="nchan_redis_url redis://127.0.0.1:$redis_port;"
            redis_use="nchan_use_redis on;"
        fi
        sed -e "s|@DIR@|$work/nginx|g" -e "s|@PORT@|$server_port|g" -e "s|@WORKERS@|$procs|g" \
            -e "s|@REDIS_UPSTREAM@|$redis_url|" -e "s|@REDIS_USE@|$redis_use|g" \
            bench/peers/nchan.conf.in >"$work/nginx/nginx.conf"
        taskset -c 0 nginx -c "$work/nginx/nginx.conf" -p "$work/nginx" 2>"$work/nginx.log" &
        server_pids+=($!)
        wait_http "$server_port" x
        # nginx serves from its workers: measure those.
        local workers=""
        for _ in $(seq 100); do
            workers=$(pgrep -P "${server_pids[0]}" | paste -sd, || true)
            [ "$(echo "$workers" | tr ',' '\n' | grep -c .)" -ge "$procs" ] && break
            sleep 0.05
        done
        measured=$workers
        ;;
    esac
}
stop_server() {
    kill "${server_pids[@]}" 2>/dev/null || true
    wait "${server_pids[@]}" 2>/dev/null || true
    server_pids=()
}
# point <scenario> <source> <clients> <rate> <path> [extra loadgen args]: one loadgen run
# against a fresh server (a peer that fell behind in one run must not carry its backlog into
# the next), appended to $out. source: channel:<template>, stream:<key>, mqtt:<topic>, none.
point() {
    local scenario=$1 source=$2 clients=$3 rate=$4 path=$5
    shift 5
    if [ -n "$only" ] && ! [[ "$scenario" =~ ^($only)$ ]]; then return; fi
    # One process up to 19,000 streams (the file limit is 20,000), then 18,000 per process.
    local procs=1 sources=$((clients / 10000 + 2)) publish=()
    [ "$clients" -gt 19000 ] && procs=$(((clients + 17999) / 18000))
    start_server "$server" "$procs"
    case "$source" in
    channel:*)
        case "$server" in
        nchan-*) publish=(-m http-post -p "http://127.0.0.1:$server_port/pub/${source#channel:}") ;;
        *) publish=(-m redis-publish -R "127.0.0.1:$redis_port" -c "${source#channel:}") ;;
        esac
        ;;
    stream:*) publish=(-m redis-xadd -R "127.0.0.1:$redis_port" -c "${source#stream:}") ;;
    mqtt:*) publish=(-m mqtt -R "127.0.0.1:$mqtt_port" -c "${source#mqtt:}") ;;
    *) publish=(-m none) ;;
    esac
    taskset -c 1 build/loadgen -u "http://127.0.0.1:$server_port$path" -n "$clients" \
        -s "$sources" -F "$procs" -r "$rate" -z 100 -d 5 "${publish[@]}" -P "$measured" \
        -l "$scenario" "$@" |
        sed -e "s/^{/{\"server\":\"$server\",\"scenario\":\"$scenario\",/" | tee -a "$out"
    stop_server
}

# crosscheck <rate>: the fan-out of 1,000 clients at <rate> msg/s counted by a second client
# (bench/crosscheck.mjs: Node sockets, nothing shared with loadgen), which loadgen only
# publishes for (-n 1 -w 0: every message published counts). One JSON line in $out.
crosscheck() {
    local rate=$1 scenario=crosscheck-1k publish=() cc=$work/crosscheck.out
    if [ -n "$only" ] && ! [[ "$scenario" =~ ^($only)$ ]]; then return; fi
    start_server "$server" 1
    case "$server" in
    nchan-*) publish=(-m http-post -p "http://127.0.0.1:$server_port/pub/bench") ;;
    *) publish=(-m redis-publish -R "127.0.0.1:$redis_port" -c bench) ;;
    esac
    taskset -c 1 node bench/crosscheck.mjs "http://127.0.0.1:$server_port/events/bench" 1000 60 \
        >"$cc" 2>&1 &
    local cc_pid=$!
    for _ in $(seq 300); do grep -q '"ready"' "$cc" && break; sleep 0.1; done
    kill -USR2 "$cc_pid" # its window opens: while loadgen runs
    taskset -c 1 build/loadgen -u "http://127.0.0.1:$server_port/events/bench" -n 1 -r "$rate" \
        -z 100 -d 5 -w 0 "${publish[@]}" -l "$scenario" >"$work/crosscheck-loadgen.json"
    kill -USR2 "$cc_pid" # and closes
    sleep 2 # what is in flight arrives
    kill -TERM "$cc_pid" 2>/dev/null || true
    wait "$cc_pid" 2>/dev/null || true
    node -e '
const fs = require("fs");
const lg = JSON.parse(fs.readFileSync(process.argv[1], "utf8"));
const cc = fs.readFileSync(process.argv[2], "utf8").trim().split("\n").map(JSON.parse).find((l) => "events" in l) ?? {};
console.log(JSON.stringify({ server: process.argv[3], scenario: "crosscheck-1k", rate: Number(process.argv[4]),
  clients: cc.clients ?? 0, heads: cc.heads ?? 0, published: lg.published, expected: lg.published * (cc.heads ?? 0),
  events: cc.since_open ?? cc.events ?? 0, deliveries_per_s: Math.round((cc.since_open ?? cc.events ?? 0) / lg.seconds), seconds: lg.seconds,
  arrivals_per_s: cc.window_s ? Math.round(cc.window_events / cc.window_s) : null }));' \
        "$work/crosscheck-loadgen.json" "$cc" "$server" "$rate" | tee -a "$out"
    stop_server
}

servers=(sse-bridge sse-bridge-journal-0 node nchan-memory nchan-redis)
if [ "$quick" -eq 1 ]; then
    rates=(100 1000) idle=(1000) channel_rates=(3000) source_rates=(300) many=() cross_rates=(1000)
else
    rates=(30 100 300 1000 2000 6000) idle=(1000 10000 19000) channel_rates=(1000 3000 10000)
    source_rates=(100 300 1000) many=(50000 100000) cross_rates=(100 300 1000)
fi
for ((r = 1; r <= runs; r++)); do
    for server in "${servers[@]}"; do # alternating: each server once per round
        for rate in "${rates[@]}"; do point fanout-1k channel:bench 1000 "$rate" /events/bench; done
        for rate in "${cross_rates[@]}"; do crosscheck "$rate"; done
        [ "$quick" -eq 1 ] || point fanout-10k channel:bench 10000 10 /events/bench
        # Overload: five times the target rate at 1,000 clients, for 30 s; 50 clients stop
        # reading for 25 s (-S, -Z); clients that are cut off come back (-Y). Memory must stay
        # bounded.
        point overload-1k channel:bench 1000 5000 /events/bench -Y -d 30 -S 50 -Z 25
        for rate in "${channel_rates[@]}"; do
            point channels-10k 'channel:ch.{k}' 10000 "$rate" '/events/ch.{k}' -k 1000
        done
        if [ "$server" != nchan-memory ] && [ "$server" != nchan-redis ]; then # nchan reads neither
            for rate in "${source_rates[@]}"; do point stream-1k stream:bench-stream 1000 "$rate" /stream/bench-stream; done
            for rate in "${source_rates[@]}"; do point mqtt-1k mqtt:bench/m 1000 "$rate" /mqtt/m; done
        fi
        # Idle memory: a fresh server per point, memory growth / connections.
        for n in "${idle[@]}"; do point "idle-$n" none "$n" 0 /events/bench -d 1; done
        [ "$server" = node ] && continue # one process: not past 19,000
        for n in "${many[@]}"; do point "idle-$n" none "$n" 0 /events/bench -d 1; done
        # The same 100k deliveries/s as 1k x 100 and 10k x 10.
        [ "$quick" -eq 1 ] || point fanout-50k channel:bench 50000 2 /events/bench
    done
done
[ -n "$only" ] || RUNS=$runs node bench/replay.mjs >/dev/null
node bench/summarize.mjs "$out" bench/README.md
echo "bench: results in $out, report in bench/README.md"
