"""Configuration that fails loudly: Django system checks (tag "ops", deployment checks), run by
`manage.py check --deploy` and, in production, at the start of every web and worker process
(`refuse_misconfiguration`, called from billing_portal/wsgi.py and Celery's worker_init). Each refusal names the
variable and what to set.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlparse

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured

TAG = "ops"
STRIPE_PROVIDERS = ("stripe", "apps.extra_usage.payments.StripeProvider")


def _loopback(host: str | None) -> bool:
    if host in ("localhost",):
        return True
    try:
        return ipaddress.ip_address(host or "").is_loopback
    except ValueError:
        return False


@checks.register(TAG, deploy=True)
def site_url_check(app_configs, **kwargs):
    """SITE_URL is in every email link, invitation, unsubscribe link and Stripe return URL."""
    if not settings.SITE_URL_FROM_ENV:
        return [checks.Error("SITE_URL is not set: every email link, invitation and payment return URL would "
                             "point at http://127.0.0.1:8000.", hint="Set SITE_URL to the portal's public "
                             "address, e.g. https://billing.example.com", id="ops.E001")]
    parsed = urlparse(settings.SITE_URL)
    if parsed.scheme == "https" and parsed.hostname:
        return []
    if parsed.scheme == "http" and _loopback(parsed.hostname):
        return []  # a demo or benchmark on this machine only: nobody else can follow its links anyway
    return [checks.Error(f"SITE_URL must be an https:// address, got {settings.SITE_URL!r}.",
                         hint="Set SITE_URL to the portal's public https:// address (plain http:// is accepted "
                         "only for a loopback address)", id="ops.E002")]


@checks.register(TAG, deploy=True)
def broker_check(app_configs, **kwargs):
    if not settings.DEBUG and settings.CELERY_TASK_ALWAYS_EAGER:
        return [checks.Error("CELERY_BROKER_URL is not set with DEBUG off: tasks would run inside web requests, "
                             "with no retries, no beat and no workers.",
                             hint="Set CELERY_BROKER_URL, e.g. redis://127.0.0.1:6379/1, and run the worker and "
                             "beat (docs/deploy.md)", id="ops.E003")]
    return []


@checks.register(TAG, deploy=True)
def payment_provider_check(app_configs, **kwargs):
    if settings.PAYMENT_PROVIDER not in STRIPE_PROVIDERS:
        return []
    missing = [name for name in ("STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET") if not getattr(settings, name, "")]
    if not missing:
        return []
    return [checks.Error(f"PAYMENT_PROVIDER is Stripe but {' and '.join(missing)} is not set: "
                         + ("every Stripe webhook would be refused with a 400."
                            if missing == ["STRIPE_WEBHOOK_SECRET"] else "no charge could be made."),
                         hint="Set " + ", ".join(missing) + " from the Stripe dashboard (Developers > API keys, "
                         "Webhooks > signing secret)", id="ops.E004")]


def refuse_misconfiguration() -> None:
    """In production (OPS_REFUSE_AT_START, on when DEBUG is off), stop a web or worker process at start when a
    check tagged "ops" (any app may register one with this tag) reports an error, naming each. Django's own
    deployment checks stay warnings for `check --deploy` to show."""
    if not settings.OPS_REFUSE_AT_START:
        return
    errors = [message for message in checks.run_checks(include_deployment_checks=True, tags=[TAG])
              if message.level >= checks.ERROR and not message.is_silenced()]
    if errors:
        raise ImproperlyConfigured("Refusing to start:\n" + "\n".join(
            f"  {message.id}: {message.msg} {message.hint or ''}".rstrip() for message in errors))
