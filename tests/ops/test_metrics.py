"""/metrics: the Prometheus text format, parsed with prometheus_client's own parser; loopback or bearer token."""

from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from apps.notices.models import EmailOutbox, OutboxStatus
from apps.usage.models import CapScope
from apps.usage.services import cap_set
from tests.conftest import ApiClient
from tests.factories import OrganizationFactory, api_key, member

pytestmark = pytest.mark.django_db


def scrape(**headers) -> dict:
    response = Client().get("/metrics", **headers)
    assert response.status_code == 200, response.content[:500]
    assert response["Content-Type"].startswith("text/plain; version=")
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples, name, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_count_admissions_usage_outcomes_and_framework_requests():
    org = OrganizationFactory()
    dev = member(org, email="dev@example.com", tier_code="chat")
    cap_set(organization=org, scope=CapScope.MEMBER, membership=dev, amount=Decimal("10.00"))
    client = ApiClient(api_key(org))
    before = scrape()

    body = {"member": "dev@example.com", "product": "chat", "model": "claude-haiku-4-5"}
    assert client.post("/admission", body).status_code == 200
    assert client.post("/admission", {**body, "product": "claude_code"}).json()["reason"] == "product_not_in_seat"
    event = {"idempotency_key": "m1", "member": "dev@example.com", "product": "chat", "model": "claude-haiku-4-5",
             "usage": {"input_tokens": 1000, "output_tokens": 10}}
    assert client.post("/usage", event).status_code == 201
    assert client.post("/usage", event).status_code == 200  # a replay
    assert client.post("/usage", {**event, "usage": {"input_tokens": 5, "output_tokens": 1}}).status_code == 409
    assert client.post("/usage/batch", {"events": [{**event, "idempotency_key": "m2"}]}).status_code == 200

    after = scrape()
    def delta(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("bp_admission_decisions_total", allowed="true", reason="none") == 1
    assert delta("bp_admission_decisions_total", allowed="false", reason="product_not_in_seat") == 1
    assert delta("bp_usage_events_total", outcome="created") == 2
    assert delta("bp_usage_events_total", outcome="replayed") == 1
    assert delta("bp_usage_events_total", outcome="conflict") == 1
    # django-prometheus: requests by view and method, with their latency.
    assert delta("django_http_requests_total_by_method_total", method="POST") >= 6
    assert any(name == "django_http_requests_latency_seconds_by_view_method_count" for name, _ in after)


def test_metrics_read_queue_depths_and_ages_from_the_database():
    now = timezone.now()
    for minutes in (5, 1):
        EmailOutbox.objects.create(kind="invitation", to_email="a@example.com", subject="s", text_body="t",
                                   html_body="h", created_at=now - timezone.timedelta(minutes=minutes))
    EmailOutbox.objects.create(kind="invitation", to_email="b@example.com", subject="s", text_body="t",
                               html_body="h", created_at=now, status=OutboxStatus.SENT)
    samples = scrape()
    assert value(samples, "bp_email_outbox", status="queued") == 2
    assert 299 <= value(samples, "bp_email_outbox_oldest_age_seconds") < 400
    assert value(samples, "bp_webhook_deliveries_pending") == 0
    assert value(samples, "bp_scrape_error") == 0
    assert value(samples, "bp_postgres_transactions", outcome="commit") > 0


def test_metrics_count_rate_limit_refusals(settings):
    from apps.machine_api.ratelimit import rate_limit_reset

    settings.MACHINE_API_RATE_LIMIT_PER_MINUTE = 1
    rate_limit_reset()
    org = OrganizationFactory()
    member(org, email="dev@example.com", tier_code="chat")
    client = ApiClient(api_key(org))
    before = value(scrape(), "bp_rate_limit_refusals_total", api="machine")
    body = {"member": "dev@example.com", "product": "chat", "model": "claude-haiku-4-5"}
    statuses = [client.post("/admission", body).status_code for _ in range(3)]
    rate_limit_reset()
    assert statuses.count(429) >= 1
    assert value(scrape(), "bp_rate_limit_refusals_total", api="machine") - before == statuses.count(429)


def test_metrics_answer_only_loopback_or_the_bearer_token(settings):
    settings.METRICS_TOKEN = "metrics-token-for-tests"
    elsewhere = {"REMOTE_ADDR": "203.0.113.9"}
    assert Client().get("/metrics", **elsewhere).status_code == 404
    assert Client().get("/metrics", HTTP_X_FORWARDED_FOR="203.0.113.9").status_code == 404  # relayed by the proxy
    assert Client().get("/metrics", HTTP_AUTHORIZATION="Bearer wrong", **elsewhere).status_code == 404
    assert scrape(HTTP_AUTHORIZATION="Bearer metrics-token-for-tests", **elsewhere)
    settings.METRICS_TOKEN = ""
    assert Client().get("/metrics", HTTP_AUTHORIZATION="Bearer ", **elsewhere).status_code == 404
    assert scrape()  # loopback, direct


def test_celery_task_figures_count_runs_by_name_and_state():
    from apps.notices.tasks import outbox_sweep

    name = "apps.notices.tasks.outbox_sweep"
    before = scrape()
    outbox_sweep.delay()  # eager in the suite: the same signals as on a worker
    after = scrape()
    key = ("bp_celery_tasks_total", (("state", "success"), ("task", name)))
    assert after.get(key, 0) - before.get(key, 0) == 1
    count = ("bp_celery_task_duration_seconds_count", (("task", name),))
    assert after.get(count, 0) - before.get(count, 0) == 1


def test_a_scrape_costs_the_same_few_queries_whatever_the_rows(django_assert_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as empty:
        scrape()
    now = timezone.now()
    EmailOutbox.objects.bulk_create([EmailOutbox(kind="invitation", to_email=f"{n}@example.com", subject="s",
                                                 text_body="t", html_body="h", created_at=now) for n in range(50)])
    with django_assert_num_queries(len(empty)):
        scrape()
    assert len(empty) <= 12
