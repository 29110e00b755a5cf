"""`manage.py seed_demo`: three demo organizations, one per plan kind, with members, seats of every tier, caps,
extra usage and usage history from the start of the month before last until now, so every page shows data.

The data tells the truth, whatever day it runs:
- History is replayed in time order through the spending app's own service (`usage_record_batch`) with `now` set to
  when each day's events occurred, so each event is received when it happened (before its invoice's usage
  cutoff), counters, rollups, funding splits and prepaid draws are what real traffic would have produced, and a
  member stops being charged once an answer said `blocked` (admission would have refused them from then on).
- The last two closed months are invoiced through the invoicing service with the `now` the monthly run would
  have had (a quarter of an hour after the month ended): Initech's invoices bill its pooled usage, Globex's its
  extra usage and Acme's show its prepaid draws, each line the sum of that month's events per member and model.
- This month, a few Enterprise members used their allowance and reached their limit early in the month, so
  "Request extra usage" shows at once; pending requests come only from such members, after they were stopped.
- Acme's prepaid balance comes from purchases made through the purchase service (its purchase history), minus
  the usage drawn from it.

Idempotent: a second run finds everything in place and changes nothing (users, memberships, seats, caps, keys
and events are looked up before they are created; the usage history, and the requests that follow from it, are
written only for an organization that has none yet).
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand
from django.utils import timezone

from apps.accounts.models import User
from apps.admin_api.models import AdminApiKey
from apps.admin_api.services import admin_api_key_create
from apps.common.periods import Period, period_containing
from apps.demo.logins import MEMBER_COUNT, PASSWORD, STAFF_EMAIL, login_lines
from apps.extra_usage.models import ExtraUsageSettings
from apps.extra_usage.services.auto_reload import auto_reload_configure
from apps.extra_usage.services.prepaid import prepaid_purchase
from apps.extra_usage.services.switches import extra_usage_enable
from apps.extra_usage.services.usage_requests import extra_usage_request_create
from apps.identity.services import sso_domain_mark_verified
from apps.invoicing.services import billing_details_update, invoice_issue_for_period
from apps.organizations.models import ApiKey, Membership, Organization, PlanKind, Role
from apps.organizations.services import api_key_create, organization_create
from apps.seats.models import SeatCharge, SeatTier, TierCode
from apps.seats.selectors import seat_current
from apps.seats.services import seat_assign, seat_tiers_create_defaults
from apps.spending.services import UsageInput, usage_record_batch
from apps.usage.models import CapScope, UsageEvent
from apps.usage.pricing import Tokens
from apps.usage.services import cap_set

BATCH_SIZE = 500
DEMO_KEY_NAME = "Demo assistant gateway"
SEED_KEY_PREFIX = "seed-"


@dataclass(frozen=True)
class OrgSpec:
    slug: str
    name: str
    plan_kind: str
    billing_timezone: str
    # tier code for owners/admin, and the rotation members cycle through
    lead_tier: str
    member_tiers: tuple[str, ...]


ORGS = [
    OrgSpec("acme-team", "Acme Team", PlanKind.TEAM, "America/New_York", TierCode.PREMIUM,
            (TierCode.STANDARD, TierCode.STANDARD, TierCode.PREMIUM)),
    OrgSpec("globex-enterprise", "Globex Corporation", PlanKind.ENTERPRISE_SEAT, "Europe/Berlin", TierCode.PREMIUM,
            (TierCode.STANDARD, TierCode.PREMIUM, TierCode.STANDARD)),
    OrgSpec("initech-enterprise", "Initech", PlanKind.ENTERPRISE_USAGE, "UTC", TierCode.CHAT_CODE,
            (TierCode.CHAT_CODE, TierCode.CHAT, TierCode.CHAT_CODE)),
]

FIRST_NAMES = ["Ada", "Grace", "Alan", "Katherine", "Linus", "Margaret", "Dennis", "Barbara", "Ken", "Frances",
               "Edsger", "Radia", "Donald", "Hedy", "John", "Sophie", "Tim", "Karen", "Guido", "Anita", "Bjarne",
               "Shafi", "Niklaus", "Lynn", "Leslie", "Mary", "Vint", "Jean"]
LAST_NAMES = ["Lovelace", "Hopper", "Turing", "Johnson", "Torvalds", "Hamilton", "Ritchie", "Liskov", "Thompson",
              "Allen", "Dijkstra", "Perlman", "Knuth", "Lamarr", "McCarthy", "Wilson", "Berners-Lee", "Jones",
              "van Rossum", "Borg", "Stroustrup", "Goldwasser", "Wirth", "Conway", "Lamport", "Shaw", "Cerf",
              "Bartik"]

# (model alias, weight)
CHAT_MODELS = [("claude-sonnet-4-5", 55), ("claude-haiku-4-5", 25), ("claude-opus-4-5", 10),
               ("claude-sonnet-4-0", 5), ("claude-3-5-haiku-latest", 5)]
CODE_MODELS = [("claude-sonnet-4-5", 60), ("claude-opus-4-5", 15), ("claude-opus-4-1", 5), ("claude-haiku-4-5", 15),
               ("claude-opus-4-0", 5)]


@dataclass
class Seed:
    """What the steps share: the real now, the report lines to print, and what they created."""

    now: dt.datetime
    out: Callable[[str], None]
    password_hash: str = ""
    orgs: dict[str, Organization] = field(default_factory=dict)
    members: dict[str, list[Membership]] = field(default_factory=dict)
    new_keys: dict[str, str] = field(default_factory=dict)
    new_admin_keys: dict[str, str] = field(default_factory=dict)
    events_recorded: dict[str, int] = field(default_factory=dict)
    verified_domains: list[str] = field(default_factory=list)
    # email -> when the machine API first answered `blocked` this month, for organizations recorded in this run
    stopped_at: dict[str, dt.datetime] = field(default_factory=dict)

    def closed_periods(self, org: Organization) -> tuple[Period, Period]:
        """The month before last and last month, in the organization's billing time zone."""
        current = period_containing(self.now, org.billing_timezone)
        last = period_containing(current.starts_at - dt.timedelta(seconds=1), org.billing_timezone)
        before = period_containing(last.starts_at - dt.timedelta(seconds=1), org.billing_timezone)
        return before, last

    def history_from(self, org: Organization) -> dt.datetime:
        return self.closed_periods(org)[0].starts_at

    def set_up_at(self, org: Organization) -> dt.datetime:
        """When the organization was set up: seats, caps and extra usage a few days before its history."""
        return self.history_from(org) - dt.timedelta(days=3)


def user_ensure(seed: Seed, email: str, name: str, **extra) -> User:
    """The user with this email, created with password `demo` if missing (an existing user is left as is)."""
    user = User.objects.filter(email=email).first()
    if user is None:
        user = User.objects.create(email=email, name=name, password=seed.password_hash, **extra)
    return user


def display_name(index: int) -> str:
    return f"{FIRST_NAMES[index % len(FIRST_NAMES)]} {LAST_NAMES[(index * 7 + 3) % len(LAST_NAMES)]}"


def people(spec: OrgSpec) -> list[tuple[str, str, str]]:
    """(email, name, role) for everyone of an organization."""
    domain = f"{spec.slug}.example"
    rows = [
        (f"owner@{domain}", display_name(0), Role.PRIMARY_OWNER),
        (f"owner2@{domain}", display_name(1), Role.OWNER),
        (f"admin@{domain}", display_name(2), Role.ADMIN),
    ]
    rows += [(f"member{i}@{domain}", display_name(i + 2), Role.MEMBER) for i in range(1, MEMBER_COUNT + 1)]
    return rows


def step_staff(seed: Seed) -> None:
    """A Django admin superuser."""
    user_ensure(seed, STAFF_EMAIL, "Billing Portal Staff", is_staff=True, is_superuser=True)


def step_organizations(seed: Seed) -> None:
    """The three organizations, their people and their default seat tiers."""
    for spec in ORGS:
        org = Organization.objects.filter(slug=spec.slug).first()
        if org is None:
            org = organization_create(name=spec.name, slug=spec.slug, plan_kind=spec.plan_kind,
                                      billing_timezone=spec.billing_timezone)
        seat_tiers_create_defaults(organization=org)
        existing = {m.user.email: m for m in Membership.objects.filter(organization=org).select_related("user")}
        memberships = []
        for email, name, role in people(spec):
            membership = existing.get(email)
            if membership is None:
                user = user_ensure(seed, email, name)
                membership = Membership.objects.create(organization=org, user=user, role=role)
            memberships.append(membership)
        seed.orgs[spec.slug] = org
        seed.members[spec.slug] = memberships

def step_seats(seed: Seed) -> None:
    """Seats of every tier from before the history starts; one member was upgraded ten days ago (a prorated
    charge) and the last member has no seat yet (admission answers `no_seat`)."""
    for spec in ORGS:
        org = seed.orgs[spec.slug]
        since = seed.set_up_at(org) - dt.timedelta(days=2)
        tiers = {t.code: t for t in SeatTier.objects.filter(organization=org)}
        for index, membership in enumerate(seed.members[spec.slug]):
            if index == len(seed.members[spec.slug]) - 1:
                continue  # the newest member is still waiting for a seat
            if seat_current(membership=membership) is not None:
                continue
            code = spec.lead_tier if membership.role != Role.MEMBER else spec.member_tiers[index % 3]
            seat_assign(membership=membership, tier=tiers[code], now=since, charge_upgrade=False)
        # One member moved up to the costlier tier ten days ago (a prorated SeatCharge), once.
        if SeatCharge.objects.filter(organization=org).exists():
            continue
        top = max(tiers.values(), key=lambda t: t.monthly_fee.amount)
        for membership in seed.members[spec.slug][3:-1]:
            current = seat_current(membership=membership)
            if current is not None and current.tier_id != top.pk:
                seat_assign(membership=membership, tier=top, now=seed.now - dt.timedelta(days=10))
                break


def _member(seed: Seed, slug: str, number: int) -> Membership:
    return seed.members[slug][2 + number]  # owner, owner2, admin, member1…


CAPS = {
    "acme-team": {"org": Decimal("600.00"), "tiers": {}, "members": {2: Decimal("10.00"), 7: Decimal("25.00")}},
    "globex-enterprise": {
        "org": Decimal("1500.00"),
        "tiers": {TierCode.STANDARD: Decimal("40.00"), TierCode.PREMIUM: Decimal("150.00")},
        "members": {2: Decimal("5.00"), 8: Decimal("60.00")},
    },
    "initech-enterprise": {
        "org": Decimal("3000.00"),
        "tiers": {TierCode.CHAT: Decimal("60.00"), TierCode.CHAT_CODE: Decimal("250.00")},
        "members": {2: Decimal("20.00"), 5: Decimal("400.00"), 9: Decimal("15.00")},
    },
}


def step_caps(seed: Seed) -> None:
    """Caps set when the organization was set up: an organization cap everywhere, tier caps on the Enterprise
    plans, a few member caps (the answers that recorded the history were decided against them)."""
    for spec in ORGS:
        org = seed.orgs[spec.slug]
        owner = seed.members[spec.slug][0].user
        plan, at = CAPS[spec.slug], seed.set_up_at(org)
        cap_set(organization=org, scope=CapScope.ORGANIZATION, amount=plan["org"], actor=owner, now=at)
        for code, amount in plan["tiers"].items():
            tier = SeatTier.objects.get(organization=org, code=code)
            cap_set(organization=org, scope=CapScope.SEAT_TIER, tier=tier, amount=amount, actor=owner, now=at)
        for number, amount in plan["members"].items():
            cap_set(organization=org, scope=CapScope.MEMBER, membership=_member(seed, spec.slug, number),
                    amount=amount, actor=owner, now=at)


def step_extra_usage(seed: Seed) -> None:
    """Extra usage on for both seat-based organizations, through the owner's own services. Acme (Team) prepays
    it: $1,000 bought when it was set up and a $500 top-up early last month, each through the purchase service,
    so its purchase history less the usage drawn is its balance."""
    acme = seed.orgs["acme-team"]
    acme_owner = seed.members["acme-team"][0].user
    if not ExtraUsageSettings.objects.filter(organization=acme, enabled=True).exists():
        last_month = seed.closed_periods(acme)[1]
        top_up_at = last_month.starts_at + dt.timedelta(days=2, hours=15)
        for key, amount, when in (("demo-first-purchase", Decimal("1000.00"), seed.set_up_at(acme)),
                                  ("demo-top-up", Decimal("500.00"), top_up_at)):
            prepaid_purchase(organization=acme, amount=amount, idempotency_key=key, actor=acme_owner, now=when)
    for slug in ("acme-team", "globex-enterprise"):
        org = seed.orgs[slug]
        extra_usage_enable(organization=org, actor=seed.members[slug][0].user, now=seed.set_up_at(org))


def _weighted(rng: random.Random, choices: list[tuple[str, int]]) -> str:
    return rng.choices([c for c, _ in choices], weights=[w for _, w in choices])[0]


def _tokens(rng: random.Random, product: str) -> Tokens:
    if product == "claude_code":
        if rng.random() < 0.02:  # an occasional long-context session
            return Tokens(input=rng.randint(20_000, 60_000), output=rng.randint(2_000, 12_000),
                          cache_write=rng.randint(10_000, 40_000), cache_read=rng.randint(150_000, 300_000))
        return Tokens(input=rng.randint(2_000, 25_000), output=rng.randint(300, 6_000),
                      cache_write=rng.randint(0, 15_000), cache_read=rng.randint(5_000, 90_000))
    return Tokens(input=rng.randint(500, 12_000), output=rng.randint(150, 2_500),
                  cache_write=rng.choice([0, 0, rng.randint(500, 4_000)]),
                  cache_read=rng.choice([0, rng.randint(0, 8_000)]))


# This month's heavy starts: (member number, asks for more once stopped). Each of them works through their
# included usage and up to their limit in the first half of the month so far; the first one has not asked yet,
# so "Request extra usage" shows on their My usage page.
EARLY_LIMIT = {
    "globex-enterprise": ((2, False), (8, True), (3, True)),
    "initech-enterprise": ((2, False), (9, True), (5, True)),
}
EARLY_LIMIT_MAX_EVENTS = 400
HEAVY_SESSION = Tokens(input=120_000, output=16_000, cache_write=30_000, cache_read=40_000)


@dataclass(frozen=True)
class Planned:
    item: UsageInput
    alone: bool  # recorded as its own request, so the member is stopped right after the answer says blocked


def usage_history(spec: OrgSpec, memberships: list[Membership], tiers: dict[int, SeatTier], since: dt.datetime,
                  now: dt.datetime, current: Period) -> list[Planned]:
    """Deterministic, realistic events from `since` to `now`, oldest first: weekdays busier than weekends,
    working hours, a few heavy users who go past their included usage, model and product mixes; and this
    month's early heavy sessions (EARLY_LIMIT)."""
    rng = random.Random(spec.slug)
    planned = []
    days = (now.date() - since.date()).days
    for number, membership in enumerate(memberships):
        tier = tiers.get(membership.pk)
        if tier is None:
            continue
        # Heavy users (every fifth person) go well past their included allowance; the rest vary.
        intensity = 12.0 if number % 5 == 4 else rng.choice([0.7, 1.2, 2.0, 3.0])
        codes = "claude_code" in tier.products
        for days_ago in range(days, -1, -1):
            day = now - dt.timedelta(days=days_ago)
            weekend = day.weekday() >= 5
            count = max(0, round(rng.gauss(intensity * (0.3 if weekend else 1.0), intensity / 3)))
            for n in range(count):
                occurred_at = day.replace(hour=rng.randint(8, 18), minute=rng.randint(0, 59),
                                          second=rng.randint(0, 59), microsecond=0)
                roll = rng.random()
                product = "claude_code" if codes and roll < 0.55 else ("cowork" if roll > 0.9 else "chat")
                model = _weighted(rng, CODE_MODELS if product == "claude_code" else CHAT_MODELS)
                tokens = _tokens(rng, product)
                if not since <= occurred_at <= now:
                    continue
                planned.append(Planned(UsageInput(
                    idempotency_key=f"{SEED_KEY_PREFIX}{spec.slug}-{membership.pk}-{occurred_at:%Y%m%d}-{n}",
                    member=membership.user.email, product=product, model=model, tokens=tokens,
                    occurred_at=occurred_at,
                ), alone=False))
    # This month's early heavy sessions, spread over the first half of the month so far.
    elapsed = now - current.starts_at
    for number, _asks in EARLY_LIMIT.get(spec.slug, ()):
        membership = memberships[2 + number]
        product = "claude_code" if "claude_code" in tiers[membership.pk].products else "chat"
        for n in range(EARLY_LIMIT_MAX_EVENTS):
            occurred_at = current.starts_at + elapsed * (0.02 + 0.48 * n / EARLY_LIMIT_MAX_EVENTS)
            planned.append(Planned(UsageInput(
                idempotency_key=f"{SEED_KEY_PREFIX}{spec.slug}-{membership.pk}-early-{n}",
                member=membership.user.email, product=product, model="claude-opus-4-5", tokens=HEAVY_SESSION,
                occurred_at=occurred_at.replace(microsecond=0),
            ), alone=True))
    planned.sort(key=lambda p: p.item.occurred_at)
    return planned


def usage_replay(seed: Seed, org: Organization, planned: list[Planned]) -> int:
    """Record the planned events in time order, each day's as one batch received at the end of that day's
    events (a heavy session on its own, received when it happened). A member the machine API answered `blocked`
    is not charged again that month: it would have refused them from then on. Returns the events recorded."""
    stopped: set[tuple[str, dt.date]] = set()
    chunk: list[UsageInput] = []
    recorded = 0

    def flush() -> None:
        nonlocal recorded
        if not chunk:
            return
        received_at = min(seed.now, max(item.occurred_at for item in chunk) + dt.timedelta(seconds=1))
        outcomes = usage_record_batch(organization=org, items=list(chunk), now=received_at)
        for item, outcome in zip(chunk, outcomes, strict=True):
            if outcome.status not in ("created", "replayed"):
                raise RuntimeError(f"seed usage refused for {org.slug}: {outcome.field}: {outcome.message}")
            if outcome.status == "created":
                recorded += 1
                if outcome.event.blocked_after:
                    stopped.add((item.member, outcome.event.period_start))
                    seed.stopped_at.setdefault(item.member, item.occurred_at)
        chunk.clear()

    day = None
    for entry in planned:
        item = entry.item
        period_start = period_containing(item.occurred_at, org.billing_timezone).start
        if (item.member, period_start) in stopped:
            continue
        if entry.alone or item.occurred_at.date() != day or len(chunk) >= BATCH_SIZE:
            flush()
            day = item.occurred_at.date()
        chunk.append(item)
        if entry.alone:
            flush()
    flush()
    current = period_containing(seed.now, org.billing_timezone).start
    seed.stopped_at = {email: at for email, at in seed.stopped_at.items()
                       if (email, current) in stopped or not email.endswith(f"@{org.slug}.example")}
    return recorded


def step_usage_history(seed: Seed) -> None:
    """The usage history, replayed through the spending service; skipped for an organization that already has it."""
    for spec in ORGS:
        org = seed.orgs[spec.slug]
        if UsageEvent.objects.filter(organization=org, idempotency_key__startswith=SEED_KEY_PREFIX).exists():
            seed.events_recorded[spec.slug] = 0
            continue
        memberships = seed.members[spec.slug]
        tiers = {}
        for membership in memberships:
            current = seat_current(membership=membership)
            if current is not None:
                tiers[membership.pk] = current.tier
        planned = usage_history(spec, memberships, tiers, seed.history_from(org), seed.now,
                                period_containing(seed.now, org.billing_timezone))
        seed.events_recorded[spec.slug] = usage_replay(seed, org, planned)


def step_extra_usage_requests(seed: Seed) -> None:
    """Pending requests for extra usage from the members of each Enterprise organization who reached their
    limit this month and asked (EARLY_LIMIT), made some time after admission stopped them. Only after this
    run recorded the history: a later run leaves requests as the people trying the demo left them."""
    for slug, early in EARLY_LIMIT.items():
        if not seed.events_recorded.get(slug):
            continue
        for number, asks in early:
            membership = _member(seed, slug, number)
            stopped_at = seed.stopped_at.get(membership.user.email)
            if asks and stopped_at is not None:
                extra_usage_request_create(membership=membership, now=stopped_at + (seed.now - stopped_at) / 2)


def step_auto_reload(seed: Seed) -> None:
    """Auto-reload on Acme's prepaid balance, set up today (a reload follows at once if the balance is low)."""
    acme = seed.orgs["acme-team"]
    auto_reload_configure(organization=acme, enabled=True, threshold=Decimal("100.00"), amount=Decimal("500.00"),
                          monthly_limit=Decimal("2000.00"), actor=seed.members["acme-team"][0].user, now=seed.now)


# Billing details on the invoices: a US customer (no tax), a German business with a VAT ID (EU reverse charge)
# and a UK one (UK VAT at the table's rate). The seller is settings.INVOICE_ISSUER (an Irish company).
BILLING_DETAILS = {
    "acme-team": {"legal_name": "Acme Team, Inc.", "address": "350 Fifth Avenue, Suite 4100\nNew York, NY 10118",
                  "country": "US", "tax_id": "12-3456789", "po_number": "", "billing_email": "ap@acme-team.example"},
    "globex-enterprise": {"legal_name": "Globex Deutschland GmbH", "address": "Friedrichstraße 68\n10117 Berlin",
                          "country": "DE", "tax_id": "DE136695976", "po_number": "4500012345",
                          "billing_email": "kreditoren@globex-enterprise.example"},
    "initech-enterprise": {"legal_name": "Initech Ltd", "address": "1 Bishopsgate\nLondon EC2N 3AQ",
                           "country": "GB", "tax_id": "GB980780684", "po_number": "PO-2026-118",
                           "billing_email": "accounts@initech-enterprise.example"},
}


def step_billing_details(seed: Seed) -> None:
    """Each organization's billing details, saved by its primary owner before its invoices were issued (saving
    the same details again changes nothing)."""
    for spec in ORGS:
        org = seed.orgs[spec.slug]
        periods = seed.closed_periods(org)
        saved_at = periods[0].ends_at - dt.timedelta(days=1) if periods else seed.now
        billing_details_update(organization=org, actor=seed.members[spec.slug][0].user, now=saved_at,
                               **BILLING_DETAILS[spec.slug])


INVOICE_RUN_DELAY = dt.timedelta(minutes=15)  # the beat's invoicing-close-periods cadence


def step_invoices(seed: Seed) -> None:
    """The last two closed months invoiced, oldest first (a later month cannot be issued before an earlier one),
    as the monthly run would have issued them: a quarter of an hour after each month ended. Issuing an invoice
    twice returns the first."""
    for spec in ORGS:
        org = seed.orgs[spec.slug]
        for period in seed.closed_periods(org):
            invoice_issue_for_period(organization=org, period_start=period.start,
                                     now=min(seed.now, period.ends_at + INVOICE_RUN_DELAY))


def step_api_keys(seed: Seed) -> None:
    """One machine API key per organization; its raw value can only be printed when it is created."""
    for spec in ORGS:
        org = seed.orgs[spec.slug]
        if not ApiKey.objects.filter(organization=org, name=DEMO_KEY_NAME, revoked_at__isnull=True).exists():
            _, raw = api_key_create(organization=org, name=DEMO_KEY_NAME)
            seed.new_keys[spec.slug] = raw


DEMO_ADMIN_KEY_NAME = "Demo Admin API key"
ADMIN_API_DEMO_ORGS = ("globex-enterprise",)


def step_admin_api_keys(seed: Seed) -> None:
    """An Admin API key (Spend Limits API, read and write) for globex-enterprise, printed once when created."""
    for slug in ADMIN_API_DEMO_ORGS:
        org = seed.orgs[slug]
        if not AdminApiKey.objects.filter(organization=org, name=DEMO_ADMIN_KEY_NAME,
                                          revoked_at__isnull=True).exists():
            _, raw = admin_api_key_create(organization=org, name=DEMO_ADMIN_KEY_NAME,
                                          scopes=["read:spend_limits", "write:spend_limits"],
                                          actor=seed.members[slug][0].user, now=seed.now)
            seed.new_admin_keys[slug] = raw


def step_verified_domains(seed: Seed) -> None:
    """Each organization's own `<slug>.example` domain, marked verified without a DNS lookup (the .example names
    cannot carry a TXT record), so Security & SSO shows a working state. Said so in the report."""
    for spec in ORGS:
        if sso_domain_mark_verified(organization=seed.orgs[spec.slug], domain=f"{spec.slug}.example",
                                    actor_label="seed_demo", now=seed.now):
            seed.verified_domains.append(f"{spec.slug}.example")


STEPS: list[Callable[[Seed], None]] = [
    step_staff,
    step_organizations,
    step_seats,
    step_caps,
    step_extra_usage,
    step_usage_history,
    step_extra_usage_requests,
    step_billing_details,
    step_invoices,
    step_auto_reload,
    step_api_keys,
    step_admin_api_keys,
    step_verified_domains,
]


def report_keys(seed: Seed) -> list[str]:
    """The keys created by this run (shown once), or how to make another."""
    lines = []
    for spec in ORGS:
        if spec.slug in seed.new_keys:
            lines.append(f"  {spec.slug} machine API key (shown once): {seed.new_keys[spec.slug]}")
        if spec.slug in seed.new_admin_keys:
            lines.append(f"  {spec.slug} Admin API key, Spend Limits API (shown once): "
                         f"{seed.new_admin_keys[spec.slug]}")
    if not lines:
        lines.append("  API keys were printed on the first run; make more with `manage.py create_api_key <slug>` "
                     "and `manage.py create_admin_api_key <slug>`.")
    return ["API keys:", *lines]


def report(seed: Seed, site_url: str) -> list[str]:
    lines = login_lines(site_url)
    for spec in ORGS:
        recorded = seed.events_recorded.get(spec.slug)
        if recorded:
            lines.append(f"  {spec.slug}: {recorded} usage events recorded")
    lines.append("Verified domains: " + ", ".join(f"{spec.slug}.example" for spec in ORGS)
                 + " (marked verified by seed_demo without a DNS lookup; SSO and SCIM act only on verified domains)")
    return lines + report_keys(seed)


class Command(BaseCommand):
    help = "Create (idempotently) the demo organizations, people, seats, caps, extra usage and usage history."

    def add_arguments(self, parser):
        parser.add_argument("--keys-only", action="store_true",
                            help="Print only the API keys (the demo runner has printed the logins already).")

    def handle(self, *args, keys_only: bool = False, **options):
        seed = Seed(now=timezone.now(), out=self.stdout.write, password_hash=make_password(PASSWORD))
        for step in STEPS:
            step(seed)
        for line in report_keys(seed) if keys_only else report(seed, settings.SITE_URL):
            self.stdout.write(line)
