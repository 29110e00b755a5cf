"""`manage.py check --deploy` with production settings reports nothing when the configuration is complete, and
refuses (an error naming the variable) each thing a deployment can get wrong (apps/ops/checks.py); the web
process refuses to start on the same errors."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
COMPLETE = {"DEBUG": "false", "ALLOWED_HOSTS": "billing.example.com",
            "CSRF_TRUSTED_ORIGINS": "https://billing.example.com", "SITE_URL": "https://billing.example.com",
            "CELERY_BROKER_URL": "redis://127.0.0.1:6379/1"}


def production_env(**changes) -> dict:
    env = {k: v for k, v in os.environ.items()
           if k not in ("DJANGO_SETTINGS_MODULE", "DJANGO_ALLOW_ASYNC_UNSAFE", "SECURE_SSL_REDIRECT", "SITE_URL",
                        "CELERY_BROKER_URL", "PAYMENT_PROVIDER", "STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET",
                        "OPS_REFUSE_AT_START", "OUTBOUND_ALLOWED_NETWORKS")}
    env.update(DJANGO_SETTINGS_MODULE="billing_portal.settings", SECRET_KEY=secrets.token_urlsafe(50), **COMPLETE)
    for name, value in changes.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def check_deploy(**changes) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
                          cwd=ROOT, env=production_env(**changes), capture_output=True, text=True, timeout=60)


def test_check_deploy_with_production_settings_reports_no_issues():
    result = check_deploy()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


@pytest.mark.parametrize(("changes", "error_id", "names"), [
    ({"SITE_URL": None}, "ops.E001", "SITE_URL is not set"),
    ({"SITE_URL": "http://billing.example.com"}, "ops.E002", "SITE_URL must be an https://"),
    ({"SITE_URL": "billing.example.com"}, "ops.E002", "SITE_URL must be an https://"),
    ({"CELERY_BROKER_URL": None}, "ops.E003", "CELERY_BROKER_URL is not set"),
    ({"PAYMENT_PROVIDER": "stripe", "STRIPE_SECRET_KEY": "sk_test_x"}, "ops.E004", "STRIPE_WEBHOOK_SECRET"),
], ids=["site-url-missing", "site-url-http", "site-url-no-scheme", "no-broker", "stripe-without-webhook-secret"])
def test_check_deploy_refuses_each_misconfiguration(changes, error_id, names):
    result = check_deploy(**changes)
    assert result.returncode != 0
    assert f"({error_id})" in result.stderr + result.stdout
    assert names in result.stderr + result.stdout


def test_a_loopback_http_site_url_is_accepted_for_a_demo_on_this_machine():
    result = check_deploy(SITE_URL="http://127.0.0.1:8000")
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_web_process_refuses_to_start_on_a_deployment_error():
    code = "import billing_portal.wsgi"
    refused = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=production_env(SITE_URL=None),
                             capture_output=True, text=True, timeout=60)
    assert refused.returncode != 0
    assert "Refusing to start" in refused.stderr and "ops.E001" in refused.stderr
    started = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=production_env(), capture_output=True,
                             text=True, timeout=60)
    assert started.returncode == 0, started.stderr[-2000:]


def test_nothing_is_silenced_in_production_settings():
    code = "import django;django.setup();from django.conf import settings as s;print(s.SILENCED_SYSTEM_CHECKS)"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=production_env(), capture_output=True,
                            text=True, timeout=60)
    assert result.stdout.strip() == "[]", result.stderr


@pytest.mark.parametrize("networks", ["127.0.0.1/32", "10.0.0.0/8", "192.168.1.0/24,8.8.8.0/24", "169.254.0.0/16",
                                      "0.0.0.0/0", "::1/128", "fd00::/8"])
def test_an_outbound_allow_list_opening_private_ranges_fails_the_deploy_check(networks):
    result = check_deploy(OUTBOUND_ALLOWED_NETWORKS=networks)
    assert result.returncode != 0
    assert "(common.E001)" in result.stderr + result.stdout
    assert "OUTBOUND_ALLOWED_NETWORKS opens non-public networks" in result.stderr + result.stdout


def test_an_outbound_allow_list_of_public_networks_passes_the_deploy_check():
    result = check_deploy(OUTBOUND_ALLOWED_NETWORKS="8.8.8.0/24")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_a_malformed_outbound_allow_list_stops_the_process():
    result = check_deploy(OUTBOUND_ALLOWED_NETWORKS="localhost")
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
