#!/usr/bin/env bash
# The demo publisher: what a backend does. Publishes a JSON tick to ticks.eu and ticks.us every
# half second and a news line every few seconds, with redis-cli; and, given an MQTT port, a
# temperature reading per room every second with mosquitto_pub (sensors/<room>/temperature).
#   examples/publisher.sh [redis-port] [count] [mqtt-port]     (count 0 = forever)
# REDIS_HOST and MQTT_HOST name the servers (default 127.0.0.1; docker-compose.yml sets them).
set -euo pipefail
port=${1:-6379}
count=${2:-0}
mqtt_port=${3:-}
redis_host=${REDIS_HOST:-127.0.0.1}
mqtt_host=${MQTT_HOST:-127.0.0.1}
seq=0
while [ "$count" -eq 0 ] || [ "$seq" -lt "$count" ]; do
    seq=$((seq + 1))
    for market in eu us; do
        price=$((1000 + RANDOM % 100))
        redis-cli -h "$redis_host" -p "$port" PUBLISH "ticks.$market" \
            "{\"type\":\"tick\",\"seq\":$seq,\"data\":{\"market\":\"$market\",\"price\":$price}}" >/dev/null
    done
    if [ -n "$mqtt_port" ] && [ $((seq % 2)) -eq 0 ]; then
        for room in kitchen hall; do
            mosquitto_pub -h "$mqtt_host" -p "$mqtt_port" -q 1 -t "sensors/$room/temperature" \
                -m "{\"celsius\":$((18 + RANDOM % 6)).$((RANDOM % 10)),\"seq\":$seq}"
        done
    fi
    if [ $((seq % 6)) -eq 0 ]; then
        redis-cli -h "$redis_host" -p "$port" PUBLISH news "headline $seq: markets are open" >/dev/null
    fi
    sleep 0.5
done
