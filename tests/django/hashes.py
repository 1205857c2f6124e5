"""Password hashes made by Django itself, for the moving-in tests.

    python hashes.py PASSWORD [PASSWORD ...]

prints a JSON object {format: {password: hash}}: one hash per password in each format a
BlockAuth/Django database holds by default (Django's PBKDF2-SHA256, its Argon2 hasher, its
bcrypt_sha256 hasher), at Django's own default parameters.

    python hashes.py --vectors

prints tests/django/vectors.json: also the formats older Django versions or settings leave
behind (pbkdf2_sha1, bcrypt, argon2i and argon2d), each with its password.

Needs Django, argon2-cffi and bcrypt (infra/requirements.txt).
"""

import json
import sys
from importlib.metadata import version

from django.conf import settings

HASHERS = {
    "pbkdf2_sha256": "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "argon2": "django.contrib.auth.hashers.Argon2PasswordHasher",
    "bcrypt_sha256": "django.contrib.auth.hashers.BCryptSHA256PasswordHasher",
}
OLDER = {
    "pbkdf2_sha1": "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "bcrypt": "django.contrib.auth.hashers.BCryptPasswordHasher",
}

settings.configure(PASSWORD_HASHERS=list(HASHERS.values()) + list(OLDER.values()))

import argon2  # noqa: E402 (after configure)
import django  # noqa: E402
from django.contrib.auth.hashers import Argon2PasswordHasher, make_password  # noqa: E402


def argon2_variant(password, kind):
    """What Django's Argon2 hasher stores for a hash of another argon2 type."""
    hasher = Argon2PasswordHasher()
    made = argon2.PasswordHasher(
        time_cost=hasher.time_cost,
        memory_cost=hasher.memory_cost,
        parallelism=hasher.parallelism,
        type=kind,
    ).hash(password)
    return "argon2" + made


def vectors():
    password = "Correct-Horse-9-Battery"
    made = [(name, make_password(password, hasher=name)) for name in {**HASHERS, **OLDER}]
    made.append(("argon2i", argon2_variant(password, argon2.Type.I)))
    made.append(("argon2d", argon2_variant(password, argon2.Type.D)))
    return {
        "made_by": f"tests/django/hashes.py --vectors: Django {django.get_version()}, "
        f"argon2-cffi {version('argon2-cffi')}, bcrypt {version('bcrypt')}",
        "vectors": [{"format": f, "password": password, "hash": h} for f, h in made],
    }


if sys.argv[1:] == ["--vectors"]:
    print(json.dumps(vectors(), indent=2))
else:
    passwords = sys.argv[1:]
    hashes = {name: {p: make_password(p, hasher=name) for p in passwords} for name in HASHERS}
    print(json.dumps(hashes))
