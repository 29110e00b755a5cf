import pytest

from apps.machine_api.ratelimit import rate_limit_reset


@pytest.fixture(autouse=True)
def _fresh_rate_limiter():
    """Each test starts with a limiter that has no cached client nor back-off."""
    rate_limit_reset()
    yield
    rate_limit_reset()


