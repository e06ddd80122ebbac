#!/usr/bin/env bash
# The demo in one command: installs what is missing, builds, starts a private redis-server and a
# private mosquitto on free loopback ports, the bridge (examples/demo.ini) on 127.0.0.1:8080 and
# the publisher, then shows the stream with `curl -N` until Ctrl-C. Everything it started is
# stopped on exit.
#   scripts/demo.sh                 run until Ctrl-C
#   scripts/demo.sh --seconds 5     run 5 seconds, then stop (used by the test suite)
#   DEMO_PORT=9090 scripts/demo.sh  another HTTP port
# The test suite sets DEMO_NO_INSTALL=1 and SSE_BRIDGE_BIN (the binary it built).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=0
[ "${1:-}" = "--seconds" ] && seconds=${2:?--seconds needs a number}
http_port=${DEMO_PORT:-8080}

if [ -z "${DEMO_NO_INSTALL:-}" ]; then
    scripts/install-deps.sh --demo >&2
fi
bridge=${SSE_BRIDGE_BIN:-}
if [ -z "$bridge" ]; then
    cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
    cmake --build build -j "$(nproc)" --target sse-bridge >/dev/null
    bridge=build/sse-bridge
fi

work=$(cd "$(mktemp -d)" && pwd -P) # as Redis reports its dir
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A private Redis on a free loopback port. A port can be taken between the probe and the
# bind (tests run in parallel), so the server is checked to be ours (its dir is our work
# dir) and another port tried if not.
redis_port=""
for attempt in 1 2 3 4 5; do
    port=$(shuf -i 20000-60000 -n 1)
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && continue
    redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$work" \
        >"$work/redis.log" 2>&1 &
    pid=$!
    for _ in $(seq 100); do
        kill -0 "$pid" 2>/dev/null || break
        [ "$(redis-cli -p "$port" config get dir 2>/dev/null | tail -n 1)" = "$work" ] &&
            { redis_port=$port; break; }
        sleep 0.05
    done
    if [ -n "$redis_port" ]; then
        pids+=("$pid")
        break
    fi
    kill "$pid" 2>/dev/null || true
done
[ -n "$redis_port" ] || { echo "demo: could not start redis-server" >&2; cat "$work/redis.log" >&2; exit 1; }

# A private mosquitto, checked the same way: its pid file is in our work dir.
mqtt_port=""
for attempt in 1 2 3 4 5; do
    port=$(shuf -i 20000-60000 -n 1)
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && continue
    printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\n' "$port" \
        >"$work/mosquitto.conf"
    mosquitto -c "$work/mosquitto.conf" >"$work/mosquitto.log" 2>&1 &
    pid=$!
    for _ in $(seq 100); do
        kill -0 "$pid" 2>/dev/null || break
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            mqtt_port=$port
            break
        fi
        sleep 0.05
    done
    if [ -n "$mqtt_port" ] && kill -0 "$pid" 2>/dev/null; then
        pids+=("$pid")
        break
    fi
    mqtt_port=""
    kill "$pid" 2>/dev/null || true
done
[ -n "$mqtt_port" ] || { echo "demo: could not start mosquitto" >&2; cat "$work/mosquitto.log" >&2; exit 1; }

# The protected route's secret (a fresh one each run) and a token for one market, signed with
# OpenSSL's HMAC: header.claims.signature, base64url (RFC 7515 compact form).
b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }
JWT_SECRET=$(openssl rand -hex 32)
export JWT_SECRET
jwt_head=$(printf '{"alg":"HS256","typ":"JWT"}' | b64url)
jwt_claims=$(printf '{"sse":{"subscribe":["ticks.us"]},"exp":%d}' $(($(date +%s) + 3600)) | b64url)
jwt_sig=$(printf '%s.%s' "$jwt_head" "$jwt_claims" | openssl dgst -sha256 -hmac "$JWT_SECRET" -binary | b64url)
token="$jwt_head.$jwt_claims.$jwt_sig"

"$bridge" --config examples/demo.ini --listen "127.0.0.1:$http_port" \
    --redis "redis://127.0.0.1:$redis_port" --mqtt "mqtt://127.0.0.1:$mqtt_port" \
    2>"$work/bridge.log" &
pids+=($!)
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$http_port/healthz" >/dev/null && break; sleep 0.05; done
curl -fs "http://127.0.0.1:$http_port/healthz" >/dev/null ||
    { echo "demo: the bridge did not become healthy" >&2; cat "$work/bridge.log" >&2; exit 1; }

examples/publisher.sh "$redis_port" 0 "$mqtt_port" &
pids+=($!)

url="http://127.0.0.1:$http_port/events/dashboard"
cat >&2 <<MSG
sse-bridge demo is running (Redis on 127.0.0.1:$redis_port, MQTT on 127.0.0.1:$mqtt_port,
publisher every 0.5 s).
  open the demo page:  http://127.0.0.1:$http_port/
  one market:      curl -N http://127.0.0.1:$http_port/events/ticks/us
  one room (MQTT): curl -N http://127.0.0.1:$http_port/events/sensors/kitchen
  several topics:  curl -N 'http://127.0.0.1:$http_port/events?topic=ticks.eu&topic=news'
  Redis and MQTT:  curl -N $url
  in a browser:    new EventSource('$url')
  health:          curl http://127.0.0.1:$http_port/healthz
  protected (a token for ticks.us, valid 1 h; without it: 401, for ticks.eu: 403):
                   curl -N -H 'Authorization: Bearer $token' http://127.0.0.1:$http_port/private/ticks/us
Showing the multi-topic stream below; Ctrl-C stops everything.
MSG
if [ "$seconds" -gt 0 ]; then
    curl -sN --max-time "$seconds" "$url" || true
else
    curl -sN "$url"
fi
