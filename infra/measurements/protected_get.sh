#!/usr/bin/env bash
# A protected GET side by side: `GET passkey/credentials/` with a Bearer access token (a
# route both have), on the peer (the Python BlockAuth as ../shared/peer/bench.sh runs it)
# and on ours, with bench.sh's tools: wrk, every request on a new connection, c=8 and
# c=32, the median of BENCH_RUNS runs, peak memory of the serving processes. bench.sh has
# no GET workload; this is that workload.
#
#   bash infra/measurements/protected_get.sh     (from the project's root)
#
# Needs the peer installed (../shared/peer/setup.sh, PEER_START=0 is enough) and
# `cargo build --release -p blockauth-local`. Environment: PEER_DIR [../shared/peer],
# PEER_HOME [/tmp/peer], OURS_BIN [target/release/blockauth-local], BENCH_RUNS [3],
# BENCH_DURATION [10], BENCH_OUT [target/peer-bench]. Prints a Markdown table and keeps it
# in BENCH_OUT.
set -euo pipefail

PEER_DIR="$(cd "${PEER_DIR:-../shared/peer}" && pwd)"
export PEER_HOME="${PEER_HOME:-${TMPDIR:-/tmp}/peer}"
OURS_BIN="${OURS_BIN:-$PWD/target/release/blockauth-local}"
RUNS="${BENCH_RUNS:-3}"
DURATION="${BENCH_DURATION:-10}"
OUT="${BENCH_OUT:-$PWD/target/peer-bench}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PASSWORD="Correct-Horse-9-Battery"
CHEAP='{"address": "0x337C1a59Da3c795D91344DacAaA362Ef73019cAC"}'
# Ours: the same settings as bench.sh's.
OURS_ENV=(BLOCKAUTH_REQUEST_LIMIT=1000000 BLOCKAUTH_SEND_LIMIT=1000000
          BLOCKAUTH_LOGIN_FAILURE_LIMIT=1000000 BLOCKAUTH_ROTATE_REFRESH_TOKENS=true)

for tool in wrk curl python3; do command -v "$tool" >/dev/null || { echo "$tool is missing" >&2; exit 1; }; done
[[ -x "$PEER_HOME/venv/bin/gunicorn" ]] || { echo "no peer in $PEER_HOME: run $PEER_DIR/setup.sh" >&2; exit 1; }
[[ -x "$OURS_BIN" ]] || { echo "no $OURS_BIN: cargo build --release -p blockauth-local" >&2; exit 1; }

WORK="$(mktemp -d "${TMPDIR:-/tmp}/blockauth-get.XXXXXX")"
RESULTS="$WORK/results.jsonl"
SERVER_PID=""
cleanup() {
  [[ -n "$SERVER_PID" ]] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

wait_200() { # base pid
  for _ in $(seq 1 600); do
    [[ "$(curl -s --noproxy '*' -o /dev/null -w '%{http_code}' --json "$CHEAP" "$1/login/wallet/challenge/" || true)" == 200 ]] && return 0
    kill -0 "$2" 2>/dev/null || return 1
    sleep 0.05
  done
  return 1
}

start_peer() {
  export PEER_DATA="$WORK/peer-data" PEER_RAISE_LIMITS=1 DJANGO_SETTINGS_MODULE=peer_get
  export PYTHONPATH="$HERE/peer:$PEER_DIR/django"
  mkdir -p "$PEER_DATA"
  (cd "$PEER_DIR/django" && "$PEER_HOME/venv/bin/python" manage.py migrate --noinput -v 0 &&
    "$PEER_HOME/venv/bin/python" manage.py createcachetable -v 0)
  "$PEER_HOME/venv/bin/gunicorn" --chdir "$PEER_DIR/django" --worker-class sync --workers 2 \
    --bind 127.0.0.1:8000 --no-control-socket --log-level warning --error-logfile - \
    peerproj.wsgi:application >"$WORK/server.log" 2>&1 &
  SERVER_PID=$!
  BASE="http://127.0.0.1:8000/auth"
}

start_ours() {
  (cd "$WORK" && exec env "${OURS_ENV[@]}" "$OURS_BIN" --listen 127.0.0.1:3100 --data "$WORK/ours-data") \
    >"$WORK/server.log" 2>&1 &
  SERVER_PID=$!
  BASE="http://127.0.0.1:3100/auth"
}

for server in peer ours; do
  "start_$server"
  wait_200 "$BASE" "$SERVER_PID" || { tail -20 "$WORK/server.log" >&2; exit 1; }
  email="get-$server-$(date +%s%N)@example.com"
  python3 "$PEER_DIR/tools/client.py" seed --base "$BASE" --log "$WORK/server.log" --email "$email" --password "$PASSWORD" >&2
  access="$(curl -s --noproxy '*' --json "{\"identifier\": \"$email\", \"password\": \"$PASSWORD\"}" "$BASE/login/basic/" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["access"])')"
  # Python's children are the gunicorn workers; ours is one process.
  children=""; [[ "$server" == peer ]] && children=--children
  for c in 8 32; do
    for r in $(seq 1 "$RUNS"); do
      python3 "$PEER_DIR/tools/rss.py" --pid "$SERVER_PID" $children --duration "$DURATION" >"$WORK/rss.json" &
      rss_pid=$!
      BENCH_COMMON="$PEER_DIR/wrk/common.lua" BENCH_ACCESS="$access" \
        wrk -t1 -c"$c" -d"${DURATION}s" --timeout 10s -H 'Connection: close' \
          -s "$HERE/peer/get.lua" "$BASE/passkey/credentials/" >"$WORK/wrk.out" 2>&1
      wait "$rss_pid"
      line="$(grep '^{"requests"' "$WORK/wrk.out" | tail -1)"
      [[ -n "$line" ]] || { cat "$WORK/wrk.out" >&2; exit 1; }
      python3 -c 'import json, sys; row = json.loads(sys.argv[1]); row.update(json.loads(sys.argv[2])); row.update(server=sys.argv[3], c=int(sys.argv[4])); print(json.dumps(row))' \
        "$line" "$(cat "$WORK/rss.json")" "$server" "$c" | tee -a "$RESULTS" >&2
      sleep 1
    done
  done
  kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=""
done

mkdir -p "$OUT"
report="$OUT/protected-get-$(date -u +%Y%m%dT%H%M%SZ).md"
python3 - "$RESULTS" "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" "$RUNS" "$DURATION" >"$report" <<'EOF'
import json, statistics, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
commit, runs, duration = sys.argv[2], sys.argv[3], sys.argv[4]
def median(server, c, key):
    return statistics.median(r[key] for r in rows if r["server"] == server and r["c"] == c)
print(f"`GET passkey/credentials/` with a Bearer token, ours at `{commit}`: median of {runs} runs of {duration} s, "
      "wrk with 1 thread, every request on a new connection.\n")
print("| metric | peer | ours | ratio |\n|---|---:|---:|---:|")
for c in (8, 32):
    for key, name in (("rps", "requests/s ↑"), ("p50_ms", "p50 ms ↓"), ("p99_ms", "p99 ms ↓")):
        p, o = median("peer", c, key), median("ours", c, key)
        print(f"| c={c}: {name} | {p:,.1f} | {o:,.1f} | {o / p:.2f}× |")
p = max(r["rss_kib"] for r in rows if r["server"] == "peer") / 1024
o = max(r["rss_kib"] for r in rows if r["server"] == "ours") / 1024
print(f"| peak RSS, MiB ↓ | {p:.1f} | {o:.1f} | {o / p:.2f}× |")
bad = sum(r["non2xx"] + r["err_connect"] + r["err_read"] + r["err_write"] + r["err_timeout"] for r in rows)
print(f"\nNon-2xx answers and socket errors over all runs: {bad} (must be 0).")
EOF
cat "$report"
