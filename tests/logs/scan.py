"""Scans logs for what must never be logged.

    python scan.py LOG_DIR MOTO_URL
    python scan.py --tests TEST_LOG_DIR

LOG_DIR: infra/sam-local's state folder (its sam*.log files hold every function's output);
MOTO_URL: the moto the functions used. Looked for: the tests' passwords, every code moto's
SES and SNS carried, anything shaped like a JWT, and the signing and TOTP keys' secrets.
TEST_LOG_DIR: the in-process test servers' logs (tests/src/logs.rs), each beside the
passwords, codes and keys its tests used.
Exits 1 naming each find (the secret itself is never printed), else prints what it read.
"""

import json
import pathlib
import re
import sys
import urllib.request

import boto3

# The passwords tests/tests/sam_local.rs signs up and resets with.
PASSWORDS = ["Correct-Horse-9-Battery", "Reset-Horse-7-Battery"]
JWT = re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}")


def codes(moto):
    data = json.load(urllib.request.urlopen(f"{moto}/moto-api/data.json"))
    texts = [m.get("subject", "") for m in data.get("ses", {}).get("Message", [])]
    texts += [m.get("message", "") for m in data.get("sns", {}).get("Message", [])]
    return {c for t in texts for c in re.findall(r"code(?: is|:) (\d{4,10})", t)}


def keys(moto):
    client = boto3.client(
        "secretsmanager",
        endpoint_url=moto,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    names = [s["Name"] for s in client.list_secrets()["SecretList"]]
    return [client.get_secret_value(SecretId=n)["SecretString"] for n in names]


def scan(logs, secrets, found_codes):
    """Finds, per line of `logs`, any of `secrets` ({what: values}), any token, any code."""
    # One pattern per kind: thousands of keys and passwords, each line read once.
    patterns = {
        what: re.compile("|".join(re.escape(v) for v in values if v))
        for what, values in secrets.items()
        if any(values)
    }
    # A code is digits: only a whole number counts, not digits inside an id or a time.
    code_pattern = re.compile(r"(?<![0-9A-Za-z.])(%s)(?![0-9A-Za-z])" % "|".join(sorted(found_codes) or ["^$"]))
    finds, lines = [], 0
    for log in logs:
        for number, line in enumerate(log.read_text(errors="replace").splitlines(), 1):
            lines += 1
            where = f"{log.name}:{number}"
            finds += [f"{where}: {what}" for what, p in patterns.items() if p.search(line)]
            if JWT.search(line):
                finds.append(f"{where}: a token")
            # Codes only in our own (JSON) lines: sam's lines carry times.
            if line.startswith("{") and found_codes and code_pattern.search(line):
                finds.append(f"{where}: a code")
    if finds:
        print("secrets in the logs:", *finds, sep="\n  ")
        sys.exit(1)
    counts = ", ".join(f"{len(set(v))} {what[2:]}s" for what, v in secrets.items())
    print(f"log scan: {lines} lines of {len(logs)} files; {len(found_codes)} codes, {counts} and any token: none found")


def main():
    if sys.argv[1] == "--tests":
        # The in-process test servers' logs, and what the tests noted beside them (src/logs.rs).
        log_dir = pathlib.Path(sys.argv[2])
        noted = [json.loads(line) for f in log_dir.glob("*.secrets") for line in f.read_text().splitlines()]
        secrets = {"a password": [], "a key": []}
        found_codes = set()
        for entry in noted:
            if entry["what"] == "a code":
                found_codes.add(entry["value"])
            else:
                secrets[entry["what"]].append(entry["value"])
        logs = sorted(log_dir.glob("*.log"))
        if not logs:
            sys.exit(f"no test logs in {log_dir}")
        scan(logs, secrets, found_codes)
        return
    log_dir, moto = pathlib.Path(sys.argv[1]), sys.argv[2]
    secrets = {"a password": PASSWORDS, "a key": keys(moto)}
    scan(sorted(log_dir.glob("sam*.log")), secrets, codes(moto))


main()
