"""Verifies BlockAuth tokens as a third party does, knowing only the issuer: its discovery
document names the key set (JWKS), and PyJWT (with cryptography) checks each token with the
key its `kid` names, the discovery's algorithm, the issuer and an audience.

stdin: a JSON list of {"token", "issuer", "audience"}; stdout: a JSON list, one answer each,
{"ok": true, "claims": {...}, "kid": ...} or {"ok": false, "error": "..."}.
"""

import json
import sys
import urllib.request

import jwt


def verify(request):
    issuer = request["issuer"]
    with urllib.request.urlopen(issuer.rstrip("/") + "/.well-known/openid-configuration") as answer:
        discovery = json.load(answer)
    if discovery["issuer"] != issuer:
        raise ValueError(f"the discovery document names the issuer {discovery['issuer']!r}")
    keys = jwt.PyJWKClient(discovery["jwks_uri"], cache_keys=False, cache_jwk_set=False)
    key = keys.get_signing_key_from_jwt(request["token"])
    claims = jwt.decode(
        request["token"],
        key.key,
        algorithms=discovery["id_token_signing_alg_values_supported"],
        audience=request["audience"],
        issuer=issuer,
        options={"require": ["exp", "iat", "iss", "aud", "sub"]},
    )
    return {"ok": True, "claims": claims, "kid": key.key_id}


answers = []
for request in json.load(sys.stdin):
    try:
        answers.append(verify(request))
    except Exception as failure:  # any refusal is an answer, not a crash
        answers.append({"ok": False, "error": f"{type(failure).__name__}: {failure}"})
print(json.dumps(answers))
