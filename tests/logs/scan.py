"""Scans the functions' logs of a `sam local` run for what must never be logged.

    python scan.py LOG_DIR MOTO_URL

LOG_DIR: infra/sam-local's state folder (its sam*.log files hold every function's output);
MOTO_URL: the moto the functions used. Looked for: the tests' passwords, every code moto's
SES and SNS carried, anything shaped like a JWT, and the signing and TOTP keys' secrets.
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


def main():
    log_dir, moto = pathlib.Path(sys.argv[1]), sys.argv[2]
    found_codes = codes(moto)
    secrets = {"a password": PASSWORDS, "a key": keys(moto)}
    # A code is digits: only a whole number counts, not digits inside an id or a time.
    code_pattern = re.compile(r"(?<![0-9A-Za-z.])(%s)(?![0-9A-Za-z])" % "|".join(found_codes or ["^$"]))
    finds, lines = [], 0
    for log in sorted(log_dir.glob("sam*.log")):
        for number, line in enumerate(log.read_text(errors="replace").splitlines(), 1):
            lines += 1
            where = f"{log.name}:{number}"
            for what, values in secrets.items():
                if any(v and v in line for v in values):
                    finds.append(f"{where}: {what}")
            if JWT.search(line):
                finds.append(f"{where}: a token")
            # Codes only in the functions' own (JSON) lines: sam's lines carry times.
            if line.startswith("{") and found_codes and code_pattern.search(line):
                finds.append(f"{where}: a code")
    if finds:
        print("secrets in the functions' logs:", *finds, sep="\n  ")
        sys.exit(1)
    print(
        f"log scan: {lines} lines, {len(found_codes)} codes, {len(PASSWORDS)} passwords, "
        f"{len(secrets['a key'])} keys and any token: none found"
    )


main()
