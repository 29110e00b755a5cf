"""Error reporting with Sentry's SDK: on when SENTRY_DSN is set, off (not even imported into action) without.

Integrations: Django (request data, the view), Celery (task failures, with the task's name and id), logging
(ERROR lines become events, lower lines breadcrumbs). `send_default_pii=False`: no user emails, IP addresses,
cookies or request bodies, and the SDK's EventScrubber blanks any field named like a password, token, secret
or key (its default deny list).
"""

from __future__ import annotations

import logging


def sentry_init(*, dsn: str, environment: str, release: str | None, traces_sample_rate: float) -> bool:
    """Start the SDK when `dsn` is set; returns whether it did. Called once, from settings."""
    if not dsn:
        return False
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.django import DjangoIntegration
    from sentry_sdk.integrations.logging import LoggingIntegration
    from sentry_sdk.scrubber import EventScrubber

    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        release=release or None,
        integrations=[
            DjangoIntegration(),
            CeleryIntegration(),
            LoggingIntegration(level=logging.INFO, event_level=logging.ERROR),
        ],
        send_default_pii=False,
        event_scrubber=EventScrubber(recursive=True),
        traces_sample_rate=traces_sample_rate,
        max_request_body_size="never",
    )
    return True
