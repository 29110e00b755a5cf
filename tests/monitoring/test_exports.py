"""The dashboards' CSV export: one row per member × day × model × product in the range, machine-readable, and
exactly the events' sums; streamed, and limited to owners and admins."""

import csv
import datetime as dt
import io
from collections import defaultdict
from decimal import Decimal

import pytest
from django.db import connection
from django.http import StreamingHttpResponse
from django.test.utils import CaptureQueriesContext

from apps.monitoring.exports import USAGE_EXPORT_COLUMNS
from apps.monitoring.ranges import RangeError, date_range_for
from apps.usage.models import UsageEvent
from tests.factories import member

from .conftest import NOW
from .helpers import SONNET, record

pytestmark = pytest.mark.django_db


def _export(client, org, query=""):
    response = client.get(f"/orgs/{org.slug}/usage/dashboard/export.csv{query}")
    return response, (b"".join(response.streaming_content).decode() if response.status_code == 200 else "")


def _seed(org):
    member(org, email="m2@acme.test", since=NOW - dt.timedelta(days=60))
    member(org, email="m10@acme.test", since=NOW - dt.timedelta(days=60))
    at = lambda day, hour=10: dt.datetime(2026, 11, day, hour, tzinfo=dt.UTC)  # noqa: E731
    record(org, "m2@acme.test", "1.25", now=NOW, occurred_at=at(3))
    record(org, "m2@acme.test", "0.75", now=NOW, occurred_at=at(3, 15))  # same day, model, product: one row
    record(org, "m2@acme.test", "2", now=NOW, occurred_at=at(3), product="claude_code")
    record(org, "m10@acme.test", "0.000001", now=NOW, occurred_at=at(17), model=SONNET, output_tokens=7)
    record(org, "m10@acme.test", "3", now=NOW, occurred_at=dt.datetime(2026, 10, 30, 9, tzinfo=dt.UTC))


def test_export_rows_equal_the_events_per_member_day_model_and_product(client, team):
    org, people = team
    _seed(org)
    client.force_login(people["owner"].user)
    response, text = _export(client, org)  # this period (November)
    assert isinstance(response, StreamingHttpResponse)
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert 'filename="usage-acme-2026-11-01-to-2026-11-30.csv"' in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(text)))
    assert tuple(rows[0].keys()) == USAGE_EXPORT_COLUMNS
    expected = defaultdict(lambda: [Decimal(0), 0, 0, 0])
    for event in UsageEvent.objects.filter(organization=org, occurred_at__gte=dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
                                           ).select_related("membership__user", "model"):
        key = (event.occurred_at.date().isoformat(), event.membership.user.email, event.model.api_id, event.product)
        expected[key][0] += event.cost
        expected[key][1] += event.input_tokens
        expected[key][2] += event.output_tokens
        expected[key][3] += 1
    shown = {(r["date"], r["email"], r["model"], r["product"]):
             [Decimal(r["cost"]), int(r["input_tokens"]), int(r["output_tokens"]), int(r["requests"])] for r in rows}
    assert shown == dict(expected)
    assert len(rows) == 3  # the two m2 chat events of Nov 3 are one row
    tiny = next(r for r in rows if r["email"] == "m10@acme.test")
    assert tiny["cost"] == "0.0001080000"  # $3/M input + 7 × $15/M output, as stored: never exponent notation
    assert tiny["currency"] == "USD" and tiny["user_id"].startswith("user_")


def test_the_range_chooses_the_days(client, team):
    org, people = team
    _seed(org)
    client.force_login(people["admin"].user)
    _, text = _export(client, org, "?range=last_period")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [(r["date"], r["email"], r["cost"][:4]) for r in rows] == [("2026-10-30", "m10@acme.test", "3.00")]
    _, text = _export(client, org, "?range=custom&from=2026-10-30&to=2026-11-03")
    assert {r["date"] for r in csv.DictReader(io.StringIO(text))} == {"2026-10-30", "2026-11-03"}


@pytest.mark.parametrize("query", ["?range=forever", "?range=custom&from=2026-11-05&to=2026-11-01",
                                   "?range=custom&from=yesterday&to=2026-11-01",
                                   "?range=custom&from=2020-01-01&to=2026-11-01"])
def test_a_bad_range_is_a_clear_400(client, team, query):
    org, people = team
    client.force_login(people["owner"].user)
    response, _ = _export(client, org, query)
    assert response.status_code == 400 and response.content.decode()


def test_members_and_outsiders_get_a_404(client, team):
    org, people = team
    client.force_login(people["member"].user)
    assert client.get(f"/orgs/{org.slug}/usage/dashboard/export.csv").status_code == 404


def test_the_export_streams_from_a_server_side_cursor_in_a_fixed_number_of_queries(client, team):
    org, people = team
    _seed(org)
    client.force_login(people["owner"].user)
    with CaptureQueriesContext(connection) as small:
        _export(client, org)
    for n in range(20):
        email = f"bulk{n}@acme.test"
        member(org, email=email, since=NOW - dt.timedelta(days=60))
        record(org, email, "0.5", now=NOW, occurred_at=dt.datetime(2026, 11, 2 + n % 10, tzinfo=dt.UTC))
    with CaptureQueriesContext(connection) as large:
        _, text = _export(client, org)
    assert len(large.captured_queries) == len(small.captured_queries)
    assert len(text.splitlines()) == 1 + 3 + 20
    # While the file is being sent, its rows come from a cursor held open on the server, not a list in memory.
    stream = iter(client.get(f"/orgs/{org.slug}/usage/dashboard/export.csv").streaming_content)
    next(stream), next(stream)  # the header and the first row
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_cursors WHERE name LIKE '_django_curs_%%'")
        assert cursor.fetchone()[0] == 1
    assert len(b"".join(stream).decode().splitlines()) == 3 + 20 - 1


def test_presets_name_local_days():
    today = dt.date(2026, 11, 18)
    assert (date_range_for(preset="7d", today=today).start, date_range_for(preset="7d", today=today).end) == (
        dt.date(2026, 11, 12), dt.date(2026, 11, 19))
    assert date_range_for(preset="last_period", today=today).days == 31
    assert date_range_for(preset="period", today=today).query() == "range=period"
    custom = date_range_for(preset="custom", today=today, start=dt.date(2026, 11, 1), last_day=dt.date(2026, 11, 1))
    assert custom.days == 1 and custom.query() == "range=custom&from=2026-11-01&to=2026-11-01"
    with pytest.raises(RangeError):
        date_range_for(preset="custom", today=today, start=dt.date(2026, 11, 2), last_day=dt.date(2026, 11, 1))
