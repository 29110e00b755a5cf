"""Django admin as staff read it: one section per app under a real name, plurals spelled right, and money with
its currency in the lists."""

import re
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from apps.extra_usage.models import ChargeKind, PrepaidCharge
from apps.invoicing.models import Invoice
from tests.factories import OrganizationFactory, UserFactory, login_verified

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff():
    user = UserFactory(email="staff@example.com", is_staff=True, is_superuser=True)
    return login_verified(Client(), user)


def test_the_admin_index_has_one_section_per_app_with_real_names(staff):
    html = staff.get("/admin/").content.decode()
    sections = re.findall(r'<caption>\s*<a [^>]*class="section"[^>]*>([^<]+)</a>', html)
    assert sections, html[:2000]
    assert len(sections) == len(set(sections)), sections
    assert "Extra usage" in sections and "Users and sign-in" in sections and "Webhooks" in sections
    assert not [name for name in sections if "_" in name]
    assert "Webhook deliveries" in html and "deliverys" not in html
    for label in ("Member period counters", "Organization usage slots", "Member extra-usage switches",
                  "Domain claims"):
        assert label in html, label
    for clumsy in ("period usages", "extra usages", "Sso domains"):
        assert clumsy not in html, clumsy


def test_money_columns_show_the_currency_and_cost_no_query_per_row(staff, django_assert_max_num_queries):
    now = timezone.now()
    for n in range(3):
        org = OrganizationFactory()
        Invoice.objects.create(organization=org, number=f"T-{n}", period_start=now.date().replace(day=1),
                               period_end=now.date(), status="open", total=Decimal("1234.5"), currency="USD",
                               issued_at=now, usage_cutoff=now, created_at=now)
        PrepaidCharge.objects.create(organization=org, kind=ChargeKind.AUTO_RELOAD, amount=Decimal("50"),
                                     idempotency_key=f"k{n}", period_start=now.date().replace(day=1), created_at=now)
    invoices = staff.get("/admin/invoicing/invoice/").content.decode()
    assert invoices.count("$1,234.50") == 3
    with django_assert_max_num_queries(12):
        charges = staff.get("/admin/extra_usage/prepaidcharge/").content.decode()
    assert charges.count("$50.00") == 3
