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
set -euo pipefail
port=${1:-6379}
count=${2:-0}
mqtt_port=${3:-}
redis_host=${REDIS_HOST:-127.0.0.1}
mqtt_host=${MQTT_HOST:-127.0.0.1}
redis() { redis-cli -h "$redis_host" -p "$port" "$@" >/dev/null; }

# The control channel, read between ticks; the subscriber is stopped when this script ends.
exec 3< <(exec redis-cli -h "$redis_host" -p "$port" SUBSCRIBE demo.control)
control_pid=$!
trap 'kill "$control_pid" 2>/dev/null || true' EXIT
trap 'exit 0' INT TERM

seq=0
while [ "$count" -eq 0 ] || [ "$seq" -lt "$count" ]; do
    seq=$((seq + 1))
    now=$(date +%s%3N)
    for market in eu us; do
        price=$((1000 + RANDOM % 100))
        redis PUBLISH "ticks.$market" \
            "{\"type\":\"tick\",\"seq\":$seq,\"data\":{\"market\":\"$market\",\"price\":$price}}"
    done
    redis PUBLISH demo.pubsub "{\"source\":\"pubsub\",\"n\":$seq,\"ts\":$now}"
    redis XADD demo:stream MAXLEN '~' 10000 '*' data "{\"source\":\"stream\",\"n\":$seq,\"ts\":$now}"
    if [ -n "$mqtt_port" ]; then
        mosquitto_pub -h "$mqtt_host" -p "$mqtt_port" -q 1 -t demo/sensors/kitchen \
            -m "{\"source\":\"mqtt\",\"n\":$seq,\"ts\":$now}"
        if [ $((seq % 2)) -eq 0 ]; then
            for room in kitchen hall; do
                mosquitto_pub -h "$mqtt_host" -p "$mqtt_port" -q 1 -t "sensors/$room/temperature" \
                    -m "{\"celsius\":$((18 + RANDOM % 6)).$((RANDOM % 10)),\"seq\":$seq}"
            done
        fi
    fi
    if [ $((seq % 6)) -eq 0 ]; then
        redis PUBLISH news "headline $seq: markets are open"
    fi
    while read -r -t 0.01 -u 3 line; do
        if [ "$line" = close ]; then
            redis PUBLISH demo.close '{"source":"close","reason":"asked by the page"}'
        fi
    done
    sleep 0.5
done
