"""Writes for monitoring: rebuilding the organization's daily totals, notification thresholds, and the
spend-limit notices.

Notice rules (each fires at most once per scope, threshold and period, whatever the number of concurrent
checks or task retries: the SpendNotice row is claimed first, by its unique constraint, and the email goes out
after that claim commits):

- member_limit: a member's capped spend (all spend on usage-based Enterprise, extra usage on seat-based
  plans) reaches a threshold percentage of their personal limit — the lower headroom of their member cap and
  their seat tier's cap. The member is emailed; at 100% (extra usage paused by a cap) the organization's
  admins and owners are emailed too. The organization's cap is not a personal limit: it has its own notice,
  so reaching it does not send one email per member.
- member_allowance (seat-based plans): a member's included-usage spend reaches a threshold percentage of
  their seat's included usage. The member is emailed.
- org_cap: the organization's capped spend reaches a threshold percentage of the organization cap. Owners
  are emailed.

Thresholds are the organization's NotificationSettings percentages (default 80 and 100). A notice whose
threshold was already passed when the check first runs (for example after a limit was lowered) fires then.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, connection, transaction
from django.db.models import Sum
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from apps.common.money import money_format, percent_format
from apps.common.periods import period_containing, period_for_start
from apps.organizations.models import Membership, Organization, Role
from apps.organizations.selectors import recipient_language
from apps.organizations.services import audit_record
from apps.seats.models import SeatAssignment
from apps.usage.models import OrgUsageSlot, UsageDailyRollup
from apps.usage.selectors import members_counters, org_caps, org_counters

from .models import DEFAULT_THRESHOLDS, NoticeScope, NotificationSettings, OrgDailyUsage, SpendNotice
from .selectors import notification_thresholds, org_admin_emails

logger = logging.getLogger(__name__)
HUNDRED = Decimal(100)
MAX_THRESHOLDS = 5
ORG_DAILY_LOCK = 60601  # advisory-lock namespace of org_daily_refresh


# --- Daily totals -------------------------------------------------------------------------------------------


@transaction.atomic
def org_daily_refresh(*, organization: Organization, period_start: dt.date) -> int:
    """Rebuild the organization's OrgDailyUsage rows of one period from its members' rollups (replacing, never
    adding, so running it twice or concurrently gives the same rows). Returns the number of rows written.
    Rollup rows only ever grow, so no stored (day, model, product) can disappear."""
    qn = connection.ops.quote_name
    target, source = qn(OrgDailyUsage._meta.db_table), qn(UsageDailyRollup._meta.db_table)
    sums = ["cost", "included_cost", "input_tokens", "output_tokens", "cache_write_tokens", "cache_read_tokens",
            "event_count"]
    with connection.cursor() as cursor:
        # Serialize rebuilds of one organization so two of them cannot interleave their upserts (SQLite, the
        # demo's database, already runs one writer at a time).
        if connection.vendor == "postgresql":
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [ORG_DAILY_LOCK, organization.pk])
        cursor.execute(
            f"INSERT INTO {target} (organization_id, period_start, day, model_id, product, {', '.join(sums)}) "
            f"SELECT organization_id, period_start, day, model_id, product, "
            f"{', '.join(f'SUM({c})' for c in sums)} FROM {source} "
            f"WHERE organization_id = %s AND period_start = %s GROUP BY organization_id, period_start, day, "
            f"model_id, product ORDER BY day, model_id, product "
            f"ON CONFLICT (organization_id, day, model_id, product) DO UPDATE SET "
            + ", ".join(f"{c} = EXCLUDED.{c}" for c in sums),
            [organization.pk, period_start],
        )
        return cursor.rowcount


def org_daily_stale(*, organization: Organization, period_start: dt.date) -> bool:
    """Whether the stored daily totals of a period count fewer (or more) events than the ledger's counters."""
    stored = OrgDailyUsage.objects.filter(organization=organization, period_start=period_start).aggregate(
        n=Sum("event_count"))["n"] or 0
    expected = OrgUsageSlot.objects.filter(organization=organization, period_start=period_start).aggregate(
        n=Sum("event_count"))["n"] or 0
    return stored != expected


# --- Notification settings ----------------------------------------------------------------------------------


def thresholds_validate(values: list[int]) -> list[int]:
    """1 to 5 distinct whole percentages between 1 and 100, returned ascending."""
    if not values:
        raise ValidationError({"thresholds": "Enter at least one percentage."})
    if len(values) > MAX_THRESHOLDS:
        raise ValidationError({"thresholds": f"Enter at most {MAX_THRESHOLDS} percentages."})
    if any(not isinstance(v, int) or isinstance(v, bool) or not 1 <= v <= 100 for v in values):
        raise ValidationError({"thresholds": "Each percentage must be a whole number from 1 to 100."})
    if len(set(values)) != len(values):
        raise ValidationError({"thresholds": "Each percentage may appear once."})
    return sorted(values)


@transaction.atomic
def notification_settings_set(*, organization: Organization, thresholds: list[int], actor,
                              now: dt.datetime) -> NotificationSettings:
    """Set the organization's notice thresholds. Audited (old → new) when they change."""
    thresholds = thresholds_validate(thresholds)
    row = NotificationSettings.objects.select_for_update().filter(organization=organization).first()
    old = row.thresholds if row else list(DEFAULT_THRESHOLDS)
    if row is None:
        row = NotificationSettings.objects.create(organization=organization, thresholds=thresholds, updated_at=now)
    elif row.thresholds != thresholds:
        row.thresholds = thresholds
        row.updated_at = now
        row.save(update_fields=["thresholds", "updated_at"])
    if old != thresholds:
        audit_record(organization=organization, actor=actor, action="notifications.thresholds",
                     target="organization", old=old, new=thresholds, now=now)
    return row


# --- Spend notices ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Crossing:
    scope: str
    membership: Membership | None
    threshold: int
    limit: Decimal
    spend: Decimal


def _reached(thresholds: list[int], spend: Decimal, limit: Decimal | None) -> list[int]:
    if limit is None:
        return []
    if limit <= 0:
        return list(thresholds)  # a $0 limit is reached from the start
    return [t for t in thresholds if spend * HUNDRED >= limit * t]


def _personal_limit(caps, membership_id: int, tier_id: int | None) -> Decimal | None:
    amounts = []
    member_cap = caps.members.get(membership_id)
    if member_cap is not None and member_cap.amount is not None:
        amounts.append(member_cap.amount)
    tier_cap = caps.tiers.get(tier_id) if tier_id is not None else None
    if tier_cap is not None and tier_cap.amount is not None:
        amounts.append(tier_cap.amount)
    return min(amounts) if amounts else None


def spend_thresholds_newly_reached(*, thresholds: list[int], caps, membership_id: int, tier, seat_based: bool,
                                   before, after, org_before, org_after) -> bool:
    """Whether usage that moved a member's counters from `before` to `after` (and the organization's from
    `org_before` to `org_after`) reached a notice threshold not reached before, at any scope (module docstring).
    The recording path queues spend_notifications_check only then; the periodic sweep catches what this misses
    (a limit lowered below the spend, or concurrent events that each saw the organization total below a
    threshold)."""
    limit = _personal_limit(caps, membership_id, tier.pk if tier is not None else None)
    if len(_reached(thresholds, after.capped, limit)) > len(_reached(thresholds, before.capped, limit)):
        return True
    if seat_based and tier is not None and tier.included_usage.amount > 0:
        allowance = tier.included_usage.amount
        if len(_reached(thresholds, after.included_spend, allowance)) > len(
                _reached(thresholds, before.included_spend, allowance)):
            return True
    org_cap = caps.organization.amount if caps.organization is not None else None
    return len(_reached(thresholds, org_after.capped, org_cap)) > len(_reached(thresholds, org_before.capped, org_cap))


def spend_crossings(*, organization: Organization, membership_ids: list[int] | None,
                    period_start: dt.date) -> list[Crossing]:
    """Every threshold currently reached, per scope (see the module docstring). A fixed number of queries;
    `membership_ids` None checks every member with usage this period."""
    thresholds = notification_thresholds(organization=organization)
    crossings: list[Crossing] = []
    caps = org_caps(organization=organization, membership_ids=membership_ids)
    if membership_ids is None:
        counters = members_counters(
            membership_ids=Membership.objects.filter(organization=organization, period_usage__period_start=period_start)
            .values_list("pk", flat=True),
            period_start=period_start,
        )
    else:
        counters = members_counters(membership_ids=membership_ids, period_start=period_start)
    ids = list(counters)
    memberships = {m.pk: m for m in Membership.objects.filter(pk__in=ids).select_related("user")}
    seats = {s.membership_id: s.tier for s in
             SeatAssignment.objects.filter(membership_id__in=ids, ended_at__isnull=True).select_related("tier")}
    for mid in ids:
        membership, tier, c = memberships.get(mid), seats.get(mid), counters[mid]
        if membership is None or not membership.is_active:
            continue
        limit = _personal_limit(caps, mid, tier.pk if tier else None)
        crossings += [Crossing(NoticeScope.MEMBER_LIMIT, membership, t, limit, c.capped)
                      for t in _reached(thresholds, c.capped, limit)]
        if organization.is_seat_based and tier is not None and tier.included_usage.amount > 0:
            allowance = tier.included_usage.amount
            crossings += [Crossing(NoticeScope.MEMBER_ALLOWANCE, membership, t, allowance, c.included_spend)
                          for t in _reached(thresholds, c.included_spend, allowance)]
    org_cap = caps.organization.amount if caps.organization is not None else None
    if org_cap is not None:
        org = org_counters(organization_id=organization.pk, period_start=period_start)
        crossings += [Crossing(NoticeScope.ORG_CAP, None, t, org_cap, org.capped)
                      for t in _reached(thresholds, org.capped, org_cap)]
    return crossings


def _page_url(organization: Organization, name: str) -> str:
    try:
        return settings.SITE_URL.rstrip("/") + reverse(name, kwargs={"slug": organization.slug})
    except NoReverseMatch:
        return settings.SITE_URL


def _notice_email(notice: SpendNotice, organization: Organization, crossing: Crossing) -> list[tuple]:
    """(subject, body, recipients) for each email a notice sends: a member's in their language (their saved
    preference, else the organization's default); the owners' and admins' in the organization's default."""
    member_language = organization.default_language
    if crossing.membership is not None:
        member_language = recipient_language(user=crossing.membership.user, organization=organization)
    with translation.override(member_language):
        emails = _notice_email_in(notice, organization, crossing, for_member=True)
    with translation.override(organization.default_language):
        return emails + _notice_email_in(notice, organization, crossing, for_member=False)


def _notice_email_in(notice: SpendNotice, organization: Organization, crossing: Crossing, *,
                     for_member: bool) -> list[tuple]:
    """The emails of one notice in the active language: the member's own (for_member), or the group's."""
    context = {
        "organization": organization, "notice": notice, "crossing": crossing,
        "member_email": crossing.membership.user.email if crossing.membership else None,
        "limit": money_format(crossing.limit), "spend": money_format(crossing.spend),
        "period": period_for_start(notice.period_start, organization.billing_timezone),
        "my_usage_url": _page_url(organization, "monitoring:my_usage"),
        "dashboard_url": _page_url(organization, "monitoring:dashboard"),
    }
    emails = []
    names = {"organization": organization.name, "share": percent_format(Decimal(crossing.threshold) / 100)}
    if crossing.scope == NoticeScope.ORG_CAP:
        if for_member:  # the owners' email only
            return emails
        subject = (_("%(organization)s reached its monthly spend cap") % names if crossing.threshold >= 100
                   else _("%(organization)s has used %(share)s of its monthly spend cap") % names)
        emails.append((subject, render_to_string("monitoring/email/org_cap.txt", context),
                       org_admin_emails(organization=organization, minimum=Role.OWNER)))
        return emails
    member = crossing.membership.user.email
    if crossing.scope == NoticeScope.MEMBER_ALLOWANCE:
        if not for_member:  # the member's email only
            return emails
        subject = (_("You have used all of your included usage") if crossing.threshold >= 100
                   else _("You have used %(share)s of your included usage") % names)
        emails.append((subject, render_to_string("monitoring/email/member_allowance.txt", context), [member]))
        return emails
    if for_member:
        subject = (_("Your usage is paused: you reached your spend limit") if crossing.threshold >= 100
                   else _("You have used %(share)s of your spend limit") % names)
        emails.append((subject, render_to_string("monitoring/email/member_limit.txt", context), [member]))
    elif crossing.threshold >= 100:
        admins = [e for e in org_admin_emails(organization=organization, minimum=Role.ADMIN) if e != member]
        if admins:
            emails.append((_("%(member)s reached their spend limit in %(organization)s") % {
                "member": member, "organization": organization.name},
                           render_to_string("monitoring/email/member_limit_admins.txt", context), admins))
    return emails


def _send(emails: list[tuple]) -> None:
    for subject, body, recipients in emails:
        try:
            send_mail(subject, body, None, recipients)
        except Exception:  # the claim stands: a mail outage must not make the notice fire again later
            logger.exception("spend notice email failed: %s to %s", subject, recipients)


@transaction.atomic
def spend_notifications_check(*, organization: Organization, membership_ids: list[int] | None = None,
                              now: dt.datetime | None = None) -> list[SpendNotice]:
    """Claim and send the notices for every threshold reached this period (module docstring). Returns the
    notices claimed by this call; another call (or a rerun) that finds them claimed sends nothing."""
    now = now or timezone.now()
    period_start = period_containing(now, organization.billing_timezone).start
    claimed = []
    for crossing in spend_crossings(organization=organization, membership_ids=membership_ids,
                                    period_start=period_start):
        notice = SpendNotice(
            organization=organization, scope=crossing.scope, membership=crossing.membership,
            threshold=crossing.threshold, period_start=period_start, limit_amount=crossing.limit,
            spend=crossing.spend, created_at=now,
        )
        try:
            with transaction.atomic():  # a savepoint: losing the race leaves the outer transaction usable
                emails = _notice_email(notice, organization, crossing)
                notice.recipients = sorted({r for _, _, rs in emails for r in rs})
                notice.save(force_insert=True)
        except IntegrityError:
            continue  # already claimed by an earlier or concurrent check
        claimed.append(notice)
        transaction.on_commit(lambda emails=emails: _send(emails))
    return claimed


def organizations_with_usage(*, now: dt.datetime) -> list[Organization]:
    """Organizations with any usage in their current period (the sweep's work list)."""
    first = (now.date().replace(day=1) - dt.timedelta(days=1)).replace(day=1)
    ids = set(OrgUsageSlot.objects.filter(period_start__gte=first, event_count__gt=0)
              .values_list("organization_id", flat=True).distinct())
    result = []
    for organization in Organization.objects.filter(pk__in=ids):
        period = period_containing(now, organization.billing_timezone)
        if OrgUsageSlot.objects.filter(organization=organization, period_start=period.start,
                                       event_count__gt=0).exists():
            result.append(organization)
    return result

