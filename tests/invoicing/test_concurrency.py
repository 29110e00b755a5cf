"""Two workers issuing the same organization's month at once: one invoice, the other worker gets it back."""

import datetime as dt
from decimal import Decimal

import pytest

from apps.invoicing.models import Invoice, InvoiceRunClaim
from apps.invoicing.services import invoice_issue_for_period
from apps.organizations.models import PlanKind
from apps.usage.models import UsageEvent
from tests.conftest import run_concurrently
from tests.factories import OrganizationFactory, member

from .helpers import at, event

NOV = dt.date(2026, 11, 1)


@pytest.mark.django_db(transaction=True)
def test_concurrent_runs_issue_one_invoice():
    org = OrganizationFactory(plan_kind=PlanKind.ENTERPRISE_USAGE)
    members = [member(org, since=at("UTC", 2026, 10, 1)) for _ in range(20)]
    UsageEvent.objects.bulk_create([event(m, occurred_at=at("UTC", 2026, 11, 7), period_start=NOV,
                                          cost=Decimal("0.7777777777")) for m in members])
    results = []

    def worker(_):
        results.append(invoice_issue_for_period(organization=org, period_start=NOV,
                                                now=at("UTC", 2026, 12, 1, 0, 20)).pk)

    run_concurrently(4, worker)
    assert Invoice.objects.filter(organization=org).count() == 1
    assert set(results) == {Invoice.objects.get(organization=org).pk}
    assert InvoiceRunClaim.objects.get(organization=org).status == "done"
