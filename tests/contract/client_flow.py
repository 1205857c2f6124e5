"""A client generated from the OpenAPI description (openapi-python-client), used as a
client team would: sign up, confirm with the mailed code, sign in, refresh, change the
password, sign out. Run by tests/tests/contract.rs:

    python client_flow.py GENERATED_DIR BASE_URL OUTBOX_DIR
"""

import pathlib
import re
import sys

generated, base_url, outbox = sys.argv[1:4]
sys.path.insert(0, generated)

from blockauth_client import AuthenticatedClient, Client  # noqa: E402
from blockauth_client.api.basic_login import login_basic  # noqa: E402
from blockauth_client.api.password_change import password_change  # noqa: E402
from blockauth_client.api.signup import signup, signup_confirm  # noqa: E402
from blockauth_client.api.token_refresh import token_refresh, token_revoke  # noqa: E402
from blockauth_client.models import (  # noqa: E402
    LoginBasicRequest,
    Message,
    PasswordChangeRequest,
    Session,
    SignupConfirmRequest,
    SignupRequest,
    TokenRefreshRequest,
    TokenRevokeRequest,
)

EMAIL = "client@example.com"
PASSWORD = "Correct-Horse-9-Battery"
NEW_PASSWORD = "Battery-Staple-7-Horse"


def expect(kind, answer):
    assert isinstance(answer, kind), f"expected {kind.__name__}, got {answer!r}"
    return answer


def mailed_code(to):
    for message in sorted(pathlib.Path(outbox).iterdir()):
        text = message.read_text()
        if f"To: {to}" in text:
            code = re.search(r"\b(\d{6})\b", text)
    return code.group(1)


client = Client(base_url=base_url)
expect(Message, signup.sync(client=client, body=SignupRequest(email=EMAIL, password=PASSWORD)))
confirm = SignupConfirmRequest(email=EMAIL, otp=mailed_code(EMAIL))
signed_up = expect(Session, signup_confirm.sync(client=client, body=confirm))
assert signed_up.user.email == EMAIL and signed_up.user.is_verified

# (An account with a second factor would get MfaRequired here instead.)
signed_in = expect(
    Session, login_basic.sync(client=client, body=LoginBasicRequest(email=EMAIL, password=PASSWORD))
)
refreshed = expect(
    Session, token_refresh.sync(client=client, body=TokenRefreshRequest(refresh=signed_in.refresh))
)
assert refreshed.refresh != signed_in.refresh

user = AuthenticatedClient(base_url=base_url, token=refreshed.access)
change = PasswordChangeRequest(old_password=PASSWORD, new_password=NEW_PASSWORD)
changed = expect(Session, password_change.sync(client=user, body=change))

revoked = token_revoke.sync_detailed(client=client, body=TokenRevokeRequest(refresh=changed.refresh))
assert revoked.status_code == 204, revoked
again = token_refresh.sync_detailed(client=client, body=TokenRefreshRequest(refresh=changed.refresh))
assert again.status_code == 401, again
print("the generated client signed up, in, refreshed, changed the password and out")
