"""Writes for notices: queue an email (rendered once, HTML and plain text from one template), deliver it,
retry it, and the recipients' choices (preferences page, one-click unsubscribe).

Rules:
- A notice is queued in the transaction of the change that causes it (an EmailOutbox row per recipient) and
  delivered after commit by `tasks.outbox_deliver`: no email about a change that rolled back, and none lost
  to a mail outage (the task retries with exponential backoff; after the last retry the row is `failed`,
  with its last error, for staff to see and send again from Django admin). The `outbox_sweep` beat task
  re-enqueues an email whose enqueue was lost (broker down) or whose worker died while sending.
- Delivery is claimed by a conditional UPDATE (queued → sending), so two workers never send one row twice.
- A recipient who switched a kind off for an organization is not queued, except for mandatory recipients
  (invoice emails to the organization's billing email cannot be switched off).
"""

from __future__ import annotations

import datetime as dt
import html
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import css_inline
from django.conf import settings
from django.core import signing
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import F, Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from inscriptis import get_text
from inscriptis.css_profiles import CSS_PROFILES
from inscriptis.model.config import ParserConfig

from apps.common.tasks import enqueue_on_commit
from apps.organizations.models import Organization
from apps.organizations.selectors import recipient_languages

from .models import EmailAttachment, EmailOutbox, NoticeKind, NoticeOptOut, OutboxStatus

UNSUBSCRIBE_SALT = "notices.unsubscribe"
SENDING_LEASE = dt.timedelta(minutes=10)
# The delivery task, queued by name after commit (apps.common.tasks): tasks import services, never the reverse.
OUTBOX_DELIVER_TASK = "apps.notices.tasks.outbox_deliver"
# Retry n waits about RETRY_BACKOFF × 2^n seconds (jittered), at most RETRY_BACKOFF_MAX (tasks.outbox_deliver).
RETRY_BACKOFF = 30
RETRY_BACKOFF_MAX = 3600
MAX_RETRIES = 8

_TITLE = re.compile(r"<title>(.*?)</title>", re.S | re.I)
_LINK = re.compile(r"\[([^\]\n]*)\]\((\S+?)\)")
_TEXT_CONFIG = ParserConfig(css=CSS_PROFILES["strict"], display_links=True)
_INLINER = css_inline.CSSInliner(keep_style_tags=False)


@dataclass(frozen=True)
class Attachment:
    filename: str
    content: bytes
    mimetype: str


@dataclass(frozen=True)
class RenderedNotice:
    subject: str
    html: str
    text: str


def _site_url(path: str) -> str:
    return settings.SITE_URL.rstrip("/") + path


def unsubscribe_token(*, email: str, organization_id: int, kind: str, mandatory: bool = False) -> str:
    """A signed token naming (address, organization, kind): the one-click unsubscribe link needs no login."""
    payload = {"e": email.lower(), "o": organization_id, "k": kind}
    if mandatory:
        payload["m"] = 1
    return signing.dumps(payload, salt=UNSUBSCRIBE_SALT, compress=True)


def unsubscribe_token_read(token: str) -> dict:
    """The token's payload; raises signing.BadSignature for a forged or damaged token."""
    payload = signing.loads(token, salt=UNSUBSCRIBE_SALT)
    if not isinstance(payload, dict) or payload.get("k") not in NoticeKind.values:
        raise signing.BadSignature("Unknown notice kind")
    return payload


def _plain_text(rendered_html: str) -> str:
    """The plain-text part, from the same rendered HTML: links read "text: url" (or just the url)."""
    # inscriptis turns no-break spaces into plain ones; the locale's money and percentages keep theirs.
    protected = rendered_html.replace("\u00a0", "\ue000").replace("&nbsp;", "\ue000").replace("\u202f", "\ue001")
    text = get_text(protected, _TEXT_CONFIG).replace("\ue000", "\u00a0").replace("\ue001", "\u202f")

    def link(match):
        label, url = match.group(1).strip(), match.group(2)
        return url if not label or label == url else f"{label}: {url}"

    text = _LINK.sub(link, text)
    lines = [line.rstrip() for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip() + "\n"


def notice_render(*, template: str, context: dict) -> RenderedNotice:
    """Render `email/<template>.html` once: the subject is its <title> (taken out of the parts: it travels in
    its header), the HTML part has its CSS inlined (css-inline), and the plain-text part is derived from the
    same HTML (inscriptis)."""
    raw = render_to_string(f"email/{template}.html", context)
    match = _TITLE.search(raw)
    # Collapse the template's line breaks and indentation, but keep no-break spaces ("80\u00a0%", "1.000,00\u00a0$").
    subject = re.sub(r"[ \t\r\n\f\v]+", " ", html.unescape(match.group(1))).strip() if match else ""
    body_only = _TITLE.sub("", raw)
    return RenderedNotice(subject=subject[:300], html=_INLINER.inline(body_only), text=_plain_text(body_only))


def opted_out(*, organization: Organization | None, kind: str, emails: Iterable[str]) -> set[str]:
    if organization is None:
        return set()
    return set(
        NoticeOptOut.objects.filter(organization=organization, kind=kind, email__in=[e.lower() for e in emails])
        .values_list("email", flat=True)
    )


@transaction.atomic
def notice_send(*, kind: str, organization: Organization | None, recipients: Sequence[str], template: str,
                context: dict, mandatory_recipients: Sequence[str] = (), attachments: Sequence[Attachment] = (),
                now: dt.datetime | None = None) -> list[EmailOutbox]:
    """Queue one email per recipient (duplicates once) and deliver them after commit. Recipients who switched
    this kind off for the organization are skipped, unless they are mandatory recipients. Each email has its
    own unsubscribe link and is written in its recipient's language (organizations.selectors.
    recipient_languages); the template sees `recipient`, `unsubscribe_url` and `preferences_url`."""
    now = now or timezone.now()
    mandatory = {e.lower() for e in mandatory_recipients}
    wanted = list(dict.fromkeys(e.lower() for e in [*recipients, *mandatory_recipients] if e))
    skipped = opted_out(organization=organization, kind=kind, emails=wanted) - mandatory
    preferences_url = _site_url(reverse("notices:preferences"))
    languages = recipient_languages(organization=organization, emails=wanted)
    queued = []
    for email in wanted:
        if email in skipped:
            continue
        headers = {}
        unsubscribe_url = ""
        if organization is not None:
            token = unsubscribe_token(email=email, organization_id=organization.pk, kind=kind,
                                      mandatory=email in mandatory)
            unsubscribe_url = _site_url(reverse("notices:unsubscribe", kwargs={"token": token}))
            headers = {"List-Unsubscribe": f"<{unsubscribe_url}>",
                       "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}
        with translation.override(languages[email]):  # each recipient reads it in their own language
            rendered = notice_render(template=template, context={
                **context, "recipient": email, "unsubscribe_url": unsubscribe_url,
                "preferences_url": preferences_url, "mandatory": email in mandatory,
                "site_url": settings.SITE_URL.rstrip("/"),
            })
        row = EmailOutbox.objects.create(
            kind=kind, organization=organization, to_email=email, subject=rendered.subject,
            text_body=rendered.text, html_body=rendered.html, headers=headers, created_at=now,
            next_attempt_at=now,
        )
        EmailAttachment.objects.bulk_create(
            EmailAttachment(email=row, filename=a.filename, mimetype=a.mimetype, content=a.content)
            for a in attachments
        )
        queued.append(row)
    if queued:
        ids = [row.pk for row in queued]
        # A broker failure after commit must not turn the caller's committed change into an error (the helper
        # logs it); the row stays queued and the sweep enqueues it again.
        for pk in ids:
            enqueue_on_commit(OUTBOX_DELIVER_TASK, pk)
    return queued


def _message(row: EmailOutbox) -> EmailMultiAlternatives:
    message = EmailMultiAlternatives(
        subject=row.subject, body=row.text_body, from_email=settings.DEFAULT_FROM_EMAIL, to=[row.to_email],
        headers=row.headers or None,
    )
    message.attach_alternative(row.html_body, "text/html")
    for attachment in row.attachments.all():
        message.attach(attachment.filename, bytes(attachment.content), attachment.mimetype)
    return message


def outbox_deliver(*, email_id: int, now: dt.datetime, final_attempt: bool = False) -> bool:
    """Send one queued email. Returns False when there is nothing to send (already sent, or another worker
    holds it). On a failure the error is recorded and re-raised (the task retries); after the final
    attempt the row is `failed`."""
    claimed = EmailOutbox.objects.filter(pk=email_id, status=OutboxStatus.QUEUED).update(
        status=OutboxStatus.SENDING, attempts=F("attempts") + 1, last_attempt_at=now,
    )
    if not claimed:
        return False
    row = EmailOutbox.objects.get(pk=email_id)
    try:
        _message(row).send(fail_silently=False)
    except Exception as exc:
        wait = min(RETRY_BACKOFF * 2 ** max(row.attempts - 1, 0), RETRY_BACKOFF_MAX)
        EmailOutbox.objects.filter(pk=email_id).update(
            status=OutboxStatus.FAILED if final_attempt else OutboxStatus.QUEUED,
            last_error=f"{type(exc).__name__}: {exc}"[:2000],
            next_attempt_at=None if final_attempt else now + dt.timedelta(seconds=wait),
        )
        raise
    EmailOutbox.objects.filter(pk=email_id).update(status=OutboxStatus.SENT, sent_at=timezone.now(),
                                                    next_attempt_at=None)
    return True


@transaction.atomic
def outbox_requeue(*, email_ids: Iterable[int], now: dt.datetime) -> int:
    """Staff: send failed (or stuck) emails again, with a fresh series of retries. Sent ones are left alone."""
    ids = list(
        EmailOutbox.objects.filter(pk__in=list(email_ids)).exclude(status=OutboxStatus.SENT)
        .values_list("pk", flat=True)
    )
    EmailOutbox.objects.filter(pk__in=ids).update(status=OutboxStatus.QUEUED, next_attempt_at=now)
    for pk in ids:
        enqueue_on_commit(OUTBOX_DELIVER_TASK, pk)
    return len(ids)


def outbox_sweep(*, now: dt.datetime) -> int:
    """Beat safety net: re-enqueue queued emails whose retry is long overdue (the enqueue was lost) and
    emails left `sending` by a worker that died. Returns how many were enqueued."""
    EmailOutbox.objects.filter(status=OutboxStatus.SENDING, last_attempt_at__lt=now - SENDING_LEASE).update(
        status=OutboxStatus.QUEUED
    )
    due = list(
        EmailOutbox.objects.filter(status=OutboxStatus.QUEUED)
        .filter(Q(next_attempt_at__lt=now - dt.timedelta(minutes=5)) | Q(next_attempt_at__isnull=True))
        .values_list("pk", flat=True)[:1000]
    )
    for pk in due:
        enqueue_on_commit(OUTBOX_DELIVER_TASK, pk)  # outside a transaction: sent at once
    return len(due)


def notice_opt_out(*, email: str, organization_id: int, kind: str, now: dt.datetime) -> bool:
    """Switch one kind of notice off for an address and organization (one-click unsubscribe). Idempotent:
    returns False when it was already off."""
    _, created = NoticeOptOut.objects.get_or_create(
        email=email.lower(), organization_id=organization_id, kind=kind, defaults={"created_at": now}
    )
    return created


@transaction.atomic
def notice_preferences_save(*, user, choices: dict[tuple[int, str], bool], now: dt.datetime) -> int:
    """Save a user's preferences page: for each (organization id, kind) shown, on or off. Returns how many
    changed. Only the pairs passed are touched."""
    email = user.email.lower()
    current = set(NoticeOptOut.objects.filter(email=email).values_list("organization_id", "kind"))
    changed = 0
    for (organization_id, kind), enabled in choices.items():
        if enabled and (organization_id, kind) in current:
            NoticeOptOut.objects.filter(email=email, organization_id=organization_id, kind=kind).delete()
            changed += 1
        elif not enabled and (organization_id, kind) not in current:
            NoticeOptOut.objects.create(email=email, organization_id=organization_id, kind=kind, created_at=now)
            changed += 1
    return changed
