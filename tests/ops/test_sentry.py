"""Sentry's SDK starts when SENTRY_DSN is set, with the Django, Celery and logging integrations and no personal
data, and not at all without it. Each case is a fresh process with production settings; nothing is sent (no
error is captured, and the DSN names a port nobody listens on)."""

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROBE = (
    "import json, django; django.setup(); import sentry_sdk; from django.conf import settings;"
    "client = sentry_sdk.get_client();"
    "print(json.dumps({'active': client.is_active(), 'enabled': settings.SENTRY_ENABLED,"
    " 'pii': client.options.get('send_default_pii'), 'dsn': client.options.get('dsn'),"
    " 'integrations': sorted(getattr(client, 'integrations', {}))}))"
)


def probe(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "SENTRY_"))}
    env.update(DJANGO_SETTINGS_MODULE="billing_portal.settings", DEBUG="false", SECRET_KEY=secrets.token_urlsafe(50),
               **extra)
    result = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_sentry_starts_with_a_dsn_with_django_celery_and_logging_and_no_personal_data():
    state = probe(SENTRY_DSN="http://publickey@127.0.0.1:9/42")
    assert state["active"] and state["enabled"]
    assert state["pii"] is False
    assert {"django", "celery", "logging"} <= set(state["integrations"])


def test_sentry_stays_off_without_a_dsn():
    state = probe()
    assert state["active"] is False and state["enabled"] is False
    assert state["integrations"] == []
