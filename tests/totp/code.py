"""TOTP codes from an independent implementation (PyPI's pyotp), for the second-factor tests.

argv: the secret (base32), then one or more Unix times; stdout: a JSON list of the codes,
one per time (SHA-1, 6 digits, 30-second steps: RFC 6238's defaults, as the API uses).
"""

import json
import sys

import pyotp

secret, times = sys.argv[1], sys.argv[2:]
totp = pyotp.TOTP(secret)
print(json.dumps([totp.at(int(t)) for t in times]))
