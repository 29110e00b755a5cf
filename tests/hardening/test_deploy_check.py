"""`manage.py check --deploy` with production settings reports nothing."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

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
