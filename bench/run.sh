#!/usr/bin/env bash
# The aml-handlers benchmark (bench/README.md, issue 8): the release binary in dry run against the same
# custom-handler job written the idiomatic way in Node.js (@azure/eventgrid + express) and Python
# (azure-eventgrid + aiohttp), with nginx returning a static body as the ceiling and actix-web
# alone (bench/floor) as the floor. Each server runs alone, pinned to one core; wrk, pinned to
# another, POSTs the host-shaped, double-encoded RunCompleted invocation. See bench/README.md.
#
#   bench/run.sh                      # from any directory
#   DURATION=30s COLD_RUNS=25 bench/run.sh
#
# Knobs (environment): DURATION (10s), CONNECTIONS (32), COLD_RUNS (15), WARMUP (3s),
# TARGETS ("aml-handlers node python nginx actix-floor"), SERVER_CPU (0), LOAD_CPU (1),
# QUIET_WAIT (120 s: how long to wait for a busy machine to quiet down before each target),
# QUIET_PCT (10), NOISE_PCT (5) and NOISE_RETRIES (2): a measured run during which more than
# NOISE_PCT % of the server's core went to other work is run again, up to NOISE_RETRIES times;
# RUNS (3) measured runs per target, of which the median by invocations/s is reported.
# Writes bench/results/latest.md (and raw outputs under bench/results/raw/).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

DURATION="${DURATION:-10s}"
CONNECTIONS="${CONNECTIONS:-32}"
COLD_RUNS="${COLD_RUNS:-15}"
WARMUP="${WARMUP:-3s}"
TARGETS="${TARGETS:-aml-handlers node python nginx actix-floor}"
SERVER_CPU="${SERVER_CPU:-0}"
LOAD_CPU="${LOAD_CPU:-1}"
QUIET_WAIT="${QUIET_WAIT:-120}"
QUIET_PCT="${QUIET_PCT:-10}"
NOISE_PCT="${NOISE_PCT:-5}"
NOISE_RETRIES="${NOISE_RETRIES:-2}"
RUNS="${RUNS:-3}"

BENCH="$ROOT/bench"
RESULTS="$BENCH/results"
RAW="$RESULTS/raw"
NODE_PEER="$BENCH/peers/node"
PY_PEER="$BENCH/peers/python"
VENV="$BENCH/.venv"
BINARY="$ROOT/target/release/aml-handlers"
FIXTURE="$ROOT/tests/fixtures/event_grid/run_completed.json"

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'bench/run.sh: %s\n' "$*" >&2; exit 1; }

# Every process this script starts is recorded here and ended on exit.
PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]:-}"; do
        if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; fi
    done
    for pid in "${PIDS[@]:-}"; do
        if [ -n "$pid" ]; then wait "$pid" 2>/dev/null || true; fi
    done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------------------------------------
# (a) What the benchmark needs.
# ---------------------------------------------------------------------------------------------
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

nginx_bin() { command -v nginx 2>/dev/null || { [ -x /usr/sbin/nginx ] && echo /usr/sbin/nginx; } || true; }

missing=()
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
[ -n "$(nginx_bin)" ] || missing+=(nginx-light)
command -v curl >/dev/null 2>&1 || missing+=(curl)
command -v taskset >/dev/null 2>&1 || missing+=(util-linux)
if [ "${#missing[@]}" -gt 0 ]; then
    log "installing ${missing[*]} (apt-get)"
    # Keep Debian's maintainer scripts from starting nginx as a service on port 80.
    policy_added=""
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
        $SUDO chmod +x /usr/sbin/policy-rc.d
        policy_added=1
    fi
    $SUDO apt-get update -qq
    if ! DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"; then
        # nginx-light is gone from newer Debian releases: fall back to nginx.
        missing=("${missing[@]/nginx-light/nginx}")
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
    fi
    [ -z "$policy_added" ] || $SUDO rm -f /usr/sbin/policy-rc.d
fi
NGINX="$(nginx_bin)"
for tool in wrk curl taskset node npm python3 cargo; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool is not installed"
done
[ -n "$NGINX" ] || die "nginx is not installed"
[ "$(nproc)" -ge 2 ] || log "warning: fewer than 2 cores; the server and wrk share one"

if [ ! -d "$NODE_PEER/node_modules" ] || [ "$NODE_PEER/package-lock.json" -nt "$NODE_PEER/node_modules/.package-lock.json" ]; then
    log "node peer: npm ci"
    (cd "$NODE_PEER" && npm ci --no-audit --no-fund --loglevel=error)
fi
if [ ! -x "$VENV/bin/python" ]; then
    log "python peer: creating $VENV"
    python3 -m venv "$VENV"
fi
if [ ! -e "$VENV/.installed" ] || [ "$PY_PEER/requirements.txt" -nt "$VENV/.installed" ]; then
    log "python peer: pip install -r requirements.txt"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$PY_PEER/requirements.txt"
    touch "$VENV/.installed"
fi

# ---------------------------------------------------------------------------------------------
# (b) The release binary.
# ---------------------------------------------------------------------------------------------
log "cargo build --release --locked --bin aml-handlers"
cargo build --release --locked --bin aml-handlers
case " $TARGETS " in *" actix-floor "*)
    log "cargo build --release --locked --manifest-path bench/floor/Cargo.toml"
    cargo build --release --locked --manifest-path "$BENCH/floor/Cargo.toml" ;;
esac

# ---------------------------------------------------------------------------------------------
# Inputs: the invocation body, the static body nginx returns, nginx's configuration.
# ---------------------------------------------------------------------------------------------
rm -rf "$RAW"
mkdir -p "$RAW" "$RAW/nginx-temp"
BODY="$RAW/invocation.json"
STATIC="$RAW/static-answer.json"
python3 - "$FIXTURE" "$BODY" "$STATIC" <<'PY'
import json, sys
fixture, body_path, static_path = sys.argv[1:]
events = json.load(open(fixture))
event = events[0] if isinstance(events, list) else events
# As the Functions host sends it (tests/custom_handler.rs, `invocation`): Data.event is a JSON
# string holding a JSON string holding the indented event.
invocation = {
    "Data": {"event": json.dumps(json.dumps(event, indent=2))},
    "Metadata": {
        "data": "{\"ModelName\":\"x\"}",
        "eventTime": "06/26/2017 18:41:00",
        "sys": {"MethodName": "RunCompleted", "UtcNow": "2024-03-01T12:00:00.1Z",
                "RandomGuid": "6c3b4e36-1c9e-4a4e-9d1f-2f4c8f0f9c10"},
    },
}
with open(body_path, "w") as out:
    out.write(json.dumps(invocation, separators=(",", ":")))
# nginx's static answer: the very body aml-handlers gives this invocation (same size).
detail = "RunCompleted is not in AML_NOTIFY_ON"
answer = {
    "Logs": [f"RunCompleted {event['id']}: notify skipped: {detail}"],
    "Outputs": {},
    "ReturnValue": {"actions": [{"action": "notify", "detail": detail, "status": "skipped"}],
                    "eventId": event["id"], "eventType": event["eventType"], "function": "RunCompleted"},
}
with open(static_path, "w") as out:
    out.write(json.dumps(answer, separators=(",", ":")))
PY
STATIC_BODY="$(cat "$STATIC")"
case "$STATIC_BODY" in *"'"*|*'$'*) die "the static body holds a quote or \$ nginx would misread" ;; esac

# nginx: one process (no master, one worker, in the foreground), no access log.
NGINX_TEMPLATE="$RAW/nginx.conf.in"
cat >"$NGINX_TEMPLATE" <<EOF
daemon off;
master_process off;
worker_processes 1;
pid $RAW/nginx.pid;
error_log $RAW/nginx-error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $RAW/nginx-temp/body;
    proxy_temp_path $RAW/nginx-temp/proxy;
    fastcgi_temp_path $RAW/nginx-temp/fastcgi;
    uwsgi_temp_path $RAW/nginx-temp/uwsgi;
    scgi_temp_path $RAW/nginx-temp/scgi;
    client_body_buffer_size 64k;
    keepalive_requests 1000000;
    server {
        listen 127.0.0.1:@PORT@;
        default_type application/json;
        location = / { return 200 '{"name":"nginx","version":"static","functions":[]}'; }
        location / { return 200 '$STATIC_BODY'; }
    }
}
EOF

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# Nothing Azure reaches the servers: no credentials, no notify URL, dry run.
SERVER_ENV=(env -u IDENTITY_ENDPOINT -u IDENTITY_HEADER -u AZURE_TENANT_ID -u AZURE_CLIENT_ID
    -u AZURE_CLIENT_SECRET -u AZURE_AUTHORITY_HOST -u AML_NOTIFY_URL -u AML_NOTIFY_ON
    -u AML_NOTIFY_RUN_STATUSES -u AML_WORKSPACES -u AML_WEBHOOK_KEY -u RUST_LOG
    -u FUNCTIONS_CUSTOMHANDLER_PORT AML_DRY_RUN=1 NODE_ENV=production)

# The command line of a target, with @PORT@ for its port. Node and Python read the port from
# FUNCTIONS_CUSTOMHANDLER_PORT, as under the Functions host.
target_cmd() {
    case "$1" in
        aml-handlers) echo "$BINARY serve --port @PORT@" ;;
        node) echo "node $NODE_PEER/server.js" ;;
        python) echo "$VENV/bin/python $PY_PEER/server.py" ;;
        nginx) echo "$NGINX -e $RAW/nginx-error.log -c $RAW/nginx.conf" ;;
        actix-floor) echo "$BENCH/floor/target/release/actix-floor --answer $STATIC" ;;
        *) die "unknown target $1 (aml-handlers, node, python, nginx, actix-floor)" ;;
    esac
}

# invoke.lua's RUN argument: a number keeps one wrk run's event ids apart from another's (a new
# id on every request); nginx and actix-floor read no id, so they get the fixture's invocation
# unchanged ("static"), which spares wrk's core: the ceiling is then theirs, not wrk's.
run_tag() { # target number
    case "$1" in nginx | actix-floor) echo static ;; *) echo "$2" ;; esac
}

ticks() { # utime + stime of a process (all its threads), in clock ticks
    sed 's/^.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'
}

wait_ready() { # pid port: until GET / answers 200
    local _
    for _ in $(seq 1 600); do
        kill -0 "$1" 2>/dev/null || return 1
        [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "http://127.0.0.1:$2/" || true)" = 200 ] && return 0
        sleep 0.05
    done
    return 1
}

# "busy total steal" ticks of one core (cpuN) or of all (cpu), from /proc/stat.
cpu_ticks() {
    awk -v c="$1" '$1 == c { print $2 + $3 + $4 + $7 + $8, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9, $9 }' /proc/stat
}

# The machine may be shared (CI, another build): wait, up to QUIET_WAIT seconds, until all cores
# together are less than QUIET_PCT % busy over one second, so the servers are measured alone.
wait_quiet() {
    local waited=0 b0 t0 b1 t1 busy
    while :; do
        read -r b0 t0 _ < <(cpu_ticks cpu)
        sleep 1
        read -r b1 t1 _ < <(cpu_ticks cpu)
        busy=$(( (b1 - b0) * 100 / (t1 - t0 > 0 ? t1 - t0 : 1) ))
        [ "$busy" -lt "$QUIET_PCT" ] && return 0
        waited=$((waited + 1))
        if [ "$waited" -ge "$QUIET_WAIT" ]; then
            log "warning: the machine is still ${busy}% busy after ${QUIET_WAIT}s; measuring anyway"
            return 0
        fi
        [ $((waited % 10)) -eq 1 ] && log "waiting for the machine to quiet down (${busy}% busy)"
    done
}

CLK_TCK="$(getconf CLK_TCK)"

# ---------------------------------------------------------------------------------------------
# (c) Throughput, latency, CPU per invocation, peak RSS; (d) cold start.
# ---------------------------------------------------------------------------------------------
for target in $TARGETS; do
    cmd="$(target_cmd "$target")"
    port="$(free_port)"
    wait_quiet
    log "$target: taskset -c $SERVER_CPU ${cmd//@PORT@/$port}"
    out="$RAW/$target"
    if [ "$target" = nginx ]; then
        sed "s/@PORT@/$port/" "$NGINX_TEMPLATE" >"$RAW/nginx.conf"
    fi
    # Its log (one line per invocation on stderr, for all three handlers) goes to /dev/null: a
    # file would grow by hundreds of MB. To see why a server does not start, run the line above.
    # shellcheck disable=SC2086 # the command line is split on purpose
    taskset -c "$SERVER_CPU" "${SERVER_ENV[@]}" FUNCTIONS_CUSTOMHANDLER_PORT="$port" \
        ${cmd//@PORT@/$port} </dev/null >/dev/null 2>&1 &
    pid=$!
    PIDS+=("$pid")
    wait_ready "$pid" "$port" || die "$target did not answer GET / with 200"
    url="http://127.0.0.1:$port/RunCompleted"

    # One invocation first: a 200 carrying ReturnValue (nginx just returns its static body).
    status="$(curl -s -o "$out.response.json" -w '%{http_code}' -H 'Content-Type: application/json' \
        -H 'X-Azure-Functions-InvocationId: 00000000-0000-0000-0000-000000000001' \
        --data-binary @"$BODY" "$url")"
    [ "$status" = 200 ] || { cat "$out.response.json" >&2; die "$target answered $status to the invocation"; }
    if [ "$target" != nginx ]; then
        python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); assert r["ReturnValue"]["actions"], r' \
            "$out.response.json" || die "$target's answer has no ReturnValue with actions"
    fi
    response_bytes="$(wc -c <"$out.response.json")"

    log "$target: warm-up $WARMUP, then $DURATION at $CONNECTIONS connections"
    taskset -c "$LOAD_CPU" wrk -t1 -c"$CONNECTIONS" -d"$WARMUP" -s "$BENCH/invoke.lua" "$url" -- "$BODY" "$(run_tag "$target" 1)" >"$out.warmup.txt"
    # RUNS measured runs; the one with the median invocations/s is reported whole (its p99 and
    # CPU with it), so that one stall of the VM does not decide a row. A run during which
    # something else took more than NOISE_PCT % of the server's core (another build on a shared
    # machine, the hypervisor) is run again, up to NOISE_RETRIES times, after waiting for quiet;
    # the report shows the noise of the runs kept.
    for run in $(seq "$RUNS"); do
        attempt=0
        while :; do
            before="$(ticks "$pid")"
            read -r core_b0 core_t0 core_s0 < <(cpu_ticks "cpu$SERVER_CPU")
            taskset -c "$LOAD_CPU" wrk -t1 -c"$CONNECTIONS" -d"$DURATION" --latency -s "$BENCH/invoke.lua" "$url" -- "$BODY" "$(run_tag "$target" $((10 * run + attempt + 2)))" >"$out.wrk.$run.txt"
            after="$(ticks "$pid")"
            read -r core_b1 core_t1 core_s1 < <(cpu_ticks "cpu$SERVER_CPU")
            core_other=$(( core_b1 - core_b0 - (after - before) ))
            [ "$core_other" -ge 0 ] || core_other=0 # tick rounding
            noise_pct=$(( (core_other + core_s1 - core_s0) * 100 / (core_t1 - core_t0 > 0 ? core_t1 - core_t0 : 1) ))
            [ "$noise_pct" -le "$NOISE_PCT" ] && break
            attempt=$((attempt + 1))
            [ "$attempt" -le "$NOISE_RETRIES" ] || { log "$target: warning: ${noise_pct}% of its core went to other work; keeping this run"; break; }
            log "$target: ${noise_pct}% of its core went to other work during run $run; again (${attempt}/${NOISE_RETRIES})"
            wait_quiet
        done
        line="$(grep '^BENCH ' "$out.wrk.$run.txt")" || die "no result line from wrk for $target"
        {
            echo "$line" | tr ' ' '\n' | grep '='
            echo "cpu_ticks=$((after - before))"
            # The server's core during the run: ticks busy with anything but the server (other
            # processes, interrupts), stolen by the hypervisor, and in all.
            echo "core_other_ticks=$core_other"
            echo "attempts=$((attempt + 1))"
            echo "core_steal_ticks=$(( core_s1 - core_s0 ))"
            echo "core_total_ticks=$(( core_t1 - core_t0 ))"
        } >"$out.run.$run"
        log "$target: run $run/$RUNS: $(awk -F= '$1 == "requests" { r = $2 } $1 == "duration_us" { d = $2 } END { printf "%.0f inv/s", r / d * 1e6 }' "$out.run.$run")"
    done
    hwm_kb="$(awk '/^VmHWM:/ { print $2 }' "/proc/$pid/status")"
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    PIDS=() # ended: nothing left to end on exit

    # The median run by invocations/s (runs last the same time, to within wrk's rounding).
    median="$(for run in $(seq "$RUNS"); do
        awk -F= -v run="$run" '$1 == "requests" { r = $2 } $1 == "duration_us" { d = $2 } END { print r / d, run }' "$out.run.$run"
    done | sort -g | awk -v n="$RUNS" 'NR == int((n + 1) / 2) { print $2 }')"
    cp "$out.wrk.$median.txt" "$out.wrk.txt"
    grep -v '^BENCH ' "$out.wrk.txt" | sed 's/^/    /' >&2
    {
        echo "target=$target"
        cat "$out.run.$median"
        echo "clk_tck=$CLK_TCK"
        echo "peak_rss_kb=$hwm_kb"
        echo "response_bytes=$response_bytes"
        echo "runs=$RUNS"
        echo "median_run=$median"
        echo "runs_rps=$(for run in $(seq "$RUNS"); do
            awk -F= '$1 == "requests" { r = $2 } $1 == "duration_us" { d = $2 } END { printf "%.0f ", r / d * 1e6 }' "$out.run.$run"
        done)"
        echo "runs_p99_us=$(for run in $(seq "$RUNS"); do
            awk -F= '$1 == "p99_us" { printf "%s ", $2 }' "$out.run.$run"
        done)"
    } >"$out.result"

    log "$target: cold start, $COLD_RUNS runs"
    wait_quiet
    cold_args=(--runs "$COLD_RUNS" --cpu "$SERVER_CPU" --poll-cpu "$LOAD_CPU")
    [ "$target" = nginx ] && cold_args+=(--template "$NGINX_TEMPLATE" "$RAW/nginx.conf")
    # shellcheck disable=SC2086
    "${SERVER_ENV[@]}" python3 "$BENCH/coldstart.py" "${cold_args[@]}" \
        --env FUNCTIONS_CUSTOMHANDLER_PORT=@PORT@ -- $cmd >"$out.coldstart.json" &
    PIDS+=("$!") # on exit it is ended, and ends the server it started
    wait "$!" || die "$target: the cold start measurement failed"
    PIDS=()
    echo "cold=$(cat "$out.coldstart.json")" >>"$out.result"
done

# ---------------------------------------------------------------------------------------------
# (e) The table, the ratios, the machine.
# ---------------------------------------------------------------------------------------------
{
    echo "nproc=$(nproc)"
    echo "cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
    echo "kernel=$(uname -sr)"
    echo "date=$(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "loadavg=$(cut -d' ' -f1-3 /proc/loadavg)"
    echo "rustc=$(rustc --version 2>/dev/null | cut -d' ' -f2)"
    # The commit checked out (read from .git; the working tree may hold changes on top).
    head_ref="$(sed -n 's/^ref: //p' .git/HEAD 2>/dev/null || true)"
    if [ -n "$head_ref" ]; then
        echo "commit=$(cat ".git/$head_ref" 2>/dev/null || awk -v r="$head_ref" '$2 == r { print $1 }' .git/packed-refs 2>/dev/null || true)"
    else
        echo "commit=$(cat .git/HEAD 2>/dev/null || true)"
    fi
    echo "binary_sha256=$(sha256sum "$BINARY" | cut -c1-12)"
    echo "node=$(node --version)"
    echo "python=$("$VENV/bin/python" -c 'import platform; print(platform.python_version())')"
    echo "nginx=$("$NGINX" -v 2>&1 | sed 's/^.*nginx\///')"
    echo "wrk=$(wrk -v 2>&1 | head -1 | awk '{ print $2 }')"
    echo "duration=$DURATION"
    echo "runs=$RUNS"
    echo "warmup=$WARMUP"
    echo "connections=$CONNECTIONS"
    echo "cold_runs=$COLD_RUNS"
    echo "server_cpu=$SERVER_CPU"
    echo "load_cpu=$LOAD_CPU"
    echo "targets=$TARGETS"
    echo "invocation_bytes=$(wc -c <"$BODY")"
} >"$RAW/machine"
python3 "$BENCH/report.py" "$RAW" >"$RESULTS/latest.md"
echo
cat "$RESULTS/latest.md"
