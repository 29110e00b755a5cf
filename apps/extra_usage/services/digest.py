"""The admins' daily digest of pending requests for extra usage."""

from __future__ import annotations

import datetime as dt

from django.conf import settings as django_settings
from django.db import IntegrityError, transaction
from django.urls import reverse

from apps.common.periods import local_date
from apps.notices.models import NoticeKind
from apps.notices.services import notice_send
from apps.organizations.models import Membership, Organization, Role

from ..models import DigestDelivery
from ..selectors import pending_requests


def _site_url(path: str) -> str:
    return django_settings.SITE_URL.rstrip("/") + path



REVIEWER_ROLES = (Role.ADMIN, Role.OWNER, Role.PRIMARY_OWNER)


DIGEST_CLAIM_LEASE = dt.timedelta(minutes=10)


def _digest_claim(*, organization: Organization, reviewer: Membership, day: dt.date, pending_count: int,
                  now: dt.datetime) -> DigestDelivery | None:
    """Claim today's digest for one admin: a new unique row, or an unsent claim whose lease ran out (its worker
    died before sending). None when it was sent, or another run holds a live claim."""
    try:
        with transaction.atomic():
            return DigestDelivery.objects.create(organization=organization, membership=reviewer, day=day,
                                                 pending_count=pending_count, created_at=now)
    except IntegrityError:
        pass
    # A conditional UPDATE takes the stale claim over: of two runs racing for it, exactly one updates the row.
    taken = DigestDelivery.objects.filter(
        membership=reviewer, day=day, sent_at__isnull=True, created_at__lt=now - DIGEST_CLAIM_LEASE
    ).update(created_at=now, pending_count=pending_count)
    return DigestDelivery.objects.get(membership=reviewer, day=day) if taken else None


def digest_send_for_organization(*, organization: Organization, now: dt.datetime) -> int:
    """Send each admin and above of the organization one email listing its pending requests, once per
    organization-local day. No email when nothing is pending. Returns the number of emails sent.

    Each (admin, day) is claimed with a unique row before its email is sent and stamped `sent_at` after, so a
    rerun sends nothing twice; a claim whose worker died before sending is taken over by the next run after a
    ten-minute lease (a worker dying in the instant between sending and stamping could repeat one email; none
    is lost)."""
    pending = pending_requests(organization=organization)
    if not pending:
        return 0
    day = local_date(now, organization.billing_timezone)
    reviewers = (
        Membership.objects.active().filter(organization=organization, role__in=REVIEWER_ROLES)
        .select_related("user").order_by("pk")
    )
    review_url = _site_url(reverse("extra_usage:review", kwargs={"slug": organization.slug}))
    sent = 0
    for reviewer in reviewers:
        claim = _digest_claim(organization=organization, reviewer=reviewer, day=day,
                              pending_count=len(pending), now=now)
        if claim is None:
            continue
        context = {"organization": organization, "pending": pending, "review_url": review_url,
                   "reviewer": reviewer}
        notice_send(kind=NoticeKind.EXTRA_USAGE_DIGEST, organization=organization,
                    recipients=[reviewer.user.email], template="extra_usage_digest", context=context, now=now)
        DigestDelivery.objects.filter(pk=claim.pk).update(sent_at=now)
        sent += 1
    return sent
