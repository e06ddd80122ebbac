#!/usr/bin/env bash
# The benchmark suite, in one command: sse-bridge and its peers (a plain Node.js bridge, nginx
# + nchan with its memory store and with its Redis store) measured side by side on this
# machine by the same load generator (bench/loadgen.c), server pinned to core 0, generator and
# Redis to core 1, every run bounded in time, medians of RUNS runs. Writes every run as a JSON
# line to bench/results/runs.jsonl, runs the replay benchmark (bench/replay.mjs), then
# bench/summarize.mjs writes bench/README.md's tables and the charts (gnuplot).
#   bench/run.sh                 all scenarios (about 15 minutes)
#   RUNS=1 bench/run.sh quick    one run each, fewer points (a smoke test of the suite)
# Installs what it needs first (scripts/install-deps.sh --bench: nginx, libnginx-mod-nchan,
# gnuplot-nox from Debian, on top of the test dependencies).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --bench
quick=0
[ "${1:-}" = quick ] && quick=1
runs=${RUNS:-3}
out=bench/results/runs.jsonl
mkdir -p bench/results
: >"$out"

cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$(nproc)" --target sse-bridge loadgen >/dev/null

work=$(mktemp -d)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
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

server_pid=""
start_server() { # name -> sets server_pid, server_port, publish mode
    server_port=$(free_port)
    case "$1" in
    sse-bridge)
        printf '[bridge]\nmax_clients = 100000\n' >"$work/bridge.ini"
        taskset -c 0 build/sse-bridge --config "$work/bridge.ini" --listen "127.0.0.1:$server_port" \
            --redis "redis://127.0.0.1:$redis_port" --journal 0 --log-level warn \
            2>"$work/bridge.log" &
        server_pid=$!
        publish=(-m redis-publish -R "127.0.0.1:$redis_port")
        wait_http "$server_port" healthz
        ;;
    node)
        taskset -c 0 node bench/peers/node-bridge.mjs "$server_port" "$redis_port" \
            2>"$work/node.log" &
        server_pid=$!
        publish=(-m redis-publish -R "127.0.0.1:$redis_port")
        wait_http "$server_port" x
        ;;
    nchan-memory | nchan-redis)
        mkdir -p "$work/nginx"
        local redis_url="" redis_use=""
        if [ "$1" = nchan-redis ]; then
            redis_url="nchan_redis_url redis://127.0.0.1:$redis_port;"
            redis_use="nchan_use_redis on;"
        fi
        sed -e "s|@DIR@|$work/nginx|g" -e "s|@PORT@|$server_port|g" \
            -e "s|@REDIS_UPSTREAM@|$redis_url|" -e "s|@REDIS_USE@|$redis_use|g" \
            bench/peers/nchan.conf.in >"$work/nginx/nginx.conf"
        taskset -c 0 nginx -c "$work/nginx/nginx.conf" -p "$work/nginx" 2>"$work/nginx.log" &
        server_pid=$!
        publish=(-m http-post -p "http://127.0.0.1:$server_port/pub/bench")
        wait_http "$server_port" x
        # nginx runs its worker as a child: measure that process.
        for _ in $(seq 100); do
            worker=$(pgrep -P "$server_pid" | head -n 1 || true)
            [ -n "$worker" ] && break
            sleep 0.05
        done
        measured_pid=$worker
        return
        ;;
    esac
    measured_pid=$server_pid
}
stop_server() {
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
}

# run <scenario> <server> <clients> <rate> <seconds> [extra loadgen args]
run() {
    local scenario=$1 server=$2 clients=$3 rate=$4 seconds=$5
    shift 5
    local sources=$(((clients + 19999) / 20000))
    [ "$sources" -lt 1 ] && sources=1
    taskset -c 1 build/loadgen -u "http://127.0.0.1:$server_port/events/bench" -n "$clients" \
        -s "$((sources + 1))" -r "$rate" -z 100 -d "$seconds" -c bench "${publish[@]}" \
        -P "$measured_pid" -l "$scenario" "$@" |
        sed -e "s/^{/{\"server\":\"$server\",\"scenario\":\"$scenario\",/" | tee -a "$out"
}

servers=(sse-bridge node nchan-memory nchan-redis)
if [ "$quick" -eq 1 ]; then
    rates=(100 1000)
    idle=(1000)
else
    rates=(30 100 300 1000)
    idle=(1000 10000 19000)
fi
for ((r = 1; r <= runs; r++)); do
    for server in "${servers[@]}"; do # alternating: each server once per round
        start_server "$server"
        for rate in "${rates[@]}"; do run fanout-1k "$server" 1000 "$rate" 5; done
        [ "$quick" -eq 1 ] || run fanout-10k "$server" 10000 10 5
        stop_server
        for n in "${idle[@]}"; do # a fresh server per point: RSS growth / connections
            start_server "$server"
            run "idle-$n" "$server" "$n" 0 1 -m none
            stop_server
        done
    done
done
RUNS=$runs node bench/replay.mjs >/dev/null
node bench/summarize.mjs "$out" bench/README.md
echo "bench: results in $out, report in bench/README.md"
