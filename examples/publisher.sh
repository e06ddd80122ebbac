#!/usr/bin/env bash
# The demo publisher: what a backend does. Publishes a JSON tick to ticks.eu and ticks.us every
# half second and a news line every few seconds, with redis-cli.
#   examples/publisher.sh [redis-port] [count]     (count 0 = forever)
set -euo pipefail
port=${1:-6379}
count=${2:-0}
seq=0
while [ "$count" -eq 0 ] || [ "$seq" -lt "$count" ]; do
    seq=$((seq + 1))
    for market in eu us; do
        price=$((1000 + RANDOM % 100))
        redis-cli -p "$port" PUBLISH "ticks.$market" \
            "{\"type\":\"tick\",\"seq\":$seq,\"data\":{\"market\":\"$market\",\"price\":$price}}" >/dev/null
    done
    if [ $((seq % 6)) -eq 0 ]; then
        redis-cli -p "$port" PUBLISH news "headline $seq: markets are open" >/dev/null
    fi
    sleep 0.5
done
