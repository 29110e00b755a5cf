"""What an approval does: a member's request for more usage, reviewed against the one admission decision.

A request is reviewed with the member's spend context (selectors.spend_contexts_load) and the decision made
from it (selectors.admission_decide): what stops the member now, and which limit binds.

"Increase limit" (`extra_usage_request_approve`) lifts what binds, within the approver's role:

1. With an amount, the member's own monthly limit is set to it (the approver sees the result).
2. Then the decision is asked again on the changed state, step by step (`approval_plan`), each refusal lifted
   by the one action that answers it:
   - included usage used up, extra usage off for the organization: extra usage on for chosen members, this
     member among them (no one else's access widens);
   - extra usage off for the member: their switch on;
   - a seat tier's limit binds: raised to the amount, for every member of the tier (owners only, confirmed);
   - the organization's limit binds: raised by what the member's new limit adds (owners only, confirmed);
   - a Standard seat may instead move to Premium, a prorated charge (owners only, confirmed, see below);
   - the member's own limit binds after step 1: the amount is too low, or missing;
   - the prepaid balance is used up: owners are offered the purchase; the approval waits for it.
   When the plan does not end with admission allowing the member, the approval is refused with the reason
   and the request stays pending. An admin told "an owner must raise it" changes nothing.
3. The steps run through their own audited services, and the decision is asked once more on the stored
   state: the approval commits only when admission now allows the member. The member's email and the
   approver's message say "you can keep working" only then.

The Admin API's approve (spec: set the member's own limit to the amount) keeps its effect; its decision
after approval is stored (`stopped_reason`), and the member's email says what still stops them.

Charges follow one role rule everywhere: only owners trigger a charge (a seat upgrade on Members, a seat
upgrade by approval, a prepaid purchase); admins review requests but never spend the organization's money.

A pending request whose member can spend again (a limit raised elsewhere, a new period) is closed as "no
longer needed" by the same decision (`requests_close_no_longer_needed`): before the daily digest, after every
approval, and when an approver acts on it.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Q

from apps.common.money import ZERO, round_to_cents
from apps.common.periods import period_containing
from apps.extra_usage.models import ExtraUsageRequest, RequestStatus
from apps.extra_usage.selectors import REQUEST_COOLDOWN, extra_usage_settings
from apps.extra_usage.services.switches import jsonable, member_switch, settings_change, settings_locked
from apps.extra_usage.services.usage_requests import actor_label, decision_notify_after_commit, request_locked
from apps.organizations.models import Membership, Organization, PlanKind
from apps.organizations.services import audit_record
from apps.seats.models import SeatAssignment, SeatTier, TierCode
from apps.seats.selectors import Proration, seat_change_proration
from apps.seats.services import seat_assign
from apps.usage.models import CapScope, SpendCap
from apps.usage.selectors import OrgCaps
from apps.usage.services import cap_amount_validate, cap_set
from apps.webhooks import payloads
from apps.webhooks.services import webhook_event_emit

from .selectors import Admission, MemberContext, Reason, admission_decide, member_admission, spend_contexts_load

# --- The plan: what lifts what binds -------------------------------------------------------------------------


class StepKind:
    MEMBER_LIMIT = "member_limit"  # the member's own monthly limit set to the amount
    EXTRA_USAGE_ON = "extra_usage_on"  # extra usage on for chosen members, this member among them
    MEMBER_EXTRA_USAGE = "member_extra_usage"  # extra usage on for this member
    TIER_LIMIT = "tier_limit"  # the seat tier's limit raised (every member of the tier)
    ORG_LIMIT = "org_limit"  # the organization's limit raised
    SEAT_UPGRADE = "seat_upgrade"  # Standard seat moved to Premium (a prorated charge)


# Steps that reach beyond the member or cost money: owners only, and only once confirmed with their figures.
CONFIRMED_STEPS = {StepKind.TIER_LIMIT, StepKind.ORG_LIMIT, StepKind.SEAT_UPGRADE}


class Why:
    """Why a plan does not end with the member admitted."""

    AMOUNT_NEEDED = "amount_needed"  # a limit binds and no amount was entered
    AMOUNT_TOO_LOW = "amount_too_low"  # the amount is not above the member's spend this period
    OWNER_NEEDED = "owner_needed"  # a tier or organization limit, or a charge: an owner must
    BUY_PREPAID = "buy_prepaid"  # the prepaid balance is used up: an owner buys more first
    NOT_LIFTABLE = "not_liftable"  # no seat, or a product the seat does not grant


@dataclass(frozen=True)
class Step:
    kind: str
    old: Decimal | None = None
    new: Decimal | None = None
    tier: SeatTier | None = None
    members: int = 0  # members the raised tier limit applies to
    price: Proration | None = None  # a seat upgrade's prorated charge

    @property
    def token(self) -> str:
        return f"{self.kind}:{jsonable(self.old)}>{jsonable(self.new)}"


@dataclass(frozen=True)
class Plan:
    """The approval's steps and the decision they lead to: `allowed`, or `stop` (the reason still stopping
    the member) and `why` (what the approver can do about it)."""

    steps: tuple[Step, ...]
    allowed: bool
    stop: str | None = None
    why: str | None = None

    @property
    def confirmations(self) -> list[Step]:
        return [step for step in self.steps if step.kind in CONFIRMED_STEPS]

    @property
    def signature(self) -> str:
        """What the approver confirmed: the confirmed steps with their figures. A changed state is asked again."""
        return ";".join(step.token for step in self.confirmations)


def _premium(organization: Organization) -> SeatTier | None:
    return SeatTier.objects.filter(organization=organization, code=TierCode.PREMIUM).first()


def upgrade_offered(found: MemberContext) -> bool:
    """A seat-based member on a Standard seat may be moved to Premium by an approval (an owner's, confirmed)."""
    return (found.context.organization.is_seat_based and found.tier is not None
            and found.tier.code == TierCode.STANDARD)


def upgrade_quote(*, organization: Organization, tier: SeatTier, now: dt.datetime,
                  membership: Membership | None = None) -> tuple[SeatTier, Proration] | None:
    """Premium and what moving there costs now; with `membership`, by this period's seat history and charges
    (the figure seat_assign charges: an upgrade back within the period pays no day twice)."""
    premium = _premium(organization)
    if premium is None:
        return None
    return premium, seat_change_proration(organization=organization, from_tier=tier, to_tier=premium, now=now,
                                          membership=membership)


def approval_plan(*, found: MemberContext, amount: Decimal | None, owner: bool, now: dt.datetime,
                  upgrade: tuple[SeatTier, Proration] | None = None,
                  tier_members: dict[int, int] | None = None) -> Plan:
    """The steps an approval takes for this member, decided on a copy of their context (no writes, no queries
    beyond what the decision itself reads). `owner`: the approver may raise shared limits and charge."""
    context = found.context
    caps = OrgCaps(context.caps.organization, dict(context.caps.tiers), dict(context.caps.members))
    simulated = dataclasses.replace(context, caps=caps, settings=copy.copy(context.settings),
                                    extra_enabled_members=set(context.extra_enabled_members))
    membership, tier, member = found.membership, found.tier, found.member
    steps: list[Step] = []

    def stop(reason: str | None, why: str) -> Plan:
        return Plan(tuple(steps), False, reason, why)

    if amount is not None:
        current = caps.members.get(membership.pk)
        if current is None or current.amount != amount:
            steps.append(Step(StepKind.MEMBER_LIMIT, current.amount if current else None, amount))
        caps.members[membership.pk] = SpendCap(scope=CapScope.MEMBER, amount=amount, membership_id=membership.pk)
    if upgrade is not None:
        if not owner:
            return stop(None, Why.OWNER_NEEDED)
        premium, price = upgrade
        steps.append(Step(StepKind.SEAT_UPGRADE, tier=premium, price=price))
        tier = premium
    for _ in range(8):
        decision = admission_decide(context=simulated, membership=membership, tier=tier, product=None,
                                    member=member, now=now, with_request_hint=False)
        if decision.allowed:
            return Plan(tuple(steps), True)
        reason = decision.reason
        if reason == Reason.INCLUDED_USAGE_EXHAUSTED:
            steps.append(Step(StepKind.EXTRA_USAGE_ON))
            simulated.settings.enabled, simulated.settings.all_members = True, False
            simulated.extra_enabled_members.add(membership.pk)
        elif reason == Reason.EXTRA_USAGE_DISABLED:
            steps.append(Step(StepKind.MEMBER_EXTRA_USAGE))
            simulated.extra_enabled_members.add(membership.pk)
        elif reason == Reason.MEMBER_CAP:
            return stop(reason, Why.AMOUNT_NEEDED if amount is None else Why.AMOUNT_TOO_LOW)
        elif reason in (Reason.TIER_CAP, Reason.ORG_CAP):
            if not owner:
                return stop(reason, Why.OWNER_NEEDED)
            if amount is None:
                return stop(reason, Why.AMOUNT_NEEDED)
            if amount <= member.capped:
                return stop(reason, Why.AMOUNT_TOO_LOW)
            if reason == Reason.TIER_CAP:
                old = caps.tiers[tier.pk].amount
                steps.append(Step(StepKind.TIER_LIMIT, old, amount, tier=tier,
                                  members=(tier_members or {}).get(tier.pk, 0)))
                caps.tiers[tier.pk] = SpendCap(scope=CapScope.SEAT_TIER, amount=amount, tier_id=tier.pk)
            else:
                old = caps.organization.amount
                new = round_to_cents(context.org.capped + amount - member.capped)
                steps.append(Step(StepKind.ORG_LIMIT, old, new))
                caps = OrgCaps(SpendCap(scope=CapScope.ORGANIZATION, amount=new), caps.tiers, caps.members)
                simulated.caps = caps
        elif reason == Reason.PREPAID_BALANCE_EXHAUSTED:
            return stop(reason, Why.BUY_PREPAID if owner else Why.OWNER_NEEDED)
        else:
            return stop(reason, Why.NOT_LIFTABLE)
    return stop(reason, Why.NOT_LIFTABLE)


# --- Reading a member's context ------------------------------------------------------------------------------


def member_context(*, membership: Membership, now: dt.datetime) -> MemberContext:
    """The member's spend context in the current period (the loader's one statement)."""
    organization = membership.organization
    period = period_containing(now, organization.billing_timezone)
    _, members = spend_contexts_load(organization=organization, period=period, membership_ids=[membership.pk])
    return members[membership.pk]


def tier_member_counts(*, organization: Organization) -> dict[int, int]:
    """Current members per seat tier (how many a tier's limit applies to)."""
    rows = (SeatAssignment.objects.filter(organization=organization, ended_at__isnull=True,
                                          membership__removed_at__isnull=True)
            .values("tier_id").annotate(n=Count("id")))
    return {row["tier_id"]: row["n"] for row in rows}


# --- Approving -------------------------------------------------------------------------------------------------


class ApprovalRefused(ValidationError):
    """The approval cannot make admission allow the member (within the approver's role): nothing changed and
    the request stays pending. `plan` says what still stops them."""

    def __init__(self, plan: Plan, found: MemberContext):
        super().__init__("This approval would not let the member continue.", code=plan.why or "refused")
        self.plan, self.found = plan, found


class ConfirmationNeeded(ValidationError):
    """The plan raises a shared limit or charges: the approver confirms it with its figures (`plan.signature`)."""

    def __init__(self, plan: Plan, found: MemberContext):
        super().__init__("Confirm the approval's changes.", code="confirm")
        self.plan, self.found = plan, found


@dataclass(frozen=True)
class Approval:
    request: ExtraUsageRequest
    cap: SpendCap | None  # the member's own limit written, if any
    plan: Plan | None
    after: Admission  # the decision asked again after the approval
    closed: bool = False  # closed as no longer needed instead (the member could already spend)


def _execute(step: Step, *, organization: Organization, membership: Membership, actor, label: str | None,
             now: dt.datetime) -> SpendCap | None:
    if step.kind == StepKind.MEMBER_LIMIT:
        return cap_set(organization=organization, scope=CapScope.MEMBER, amount=step.new, membership=membership,
                       actor=actor, actor_label=label, now=now)
    if step.kind == StepKind.EXTRA_USAGE_ON:
        member_switch(membership=membership, enabled=True, actor=actor, actor_label=label, now=now)
        if not settings_locked(organization).enabled:
            settings_change(organization=organization, changes={"enabled": True, "all_members": False},
                            action="extra_usage.enable", actor=actor, actor_label=label, now=now)
    elif step.kind == StepKind.MEMBER_EXTRA_USAGE:
        member_switch(membership=membership, enabled=True, actor=actor, actor_label=label, now=now)
    elif step.kind == StepKind.TIER_LIMIT:
        cap_set(organization=organization, scope=CapScope.SEAT_TIER, tier=step.tier, amount=step.new, actor=actor,
                actor_label=label, now=now)
    elif step.kind == StepKind.ORG_LIMIT:
        cap_set(organization=organization, scope=CapScope.ORGANIZATION, amount=step.new, actor=actor,
                actor_label=label, now=now)
    elif step.kind == StepKind.SEAT_UPGRADE:
        seat_assign(membership=membership, tier=step.tier, actor=actor, actor_label=label, now=now)
    return None


def _api_steps(found: MemberContext, amount: Decimal) -> tuple[Step, ...]:
    """The Admin API's approve (spec 4.7): the member's own limit set to the amount; on seat-based plans extra
    usage on for them too, as "Increase limit" always did."""
    steps = [Step(StepKind.MEMBER_LIMIT, None, amount)]
    if found.context.organization.is_seat_based:
        steps.append(Step(StepKind.EXTRA_USAGE_ON))
    return tuple(steps)


def _outcome(organization: Organization, steps: tuple[Step, ...]) -> str:
    kinds = {step.kind for step in steps}
    if StepKind.SEAT_UPGRADE in kinds:
        return "moved_to_premium"
    if not organization.is_seat_based:
        return "limit_set"
    if kinds & {StepKind.EXTRA_USAGE_ON, StepKind.MEMBER_EXTRA_USAGE}:
        return "extra_usage_enabled"
    return "limit_set"


@transaction.atomic
def extra_usage_request_approve(*, request: ExtraUsageRequest, amount: Decimal | None = None, actor=None,
                                owner: bool = False, upgrade: bool = False, confirm: str | None = None,
                                api_key_public_id: str = "", suppress_notification: bool = False,
                                now: dt.datetime) -> Approval:
    """"Increase limit" on a pending request (see the module docstring). From a page: the plan for the
    approver's role (`owner`), refused (ApprovalRefused) unless it lets the member continue, and asking for
    confirmation (ConfirmationNeeded) of shared limits and charges unless `confirm` is the plan's signature.
    From the Admin API (`api_key_public_id`): the member's own limit set to `amount`, whatever binds."""
    locked = request_locked(request)
    if locked.status != RequestStatus.PENDING:
        raise ValidationError("spend limit increase request is already resolved", code="already_resolved")
    organization, membership = locked.organization, locked.membership
    label = actor_label(actor, api_key_public_id)
    if amount is not None:
        amount = cap_amount_validate(amount)
    if not organization.is_seat_based and amount is None:
        raise ValidationError({"amount": "Enter the member's new monthly limit."})
    found = member_context(membership=membership, now=now)
    if api_key_public_id:
        plan = None
        steps = _api_steps(found, amount)
    else:
        before = member_admission(found=found, product=None, now=now)
        if before.allowed and not upgrade:
            _close(locked, now=now, actor=actor)
            return Approval(locked, None, None, before, closed=True)
        offer = None
        if upgrade:
            if not upgrade_offered(found):
                raise ValidationError("Only a Standard seat moves to Premium.", code="no_upgrade")
            offer = upgrade_quote(organization=organization, tier=found.tier, now=now, membership=found.membership)
        plan = approval_plan(found=found, amount=amount, owner=owner, now=now, upgrade=offer,
                             tier_members=tier_member_counts(organization=organization))
        if not plan.allowed:
            raise ApprovalRefused(plan, found)
        if plan.confirmations and confirm != plan.signature:
            raise ConfirmationNeeded(plan, found)
        steps = plan.steps
    cap = None
    for step in steps:
        written = _execute(step, organization=organization, membership=membership, actor=actor, label=label,
                           now=now)
        cap = written or cap
    # The decision, asked again on what is now stored (the same transaction sees its own writes).
    after = member_admission(found=member_context(membership=membership, now=now), product=None, now=now)
    if plan is not None and not after.allowed:
        raise ApprovalRefused(Plan(plan.steps, False, after.reason, Why.NOT_LIFTABLE), found)
    outcome = _outcome(organization, steps)
    locked.status = RequestStatus.APPROVED
    locked.resolved_at = now
    locked.resolved_by = actor if getattr(actor, "pk", None) else None
    locked.resolved_by_api_key_id = api_key_public_id or ""
    locked.approved_amount = amount
    locked.stopped_reason = "" if after.allowed else (after.reason or "")
    locked.outcome = outcome
    locked.save(update_fields=["status", "resolved_at", "resolved_by", "resolved_by_api_key_id",
                               "approved_amount", "stopped_reason", "outcome"])
    new = {"status": "approved", "outcome": outcome, "amount": jsonable(amount),
           "steps": [step.kind for step in steps]}
    if not after.allowed:
        new["still_stopped"] = after.reason
    audit_record(organization=organization, actor=actor, actor_label=label, action="extra_usage_request.approve",
                 target=membership.user.email, old={"status": "pending"}, new=new, now=now)
    webhook_event_emit(organization=organization, **payloads.extra_usage_request_decided(locked), now=now)
    if not suppress_notification:
        decision_notify_after_commit(locked.pk)
    if plan is not None:  # (the Admin API's approve changes nothing beyond its request, as the spec has it)
        requests_close_no_longer_needed(organization=organization, now=now, exclude=[locked.pk])
    return Approval(locked, cap, plan, after)


# --- Closing what is no longer needed --------------------------------------------------------------------------


def _close(locked: ExtraUsageRequest, *, now: dt.datetime, actor=None) -> None:
    locked.status = RequestStatus.CLOSED
    locked.resolved_at = now
    locked.save(update_fields=["status", "resolved_at"])
    audit_record(organization=locked.organization, actor=actor, actor_label=None if actor else "system",
                 action="extra_usage_request.close", target=locked.membership.user.email,
                 old={"status": "pending"}, new={"status": "closed"}, now=now)


@transaction.atomic
def requests_close_no_longer_needed(*, organization: Organization, now: dt.datetime,
                                    exclude: list[int] | None = None) -> int:
    """Close, as no longer needed, the organization's pending requests whose member admission now allows (their
    binding limit was raised elsewhere, or a new period began). One statement reads every requester's context.
    Returns how many were closed."""
    pending = list(ExtraUsageRequest.objects.select_for_update(of=("self",)).filter(
        organization=organization, status=RequestStatus.PENDING, membership__removed_at__isnull=True,
    ).exclude(pk__in=exclude or []).select_related("organization", "membership__user"))
    if not pending:
        return 0
    period = period_containing(now, organization.billing_timezone)
    _, members = spend_contexts_load(organization=organization, period=period,
                                     membership_ids=[r.membership_id for r in pending])
    closed = 0
    for request in pending:
        found = members.get(request.membership_id)
        if found is not None and admission_decide(context=found.context, membership=found.membership,
                                                  tier=found.tier, product=None, member=found.member, now=now,
                                                  with_request_hint=False).allowed:
            _close(request, now=now)
            closed += 1
    return closed


# --- What the review modal shows -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Review:
    """One pending request as the approver reviews it: the member, their seat, spend this period, effective
    limit and which limit binds (the decision), the note and amount they sent, and the approval's plan for the
    approver with the suggested amount."""

    request: ExtraUsageRequest
    found: MemberContext
    admission: Admission
    plan: Plan | None
    suggested: Decimal | None
    tier_members: int
    upgrade: tuple[SeatTier, Proration] | None

    @property
    def email(self) -> str:
        return self.request.membership.user.email

    @property
    def name(self) -> str:
        return self.request.membership.user.name or self.email

    @property
    def no_longer_needed(self) -> bool:
        return self.admission.allowed


def suggested_amount(found: MemberContext, request: ExtraUsageRequest) -> Decimal | None:
    """The amount the modal offers: what the member asked for, else the binding limit doubled (at least
    $10 above their spend); none for a seat-based member whom no limit stops."""
    if request.requested_amount is not None:
        return request.requested_amount
    status = found.status
    if status.limit is None:
        return None if found.context.organization.is_seat_based else max(status.spend, ZERO) + Decimal("50.00")
    return round_to_cents(max(status.limit * 2, status.spend + Decimal("10.00")))


def pending_reviews(*, organization: Organization, owner: bool, now: dt.datetime) -> list[Review]:
    """Pending requests of current members, oldest first, each with its member's context, decision and plan
    (a fixed number of statements whatever the number of requests)."""
    requests = list(ExtraUsageRequest.objects.filter(
        organization=organization, status=RequestStatus.PENDING, membership__removed_at__isnull=True,
    ).select_related("membership__user", "membership__organization").order_by("created_at", "id"))
    if not requests:
        return []
    period = period_containing(now, organization.billing_timezone)
    _, members = spend_contexts_load(organization=organization, period=period,
                                     membership_ids=[r.membership_id for r in requests])
    counts = tier_member_counts(organization=organization)
    premium = _premium(organization) if organization.is_seat_based else None
    reviews = []
    for request in requests:
        found = members[request.membership_id]
        admission = admission_decide(context=found.context, membership=found.membership, tier=found.tier,
                                     product=None, member=found.member, now=now, with_request_hint=False)
        suggested = suggested_amount(found, request)
        upgrade = None
        if premium is not None and upgrade_offered(found):
            upgrade = (premium, seat_change_proration(organization=organization, from_tier=found.tier,
                                                      to_tier=premium, now=now))
        plan = None
        if not admission.allowed:
            plan = approval_plan(found=found, amount=suggested, owner=owner, now=now, tier_members=counts)
        reviews.append(Review(request, found, admission, plan, suggested,
                              counts.get(found.tier.pk, 0) if found.tier else 0, upgrade))
    return reviews


def pending_still_needed(*, organization: Organization, now: dt.datetime) -> int:
    """How many pending requests still stop their member (the digest's and the button's count)."""
    return sum(1 for review in pending_reviews(organization=organization, owner=False, now=now)
               if not review.no_longer_needed)


# --- What the member's page shows ------------------------------------------------------------------------------


@dataclass(frozen=True)
class MemberExtraUsageSummary:
    """What a member's usage page shows about extra usage this period, and whether they may ask for more."""

    period_start: dt.date
    period_ends_at: dt.datetime
    tier: SeatTier | None
    included_allowance: Decimal | None
    included_spend: Decimal
    extra_cost: Decimal
    extra_usage_started_at: dt.datetime | None
    included_exhausted: bool
    blocked_reason: str | None
    requests_enabled: bool
    pending_request: ExtraUsageRequest | None
    denied_until: dt.datetime | None
    can_request: bool


def member_extra_usage_summary(*, membership: Membership, now: dt.datetime) -> MemberExtraUsageSummary:
    """The member's extra usage this period and whether the "Request extra usage" button shows, read from the
    admission decision (its reason and its can_request_extra_usage): nothing here decides again."""
    organization = membership.organization
    found = member_context(membership=membership, now=now)
    admission = member_admission(found=found, product=None, now=now)
    tier, counters = found.tier, found.member
    allowance = tier.included_usage.amount if (tier and organization.is_seat_based) else None
    pending = denied = None
    if organization.is_enterprise:
        # One query for both: the pending request, and a denial still inside the cooldown.
        for row in ExtraUsageRequest.objects.filter(membership=membership).filter(
                Q(status=RequestStatus.PENDING)
                | Q(status=RequestStatus.DENIED, resolved_at__gt=now - REQUEST_COOLDOWN)).order_by("-resolved_at"):
            if row.status == RequestStatus.PENDING:
                pending = row
            elif denied is None:
                denied = row
    settings = (found.context.settings if organization.plan_kind == PlanKind.ENTERPRISE_SEAT
                else extra_usage_settings(organization=organization) if organization.is_enterprise
                else found.context.settings)
    return MemberExtraUsageSummary(
        period_start=found.context.period.start,
        period_ends_at=found.context.period.ends_at,
        tier=tier,
        included_allowance=allowance,
        included_spend=counters.included_spend,
        extra_cost=counters.spend - counters.included_spend if organization.is_seat_based else ZERO,
        extra_usage_started_at=found.extra_usage_started_at,
        included_exhausted=allowance is not None and counters.included_spend >= allowance,
        blocked_reason=admission.reason,
        requests_enabled=settings.requests_enabled,
        pending_request=pending,
        denied_until=denied.resolved_at + REQUEST_COOLDOWN if denied else None,
        can_request=admission.can_request_extra_usage,
    )

