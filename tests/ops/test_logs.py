"""Structured logs: a request id in every line and in the tasks a request queues (through a real worker), echoed
in X-Request-ID; and no secret, key or token in a run's logs."""

import io
import json
import logging
import logging.config
import os
import uuid
from decimal import Decimal
from pathlib import Path

import pytest
import structlog
from django.conf import settings
from django.test import Client, override_settings
from django.utils import timezone

from apps.admin_api.models import AdminScope
from apps.admin_api.services import admin_api_key_create
from apps.organizations.models import PlanKind, Role
from apps.organizations.services import invitation_create
from apps.usage.models import CapScope
from apps.usage.services import cap_set
from apps.webhooks.models import EventType
from apps.webhooks.services import endpoint_create
from tests.conftest import ApiClient, celery_worker_running, wait_for
from tests.factories import OrganizationFactory, api_key, member

ROOT = Path(__file__).resolve().parents[2]
BROKER = os.environ.get("OPS_TEST_BROKER_URL", "redis://127.0.0.1:6379/11")


@pytest.fixture
def captured_logs():
    """Every log line of this process, DEBUG and up, rendered as production renders them (JSON)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.config.DictConfigurator({}).configure_formatter(
        dict(settings.LOGGING["formatters"]["structured"])))  # a copy: the configurator pops "()"
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)


def lines(stream) -> list[dict]:
    """Every line is one JSON object."""
    bad = [line for line in stream.getvalue().splitlines() if not line.startswith("{")]
    assert not bad, bad[:3]
    return [json.loads(line) for line in stream.getvalue().splitlines()]


@pytest.mark.django_db
def test_every_line_of_a_request_carries_its_request_id_and_the_response_echoes_it(captured_logs):
    response = Client().get("/accounts/login/", HTTP_X_REQUEST_ID="req-abc.123")
    assert response["X-Request-ID"] == "req-abc.123"
    logging.getLogger("apps.test").info("outside any request")
    records = lines(captured_logs)
    in_request = [r for r in records if r.get("event") in ("request_started", "request_finished")]
    assert [r["event"] for r in in_request] == ["request_started", "request_finished"]
    assert all(r["request_id"] == "req-abc.123" for r in in_request)
    assert all({"timestamp", "level", "logger"} <= set(r) for r in records)

    generated = Client().get("/health/live")["X-Request-ID"]
    assert uuid.UUID(generated)
    hostile = Client().get("/health/live", HTTP_X_REQUEST_ID='x" \n{"admin": true}')["X-Request-ID"]
    assert uuid.UUID(hostile)  # not a sane token: replaced, never echoed or logged as sent


@pytest.fixture
def worker(tmp_path):
    with celery_worker_running(tmp_path, BROKER, hostname="ops-test", args=("-Q", "followups,notices,default"),
                               env={"LOG_LEVEL": "INFO", "LOG_FORMAT": "json"}, log_stdout=True) as log_path:
        yield log_path


@pytest.mark.django_db(transaction=True)
@pytest.mark.celery_worker
def test_the_request_id_travels_into_the_task_the_request_queued(worker):
    org = OrganizationFactory(plan_kind=PlanKind.ENTERPRISE_USAGE)
    dev = member(org, email="dev@example.com", tier_code="chat")
    cap_set(organization=org, scope=CapScope.MEMBER, membership=dev, amount=Decimal("1.00"))
    # $0.90 of a $1.00 limit: the 80% notice is due, so the request queues the usage follow-ups after commit.
    event = {"idempotency_key": "rid-1", "member": "dev@example.com", "product": "chat",
             "model": "claude-haiku-4-5", "usage": {"input_tokens": 900_000, "output_tokens": 0}}
    response = ApiClient(api_key(org)).post("/usage", event, HTTP_X_REQUEST_ID="rid-task-42")
    assert response.status_code == 201, response.content
    assert response["X-Request-ID"] == "rid-task-42"

    def task_lines():
        records = []
        for line in worker.read_text().splitlines():
            if line.startswith("{"):
                record = json.loads(line)
                if record.get("task_id") and record.get("request_id") == "rid-task-42":
                    records.append(record)
        return records

    assert wait_for(lambda: any(r["event"] == "task_succeeded" for r in task_lines()), timeout=60), \
        worker.read_text()[-3000:]
    assert {r["event"] for r in task_lines()} >= {"task_started", "task_succeeded"}


@pytest.mark.django_db
def test_no_secret_key_or_token_reaches_the_logs(captured_logs, django_capture_on_commit_callbacks):
    org = OrganizationFactory(plan_kind=PlanKind.ENTERPRISE_SEAT)
    owner = member(org, email="owner@example.com", role=Role.OWNER)
    member(org, email="dev@example.com", tier_code="standard")
    machine_key = api_key(org)
    now = timezone.now()
    _, admin_key = admin_api_key_create(organization=org, name="ci", scopes=[AdminScope.READ_SPEND_LIMITS], now=now)
    _, invitation_token = invitation_create(organization=org, email="new@example.com", actor_membership=owner,
                                            now=now)
    with override_settings(WEBHOOKS_REQUIRE_HTTPS=False):
        _, webhook_secret = endpoint_create(organization=org, url="http://127.0.0.1:9/hook",
                                            events=[EventType.values[0]], now=now)
    password = "Correct-Horse-Battery-9"
    owner.user.set_password(password)
    owner.user.save()

    client = ApiClient(machine_key)
    body = {"member": "dev@example.com", "product": "chat", "model": "claude-haiku-4-5"}
    client.post("/admission", body)
    client.post("/usage", {"idempotency_key": "s1", "member": "dev@example.com", "product": "chat",
                           "model": "claude-haiku-4-5", "usage": {"input_tokens": 10, "output_tokens": 1}})
    ApiClient(machine_key[:-3] + "zzz").post("/admission", body)  # a wrong key: 401
    Client().get("/v1/organizations/spend_limits/effective", HTTP_X_API_KEY=admin_key)
    Client().get(f"/invitations/{invitation_token}/")
    web = Client()
    web.post("/accounts/login/", {"username": "owner@example.com", "password": password + "x"})
    web.post("/accounts/login/", {"username": "owner@example.com", "password": password})
    # A careless line anywhere in the code base is still redacted.
    logging.getLogger("apps.careless").warning("calling with %s and %s", machine_key, f"Bearer {admin_key}")
    structlog.get_logger("apps.careless").error("webhook", secret=webhook_secret, authorization=admin_key,
                                                 detail=f"signing with {webhook_secret}")
    try:
        raise ValueError(f"refused for key {machine_key}")
    except ValueError:
        logging.getLogger("apps.careless").exception("failed")

    output = captured_logs.getvalue()
    assert len(lines(captured_logs)) >= 10 and "request_finished" in output
    assert "[redacted]" in output
    for secret in (machine_key, admin_key, invitation_token, webhook_secret, password, settings.SECRET_KEY,
                   machine_key[len("bp_live_"):], admin_key[len("sk-ant-admin01-"):]):
        assert secret not in output, f"{secret[:12]}… was logged"
