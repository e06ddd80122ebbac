#!/usr/bin/env bash
# The demo publisher: what a backend does, with redis-cli and mosquitto_pub. Every half second:
#   - a JSON tick to the Redis channels ticks.eu and ticks.us (a news line every 3 s);
#   - for the demo page (route /events/demo): {"source":..., "n":N, "ts":ms} to the Redis
#     channel demo.pubsub, the Redis stream demo:stream (XADD) and, given an MQTT port, the MQTT
#     topic demo/sensors/kitchen (QoS 1);
#   - given an MQTT port, every second a temperature per room to sensors/<room>/temperature.
# It listens on the Redis channel demo.control (the page's button POSTs there through the
# bridge): on "close" it publishes the close event to demo.close.
#   examples/publisher.sh [redis-port] [count] [mqtt-port]     (count 0 = forever)
# REDIS_HOST and MQTT_HOST name the servers (default 127.0.0.1; docker-compose.yml sets them).
#
# It outlives the servers it publishes to, as a backend should: while Redis or the broker is
# away (restarting, not up yet) its messages are skipped, with one notice on stderr per outage,
# and the loop and its counter go on; the control subscriber is opened again once Redis answers.
# A container restart policy would otherwise restart it with its counter back at 1. Every call
# is bounded (`timeout`): a server that accepts connections but does not answer (paused) must
# not stall the loop.
set -euo pipefail
port=${1:-6379}
count=${2:-0}
mqtt_port=${3:-}
redis_host=${REDIS_HOST:-127.0.0.1}
mqtt_host=${MQTT_HOST:-127.0.0.1}
call_timeout=2

# Each server has a state (up/down, for the notices) and a per-tick flag: once a call fails,
# the rest of that tick's calls to the same server are skipped (each would cost up to
# call_timeout), and the next tick tries again.
redis_up=1 redis_tick=1 mqtt_up=1 mqtt_tick=1
# call CMD...: CMD within call_timeout, its output dropped; when it fails, `why` says why (the
# first line of its errors, for the notice). --foreground keeps CMD in this script's process
# group, so that a Ctrl-C (scripts/demo.sh) or a kill of the group reaches it too.
call() {
    local err rc=0
    err=$(timeout --foreground "$call_timeout" "$@" 2>&1 >/dev/null) || rc=$?
    [ "$rc" -ne 0 ] || return 0
    [ "$rc" -ne 124 ] || err="no answer in ${call_timeout} s"
    why=${err%%$'\n'*}
    why=${why:-exit $rc}
    return "$rc"
}
redis() {
    [ "$redis_tick" -eq 1 ] || return 0
    if call redis-cli -h "$redis_host" -p "$port" "$@"; then
        [ "$redis_up" -eq 1 ] || echo "publisher: Redis answers again (at $seq)" >&2
        redis_up=1
    else
        [ "$redis_up" -eq 0 ] ||
            echo "publisher: Redis $redis_host:$port is away (at $seq: $why); skipping until it answers" >&2
        redis_up=0 redis_tick=0
    fi
}
mqtt() {
    [ "$mqtt_tick" -eq 1 ] || return 0
    if call mosquitto_pub -h "$mqtt_host" -p "$mqtt_port" -q 1 "$@"; then
        [ "$mqtt_up" -eq 1 ] || echo "publisher: the MQTT broker answers again (at $seq)" >&2
        mqtt_up=1
    else
        [ "$mqtt_up" -eq 0 ] ||
            echo "publisher: the MQTT broker $mqtt_host:$mqtt_port is away (at $seq: $why); skipping until it answers" >&2
        mqtt_up=0 mqtt_tick=0
    fi
}

# The control channel, read between ticks on fd 3. redis-cli ends when Redis goes away (or
# cannot be reached at all): its end of file marks the subscriber closed, and it is opened again
# after a tick whose Redis calls went through. It is stopped when this script ends.
control_pid=""
control_open=0
open_control() {
    exec 3< <(exec redis-cli -h "$redis_host" -p "$port" SUBSCRIBE demo.control 2>/dev/null)
    control_pid=$!
    control_open=1
}
read_control() {
    local line status
    while :; do
        status=0
        read -r -t 0.01 -u 3 line || status=$?
        if [ "$status" -ne 0 ]; then
            # Over 128: nothing more for now. Otherwise end of file: the subscriber has ended.
            [ "$status" -gt 128 ] || { control_open=0; exec 3<&-; }
            return 0
        fi
        if [ "$line" = close ]; then
            redis PUBLISH demo.close '{"source":"close","reason":"asked by the page"}'
        fi
    done
}
trap '[ -z "$control_pid" ] || kill "$control_pid" 2>/dev/null || true' EXIT
trap 'exit 0' INT TERM

seq=0
open_control
while [ "$count" -eq 0 ] || [ "$seq" -lt "$count" ]; do
    seq=$((seq + 1))
    redis_tick=1 mqtt_tick=1
    now=$(date +%s%3N)
    for market in eu us; do
        price=$((1000 + RANDOM % 100))
        redis PUBLISH "ticks.$market" \
            "{\"type\":\"tick\",\"seq\":$seq,\"data\":{\"market\":\"$market\",\"price\":$price}}"
    done
    redis PUBLISH demo.pubsub "{\"source\":\"pubsub\",\"n\":$seq,\"ts\":$now}"
    redis XADD demo:stream MAXLEN '~' 10000 '*' data "{\"source\":\"stream\",\"n\":$seq,\"ts\":$now}"
    if [ -n "$mqtt_port" ]; then
        mqtt -t demo/sensors/kitchen -m "{\"source\":\"mqtt\",\"n\":$seq,\"ts\":$now}"
        if [ $((seq % 2)) -eq 0 ]; then
            for room in kitchen hall; do
                mqtt -t "sensors/$room/temperature" \
                    -m "{\"celsius\":$((18 + RANDOM % 6)).$((RANDOM % 10)),\"seq\":$seq}"
            done
        fi
    fi
    if [ $((seq % 6)) -eq 0 ]; then
        redis PUBLISH news "headline $seq: markets are open"
    fi
    if [ "$control_open" -eq 1 ]; then
        read_control
    elif [ "$redis_tick" -eq 1 ]; then
        open_control
    fi
    sleep 0.5
done
