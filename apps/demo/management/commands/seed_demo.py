"""`manage.py seed_demo`: three demo organizations, one per plan kind, with members, seats of every tier, caps,
extra usage and 60 days of usage history, so every page shows data.

Idempotent: a second run finds everything in place and changes nothing (users, memberships, seats, caps, keys
and events are looked up before they are created; the usage history is written only for an organization that
has none yet). Usage is recorded through the spending app's own service (`usage_record_batch`), so the counters,
slots, rollups, funding splits and prepaid draws are exactly what real traffic would have produced.

Each step is a small function taking the `Seed` context; later steps (e.g. pending increase requests) are
added to `STEPS`.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from apps.accounts.models import User
from apps.common.periods import period_containing
from apps.extra_usage.models import ExtraUsageSettings, LedgerKind, PrepaidLedgerEntry
from apps.organizations.models import ApiKey, Membership, Organization, PlanKind, Role
from apps.organizations.services import api_key_create, organization_create
from apps.seats.models import SeatCharge, SeatTier, TierCode
from apps.seats.selectors import seat_current
from apps.seats.services import seat_assign, seat_tiers_create_defaults
from apps.spending.services import UsageInput, usage_record_batch
from apps.usage.models import CapScope, UsageEvent
from apps.usage.pricing import Tokens
from apps.usage.services import cap_set

SITE_URL = "http://127.0.0.1:8000"
PASSWORD = "demo"
STAFF_EMAIL = "staff@billing-portal.example"
MEMBER_COUNT = 24
HISTORY_DAYS = 60
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
    since = seed.now - dt.timedelta(days=HISTORY_DAYS + 5)
    for spec in ORGS:
        org = seed.orgs[spec.slug]
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


def step_caps(seed: Seed) -> None:
    """Some caps: an organization cap everywhere, tier caps on the Enterprise plans, a few member caps."""
    caps = {
        "acme-team": {"org": Decimal("400.00"), "tiers": {}, "members": {2: Decimal("10.00"), 7: Decimal("25.00")}},
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
    for spec in ORGS:
        org = seed.orgs[spec.slug]
        owner = seed.members[spec.slug][0].user
        plan = caps[spec.slug]
        cap_set(organization=org, scope=CapScope.ORGANIZATION, amount=plan["org"], actor=owner, now=seed.now)
        for code, amount in plan["tiers"].items():
            tier = SeatTier.objects.get(organization=org, code=code)
            cap_set(organization=org, scope=CapScope.SEAT_TIER, tier=tier, amount=amount, actor=owner, now=seed.now)
        for number, amount in plan["members"].items():
            cap_set(organization=org, scope=CapScope.MEMBER, membership=_member(seed, spec.slug, number),
                    amount=amount, actor=owner, now=seed.now)


@transaction.atomic
def step_extra_usage(seed: Seed) -> None:
    """Extra usage on for both seat-based organizations; Acme (Team) funds it from a prepaid purchase made
    before the history starts."""
    for slug in ("acme-team", "globex-enterprise"):
        org = seed.orgs[slug]
        ExtraUsageSettings.objects.get_or_create(organization=org, defaults={"enabled": True, "all_members": True})
    acme = seed.orgs["acme-team"]
    if not PrepaidLedgerEntry.objects.filter(organization=acme, kind=LedgerKind.PURCHASE).exists():
        bought_at = seed.now - dt.timedelta(days=HISTORY_DAYS + 2)
        amount = Decimal("1000.00")
        PrepaidLedgerEntry.objects.create(
            organization=acme, kind=LedgerKind.PURCHASE, amount=amount, payment_reference="demo-card-4242",
            period_start=period_containing(bought_at, acme.billing_timezone).start,
            created_by=seed.members["acme-team"][0].user, created_at=bought_at,
        )
        ExtraUsageSettings.objects.filter(organization=acme).update(prepaid_balance=F("prepaid_balance") + amount)


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


def usage_history(spec: OrgSpec, memberships: list[Membership], tiers: dict[int, SeatTier],
                  now: dt.datetime) -> list[UsageInput]:
    """Deterministic, realistic events for the last HISTORY_DAYS days, oldest first: weekdays busier than
    weekends, working hours, a few heavy users who go past their included usage, model and product mixes."""
    rng = random.Random(spec.slug)
    items = []
    for number, membership in enumerate(memberships):
        tier = tiers.get(membership.pk)
        if tier is None:
            continue
        # Heavy users (every fifth person) go well past their included allowance; the rest vary.
        intensity = 20.0 if number % 5 == 4 else rng.choice([0.7, 1.2, 2.0, 3.0])
        codes = "claude_code" in tier.products
        for days_ago in range(HISTORY_DAYS, -1, -1):
            day = now - dt.timedelta(days=days_ago)
            weekend = day.weekday() >= 5
            count = max(0, round(rng.gauss(intensity * (0.3 if weekend else 1.0), intensity / 3)))
            for n in range(count):
                occurred_at = day.replace(hour=rng.randint(8, 18), minute=rng.randint(0, 59),
                                          second=rng.randint(0, 59), microsecond=0)
                if occurred_at > now:
                    occurred_at = now - dt.timedelta(minutes=rng.randint(1, 120) + n)
                roll = rng.random()
                product = "claude_code" if codes and roll < 0.55 else ("cowork" if roll > 0.9 else "chat")
                model = _weighted(rng, CODE_MODELS if product == "claude_code" else CHAT_MODELS)
                items.append(UsageInput(
                    idempotency_key=f"{SEED_KEY_PREFIX}{spec.slug}-{membership.pk}-{days_ago}-{n}",
                    member=membership.user.email, product=product, model=model,
                    tokens=_tokens(rng, product), occurred_at=occurred_at,
                ))
    items.sort(key=lambda item: item.occurred_at)
    return items


def step_usage_history(seed: Seed) -> None:
    """60 days of usage recorded through the spending service, ~500 events per call; skipped for an organization that
    already has its seeded history."""
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
        items = usage_history(spec, memberships, tiers, seed.now)
        recorded = 0
        for start in range(0, len(items), BATCH_SIZE):
            outcomes = usage_record_batch(organization=org, items=items[start:start + BATCH_SIZE], now=seed.now)
            bad = [o for o in outcomes if o.status not in ("created", "replayed")]
            if bad:
                raise RuntimeError(f"seed usage refused for {spec.slug}: {bad[0].field}: {bad[0].message}")
            recorded += sum(1 for o in outcomes if o.status == "created")
        seed.events_recorded[spec.slug] = recorded


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
    from apps.admin_api.models import AdminApiKey
    from apps.admin_api.services import admin_api_key_create

    for slug in ADMIN_API_DEMO_ORGS:
        org = seed.orgs[slug]
        if not AdminApiKey.objects.filter(organization=org, name=DEMO_ADMIN_KEY_NAME,
                                          revoked_at__isnull=True).exists():
            _, raw = admin_api_key_create(organization=org, name=DEMO_ADMIN_KEY_NAME,
                                          scopes=["read:spend_limits", "write:spend_limits"],
                                          actor=seed.members[slug][0].user, now=seed.now)
            seed.new_admin_keys[slug] = raw


def step_extra_usage_requests_and_reload(seed: Seed) -> None:
    """Pending requests for extra usage from three members of each Enterprise organization (the review modal
    and the daily digest have something to show), and auto-reload on Acme's prepaid balance."""
    from contextlib import suppress

    from django.core.exceptions import ValidationError

    from apps.extra_usage.services.auto_reload import auto_reload_configure
    from apps.extra_usage.services.usage_requests import extra_usage_request_create

    for slug in ("globex-enterprise", "initech-enterprise"):
        for hours_ago, number in ((30, 3), (6, 7), (1, 12)):
            # A member denied in the last 30 days (someone trying the demo) is left so.
            with suppress(ValidationError):
                extra_usage_request_create(membership=_member(seed, slug, number),
                                           now=seed.now - dt.timedelta(hours=hours_ago))
    acme = seed.orgs["acme-team"]
    auto_reload_configure(organization=acme, enabled=True, threshold=Decimal("100.00"), amount=Decimal("500.00"),
                          monthly_limit=Decimal("2000.00"), actor=seed.members["acme-team"][0].user, now=seed.now)


def step_invoices(seed: Seed) -> None:
    """The last two closed months invoiced, oldest first (a later month cannot be issued before an earlier
    one), so the invoice pages have documents to show. Issuing an invoice twice returns the first."""
    from apps.common.periods import period_containing, previous_month_start
    from apps.invoicing.services import invoice_issue_for_period

    for spec in ORGS:
        org = seed.orgs[spec.slug]
        last_closed = previous_month_start(period_containing(seed.now, org.billing_timezone).start)
        for start in (previous_month_start(last_closed), last_closed):
            invoice_issue_for_period(organization=org, period_start=start, now=seed.now)


STEPS: list[Callable[[Seed], None]] = [
    step_staff,
    step_organizations,
    step_seats,
    step_caps,
    step_extra_usage,
    step_usage_history,
    step_extra_usage_requests_and_reload,
    step_invoices,
    step_api_keys,
    step_admin_api_keys,
]


def report(seed: Seed) -> None:
    out = seed.out
    out("")
    out(f"Demo ready at {SITE_URL}  (every password: {PASSWORD})")
    out(f"  Django admin: {SITE_URL}/admin/  as {STAFF_EMAIL}")
    for spec in ORGS:
        domain = f"{spec.slug}.example"
        recorded = seed.events_recorded.get(spec.slug)
        history = f", {recorded} usage events recorded" if recorded else ""
        out(f"  {seed.orgs[spec.slug].name} [{spec.slug}, {seed.orgs[spec.slug].get_plan_kind_display()}]{history}")
        out(f"    owner@{domain} (primary owner), owner2@{domain} (owner), admin@{domain} (admin), "
            f"member1@{domain} … member{MEMBER_COUNT}@{domain} (members)")
        if spec.slug in seed.new_keys:
            out(f"    machine API key (shown once): {seed.new_keys[spec.slug]}")
        else:
            out(f"    machine API key: created on the first run; make another with "
                f"`manage.py create_api_key {spec.slug}`")
        if spec.slug in seed.new_admin_keys:
            out(f"    Admin API key, Spend Limits API (shown once): {seed.new_admin_keys[spec.slug]}")
        elif spec.slug in ADMIN_API_DEMO_ORGS:
            out(f"    Admin API key: created on the first run; make another with "
                f"`manage.py create_admin_api_key {spec.slug}`")


class Command(BaseCommand):
    help = "Create (idempotently) the demo organizations, people, seats, caps, extra usage and usage history."

    def handle(self, *args, **options):
        seed = Seed(now=timezone.now(), out=self.stdout.write, password_hash=make_password(PASSWORD))
        for step in STEPS:
            step(seed)
        report(seed)
