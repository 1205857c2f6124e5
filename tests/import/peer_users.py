"""The users of tests/import/peer-dump.json and peer.sql, made in a real BlockAuth peer
(the Python package, `../shared/peer` beside this repository) through its ORM.

Run inside the peer's Django project, once per hasher (tests/import/README.md):

    PEER_HASHER=django python manage.py shell < peer_users.py    # PBKDF2 (Django's default)
    PEER_HASHER=argon2 python manage.py shell < peer_users.py    # the argon2 user only
"""

import datetime
import os

from django.contrib.auth import get_user_model
from blockauth.models import SocialIdentity  # noqa: F401 (the package's model)
from eth_account import Account
from eth_utils import keccak

User = get_user_model()
PASSWORD = "Correct-Horse-9-Battery"
AT = datetime.datetime(2026, 10, 1, 12, 0, tzinfo=datetime.timezone.utc)


def user(password=PASSWORD, **fields):
    made = User(**fields)
    if password is None:
        made.set_unusable_password()
    else:
        made.set_password(password)
    made.save()
    return made


if os.environ.get("PEER_HASHER") == "argon2":
    user(email="argon@example.com", is_verified=True, authentication_types=["EMAIL"],
         last_login=AT)
else:
    user(email="Ada@Example.com ", is_verified=True, authentication_types=["EMAIL"],
         last_login=AT)
    user(phone_number="+14155550123", is_verified=True, authentication_types=["PHONE"])
    # The tests' wallet 1 (tests/src/wallet.rs: the key is the Keccak-256 of its label),
    # stored lowercase as some clients send it.
    wallet = Account.from_key(keccak(text="blockauth test wallet 1")).address
    user(password=None, wallet_address=wallet.lower(), is_verified=True,
         authentication_types=["WALLET"])
    social = user(password=None, email="gina@example.com", is_verified=True,
                  authentication_types=["GOOGLE"])
    link = SocialIdentity.objects.create(
        provider="google", subject="108234567890123456789", user=social,
        email_at_link="gina@example.com", email_verified_at_link=True,
    )
    SocialIdentity.objects.filter(pk=link.pk).update(created_at=AT - datetime.timedelta(days=30))
    user(email="unverified@example.com", is_verified=False, authentication_types=["EMAIL"])
    user(password=None, email="nopass@example.com", is_verified=True,
         authentication_types=["PASSWORDLESS"])
    user(phone_number="555-0100", is_verified=True, authentication_types=["PHONE"])
    user(wallet_address="0xnot-an-address", is_verified=True, authentication_types=["WALLET"])
