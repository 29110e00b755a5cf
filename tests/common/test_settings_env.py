"""A malformed environment variable stops the process at start with a message naming the variable."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def start(**overrides) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env.update(DJANGO_SETTINGS_MODULE="billing_portal.settings", DEBUG="true", SECRET_KEY="x" * 50,
               DATABASE_URL="postgres://postgres@127.0.0.1:5432/x")
    env.update(overrides)
    return subprocess.run([sys.executable, "-c", "import django; django.setup(); print('started')"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(("name", "value"), [
    ("DATABASE_URL", "notaurl"),
    ("DATABASE_URL", "postgres://db.example:port/app"),
    ("DATABASE_URL", "nosuchengine://db.example/app"),
    ("DATABASE_URL", "sqlite:///db.sqlite3"),  # PostgreSQL only: no database that keeps decimals as floats
    ("DEBUG", "maybe"),
    ("CELERY_BROKER_URL", "redis-on-localhost"),
    ("EMAIL_URL", "smtp"),
    ("CONN_MAX_AGE", "forever"),
    ("ORG_COUNTER_SLOTS", "sixteen"),
    ("AXES_ENABLED", "perhaps"),
])
def test_malformed_variable_fails_at_start_naming_it(name, value):
    result = start(**{name: value})
    assert result.returncode != 0
    assert "started" not in result.stdout
    last_line = result.stderr.strip().splitlines()[-1]
    assert "ImproperlyConfigured" in last_line
    assert f"Environment variable {name} is malformed" in last_line


def test_well_formed_environment_starts():
    result = start(DATABASE_URL="postgres://postgres@127.0.0.1:5432/x", DEBUG="false",
                   CELERY_BROKER_URL="redis://127.0.0.1:6379/1", EMAIL_URL="consolemail://", CONN_MAX_AGE="60")
    assert result.returncode == 0, result.stderr
    assert "started" in result.stdout


def test_an_unset_database_url_means_the_local_postgresql():
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE", "DATABASE_URL")}
    env.update(DJANGO_SETTINGS_MODULE="billing_portal.settings", DEBUG="true", SECRET_KEY="x" * 50)
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); from django.conf import settings; "
                               "d = settings.DATABASES['default']; "
                               "print(d['ENGINE'], d['HOST'], d['PORT'], d['NAME'])"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["django.db.backends.postgresql", "127.0.0.1", "5432", "billing_portal"]


def test_a_sqlite_url_is_refused_with_a_message_naming_postgresql():
    result = start(DATABASE_URL="sqlite:///db.sqlite3")
    assert "unsupported database scheme 'sqlite'; use postgres://" in result.stderr
