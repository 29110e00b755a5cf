import pytest

from apps.gateway.ratelimit import rate_limit_reset


@pytest.fixture(autouse=True)
def _fresh_rate_limiter():
    """Each test starts with a limiter that has no cached client nor back-off."""
    rate_limit_reset()
    yield
    rate_limit_reset()


@pytest.fixture
def seeded_prices(transactional_db):
    """The price table the migrations seed, put back for transactional tests: the flush after any earlier
    transactional test empties it (serialized_rollback cannot be used, it collides with the content types the
    flush recreates)."""
    import importlib

    from django.apps import apps

    from apps.usage.pricing import price_table

    importlib.import_module("apps.usage.migrations.0002_seed_price_table").seed(apps, None)
    price_table.invalidate()


def celery_use_broker(url: str | None, *, eager: bool) -> None:
    """Point this process's Celery app at another broker (or back to eager), dropping its cached connection
    and producer pools, which would otherwise keep talking to the previous broker."""
    from billing_portal.celery import app

    app.conf.task_always_eager = eager
    app.conf.broker_url = url
    if app._pool is not None:
        app._pool.force_close_all()
        app._pool = None
    app.amqp._producer_pool = None
