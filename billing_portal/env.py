"""Reads settings from the environment, failing at start with the variable's name when a value is malformed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import environ
from django.core.exceptions import ImproperlyConfigured

env = environ.Env()


def read(name: str, parse: Callable[[], Any]) -> Any:
    """Parse one variable; any parsing error becomes an ImproperlyConfigured that names the variable."""
    try:
        return parse()
    except ImproperlyConfigured:
        raise
    except Exception as exc:
        raise ImproperlyConfigured(f"Environment variable {name} is malformed: {exc}") from exc


def read_bool(name: str, default: bool) -> bool:
    raw = env.str(name, default=None)
    if raw is None:
        return default
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off", ""}:
        return False
    raise ImproperlyConfigured(f"Environment variable {name} is malformed: expected true/false, got {raw!r}")


def read_url(name: str, default: str | None, parse: Callable[[str], Any]) -> Any:
    raw = env.str(name, default=default)
    if raw is None:
        return None
    if "://" not in raw:
        raise ImproperlyConfigured(f"Environment variable {name} is malformed: expected a URL, got {raw!r}")
    return read(name, lambda: parse(raw))


POSTGRES_SCHEMES = ("postgres", "postgresql", "pgsql")


def database_url_config(url: str) -> dict:
    """A DATABASE_URL parsed by django-environ. PostgreSQL is the only engine: any other scheme is refused here,
    naming the variable, rather than failing later (or, for a database without exact decimals, never)."""
    scheme = url.split("://", 1)[0]
    if scheme not in POSTGRES_SCHEMES:
        raise ValueError(f"unsupported database scheme {scheme!r}; use postgres://user@host:port/name")
    return environ.Env.db_url_config(url)
