"""Owners and admins see the rates every request is billed at; members and outsiders get a 404."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.usage.models import AIModel, ModelPrice
from apps.usage.pricing import price_schedules

from .conftest import client_for

pytestmark = pytest.mark.django_db


def test_the_page_lists_every_model_at_its_current_rates_with_long_context_rates(team):
    page = client_for(team.owner).get(f"/orgs/{team.org.slug}/settings/prices/").content.decode()
    for schedule in price_schedules(at=timezone.now()):
        price = schedule.current
        assert f'data-testid="price-{schedule.model.alias}"' in page
        assert schedule.model.display_name in page
        if price.long_input is not None:
            assert f'data-testid="price-{schedule.model.alias}-long"' in page
    sonnet = ModelPrice.objects.filter(model__alias="claude-sonnet-4-5").order_by("-effective_from").first()
    row = page.split('data-testid="price-claude-sonnet-4-5"')[1].split("</tr>")[0]
    assert f"${sonnet.input:,.2f}" in row and f"${sonnet.output:,.2f}" in row


def test_an_announced_price_shows_with_its_date(team):
    model = AIModel.objects.get(alias="claude-haiku-4-5")
    ModelPrice.objects.create(model=model, effective_from=timezone.now() + dt.timedelta(days=30),
                              input=Decimal("0.8"), output=Decimal("4"), cache_write=Decimal("1"),
                              cache_read=Decimal("0.075"))
    page = client_for(team.admin).get(f"/orgs/{team.org.slug}/settings/prices/").content.decode()
    assert "Announced" in page and "$0.075" in page and "$0.80" in page


def test_members_and_outsiders_get_a_404(team):
    for who in (team.member, team.outsider):
        assert client_for(who).get(f"/orgs/{team.org.slug}/settings/prices/").status_code == 404


def test_query_count_is_fixed(team):
    client = client_for(team.owner)
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(f"/orgs/{team.org.slug}/settings/prices/").status_code == 200
    before = len(ctx.captured_queries)
    AIModel.objects.create(api_id="claude-test-1", alias="claude-test", display_name="Claude Test")
    with CaptureQueriesContext(connection) as ctx:
        client.get(f"/orgs/{team.org.slug}/settings/prices/")
    assert len(ctx.captured_queries) == before
