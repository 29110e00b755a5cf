"""Production settings for the soak's gunicorn on loopback HTTP: identical except that the session and CSRF
cookies may travel over plain HTTP (the soak client has no TLS to talk to)."""

from billing_portal.settings import *  # noqa: F403

SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
# The soak runs its follow-ups in-process on purpose (no broker): not a deployment's mistake here.
SILENCED_SYSTEM_CHECKS = ["ops.E003"]
