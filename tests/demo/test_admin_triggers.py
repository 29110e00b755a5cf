"""Staff start the daily digest and the monthly invoice run from Django admin, without waiting for beat."""

import datetime as dt

import pytest
from django.utils import timezone

from apps.extra_usage.services.usage_requests import extra_usage_request_create
from apps.invoicing.models import Invoice
from apps.organizations.models import Organization, PlanKind, Role
from tests.extra_usage.conftest import spend
from tests.factories import OrganizationFactory, UserFactory, login_verified, member

pytestmark = pytest.mark.django_db

ISSUE_DUE = "/admin/invoicing/invoice/issue-due/"
SEND_DIGEST = "/admin/extra_usage/extrausagerequest/send-digest/"


@pytest.fixture
def staff(client):
    return login_verified(client, UserFactory(email="staff@billing-portal.example", is_staff=True,
                                              is_superuser=True))


def test_issue_due_invoices_now_issues_last_months_invoice_once(staff):
    org = OrganizationFactory(plan_kind=PlanKind.ENTERPRISE_USAGE)
    Organization.objects.filter(pk=org.pk).update(created_at=timezone.now() - dt.timedelta(days=70))
    member(org, email="owner@trigger.example", role=Role.PRIMARY_OWNER, since=timezone.now() - dt.timedelta(days=70))

    listing = staff.get("/admin/invoicing/invoice/")
    assert "Issue due invoices now" in listing.content.decode()

    first = staff.post(ISSUE_DUE, follow=True)
    assert first.status_code == 200
    assert "Issuing 1 due invoice" in first.content.decode()
    invoice = Invoice.objects.get(organization=org)
    assert invoice.number in first.content.decode()  # back on the invoice list, which shows it

    again = staff.post(ISSUE_DUE, follow=True)
    assert "No invoice is due" in again.content.decode()
    assert Invoice.objects.filter(organization=org).count() == 1


def test_send_the_digest_now_emails_each_admin_the_pending_requests_once_a_day(staff, outbox,
                                                                             django_capture_on_commit_callbacks):
    org = OrganizationFactory(plan_kind=PlanKind.ENTERPRISE_SEAT)
    member(org, email="admin@digest.example", role=Role.ADMIN)
    asker = member(org, email="asker@digest.example")
    spend(org, "asker@digest.example", "200.00")  # past the seat's included usage: stopped, the request is needed
    extra_usage_request_create(membership=asker, now=timezone.now())

    listing = staff.get("/admin/extra_usage/extrausagerequest/")
    assert "Send the digest now" in listing.content.decode()

    with django_capture_on_commit_callbacks(execute=True):  # the emails go out after the claim commits
        response = staff.post(SEND_DIGEST, follow=True)
    assert "Sending the digest to the admins of 1 organization" in response.content.decode()
    digests = [m for m in outbox if "admin@digest.example" in m.to]
    assert len(digests) == 1
    assert "asker@digest.example" in digests[0].body

    with django_capture_on_commit_callbacks(execute=True):
        staff.post(SEND_DIGEST, follow=True)
    assert len([m for m in outbox if "admin@digest.example" in m.to]) == 1  # today's digest went already


def test_send_the_digest_now_with_nothing_pending_says_so(staff, outbox):
    response = staff.post(SEND_DIGEST, follow=True)
    assert "No organization has pending requests" in response.content.decode()
    assert outbox == []


@pytest.mark.parametrize("url", [ISSUE_DUE, SEND_DIGEST])
def test_the_triggers_take_a_post_from_staff_only(client, url):
    assert client.post(url).status_code == 302  # anonymous: to the admin login
    assert client.post(url)["Location"].startswith("/admin/login/")
    client.force_login(UserFactory(email="member@not-staff.example"))
    assert client.post(url)["Location"].startswith("/admin/login/")  # not staff
    client.force_login(UserFactory(email="boss@staff.example", is_staff=True, is_superuser=True))
    assert client.post(url)["Location"].startswith("/admin/login/")  # staff without the second factor
    login_verified(client, UserFactory(email="viewer@staff.example", is_staff=True))
    assert client.post(url).status_code == 403  # staff without the permission
    login_verified(client, UserFactory(email="boss@staff.example", is_staff=True, is_superuser=True))
    assert client.get(url).status_code == 405  # a GET changes nothing
