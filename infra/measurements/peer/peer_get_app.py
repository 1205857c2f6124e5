"""See peer_get.py."""

from django.apps import AppConfig


class PeerGetConfig(AppConfig):
    name = "peer_get_app"

    def ready(self):
        from blockauth.passkey.views import PasskeyThrottles
        from blockauth.utils.rate_limiter import EnhancedThrottle

        PasskeyThrottles.CREDENTIALS = EnhancedThrottle(rate=(1_000_000, 1))
