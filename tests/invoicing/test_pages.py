"""Invoice pages: owners and admins (read-only) see the list and the detail grouped by member, and download
CSV and PDF; members and outsiders get a 404."""

import csv
import datetime as dt
import io
import re
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from apps.invoicing.models import LineKind
from apps.invoicing.services import invoice_issue_for_period
from apps.organizations.models import PlanKind, Role
from apps.seats.services import seat_assign
from apps.usage.models import UsageEvent
from tests.factories import OrganizationFactory, member, tier

from .helpers import at, event

pytestmark = pytest.mark.django_db

NOV = dt.date(2026, 11, 1)


@pytest.fixture
def world():
    org = OrganizationFactory(plan_kind=PlanKind.TEAM, slug="acme", name="Acme")
    people = {role: member(org, email=f"{role}@acme.example", role=role, tier_code="standard",
                           since=at("UTC", 2026, 10, 1))
              for role in (Role.PRIMARY_OWNER, Role.OWNER, Role.ADMIN, Role.MEMBER)}
    seat_assign(membership=people[Role.MEMBER], tier=tier(org, "premium"), now=at("UTC", 2026, 11, 12, 9))
    UsageEvent.objects.bulk_create([
        event(people[Role.MEMBER], occurred_at=at("UTC", 2026, 11, 20), period_start=NOV, cost=Decimal("12.3456789"),
              included=Decimal("10"), model_alias=alias, tokens=(1234, 567, 89, 10))
        for alias in ("claude-opus-4-5", "claude-haiku-4-5")
    ])
    invoice = invoice_issue_for_period(organization=org, period_start=NOV, now=at("UTC", 2026, 12, 1, 0, 20))
    other = OrganizationFactory(plan_kind=PlanKind.TEAM, slug="globex")
    outsider = member(other, email="owner@globex.example", role=Role.PRIMARY_OWNER, since=at("UTC", 2026, 10, 1))
    other_invoice = invoice_issue_for_period(organization=other, period_start=NOV, now=at("UTC", 2026, 12, 1, 0, 20))
    return {"org": org, "people": people, "invoice": invoice, "outsider": outsider, "other_invoice": other_invoice}


def _client(membership=None):
    client = Client()
    if membership is not None:
        client.force_login(membership.user, backend="django.contrib.auth.backends.ModelBackend")
    return client


def _urls(invoice):
    kwargs = {"slug": invoice.organization.slug, "number": invoice.number}
    return [reverse("invoicing:invoice_list", kwargs={"slug": invoice.organization.slug}),
            reverse("invoicing:invoice_detail", kwargs=kwargs), reverse("invoicing:invoice_csv", kwargs=kwargs),
            reverse("invoicing:invoice_pdf", kwargs=kwargs)]


@pytest.mark.parametrize(("role", "status"), [(Role.PRIMARY_OWNER, 200), (Role.OWNER, 200), (Role.ADMIN, 200),
                                              (Role.MEMBER, 404)])
def test_each_role_gets_the_expected_status(world, role, status):
    client = _client(world["people"][role])
    for url in _urls(world["invoice"]):
        assert client.get(url).status_code == status, url


def test_outsiders_get_404_and_anonymous_visitors_the_login_page(world):
    outsider = _client(world["outsider"])
    for url in _urls(world["invoice"]):
        assert outsider.get(url).status_code == 404
        response = _client().get(url)
        assert response.status_code == 302 and response["Location"].startswith(reverse("accounts:login"))
    # Another organization's invoice number under our slug is a 404 too.
    owner = _client(world["people"][Role.OWNER])
    url = reverse("invoicing:invoice_detail", kwargs={"slug": "acme", "number": world["other_invoice"].number})
    assert owner.get(url).status_code == 404
    assert owner.post(_urls(world["invoice"])[0]).status_code == 405


def test_detail_groups_lines_by_member_with_usage_by_model(world):
    invoice = world["invoice"]
    page = _client(world["people"][Role.OWNER]).get(_urls(invoice)[1]).content.decode()
    assert f"Invoice {invoice.number}" in page and "Nov 1\u2009–\u200930, 2026" in page
    start = page.index('data-member="member@acme.example"')
    section = page[start:page.index("</details>", start)]
    # One collapsible section per member; one line per kind, each rounded once; rates to four decimals.
    assert section.startswith('data-member="member@acme.example">') and "<summary>" in section
    for text in ("Standard seat, Nov 1–11 (11 of 30 days); Premium seat, Nov 12–30 (19 of 30 days)",
                 "Standard → Premium upgrade on Nov 12", "Covered by included usage",
                 "Extra usage drawn from the prepaid balance", "$24.6914", "$4.69", "-$76.00", "Not billed"):
        assert text in section, text
    assert "Claude Haiku 4.5" not in section and "12.3456789" not in section
    assert section.count("data-line") == 4  # seat fee, upgrade credit, included usage, extra usage
    # The exact breakdown by model, below: it adds up to the member lines and is not billed again.
    breakdown = page[page.index('id="breakdown-title"'):]
    for text in ("Claude Haiku 4.5", "Claude Opus 4.5", "1,234", "$2.3456789", "$4.6913578",
                 "included in the member lines above", "$4.69 drawn from the prepaid balance"):
        assert text in breakdown, text
    assert "rounded once to the cent, half up" in page
    assert f"${invoice.total:,.2f}" in page
    assert "style=" not in page and "onclick" not in page and "<script>" not in page  # strict CSP


def test_detail_reads_in_german(world):
    user = world["people"][Role.OWNER].user
    user.language = "de"
    user.save()
    page = _client(world["people"][Role.OWNER]).get(_urls(world["invoice"])[1]).content.decode()
    section = page[page.index('data-member="member@acme.example"'):page.index('id="breakdown-title"')]
    assert "Seat fee" not in page and "already charged" not in section and "Standard seat" not in section
    assert "Covered by included usage" not in section and "prepaid balance" not in section
    assert "rounded once" not in page


def test_admins_see_invoices_read_only(world):
    page = _client(world["people"][Role.ADMIN]).get(_urls(world["invoice"])[0]).content.decode()
    assert "Billing is managed by the organization's owners" in page
    assert world["invoice"].number in page


def test_csv_has_every_line_with_exact_and_rounded_amounts(world):
    invoice = world["invoice"]
    response = _client(world["people"][Role.PRIMARY_OWNER]).get(_urls(invoice)[2])
    assert response["Content-Type"].startswith("text/csv")
    assert f'filename="{invoice.number}.csv"' in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert len(rows) == invoice.lines.count() + invoice.usage_rows.count() + 2
    usage = next(r for r in rows if r["kind"] == LineKind.PREPAID_USAGE_INFO)
    assert (usage["member"], usage["usage_cost"], usage["included_cost"], usage["unrounded_amount"],
            usage["amount"], usage["billed"]) == (
        "member@acme.example", "24.6913578", "20", "4.6913578", "4.69", "no")
    opus = next(r for r in rows if r["model"] == "claude-opus-4-5-20251101")
    assert (opus["kind"], opus["input_tokens"], opus["usage_cost"], opus["included_cost"],
            opus["unrounded_amount"], opus["amount"], opus["billed"]) == (
        "usage_breakdown", "1234", "12.3456789", "10", "2.3456789", "", "included")
    credit = next(r for r in rows if r["kind"] == LineKind.SEAT_UPGRADE_CHARGE)
    assert credit["amount"] == "-76.00"
    total, rule = rows[-2], rows[-1]
    assert total["kind"] == "total" and Decimal(total["amount"]) == invoice.total
    assert rule["kind"] == "rounding_rule" and "rounded once to the cent, half up" in rule["description"]
    billed = sum(Decimal(r["amount"]) for r in rows[:-2] if r["billed"] == "yes")
    assert billed == invoice.total


def test_pdf_renders(world):
    invoice = world["invoice"]
    response = _client(world["people"][Role.OWNER]).get(_urls(invoice)[3])
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    assert len(response.content) > 2000


def _issue_months(org, m, months):
    for month in months:
        start = dt.date(2025, month, 1)
        UsageEvent.objects.bulk_create([event(m, occurred_at=at("UTC", 2025, month, 3), period_start=start,
                                              cost=Decimal("1"))])
        invoice_issue_for_period(organization=org, period_start=start, now=at("UTC", 2025, month + 1, 1, 1))


def test_invoice_list_queries_do_not_grow_with_invoices(django_assert_max_num_queries):
    org = OrganizationFactory(plan_kind=PlanKind.ENTERPRISE_USAGE, slug="initech")
    owner = member(org, email="owner@initech.example", role=Role.PRIMARY_OWNER, since=at("UTC", 2025, 1, 1))
    client = _client(owner)
    url = reverse("invoicing:invoice_list", kwargs={"slug": "initech"})
    _issue_months(org, owner, [1])
    with django_assert_max_num_queries(12) as few:
        assert client.get(url).status_code == 200
    _issue_months(org, owner, range(2, 12))
    with django_assert_max_num_queries(len(few.captured_queries)):
        page = client.get(url)
    assert page.content.decode().count('/">INITECH-00') == 11


def test_invoice_detail_queries_do_not_grow_with_members(world, django_assert_max_num_queries):
    client = _client(world["people"][Role.OWNER])
    invoice = world["invoice"]
    with django_assert_max_num_queries(16):
        assert client.get(_urls(invoice)[1]).status_code == 200


def test_a_large_invoice_pdf_lists_member_totals_instead_of_every_line(world, monkeypatch):
    from apps.invoicing import exports

    monkeypatch.setattr(exports, "PDF_DETAIL_MAX_LINES", 3)
    html = exports.invoice_pdf_html(invoice=world["invoice"])
    assert "too many lines to list here" in html
    assert "member@acme.example" in html and "Claude Opus 4.5 · " not in html  # no usage line, only totals
    assert exports.invoice_pdf_bytes(invoice=world["invoice"]).startswith(b"%PDF")


def test_members_are_paged_in_natural_order_with_the_same_queries_on_every_page(django_assert_max_num_queries):
    org = OrganizationFactory(plan_kind=PlanKind.ENTERPRISE_USAGE, slug="big")
    owner = member(org, email="owner@big.example", role=Role.PRIMARY_OWNER, since=at("UTC", 2026, 10, 1))
    owner.user.name = "Zz Owner"
    owner.user.save(update_fields=["name"])
    people = [member(org, email=f"member{n}@big.example", since=at("UTC", 2026, 10, 1)) for n in range(150, 0, -1)]
    for person in people:
        person.user.name = ""
        person.user.save(update_fields=["name"])
    invoice = invoice_issue_for_period(organization=org, period_start=NOV, now=at("UTC", 2026, 12, 1, 0, 20))
    client = _client(owner)
    url = reverse("invoicing:invoice_detail", kwargs={"slug": "big", "number": invoice.number})
    with django_assert_max_num_queries(16) as first:
        page1 = client.get(url).content.decode()
    with django_assert_max_num_queries(len(first.captured_queries)):
        page2 = client.get(url + "?page=2").content.decode()
    order = re.findall(r'data-member="([^"]+)"', page1 + page2)
    assert order == [f"member{n}@big.example" for n in range(1, 151)] + ["owner@big.example"]
    assert "Members page 1 of 2" in page1 and "151 members" in page1
