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
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Sum
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from apps.common.money import money_format
from apps.common.periods import period_containing, period_for_start
from apps.common.tasks import enqueue_on_commit
from apps.notices.models import NoticeKind
from apps.notices.services import notice_send
from apps.organizations.models import Membership, Organization, Role
from apps.organizations.services import audit_record
from apps.spending.models import DEFAULT_THRESHOLDS, NotificationSettings
from apps.spending.selectors import spend_contexts_load
from apps.spending.thresholds import personal_limit, thresholds_reached
from apps.usage.models import MemberPeriodUsage, OrgUsageSlot, UsageDailyRollup
from apps.webhooks import payloads
from apps.webhooks.services import webhook_event_emit

from .models import NoticeScope, OrgDailyUsage, SpendNotice
from .selectors import org_admin_emails

logger = logging.getLogger(__name__)
MAX_THRESHOLDS = 5
ORG_DAILY_LOCK = 60601  # advisory-lock namespace of org_daily_refresh


# --- Daily totals -------------------------------------------------------------------------------------------


REFRESH_REQUEST_INTERVAL = 60  # seconds: a busy dashboard asks for one rebuild a minute, not one per view
ORG_DAILY_REFRESH_TASK = "apps.monitoring.tasks.org_daily_refresh_task"


def org_daily_refresh_request(*, organization: Organization, period_starts: list[dt.date]) -> None:
    """Queue a rebuild of the lagging daily totals a page found (OrgDashboard.stale_periods), at most once a
    minute per organization and period. A broker outage only delays it until the 5-minute sweep: the page was
    already served exactly, from the rollups."""
    for period_start in period_starts:
        if cache.add(f"monitoring:refresh:{organization.pk}:{period_start}", 1, timeout=REFRESH_REQUEST_INTERVAL):
            enqueue_on_commit(ORG_DAILY_REFRESH_TASK, organization.pk, period_start.isoformat())


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
        # Serialize rebuilds of one organization so two of them cannot interleave their upserts.
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


def spend_crossings(*, organization: Organization, membership_ids: list[int] | None,
                    period_start: dt.date) -> list[Crossing]:
    """Every threshold currently reached, per scope (see the module docstring), read from the members' spend
    contexts. Three queries; `membership_ids` None checks every member with usage this period."""
    with_usage = MemberPeriodUsage.objects.filter(organization=organization, period_start=period_start)
    if membership_ids is not None:
        with_usage = with_usage.filter(membership_id__in=membership_ids)
    ids = list(with_usage.values_list("membership_id", flat=True))
    context, found = spend_contexts_load(organization=organization, membership_ids=ids,
                                         period=period_for_start(period_start, organization.billing_timezone))
    thresholds, caps = context.notice_thresholds, context.caps
    memberships = Membership.objects.active().select_related("user").in_bulk(ids)
    crossings: list[Crossing] = []
    for mid in ids:
        membership = memberships.get(mid)
        if membership is None:
            continue
        tier, c = found[mid].tier, found[mid].member
        limit = personal_limit(caps=caps, membership_id=mid, tier_id=tier.pk if tier else None)
        crossings += [Crossing(NoticeScope.MEMBER_LIMIT, membership, t, limit, c.capped)
                      for t in thresholds_reached(thresholds=thresholds, spend=c.capped, limit=limit)]
        if organization.is_seat_based and tier is not None and tier.included_usage.amount > 0:
            allowance = tier.included_usage.amount
            crossings += [Crossing(NoticeScope.MEMBER_ALLOWANCE, membership, t, allowance, c.included_spend)
                          for t in thresholds_reached(thresholds=thresholds, spend=c.included_spend,
                                                      limit=allowance)]
    org_cap = caps.organization.amount if caps.organization is not None else None
    if org_cap is not None:
        crossings += [Crossing(NoticeScope.ORG_CAP, None, t, org_cap, context.org.capped)
                      for t in thresholds_reached(thresholds=thresholds, spend=context.org.capped, limit=org_cap)]
    return crossings


def _page_url(organization: Organization, name: str) -> str:
    try:
        return settings.SITE_URL.rstrip("/") + reverse(name, kwargs={"slug": organization.slug})
    except NoReverseMatch:
        return settings.SITE_URL


def _notice_email(notice: SpendNotice, organization: Organization, crossing: Crossing) -> list[tuple]:
    """(notice kind and template, context, recipients) for each email a notice sends."""
    context = {
        "organization": organization, "notice": notice, "crossing": crossing,
        "member_email": crossing.membership.user.email if crossing.membership else None,
        "limit": money_format(crossing.limit), "spend": money_format(crossing.spend),
        "period": period_for_start(notice.period_start, organization.billing_timezone),
        "my_usage_url": _page_url(organization, "monitoring:my_usage"),
        "dashboard_url": _page_url(organization, "monitoring:dashboard"),
    }
    if crossing.scope == NoticeScope.ORG_CAP:
        return [(NoticeKind.SPEND_ORG_CAP, context, org_admin_emails(organization=organization, minimum=Role.OWNER))]
    member = crossing.membership.user.email
    if crossing.scope == NoticeScope.MEMBER_ALLOWANCE:
        return [(NoticeKind.SPEND_MEMBER_ALLOWANCE, context, [member])]
    emails = [(NoticeKind.SPEND_MEMBER_LIMIT, context, [member])]
    if crossing.threshold >= 100:
        admins = [e for e in org_admin_emails(organization=organization, minimum=Role.ADMIN) if e != member]
        if admins:
            emails.append((NoticeKind.SPEND_MEMBER_LIMIT_ADMINS, context, admins))
    return emails


def _send(organization: Organization, emails: list[tuple], now: dt.datetime) -> None:
    """Queue the notice's emails in the claim's transaction (apps.notices): delivered after commit, retried
    with backoff on a mail outage, never dropped."""
    for kind, context, recipients in emails:
        notice_send(kind=kind, organization=organization, recipients=recipients, template=kind, context=context,
                    now=now)


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
        webhook_event_emit(organization=organization, **payloads.spend_notice(notice), now=now)
        _send(organization, emails, now)
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

