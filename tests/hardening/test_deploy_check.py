"""`manage.py check --deploy` with production settings reports nothing."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_check_deploy_with_production_settings_reports_no_issues():
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE", "DJANGO_ALLOW_ASYNC_UNSAFE")}
    env.update(DJANGO_SETTINGS_MODULE="billing_portal.settings", DEBUG="false",
               SECRET_KEY=secrets.token_urlsafe(50), ALLOWED_HOSTS="billing.example.com",
               CSRF_TRUSTED_ORIGINS="https://billing.example.com")
    env.pop("SECURE_SSL_REDIRECT", None)
    result = subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def _check_deploy(**overrides) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE", "DJANGO_ALLOW_ASYNC_UNSAFE",
                                                            "SECURE_SSL_REDIRECT", "OUTBOUND_ALLOWED_NETWORKS")}
    env.update(DJANGO_SETTINGS_MODULE="billing_portal.settings", DEBUG="false",
               SECRET_KEY=secrets.token_urlsafe(50), ALLOWED_HOSTS="billing.example.com",
               CSRF_TRUSTED_ORIGINS="https://billing.example.com", **overrides)
    return subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


def test_nothing_is_silenced_in_production_settings():
    code = "import django;django.setup();from django.conf import settings as s;print(s.SILENCED_SYSTEM_CHECKS)"
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env.update(DJANGO_SETTINGS_MODULE="billing_portal.settings", DEBUG="false", SECRET_KEY=secrets.token_urlsafe(50))
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=60)
    assert result.stdout.strip() == "[]", result.stderr


@pytest.mark.parametrize("networks", ["127.0.0.1/32", "10.0.0.0/8", "192.168.1.0/24,8.8.8.0/24", "169.254.0.0/16",
                                      "0.0.0.0/0", "::1/128", "fd00::/8"])
def test_an_outbound_allow_list_opening_private_ranges_fails_the_deploy_check(networks):
    result = _check_deploy(OUTBOUND_ALLOWED_NETWORKS=networks)
    assert result.returncode != 0
    assert "common.E001" in result.stderr + result.stdout
    assert "OUTBOUND_ALLOWED_NETWORKS opens non-public networks" in result.stderr + result.stdout


def test_an_outbound_allow_list_of_public_networks_passes_the_deploy_check():
    result = _check_deploy(OUTBOUND_ALLOWED_NETWORKS="8.8.8.0/24")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_a_malformed_outbound_allow_list_stops_the_process():
    result = _check_deploy(OUTBOUND_ALLOWED_NETWORKS="localhost")
    assert result.returncode != 0 and "OUTBOUND_ALLOWED_NETWORKS is malformed" in result.stderr


def test_production_settings_refuse_to_start_without_a_secret_key():
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE", "SECRET_KEY")}
    env.update(DJANGO_SETTINGS_MODULE="billing_portal.settings", DEBUG="false", SECRET_KEY="")
    result = subprocess.run([sys.executable, "manage.py", "check", "--deploy"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "SECRET_KEY is required" in result.stderr


def test_production_responses_carry_hsts_secure_cookies_and_csp():
    code = (
        "import django;django.setup();from django.conf import settings as s;"
        "print(s.SECURE_HSTS_SECONDS, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_SSL_REDIRECT,"
        " 'csp.middleware.CSPMiddleware' in s.MIDDLEWARE, s.CONTENT_SECURITY_POLICY['DIRECTIVES']['script-src'])"
    )
    env = dict(os.environ)
    env.update(DJANGO_SETTINGS_MODULE="billing_portal.settings", DEBUG="false", SECRET_KEY=secrets.token_urlsafe(50))
    env.pop("SECURE_SSL_REDIRECT", None)
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=60)
    assert result.stdout.split() == ["31536000", "True", "True", "True", "True", "[\"'self'\"]"], result.stderr
