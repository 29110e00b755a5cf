"""Settings for the test suite: PostgreSQL and Redis on localhost unless the environment says otherwise."""

import os

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/billing_portal")
os.environ.setdefault("SECRET_KEY", "test-only-secret-key-0123456789abcdefghijklmnopqrstuvwxyz")
os.environ.setdefault("DEBUG", "false")
os.environ.setdefault("SECURE_SSL_REDIRECT", "false")
os.environ.setdefault("ALLOWED_HOSTS", "testserver,127.0.0.1,localhost")
os.environ.setdefault("EMAIL_URL", "consolemail://")

from billing_portal.settings import *  # noqa: E402,F403

EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast logins in tests only
# Secure cookies need HTTPS; the live-server browser tests speak plain HTTP on loopback.
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
# Static files from the source folders under their plain names (production serves collectstatic's hashed copies),
# never from a staticfiles/ folder an earlier `make demo` collected, which may be stale.
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}  # noqa: F405
STATIC_ROOT = None
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
# The suite's peers (webhook receivers, npm oidc-provider) listen on 127.0.0.1: the outbound guard's allow-list
# opens exactly that address (never an off-switch); the guard's own tests narrow it again.
OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.1/32"]
# The suite runs production settings without a broker or SITE_URL: no refusal at the start of a worker it runs.
OPS_REFUSE_AT_START = False
