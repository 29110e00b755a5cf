import pytest
from django.core import mail
from django.test import Client

from apps.usage.pricing import price_table


@pytest.fixture(autouse=True)
def _fresh_price_table():
    """Each test sees the price table as its own database holds it."""
    price_table.invalidate()
    yield
    price_table.invalidate()


@pytest.fixture
def outbox():
    mail.outbox = []
    return mail.outbox


class ApiClient:
    """Calls the machine API with a bearer key, sending and reading JSON."""

    def __init__(self, key: str):
        self.client = Client()
        self.key = key

    def post(self, path: str, body, **headers):
        import json

        data = body if isinstance(body, str | bytes) else json.dumps(body)
        return self.client.post(
            f"/api/v1{path}", data=data, content_type=headers.pop("content_type", "application/json"),
            HTTP_AUTHORIZATION=f"Bearer {self.key}", **headers,
        )
