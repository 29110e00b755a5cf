"""Login is rate-limited against password guessing (django-axes, AXES_FAILURE_LIMIT = 5)."""

import pytest
from django.conf import settings
from django.test import Client

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _login(client: Client, password: str):
    return client.post("/accounts/login/", {"username": "owner@acme.example", "password": password})


def test_sixth_attempt_is_locked_out_even_with_the_right_password():
    UserFactory(email="owner@acme.example")
    client = Client()
    assert settings.AXES_FAILURE_LIMIT == 5
    for _ in range(4):
        assert _login(client, "wrong").status_code == 200  # the form again, with its error
    locked = _login(client, "wrong")  # the fifth failure reaches the limit
    assert locked.status_code == 429
    sixth = _login(client, "demo-password")
    assert sixth.status_code == 429
    assert "_auth_user_id" not in client.session
    assert Client().get("/").status_code == 302  # and nobody got in through another session


def test_right_password_before_the_limit_logs_in_and_resets_the_count():
    UserFactory(email="owner@acme.example")
    client = Client()
    for _ in range(4):
        _login(client, "wrong")
    assert _login(client, "demo-password").status_code == 302
    assert client.session.get("_auth_user_id")
    client.logout()
    for _ in range(4):  # the success reset the count: four more failures do not lock
        assert _login(client, "wrong").status_code == 200
    assert _login(client, "demo-password").status_code == 302


def test_changing_the_emails_case_does_not_reset_the_count():
    UserFactory(email="owner@acme.example")
    client = Client()
    for variant in ("owner@acme.example", "Owner@acme.example", "OWNER@ACME.EXAMPLE", " owner@acme.example",
                    "owner@Acme.Example"):
        client.post("/accounts/login/", {"username": variant, "password": "wrong"})
    assert _login(client, "demo-password").status_code == 429
