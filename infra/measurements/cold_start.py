"""Cold starts of the release Lambda binaries, measured against a minimal Lambda Runtime API.

    cargo build --release --bins --workspace --exclude blockauth-local --exclude blockauth-tests
    cargo build --release --example hello_lambda -p blockauth
    bash infra/local-aws python3 infra/measurements/cold_start.py [runs]

infra/local-aws starts DynamoDB Local and moto (the secret, the table, the SES identity)
and exports infra/env.json, which points the functions at them. For each function this
starts its binary as Lambda would (AWS_LAMBDA_RUNTIME_API pointing here), then times:
  init   from exec to its first GET /invocation/next: reading settings, building the AWS
         clients, fetching the signing key from Secrets Manager;
  first  the first event, handed out to its response: the cold request;
  warm   a second, identical event.
It also reads the process's peak resident memory (VmHWM). Prints a Markdown table, with
each init beside the floor's: hello_lambda (shared/examples), the same runtime and profile
answering 200 with nothing else.
What this cannot show: the Lambda service's own share (download and unpacking of the zip,
the micro-VM), and real network round trips to AWS, which are slower than loopback.
"""

import json
import os
import statistics
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BASE = "/auth"
FLOOR = "hello_lambda"
ADDRESS = "0x337C1a59Da3c795D91344DacAaA362Ef73019cAC"


def requests(run):
    """One request per function, fresh identifiers each run so no rate limit is reached."""
    email = f"cold-{run}-{uuid.uuid4().hex[:8]}@example.com"
    return {
        "signup": ("signup/otp/resend/", {"email": email}),
        "login-basic": ("login/basic/", {"email": email, "password": "Correct-Horse-9-Battery"}),
        "login-passwordless": ("login/passwordless/", {"email": email}),
        "login-wallet": ("login/wallet/challenge/", {"address": ADDRESS}),
        "token": ("token/refresh/", {"refresh": "not-a-token"}),
        "password-reset": ("password/reset/", {"email": email}),
        "password-change": ("password/change/", {"new_password": "x"}),
        "email-change": ("email/change/confirm/", {"email": email, "otp": "123456"}),
        "wallet-email": ("wallet/email/add/", {"email": email}),
        "social": ("social/token/", {"code": "not-a-code"}),
        "passkey": ("passkey/auth/options/", {}),
        "account": ("sessions/revoke-all/", {}),
        "mfa": ("totp/verify/", {"mfa_token": "not-a-token", "code": "123456"}),
        "keys": (".well-known/jwks.json", {}),
        # The floor: a function that answers 200 and does nothing else.
        FLOOR: ("hello/", {}),
    }


def event(path, body, run):
    full = f"{BASE}/{path}"
    return {
        "version": "2.0",
        "routeKey": f"POST {full.rstrip('/')}",
        "rawPath": full,
        "rawQueryString": "",
        "headers": {"content-type": "application/json", "host": "api.example.com"},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "local",
            "domainName": "api.example.com",
            "domainPrefix": "api",
            "http": {
                "method": "POST",
                "path": full,
                "protocol": "HTTP/1.1",
                # A new client IP each run, so rate limits never answer instead.
                "sourceIp": f"198.51.{run % 250}.{(run // 250) % 250 + 1}",
                "userAgent": "cold-start",
            },
            "requestId": uuid.uuid4().hex,
            "routeKey": f"POST {full.rstrip('/')}",
            "stage": "$default",
            "time": "24/Nov/2026:10:00:00 +0000",
            "timeEpoch": int(time.time() * 1000),
        },
        "body": json.dumps(body),
        "isBase64Encoded": False,
    }


class RuntimeApi:
    """Hands out the queued events and notes when each step happens."""

    def __init__(self):
        self.events = []
        self.marks = []
        self.responses = []
        self.cond = threading.Condition()

    def mark(self, what, payload=None):
        with self.cond:
            self.marks.append((what, time.perf_counter()))
            if payload is not None:
                self.responses.append(payload)
            self.cond.notify_all()

    def wait_for(self, count, timeout=30):
        with self.cond:
            if not self.cond.wait_for(lambda: len(self.marks) >= count, timeout):
                raise TimeoutError(f"the function did not reach step {count}: {self.marks}")


def handler_for(api):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out in two writes: without TCP_NODELAY, Nagle and the
        # client's delayed ACK add ~40 ms to every answer on a kept-alive connection.
        disable_nagle_algorithm = True

        def log_message(self, *args):
            pass

        def reply(self, status, body=b"", headers=()):
            self.send_response(status)
            for k, v in headers:
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            if not self.path.endswith("/invocation/next"):
                return self.reply(404)
            api.mark("next")
            with api.cond:
                api.cond.wait_for(lambda: api.events)
                body = json.dumps(api.events.pop(0)).encode()
            self.reply(
                200,
                body,
                [
                    ("Lambda-Runtime-Aws-Request-Id", uuid.uuid4().hex),
                    ("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 30000)),
                    ("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:123456789012:function:f"),
                    ("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000"),
                ],
            )

        def do_POST(self):
            length = int(self.headers.get("Content-Length", 0))
            payload = self.rfile.read(length)
            if "/error" in self.path:
                api.mark("error", payload)
            else:
                api.mark("response", payload)
            self.reply(202)

    return Handler


def peak_rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def measure(binary, function, run):
    api = RuntimeApi()
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler_for(api))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    path, body = requests(run)[function]
    api.events = [event(path, body, run), event(path, body, run + 100_000)]
    env = dict(
        os.environ,
        AWS_LAMBDA_RUNTIME_API=f"127.0.0.1:{server.server_address[1]}",
        AWS_LAMBDA_FUNCTION_NAME=function,
        AWS_LAMBDA_FUNCTION_VERSION="$LATEST",
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE="256",
        AWS_LAMBDA_LOG_GROUP_NAME=f"/aws/lambda/{function}",
        AWS_LAMBDA_LOG_STREAM_NAME="cold-start",
        RUST_LOG="warn",
    )
    # Lambda's roots are one bundle file; a machine that also names a folder of them
    # (SSL_CERT_DIR) would have every function read each file of it at init.
    env.pop("SSL_CERT_DIR", None)
    start = time.perf_counter()
    process = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        # next, response, next, response, next (the third wait for an event)
        api.wait_for(5)
        rss = peak_rss_kib(process.pid)
    finally:
        process.kill()
        stderr = process.communicate()[1].decode(errors="replace")
        server.shutdown()
        server.server_close()
    if any(what == "error" for what, _ in api.marks):
        raise RuntimeError(f"{function} answered an error: {api.responses} {stderr}")
    (_, next1), (_, resp1), (_, next2), (_, resp2), _ = api.marks[:5]
    status = json.loads(api.responses[0]).get("statusCode")
    return {
        "init": (next1 - start) * 1000,
        "first": (resp1 - next1) * 1000,
        "warm": (resp2 - next2) * 1000,
        "rss": rss / 1024,
        "status": status,
    }


def main():
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    target = os.path.join("target", "release")
    rows = {}
    for function, (path, _) in requests(0).items():
        folder = os.path.join(target, "examples") if function == FLOOR else target
        binary = os.path.join(folder, function)
        rows[function] = (path, [measure(binary, function, run) for run in range(runs)])
    floor = statistics.median(r["init"] for r in rows[FLOOR][1])
    print("| function | request (answer) | init, ms | init / floor | first request, ms | warm request, ms | peak RSS, MiB |")
    print("|---|---|---|---:|---|---|---|")
    for function, (path, results) in rows.items():
        median = lambda k: statistics.median(r[k] for r in results)
        worst = lambda k: max(r[k] for r in results)
        statuses = sorted({r["status"] for r in results})
        print(
            f"| {function} | `POST {path}` ({'/'.join(map(str, statuses))}) "
            f"| {median('init'):.1f} (max {worst('init'):.1f}) | {median('init') / floor:.2f}× "
            f"| {median('first'):.1f} (max {worst('first'):.1f}) "
            f"| {median('warm'):.1f} | {median('rss'):.1f} |"
        )
    print(f"\nMedians of {runs} starts each (max in brackets).")


if __name__ == "__main__":
    main()
