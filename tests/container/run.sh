#!/usr/bin/env bash
# The container stack as a user runs it, checked end to end under podman: the images built from
# the Dockerfile, the stack of docker-compose.yml brought up with `docker-compose up`, then
#   1. both images (the bridge's `runtime` target, the `publisher` target) build and exist;
#   2. GET /healthz answers 200 on the published port (127.0.0.1 only);
#   3. GET / serves the demo page (examples/www/index.html, byte for byte);
#   4. the publisher's events reach /events/demo from Redis pub/sub, the Redis stream and MQTT;
#   5. the bridge's HEALTHCHECK is healthy, unhealthy while the Redis container is stopped,
#      healthy again once it is started;
#   6. one SSE connection (/events/ticks/eu) kept open across that Redis restart gets events
#      published after it;
#   7. `down -v` leaves no container, pod, network, volume or listening port of the run;
#   8. the demo publisher rode out the restart itself: not restarted by its restart policy, its
#      counter (the SSE ids) going on past the restart, its control subscriber open again (a POST
#      to /demo/control brings the close event);
#   9. the proxy stack of docker-compose.proxy.yml (nginx with TLS and HTTP/2 before two bridge
#      replicas, examples/proxy/) comes up with its test certificate, and serves HTTP/2; in
#      Chromium its page's 12 EventSources are open at once; one replica SIGKILLed under
#      publishing (FCALL sse_publish), every stream resumes through nginx on the other with every
#      message once, in order, no gap event (tests/container/proxy-browser.mjs); its `down -v`
#      leaves nothing either (7).
# It prints the time of each phase at the end. Exit 0: passed; 77: cannot run here (not root, no
# apt-get, packages not installable, podman unable to run a container), with the reason; any
# other: failed. Used by scripts/test.sh; run it alone as root on Debian 12:
#   tests/container/run.sh
#
# Why it is built this way:
# - No image registry is reachable from the test machines: debian:12-slim is made locally with
#   debootstrap (minbase, this machine's mirror, apt sources and Acquire settings, slimmed as the
#   official image is), and redis:7 and eclipse-mosquitto:2 are stand-ins built from Debian's
#   packages (redis.Containerfile, mosquitto.Containerfile here), laid out like the originals;
#   so is nginx:1.22 for the proxy stack (nginx.Containerfile).
#   Nothing is ever pulled (--pull=never; the names are tagged both localhost/ and docker.io/,
#   so that short-name resolution finds them whatever registries.conf says).
# - Podman's storage, network definitions and runtime state are private to this test
#   (/var/cache/sse-bridge-container-test, /run/sse-bridge-container-test): the stand-ins are
#   tagged redis:7 and debian:12-slim, and in the machine's own storage they would shadow the
#   real images for the user's later `podman run redis:7`. The private storage persists, so the
#   images are a cache between runs (a rerun rebuilds from cached layers in seconds); delete both
#   directories to start from zero. Runs are serialised from the first build to `up` (flock), as
#   they share the image tags; each has its own compose project (-p), so none shares a container,
#   a network, a volume or a port.
# - The settings podman needs here live in a private containers.conf (CONTAINERS_CONF), never in
#   /etc: cgroupfs and runc (crun 1.8 refuses cgroups v1 hybrid mode), a file events log,
#   netavark with aardvark-dns (the services find each other by name; the CNI backend would need
#   the dnsname plugin), nofile limits within the machine's hard limit, and a 1 s resolver
#   timeout in the containers: aardvark-dns 1.4 (Debian 12) drops queries while it reloads, at
#   every container start and stop, and glibc's default 5 s would turn each drop into a failed
#   call of the publisher (its calls have 2 s). Network definitions are private too; netavark's
#   runtime state (/run/containers/networks) is keyed by network name, unique per run.
# - Compose: Debian's docker-compose 1.29 against `podman system service` (a private socket),
#   not podman-compose 1.0.3, which ignores `condition: service_healthy`, exits 0 when a build
#   fails, leaves the network behind on `down`, and mangles CMD health checks with a `$` in them
#   (mosquitto's `$$SYS/broker/version` becomes `/broker/version`: never healthy). docker-compose
#   runs the file as `docker compose` does: health-gated start order, the health checks as
#   written, a failed build fails. Podman runs health checks from systemd timers, which do not
#   exist here (and on a systemd host would not know this private storage): DISABLE_HC_SYSTEMD
#   turns them off and a loop of this script runs `podman healthcheck run` on the project's
#   containers every second instead.
# - Every wait polls a condition against a deadline; every command that could hang has a
#   timeout; everything started is stopped by its PID, and the stack is taken down by the EXIT
#   trap even when a check fails. Logs are kept in tests/artifacts/container/.
set -euo pipefail
export LC_ALL=C # EPOCHREALTIME with a '.', plain tool output
cd "$(dirname "$0")/../.."
root=$(pwd -P)
cache=/var/cache/sse-bridge-container-test
state=/run/sse-bridge-container-test
logs=$root/tests/artifacts/container
packages=(podman runc netavark aardvark-dns iptables docker-compose debootstrap
          debian-archive-keyring curl iproute2)
label=com.docker.compose.project

say() { echo "container: $*"; }
skip() {
    say "SKIPPED: $*"
    exit 77
}
fail() {
    say "FAILED: $*" >&2
    diagnose >&2
    exit 1
}
now_ms() { echo $((${EPOCHREALTIME/./} / 1000)); }
secs() { printf '%d.%d s' $(($1 / 1000)) $(($1 % 1000 / 100)); } # milliseconds, shown
tail_log() { [ ! -s "$1" ] || { echo "--- last lines of $1:"; tail -n "${2:-25}" "$1"; }; }

# Phase timings, printed at the end (a phase cut short by a failure too).
phase_names=()
phase_ms=()
phase_open=0
phase_begin() {
    phase=$1
    phase_t0=$(now_ms)
    phase_open=1
}
phase_end() {
    phase_names+=("$phase")
    phase_ms+=($(($(now_ms) - phase_t0)))
    phase_open=0
}
print_timings() {
    local i line=""
    [ ${#phase_names[@]} -gt 0 ] || return 0
    for i in "${!phase_names[@]}"; do
        line+="${phase_names[$i]} $(secs "${phase_ms[$i]}"), "
    done
    say "timings: ${line%, }; total $(secs $(($(now_ms) - start_ms)))"
}

# wait_until SECONDS COMMAND...: runs COMMAND every 0.2 s until it succeeds; fails after SECONDS.
wait_until() {
    local deadline=$(($(now_ms) + $1 * 1000))
    shift
    until "$@"; do
        [ "$(now_ms)" -lt "$deadline" ] || return 1
        sleep 0.2
    done
}

start_ms=$(now_ms)

### Can it run here at all?
[ "$(uname -s)" = Linux ] || skip "podman needs Linux"
[ "$(id -u)" -eq 0 ] || skip "needs root (rootful podman, apt-get, debootstrap)"
if ! command -v apt-get >/dev/null || ! command -v dpkg-query >/dev/null; then
    skip "needs a Debian system (apt-get) to install podman and debootstrap"
fi

mkdir -p "$logs"
rm -f "$logs"/*.log
phase_begin install
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    say "installing ${missing[*]}"
    { timeout 600 apt-get update -qq &&
        DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y -qq --no-install-recommends \
            "${missing[@]}"; } >"$logs/apt.log" 2>&1 ||
        { tail_log "$logs/apt.log"; skip "could not install ${missing[*]} (see above)"; }
fi
phase_end

### Private podman configuration
work=$(mktemp -d /tmp/sse-bridge-ct.XXXXXX)
project=ssebridge-ct-$$-$RANDOM
mkdir -p "$cache/storage" "$cache/networks" "$state"
cat >"$work/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
log_driver = "k8s-file"
dns_options = ["timeout:1", "attempts:3"]

[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
runtime = "runc"
tmp_dir = "$state/libpod"

[network]
network_backend = "netavark"
network_config_dir = "$cache/networks"
EOF
cat >"$work/storage.conf" <<EOF
[storage]
driver = "overlay"
graphroot = "$cache/storage"
runroot = "$state/storage"
EOF
: >"$work/compose.env" # a .env of the checkout must not change what is tested
export CONTAINERS_CONF=$work/containers.conf CONTAINERS_STORAGE_CONF=$work/storage.conf
export BUILDAH_FORMAT=docker DISABLE_HC_SYSTEMD=true
export DOCKER_HOST=unix://$work/podman.sock COMPOSE_DOCKER_CLI_BUILD=0 DOCKER_BUILDKIT=0
unset DOCKER_CONTEXT DOCKER_TLS_VERIFY DOCKER_CERT_PATH COMPOSE_FILE COMPOSE_PROJECT_NAME \
    COMPOSE_PROFILES SSE_BRIDGE_PUBLISH SSE_PROXY_PUBLISH

pproject=$project-proxy # docker-compose.proxy.yml's (check 9)
compose_of() { # PROJECT FILE SECONDS ARGS...: docker-compose on a project of this run, bounded
    local proj=$1 file=$2 seconds=$3
    shift 3
    timeout "$seconds" docker-compose --env-file "$work/compose.env" -f "$root/$file" -p "$proj" "$@"
}
compose() { compose_of "$project" docker-compose.yml "$@"; }
pcompose() { compose_of "$pproject" docker-compose.proxy.yml "$@"; }
ctr_of() { # SERVICE [PROJECT]: its container
    podman ps -a --filter "label=$label=${2:-$project}" \
        --format '{{.ID}} {{index .Labels "com.docker.compose.service"}}' |
        awk -v s="$1" '$2 == s && !n++ { print $1 }'
}

### Teardown (the EXIT trap) and diagnostics
service_pid=""
driver_pid=""
standins_pid=""
declare -A stream_pids=()
stack_up=0
proxy_up=0
port=""
pport=""
browser_pid=""
diagnose() {
    local s c
    [ "$stack_up" -eq 1 ] || return 0
    echo "--- containers of $project:"
    for s in redis mosquitto bridge publisher; do
        c=$(ctr_of "$s" 2>/dev/null) || true
        [ -n "$c" ] || continue
        podman inspect --format "  $s: {{.Name}} {{.State.Status}}, RestartCount {{.RestartCount}}" "$c" 2>&1
    done
    for s in redis mosquitto bridge publisher; do
        c=$(ctr_of "$s" 2>/dev/null) || true
        [ -z "$c" ] || { echo "--- last lines of $s's log:"; podman logs --tail 15 "$c" 2>&1 || true; }
    done
    if [ "$proxy_up" -eq 1 ]; then
        for s in redis bridge-1 bridge-2 proxy; do
            c=$(ctr_of "$s" "$pproject" 2>/dev/null) || true
            [ -z "$c" ] || { echo "--- last lines of the proxy stack's $s:"; podman logs --tail 15 "$c" 2>&1 || true; }
        done
    fi
    for s in "$work"/*.sse; do [ ! -e "$s" ] || tail_log "$s" 12; done
    c=$(ctr_of publisher 2>/dev/null) || true
    [ -z "$c" ] || {
        echo "--- in the publisher container: processes, and the service names it resolves:"
        # shellcheck disable=SC2016 # expanded by the container's shell
        timeout 20 podman exec "$c" sh -c 'for p in /proc/[0-9]*; do
            printf "%s %s\n" "${p#/proc/}" "$(tr "\0" " " <"$p/cmdline")"; done; getent hosts redis mosquitto' 2>&1
    }
}
stream_open() { # NAME PATH SECONDS: curl -N of PATH into $work/NAME.sse, in the background
    : >"$work/$1.sse"
    curl -sN --max-time "$3" "http://127.0.0.1:$port$2" >"$work/$1.sse" 2>&1 &
    stream_pids[$1]=$!
}
stream_close() {
    kill "${stream_pids[$1]}" 2>/dev/null || true
    wait "${stream_pids[$1]}" 2>/dev/null || true
    unset "stream_pids[$1]"
}
stop_pid() { # PID: TERM, and wait for it
    [ -n "$1" ] || return 0
    kill "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}
# take_down PROJECT FILE LOGPREFIX SERVICES...: `down -v` of one project, its services' logs
# kept, then whatever it left (containers, pods, networks, the listeners on their gateways,
# volumes, anonymous ones too) added to `left` and removed.
take_down() {
    local proj=$1 file=$2 prefix=$3 ids nets vols gws s c n v
    shift 3
    ids=$(podman ps -aq --filter "label=$label=$proj")
    nets=$(podman network ls -q --filter "label=$label=$proj")
    gws=$(for n in $nets; do
        podman network inspect --format '{{range .Subnets}}{{.Gateway}} {{end}}' "$n"; done)
    vols=$( (podman volume ls -q --filter "label=$label=$proj"
        for c in $ids; do
            podman inspect --format '{{range .Mounts}}{{if .Name}}{{.Name}} {{end}}{{end}}' "$c"
        done) | tr ' ' '\n' | sort -u)
    for s in "$@"; do
        c=$(ctr_of "$s" "$proj")
        [ -z "$c" ] || podman logs "$c" >"$logs/$prefix$s.log" 2>&1
    done
    compose_of "$proj" "$file" 180 down -v -t 10 --remove-orphans >"$logs/${prefix}down.log" 2>&1 ||
        left+=("(\`down -v\` of $file failed: tests/artifacts/container/${prefix}down.log)")
    for c in $ids; do
        podman container exists "$c" && left+=("container $c") && podman rm -f -v "$c" >/dev/null
    done
    for c in $(podman pod ps -q --filter "label=$label=$proj"); do
        left+=("pod $c") && podman pod rm -f "$c" >/dev/null
    done
    for n in $nets; do
        podman network exists "$n" && left+=("network $n") && podman network rm -f "$n" >/dev/null
    done
    for v in $vols; do
        podman volume exists "$v" && left+=("volume $v") && podman volume rm -f "$v" >/dev/null
    done
    for v in $gws; do
        [ -z "$(ss -Htuln "src $v")" ] || left+=("a listener on $v (the network's DNS)")
    done
}
teardown() {
    local status=$? s left=()
    trap - EXIT
    set +e
    [ "$phase_open" -eq 0 ] || { phase+=" (cut short)"; phase_end; }
    for s in "${!stream_pids[@]}"; do stream_close "$s"; done
    stop_pid "$driver_pid"
    stop_pid "$standins_pid"
    # The browser check, had it not ended: its Chromium catches SIGTERM and would hold on.
    [ -z "$browser_pid" ] || { kill -KILL "$browser_pid" 2>/dev/null; wait "$browser_pid" 2>/dev/null; }
    if [ "$stack_up" -eq 1 ]; then
        phase_begin teardown
        [ "$proxy_up" -eq 0 ] ||
            take_down "$pproject" docker-compose.proxy.yml proxy- redis bridge-1 bridge-2 proxy
        take_down "$project" docker-compose.yml "" redis mosquitto bridge publisher
        if [ -n "$port" ] && [ -n "$(ss -Htln "sport = :$port")" ]; then
            left+=("a listener on 127.0.0.1:$port")
        fi
        if [ -n "$pport" ] && [ -n "$(ss -Htln "sport = :$pport")" ]; then
            left+=("a listener on 127.0.0.1:$pport")
        fi
        phase_end
        if [ ${#left[@]} -gt 0 ]; then
            say "FAILED: 7. the teardown left ${left[*]} (removed now)" >&2
            [ "$status" -ne 0 ] || status=1
        else
            say "ok 7. down -v left no container, pod, network, volume or listening port"
        fi
    fi
    stop_pid "$service_pid"
    # debootstrap mounts /proc and /sys in the root file system while it works.
    awk -v w="$work/" 'index($2, w) == 1 { print $2 }' /proc/mounts | sort -r |
        xargs -r umount -l 2>/dev/null
    rm -rf --one-file-system "$work"
    print_timings
    if [ "$status" -eq 0 ]; then
        say "passed"
    elif [ "$status" -ne 77 ]; then
        [ "$status" -ne 130 ] || say "FAILED: interrupted" >&2
        say "logs in tests/artifacts/container/" >&2
    fi
    exit "$status"
}
trap teardown EXIT
trap 'exit 130' INT TERM

podman info >"$logs/podman-info.log" 2>&1 ||
    { tail_log "$logs/podman-info.log"; skip "podman does not work here (see above)"; }

# Projects of earlier runs that were killed before their teardown (their PID is gone) are
# removed, so that they hold no port and no disk. The storage is this test's own.
for p in $( (podman ps -a --format "{{index .Labels \"$label\"}}"
    podman network ls --format "{{index .Labels \"$label\"}}"
    podman volume ls --format "{{index .Labels \"$label\"}}") 2>/dev/null | sort -u); do
    pid=${p#ssebridge-ct-}
    pid=${pid%%-*}
    if [ "$p" = "${p#ssebridge-ct-}" ] || kill -0 "$pid" 2>/dev/null; then continue; fi
    say "removing what an earlier, killed run left ($p)"
    podman ps -aq --filter "label=$label=$p" | xargs -r podman rm -f -v >/dev/null
    podman network ls -q --filter "label=$label=$p" | xargs -r podman network rm -f >/dev/null
    podman volume ls -q --filter "label=$label=$p" | xargs -r podman volume rm -f >/dev/null
done

# From here to `up`, one run at a time (the image tags are shared).
exec 9>"$cache/lock"
flock -w 1800 9 || fail "another run held $cache/lock for 30 minutes"

### debian:12-slim, made locally
# The mirror of this machine's apt sources (deb822 or one-line format), for debootstrap.
host_mirror() {
    local m=""
    if [ -f /etc/apt/sources.list.d/debian.sources ]; then
        m=$(awk 'BEGIN { RS = ""; FS = "\n" }
            { uri = ""; ok = 0
              for (i = 1; i <= NF; i++) {
                  n = split($i, w, /[ \t]+/)
                  if (w[1] == "URIs:") uri = w[2]
                  if (w[1] == "Suites:") for (j = 2; j <= n; j++) if (w[j] == "bookworm") ok = 1
              }
              if (ok && uri != "") { print uri; exit } }' /etc/apt/sources.list.d/debian.sources)
    fi
    if [ -z "$m" ] && [ -f /etc/apt/sources.list ]; then
        m=$(awk '$1 == "deb" { i = 2; if ($i ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
                               if ($(i + 1) == "bookworm") { print $i; exit } }' /etc/apt/sources.list)
    fi
    echo "${m:-http://deb.debian.org/debian}"
}
make_base() {
    local fs=$work/rootfs mirror k
    mirror=$(host_mirror)
    say "making debian:12-slim with debootstrap from $mirror"
    timeout 900 debootstrap --variant=minbase bookworm "$fs" "$mirror" >"$logs/debootstrap.log" 2>&1 ||
        { tail_log "$logs/debootstrap.log"; skip "debootstrap could not make a Debian 12 root (see above)"; }
    # This machine's apt sources, the keyrings they name and its Acquire settings (proxies,
    # Check-Valid-Until for a snapshot mirror): what lets apt in the images reach the archive.
    if [ -f /etc/apt/sources.list.d/debian.sources ]; then
        rm -f "$fs/etc/apt/sources.list"
        cp /etc/apt/sources.list.d/debian.sources "$fs/etc/apt/sources.list.d/"
    elif [ -f /etc/apt/sources.list ]; then
        cp /etc/apt/sources.list "$fs/etc/apt/sources.list"
    fi
    { grep -ohiE '(signed-by:[[:space:]]*|signed-by=)/[^] ,]+' /etc/apt/sources.list.d/debian.sources \
        /etc/apt/sources.list 2>/dev/null || true; } | sed -E 's/^[^/]*//' | sort -u | while read -r k; do
        [ -e "$fs$k" ] || [ ! -f "$k" ] || { mkdir -p "$fs$(dirname "$k")" && cp "$k" "$fs$k"; }
    done
    apt-config dump |
        grep -E '^Acquire::(([^:]+::)?Proxy|Check-Valid-Until|Check-Date|Retries|ForceIPv[46])' \
            >"$fs/etc/apt/apt.conf.d/90host-acquire" || true
    # Slim as the official image is (debuerreotype): no docs, man pages or locales; packages do
    # not start services; no apt caches.
    cat >"$fs/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/lintian/overrides/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
path-exclude /usr/share/man/*
EOF
    printf '#!/bin/sh\nexit 101\n' >"$fs/usr/sbin/policy-rc.d"
    chmod +x "$fs/usr/sbin/policy-rc.d"
    printf 'Dir::Cache::pkgcache "";\nDir::Cache::srcpkgcache "";\nAcquire::Languages "none";\n' \
        >"$fs/etc/apt/apt.conf.d/docker-clean"
    find "$fs/usr/share/doc" -xdev -mindepth 1 -not -type d -not -name copyright -delete
    find "$fs/usr/share/doc" -xdev -mindepth 1 -type d -empty -delete
    find "$fs/usr/share/locale" -xdev -mindepth 1 -maxdepth 1 -not -name locale.alias -exec rm -rf {} +
    rm -rf "$fs"/usr/share/{man,info,groff,linda}/* "$fs"/usr/share/lintian/overrides/* \
        "$fs"/var/lib/apt/lists/* "$fs"/var/cache/apt/*.bin "$fs"/var/cache/apt/archives/*.deb
    tar -C "$fs" --one-file-system -c . |
        timeout 300 podman import --change 'CMD ["bash"]' - localhost/debian:12-slim \
            >"$logs/import.log" 2>&1 || { tail_log "$logs/import.log"; fail "podman import of the root failed"; }
    podman tag localhost/debian:12-slim docker.io/library/debian:12-slim
    rm -rf --one-file-system "$fs"
}
phase_begin "base image"
if podman image exists localhost/debian:12-slim && podman image exists docker.io/library/debian:12-slim; then
    phase="base image (cached)"
else
    make_base
fi
phase_end
out=$(timeout 120 podman run --rm --pull=never --network none localhost/debian:12-slim echo ok 2>&1) ||
    skip "podman cannot run a container here: $out"

### 1. Images
# podman's Docker API for docker-compose, on a private socket; it ends with this script even if
# the script is killed (parent-death signal).
setpriv --pdeathsig TERM podman system service --time=0 "$DOCKER_HOST" >"$logs/service.log" 2>&1 9>&- &
service_pid=$!
wait_until 30 curl -sf --max-time 2 --unix-socket "$work/podman.sock" http://d/_ping -o /dev/null ||
    { tail_log "$logs/service.log"; fail "podman system service did not answer on $DOCKER_HOST"; }

phase_begin images
# The stand-ins build in the background while docker-compose builds the product's images.
(
    t=$(now_ms)
    setpriv --pdeathsig TERM timeout 900 podman build --pull=never -t localhost/redis:7 \
        -t docker.io/library/redis:7 -f tests/container/redis.Containerfile tests/container \
        >"$logs/build-redis.log" 2>&1
    setpriv --pdeathsig TERM timeout 900 podman build --pull=never -t localhost/eclipse-mosquitto:2 \
        -t docker.io/library/eclipse-mosquitto:2 -f tests/container/mosquitto.Containerfile \
        tests/container >"$logs/build-mosquitto.log" 2>&1
    setpriv --pdeathsig TERM timeout 900 podman build --pull=never -t localhost/nginx:1.22 \
        -t docker.io/library/nginx:1.22 -f tests/container/nginx.Containerfile \
        tests/container >"$logs/build-nginx.log" 2>&1
    echo $(($(now_ms) - t)) >"$work/standins.ms"
) &
standins_pid=$!
compose_rc=0
compose 1500 build >"$logs/build-compose.log" 2>&1 || compose_rc=$?
standins_rc=0
wait "$standins_pid" || standins_rc=$?
standins_pid=""
phase_end
[ "$standins_rc" -eq 0 ] || {
    tail_log "$logs/build-redis.log"
    tail_log "$logs/build-mosquitto.log"
    tail_log "$logs/build-nginx.log"
    fail "the redis:7 / eclipse-mosquitto:2 / nginx:1.22 stand-ins did not build"
}
[ "$compose_rc" -eq 0 ] || { tail_log "$logs/build-compose.log" 40; fail "1. docker-compose build failed (exit $compose_rc)"; }
# Through the Docker API, the compose file's `image: sse-bridge` is docker.io/library/sse-bridge.
bridge_image=docker.io/library/sse-bridge:latest
publisher_image=docker.io/library/sse-publisher:latest
for i in "$bridge_image" "$publisher_image"; do
    podman image exists "$i" || fail "1. docker-compose build made no image $i"
done
[ "$(podman image inspect --format '{{json .Config.Entrypoint}}' "$bridge_image")" = '["sse-bridge"]' ] ||
    fail "1. the image sse-bridge is not the Dockerfile's runtime target"
[ "$(podman image inspect --format '{{json .Config.Entrypoint}}' "$publisher_image")" = '["publisher.sh"]' ] ||
    fail "1. the image sse-publisher is not the Dockerfile's publisher target"
case "$(podman image inspect --format '{{json .Config.Healthcheck}}' "$bridge_image")" in
*'"Test":['*) ;;
*) fail "1. the image sse-bridge has lost the Dockerfile's HEALTHCHECK" ;;
esac
podman run --rm --pull=never --network none --entrypoint cat "$publisher_image" /usr/local/bin/publisher.sh |
    cmp -s - examples/publisher.sh || fail "1. the image sse-publisher does not hold examples/publisher.sh"
say "ok 1. images built: sse-bridge (runtime), sse-publisher (publisher); stand-ins redis:7," \
    "eclipse-mosquitto:2 and nginx:1.22 alongside ($(secs "$(cat "$work/standins.ms")"))"

### Up
# Stands in for podman's systemd health-check timers: every second, each running container of
# the project that has a health check runs it once. Ends with this script.
health_driver() {
    local c p
    while kill -0 "$1" 2>/dev/null; do
        for p in "$project" "$pproject"; do
            for c in $(podman ps -q --filter "label=$label=$p" --filter health=starting \
                --filter health=healthy --filter health=unhealthy 2>/dev/null); do
                podman healthcheck run "$c" >/dev/null 2>&1 || true
            done
        done
        sleep 1
    done
}
health_driver $$ 9>&- &
driver_pid=$!

free_port() {
    local p
    for _ in $(seq 50); do
        p=$(shuf -i 20000-60000 -n 1)
        [ -n "$(ss -Htln "sport = :$p")" ] || { echo "$p"; return 0; }
    done
    return 1
}
phase_begin "up to healthy"
stack_up=1
# up_on_free_port COMPOSE VAR LOG: `COMPOSE up -d` with the variable VAR (the address its file
# publishes) set to 127.0.0.1 and a free port, which it prints. The port was free when probed;
# another process may have taken it since: then another one, three times at most.
up_on_free_port() {
    local up=$1 var=$2 log=$3 p rc attempt
    for attempt in 1 2 3; do
        p=$(free_port) || fail "no free port found"
        export "$var=127.0.0.1:$p"
        rc=0
        "$up" 300 up -d --no-build >"$log" 2>&1 || rc=$?
        [ "$rc" -ne 0 ] || { echo "$p"; return 0; }
        if [ "$attempt" -eq 3 ] || ! grep -qi 'address already in use' "$log"; then
            tail_log "$log" 40 >&2
            fail "$up up failed (exit $rc)"
        fi
        "$up" 120 down -v -t 5 >>"$log" 2>&1 || true
    done
}
port=$(up_on_free_port compose SSE_BRIDGE_PUBLISH "$logs/up.log") || exit 1
flock -u 9
exec 9>&-
base=http://127.0.0.1:$port
for s in redis mosquitto bridge publisher; do
    [ -n "$(ctr_of "$s")" ] || fail "docker-compose up made no $s container"
done
redis=$(ctr_of redis)
mosquitto=$(ctr_of mosquitto)
bridge=$(ctr_of bridge)
publisher=$(ctr_of publisher)
runs_image() { # CONTAINER IMAGE: the container runs what was just built
    [ "$(podman inspect --format '{{.Image}}' "$1")" = "$(podman image inspect --format '{{.Id}}' "$2")" ] ||
        fail "the container $1 does not run the image just built ($2)"
}
runs_image "$bridge" "$bridge_image"
runs_image "$publisher" "$publisher_image"
http_code() { # PATH [FILE]: the status of GET PATH, its body into FILE
    curl -s -o "${2:-/dev/null}" -w '%{http_code}' --max-time 3 "$base$1" || true
}
healthz_is() { [ "$(http_code /healthz "$work/healthz.json")" = "$1" ]; }
# health_is CONTAINER healthy|unhealthy: a check run now agrees, and so does the state podman
# keeps (unhealthy only after the HEALTHCHECK's retries).
health_is() {
    local rc=0
    podman healthcheck run "$1" >/dev/null 2>&1 || rc=$?
    if [ "$2" = healthy ]; then [ "$rc" -eq 0 ]; else [ "$rc" -ne 0 ]; fi &&
        [ "$(podman inspect --format '{{.State.Health.Status}}' "$1")" = "$2" ]
}
all_healthy() {
    local c
    for c in "$redis" "$mosquitto" "$bridge"; do health_is "$c" healthy || return 1; done
    [ "$(podman inspect --format '{{.State.Status}}' "$publisher")" = running ]
}
wait_until 60 all_healthy || fail "the stack is not healthy 60 s after docker-compose up"
wait_until 30 healthz_is 200 ||
    fail "2. GET $base/healthz: $(http_code /healthz), not 200: $(cat "$work/healthz.json" 2>/dev/null)"
phase_end
grep -q '"status":"ok"' "$work/healthz.json" ||
    fail "2. /healthz answers 200 without \"status\":\"ok\": $(cat "$work/healthz.json")"
say "ok 2. GET /healthz on 127.0.0.1:$port: 200 $(cat "$work/healthz.json")"

### Checks
phase_begin checks
code=$(http_code / "$work/index.html")
[ "$code" = 200 ] || fail "3. GET / answered $code"
cmp -s "$work/index.html" examples/www/index.html ||
    fail "3. GET / is not examples/www/index.html: $(head -c 300 "$work/index.html")"
grep -q '<title>sse-bridge demo</title>' "$work/index.html" || fail "3. GET / has no demo title"
say "ok 3. GET / serves the demo page (examples/www/index.html)"

# sse_event FILE EVENT DATA: FILE has an `event: EVENT` line followed by a data line matching
# the extended regular expression ^data: DATA$.
sse_event() {
    awk -v e="event: $2" -v re="^data: $3\$" 'prev == e && $0 ~ re { found = 1 } { prev = $0 }
        END { exit !found }' "$1"
}
# The publisher's JSON, for each of the demo route's three sources.
demo_events() {
    local s
    for s in pubsub stream mqtt; do
        sse_event "$work/demo.sse" "$s" "[{]\"source\":\"$s\",\"n\":[0-9]+,\"ts\":[0-9]+[}]" || return 1
    done
}
stream_open demo /events/demo 30
wait_until 20 demo_events ||
    fail "4. /events/demo did not carry the publisher's pubsub, stream and mqtt events in 20 s"
stream_close demo
say "ok 4. /events/demo carries the publisher's events from Redis pub/sub, the stream and MQTT"

# One connection across the Redis restart: the ticks of the eu market, id = the publisher's seq.
ids() { sed -n 's/^id: \([0-9][0-9]*\)$/\1/p' "$@"; }
ticks_after() { [ "$(tail -n "+$((mark + 1))" "$work/ticks.sse" | ids | wc -l)" -ge "$1" ]; }
mark=0
stream_open ticks /events/ticks/eu 240
wait_until 20 ticks_after 2 || fail "6. no ticks on /events/ticks/eu in 20 s"
grep -qE '^data: \{"market":"eu","price":[0-9]+\}$' "$work/ticks.sse" ||
    fail "6. the ticks on /events/ticks/eu are not the publisher's JSON"
# The n of the publisher's entries in the Redis stream demo:stream (kept across the restart:
# appendonly), oldest first.
stream_ns() {
    timeout 10 podman exec "$redis" redis-cli XRANGE demo:stream - + |
        sed -n 's/^{"source":"stream","n":\([0-9]*\),.*/\1/p'
}
n_before=$(stream_ns | tail -n 1)
[ -n "$n_before" ] || fail "8. the publisher wrote nothing to the Redis stream demo:stream"
started=$(podman inspect --format '{{.State.StartedAt}} {{.RestartCount}}' "$publisher")
bridge_started=$(podman inspect --format '{{.State.StartedAt}} {{.RestartCount}}' "$bridge")
health_is "$bridge" healthy || fail "5. the bridge's HEALTHCHECK is not healthy before the Redis restart"

t=$(now_ms)
timeout 60 podman stop -t 10 "$redis" >/dev/null || fail "podman stop of the Redis container failed"
before=$(ids "$work/ticks.sse" | tail -n 1)
wait_until 30 healthz_is 503 ||
    fail "5. /healthz answers $(http_code /healthz) 30 s after Redis stopped, not 503"
grep -q '"redis":"down"' "$work/healthz.json" ||
    fail "5. /healthz is 503 but does not say \"redis\":\"down\": $(cat "$work/healthz.json")"
wait_until 30 health_is "$bridge" unhealthy ||
    fail "5. the bridge's HEALTHCHECK is not unhealthy 30 s after Redis stopped"
down_ms=$(($(now_ms) - t))
mark=$(wc -l <"$work/ticks.sse")
timeout 60 podman start "$redis" >/dev/null || fail "podman start of the Redis container failed"
t=$(now_ms)
wait_until 30 health_is "$redis" healthy || fail "the Redis container is not healthy 30 s after its start"
wait_until 60 health_is "$bridge" healthy ||
    fail "5. the bridge's HEALTHCHECK is not healthy again 60 s after Redis started"
wait_until 30 healthz_is 200 || fail "5. /healthz answers $(http_code /healthz) after Redis is back, not 200"
say "ok 5. the bridge's HEALTHCHECK: healthy; unhealthy with Redis stopped (/healthz 503," \
    "$(secs "$down_ms") after the stop); healthy again $(secs $(($(now_ms) - t))) after its start"

wait_until 30 ticks_after 2 ||
    fail "6. no events on the open /events/ticks/eu connection 30 s after Redis came back"
kill -0 "${stream_pids[ticks]}" 2>/dev/null || fail "6. the /events/ticks/eu connection ended"
after=$(tail -n "+$((mark + 1))" "$work/ticks.sse" | ids | awk 'NR == 1')
say "ok 6. the same /events/ticks/eu connection carries events after the Redis restart" \
    "(last id before it $before, first after it $after)"

# 8. The publisher rode it out by itself.
now_started=$(podman inspect --format '{{.State.StartedAt}} {{.RestartCount}}' "$publisher")
[ "$now_started" = "$started" ] ||
    fail "8. the publisher container was restarted (StartedAt RestartCount: $started -> $now_started)"
[ "${started##* }" = 0 ] || fail "8. the publisher container had restarted before: RestartCount ${started##* }"
[ "$after" -gt "$before" ] ||
    fail "8. the publisher's counter started again: id $before before the Redis restart, $after after"
stream_past() { [ "$(stream_ns | tail -n 1)" -gt "$n_before" ] 2>/dev/null; }
wait_until 20 stream_past || fail "8. no entry past n=$n_before in demo:stream 20 s after Redis came back"
stream_ns | awk 'NR > 1 && $1 <= prev { exit 1 } { prev = $1 }' ||
    fail "8. the publisher's counter started again: the n in demo:stream are" \
        "$(stream_ns | tr '\n' ' ')"
ids "$work/ticks.sse" | awk 'NR > 1 && $1 <= prev { exit 1 } { prev = $1 }' ||
    fail "8. the ids on /events/ticks/eu do not increase: $(ids "$work/ticks.sse" | tr '\n' ' ')"
[ "$(podman inspect --format '{{.State.StartedAt}} {{.RestartCount}}' "$bridge")" = "$bridge_started" ] ||
    fail "the bridge container was restarted during the Redis restart"
stream_close ticks
# Its control subscriber is open again: the close button's POST reaches it through Redis and
# the bridge sends the close event. POSTed every 2 s: the publisher reopens the subscriber within
# a tick of Redis answering, and a POST before that is lost (pub/sub keeps nothing).
close_seen() {
    local t
    t=$(now_ms)
    if [ $((t - last_post)) -ge 2000 ]; then
        last_post=$t
        post=$(curl -s -o /dev/null -w '%{http_code}' --max-time 3 -X POST --data close \
            "$base/demo/control" || true)
    fi
    sse_event "$work/control.sse" close '[{]"source":"close","reason":"asked by the page"[}]'
}
last_post=0
post=""
stream_open control /events/demo 40
wait_until 10 grep -q '^retry:' "$work/control.sse" || fail "8. /events/demo did not open again"
wait_until 30 close_seen ||
    fail "8. no close event on /events/demo 30 s after POST /demo/control (answered $post):" \
        "the publisher's control subscriber is not back"
stream_close control
say "ok 8. the publisher rode out the Redis restart: not restarted (RestartCount 0), its counter" \
    "goes on (ticks $before -> $after; demo:stream n increasing past $n_before), its control" \
    "subscriber is back (POST /demo/control: close event)"
phase_end

### 9. The proxy stack: nginx (TLS, HTTP/2) before two replicas, a browser through it
phase_begin "proxy stack up"
examples/proxy/make-cert.sh >"$logs/make-cert.log" 2>&1 ||
    { tail_log "$logs/make-cert.log"; fail "9. examples/proxy/make-cert.sh failed"; }
proxy_up=1
pport=$(up_on_free_port pcompose SSE_PROXY_PUBLISH "$logs/proxy-up.log") || exit 1
for s in redis bridge-1 bridge-2 proxy; do
    [ -n "$(ctr_of "$s" "$pproject")" ] || fail "9. the proxy stack has no $s container"
done
pbase=https://127.0.0.1:$pport
proxy_health() { # the replicas' /healthz through nginx, over HTTP/2
    curl -sk --http2 -o /dev/null -w '%{http_code} %{http_version}' --max-time 3 "$pbase/healthz" 2>/dev/null
}
wait_until 60 test "$(proxy_health)" = "200 2" ||
    fail "9. GET $pbase/healthz through nginx: $(proxy_health), not 200 over HTTP/2"
phase_end
phase_begin "proxy browser"
predis=$(ctr_of redis "$pproject")
pbridge1=$(ctr_of bridge-1 "$pproject")
ip_of() { podman inspect --format '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$1"; }
ip1=$(ip_of "$pbridge1")
ip2=$(ip_of "$(ctr_of bridge-2 "$pproject")")
# The browser script in a process group of its own (setsid), so that the teardown can end its
# Chromium with it.
PROXY_URL=$pbase REDIS_CLI="podman exec -i $predis redis-cli" \
    KILL_CMD="timeout 60 podman kill -s KILL $pbridge1 >/dev/null" \
    setsid node tests/container/proxy-browser.mjs >"$logs/proxy-browser.log" 2>&1 9>&- &
browser_pid=$!
rc=0
wait "$browser_pid" || rc=$?
kill -KILL -- -"$browser_pid" 2>/dev/null || true
browser_pid=""
[ "$rc" -eq 0 ] || { tail_log "$logs/proxy-browser.log" 40; fail "9. the browser check through the proxy failed (exit $rc)"; }
# What nginx saw: the streams over HTTP/2, first served by both replicas, then, the killed one
# gone, each of the 12 again by the other (nginx logs a request when it ends: the last address
# of a line is the replica that answered it).
pproxy=$(ctr_of proxy "$pproject")
podman logs "$pproxy" >"$logs/proxy-access.log" 2>/dev/null || true
served_by() { # ADDRESS: how many streams (/events/ over HTTP/2) that replica answered
    awk -v a="$1:8080" '$2 == "\"GET" && $3 ~ "^/events/" && $6 == "HTTP/2.0" && $5 == 200 {
            last = $0; sub(/ bytes=.*/, "", last); sub(/.*[ =]/, "", last); if (last == a) n++ }
        END { print n + 0 }' "$logs/proxy-access.log"
}
by1=$(served_by "$ip1")
by2=$(served_by "$ip2")
[ "$by1" -ge 1 ] && [ "$by2" -ge 12 ] ||
    fail "9. nginx's log: $by1 streams answered by bridge-1 ($ip1), $by2 by bridge-2 ($ip2);" \
        "expected some by bridge-1 before the kill and all 12 by bridge-2 after it"
phase_end
say "ok 9. the proxy stack: nginx (TLS, HTTP/2) before two replicas; in Chromium 12 streams open at" \
    "once, one replica SIGKILLed, all resumed on the other: $(tail -n 1 "$logs/proxy-browser.log" |
        sed 's/^proxy-browser: //') (nginx: $by1 streams answered by bridge-1, $by2 by bridge-2)"
