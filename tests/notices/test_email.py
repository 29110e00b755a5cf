"""Notices: HTML + plain text from one template, unsubscribe headers and link, preferences, retries."""

import contextlib
import datetime as dt
from email import message_from_bytes
from smtplib import SMTPServerDisconnected

import pytest
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend as LocmemBackend
from django.test import Client
from django.urls import reverse

from apps.notices import services, tasks
from apps.notices.models import EmailOutbox, NoticeKind, NoticeOptOut, OutboxStatus
from apps.notices.services import notice_send, outbox_requeue
from apps.organizations.models import Membership, Role
from tests.factories import OrganizationFactory, login_verified, member

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2026, 11, 20, 12, tzinfo=dt.UTC)


@pytest.fixture
def org():
    return OrganizationFactory(slug="acme", name="Acme")


def _send(org, recipients, django_capture_on_commit_callbacks, **kwargs):
    context = {"organization": org, "link": "http://testserver/invitations/abc/", "inviter": "Ann", "role": "Member"}
    with django_capture_on_commit_callbacks(execute=True):
        return notice_send(kind=NoticeKind.INVITATION, organization=org, recipients=recipients,
                           template="invitation", context=context, now=NOW, **kwargs)


def test_an_email_has_both_parts_and_one_click_unsubscribe_headers(org, outbox, django_capture_on_commit_callbacks):
    _send(org, ["New@Example.com"], django_capture_on_commit_callbacks)
    (message,) = outbox
    parsed = message_from_bytes(message.message().as_bytes())
    assert parsed["Subject"] == "You're invited to Acme" and parsed["To"] == "new@example.com"
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    unsubscribe = "".join(parsed["List-Unsubscribe"].split()).strip("<>")
    assert unsubscribe.startswith("http://127.0.0.1:8000/notifications/unsubscribe/")
    text, html = (part.get_payload(decode=True).decode() for part in parsed.walk()
                  if part.get_content_type() in ("text/plain", "text/html"))
    assert "Ann invited you to join Acme on Billing portal as Member." in text
    assert "http://testserver/invitations/abc/" in text and "<" not in text
    assert 'href="http://testserver/invitations/abc/"' in html and "<style" not in html  # CSS inlined
    assert 'style="' in html and unsubscribe in html

    # One click (RFC 8058): a POST without session or CSRF token switches this notice off for this address.
    path = unsubscribe.removeprefix("http://127.0.0.1:8000")
    assert Client(enforce_csrf_checks=True).get(path).status_code == 200  # GET only asks
    assert not NoticeOptOut.objects.exists()
    response = Client(enforce_csrf_checks=True).post(path, {"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200 and NoticeOptOut.objects.filter(email="new@example.com").count() == 1
    assert _send(org, ["new@example.com"], django_capture_on_commit_callbacks) == []
    assert len(outbox) == 1
    assert Client().post(path[:-5] + "xxxx/").status_code == 404  # a damaged token


def test_mandatory_recipients_ignore_opt_outs(org, outbox, django_capture_on_commit_callbacks):
    NoticeOptOut.objects.create(email="billing@acme.example", organization=org, kind=NoticeKind.INVITATION,
                                created_at=NOW)
    _send(org, [], django_capture_on_commit_callbacks, mandatory_recipients=["billing@acme.example"])
    assert [m.to for m in outbox] == [["billing@acme.example"]]
    assert "cannot be switched off" in outbox[0].body


def test_preferences_page_switches_notices_per_organization(org, client):
    other = OrganizationFactory(slug="globex", name="Globex")
    owner = member(org, email="o@acme.example", role=Role.OWNER)
    Membership.objects.create(organization=other, user=owner.user, role=Role.MEMBER)
    client.force_login(owner.user, backend="django.contrib.auth.backends.ModelBackend")
    response = client.get(reverse("notices:preferences"))
    assert response.status_code == 200, response
    page = response.content.decode()
    assert f'name="{org.pk}:invoice_issued"' in page and f'name="{other.pk}:invoice_issued"' not in page
    fields = {f"{org.pk}:{k}": "on" for k in NoticeKind.values if k != NoticeKind.SPEND_ORG_CAP}
    assert client.post(reverse("notices:preferences"), fields).status_code == 302
    assert set(NoticeOptOut.objects.values_list("organization_id", "kind")) == {
        (org.pk, "spend_org_cap"), (other.pk, "spend_member_limit"), (other.pk, "spend_member_allowance"),
        (other.pk, "extra_usage_decided")}


class FlakyBackend(LocmemBackend):
    """Fails the next `failures` sends with a transient SMTP error, then delivers to the locmem outbox."""

    failures = 0

    def send_messages(self, messages):
        if FlakyBackend.failures > 0:
            FlakyBackend.failures -= 1
            raise SMTPServerDisconnected("Connection unexpectedly closed")
        return super().send_messages(messages)


def _retry(row, *, final=False):
    """What the task's autoretry does on the worker: run the delivery again (Celery eager mode does not loop)."""
    with contextlib.suppress(SMTPServerDisconnected):
        services.outbox_deliver(email_id=row.pk, now=NOW, final_attempt=final)
    row.refresh_from_db()
    return row


def test_a_failed_send_is_retried_with_backoff_and_recorded(org, outbox, settings, django_capture_on_commit_callbacks):
    task = tasks.outbox_deliver
    assert (task.autoretry_for, task.retry_backoff, task.max_retries) == ((Exception,), 30, 8) and task.retry_jitter
    settings.EMAIL_BACKEND = "tests.notices.test_email.FlakyBackend"
    FlakyBackend.failures = 2
    (row,) = _send(org, ["a@example.com"], django_capture_on_commit_callbacks)  # the caller's commit stands
    row.refresh_from_db()
    assert (row.status, row.attempts, mail.outbox) == (OutboxStatus.QUEUED, 1, [])
    assert row.last_error == "SMTPServerDisconnected: Connection unexpectedly closed"
    first_wait = row.next_attempt_at - row.last_attempt_at
    row = _retry(row)
    assert row.attempts == 2 and row.next_attempt_at - row.last_attempt_at == 2 * first_wait  # backoff
    row = _retry(row)
    assert (row.status, row.attempts, len(mail.outbox)) == (OutboxStatus.SENT, 3, 1)
    assert _retry(row).attempts == 3  # a sent email is not sent again


def test_an_email_failing_every_retry_is_kept_as_failed_and_staff_can_send_it_again(
        org, outbox, settings, django_capture_on_commit_callbacks, admin_user, client):
    admin_client = login_verified(client, admin_user)
    settings.EMAIL_BACKEND = "tests.notices.test_email.FlakyBackend"
    FlakyBackend.failures = 100
    (row,) = _send(org, ["a@example.com"], django_capture_on_commit_callbacks)
    row = _retry(row, final=True)
    assert (row.status, row.attempts) == (OutboxStatus.FAILED, 2)
    assert "SMTPServerDisconnected" in row.last_error and mail.outbox == []
    assert "Connection unexpectedly closed" in admin_client.get(
        reverse("admin:notices_emailoutbox_changelist")).content.decode()

    FlakyBackend.failures = 0
    with django_capture_on_commit_callbacks(execute=True):
        assert outbox_requeue(email_ids=[row.pk], now=NOW) == 1
    row.refresh_from_db()
    assert row.status == OutboxStatus.SENT and len(mail.outbox) == 1
    with django_capture_on_commit_callbacks(execute=True):
        assert outbox_requeue(email_ids=[row.pk], now=NOW) == 0  # a sent email is never sent again
    assert tasks.outbox_deliver(row.pk) is False and EmailOutbox.objects.count() == 1


def test_preferences_page_queries_do_not_grow_with_organizations(client, django_assert_max_num_queries):
    owner = member(OrganizationFactory(), email="many@example.com", role=Role.OWNER)
    client.force_login(owner.user, backend="django.contrib.auth.backends.ModelBackend")
    with django_assert_max_num_queries(12) as few:
        assert client.get(reverse("notices:preferences")).status_code == 200
    for _ in range(5):
        Membership.objects.create(organization=OrganizationFactory(), user=owner.user, role=Role.ADMIN)
    with django_assert_max_num_queries(len(few.captured_queries)):
        page = client.get(reverse("notices:preferences")).content.decode()
    assert page.count('type="checkbox"') == 8 + 5 * 5  # an owner: 8 kinds (with invoice payment reminders)
