"""The peer's settings for the protected GET side by side (protected_get.sh): its own
settings (../shared/peer/django/peerproj/settings.py) and one app more, which lifts the
throttle BlockAuth hard-codes on `GET passkey/credentials/` (30 a minute), as the peer's
own peerapp/apps.py lifts the others with PEER_RAISE_LIMITS=1: the same class, at a rate
nobody reaches, so each request keeps its cost.
"""

from peerproj.settings import *  # noqa: F401,F403
from peerproj.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "peer_get_app.PeerGetConfig"]
