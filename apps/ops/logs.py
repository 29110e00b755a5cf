"""Structured logs (structlog, with django-structlog for the request id and its hand-over to Celery tasks).

- Every line, the project's own and every library's (Django, Celery, gunicorn's through the root logger), goes
  through one structlog chain: time, level, logger, the bound context (request_id, user_id; in a task task_id,
  parent request_id), then `redact`, then JSON (LOG_FORMAT=json, production) or a readable line
  (LOG_FORMAT=console, `make demo`).
- The request id: X-Request-ID when the caller sent a sane one (RequestIdMiddleware), else a new UUID; bound by
  django-structlog's RequestMiddleware, carried in the headers of every Celery task the request queues
  (DJANGO_STRUCTLOG_CELERY_ENABLED) and echoed in the response's X-Request-ID.
- Nothing secret is logged: `redact` blanks values under sensitive keys and any API key, Admin API key, SCIM
  token, webhook signing secret, Stripe key, bearer credential or link token (invitation, unsubscribe, password
  reset) wherever it appears in a line (tests/ops/test_logs.py greps a run's logs).
"""

from __future__ import annotations

import re
import uuid

import structlog

REDACTED = "[redacted]"
SENSITIVE_KEY = re.compile(r"pass(word)?|secret|token|authorization|api[_-]?key|cookie|session|csrf|dsn", re.I)
_SECRET_PATTERNS = [
    re.compile(r"bp_(live|scim)_[A-Za-z0-9_\-]+"),  # machine API keys, SCIM tokens
    re.compile(r"sk-ant-[A-Za-z0-9_\-]+"),  # Admin API keys
    re.compile(r"whsec_[A-Za-z0-9+/=_\-]+"),  # webhook signing secrets
    re.compile(r"\b[sr]k_(live|test)_[A-Za-z0-9]+"),  # Stripe keys
    re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=\-]+"),
    re.compile(r"://[^/\s:@]+:[^/\s@]+@"),  # credentials in a URL (broker, database, SMTP)
]
# Tokens that travel in a link's path: invitation, unsubscribe, password reset.
_PATH_TOKENS = re.compile(r"(/invitations/|/unsubscribe/|/password/reset/[^/\s]+/)(?!done/|complete/)[^/\s?\"']+")


def scrub(text: str) -> str:
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(lambda m: f"://{REDACTED}@" if m.group(0).startswith("://") else REDACTED, text)
    return _PATH_TOKENS.sub(lambda m: m.group(1) + REDACTED, text)


def _clean(value):
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {k: (REDACTED if isinstance(k, str) and SENSITIVE_KEY.search(k) else _clean(v))
                for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_clean(v) for v in value)
    return value


def redact(logger, method_name, event_dict):
    """structlog processor: the last step before rendering, so nothing bypasses it."""
    for key, value in list(event_dict.items()):
        if key.startswith("_"):
            continue
        if SENSITIVE_KEY.search(key) and key not in ("session_id",):
            event_dict[key] = REDACTED
        else:
            event_dict[key] = _clean(value) if isinstance(value, str | dict | list | tuple) else value
    return event_dict


def _render_exception(logger, method_name, event_dict):
    """Tracebacks rendered to text first, so that `redact` sees them too."""
    return structlog.processors.format_exc_info(logger, method_name, event_dict)


SHARED_PROCESSORS = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.stdlib.PositionalArgumentsFormatter(),
    structlog.processors.TimeStamper(fmt="iso", utc=True),
]


def configure_structlog() -> None:
    structlog.configure(
        processors=[structlog.stdlib.filter_by_level, *SHARED_PROCESSORS,
                    structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


def logging_config(*, fmt: str, level: str) -> dict:
    """The LOGGING dict: one handler on stderr whose formatter is structlog's ProcessorFormatter."""
    renderer = (structlog.processors.JSONRenderer() if fmt == "json"
                else structlog.dev.ConsoleRenderer(colors=False))
    formatter = {
        "()": structlog.stdlib.ProcessorFormatter,
        "processors": [structlog.stdlib.ProcessorFormatter.remove_processors_meta, _render_exception, redact,
                       renderer],
        "foreign_pre_chain": SHARED_PROCESSORS,
    }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"structured": formatter},
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "structured"}},
        # django-structlog's request_started / request_finished lines are INFO (4xx too), 5xx ERROR: LOG_LEVEL=INFO
        # shows every request, the default WARNING only failures.
        "root": {"handlers": ["console"], "level": level},
    }


_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


class RequestIdMiddleware:
    """Takes X-Request-ID from the caller when it is a sane token (letters, digits, . _ : -, at most 128), else
    makes a UUID; hands it to django-structlog (which binds it to every log line and every task queued) and
    echoes it in the response. Goes before django_structlog.middlewares.RequestMiddleware."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        given = request.META.get("HTTP_X_REQUEST_ID", "")
        request_id = given if _REQUEST_ID.match(given) else str(uuid.uuid4())
        request.META["HTTP_X_REQUEST_ID"] = request_id
        request.request_id = request_id
        response = self.get_response(request)
        response["X-Request-ID"] = request_id
        return response
