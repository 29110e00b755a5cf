"""The in-app spend banner on every organization page (templates/monitoring/_banner.html, included by
base.html): the member's own state (approaching or reached their limit, included usage running out) and, for
owners, the organization's cap. Lazy: one statement (the member's spend context), only when a page renders it."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.functional import SimpleLazyObject
from django.utils.translation import gettext as _

from apps.accounts.models import User
from apps.common.money import money_format, percent_format
from apps.organizations.models import Role
from apps.spending.selectors import spend_context_for_user
from apps.usage.models import CapScope


@dataclass(frozen=True)
class BannerLine:
    level: str  # "approaching" or "reached"
    text: str


@dataclass(frozen=True)
class Banner:
    lines: list[BannerLine]
    link: str | None
    link_label: str

    @property
    def level(self) -> str:
        return "reached" if any(line.level == "reached" for line in self.lines) else "approaching"


def banner_for(*, user: User, slug: str, now) -> Banner | None:
    """The banner lines for this user in this organization, or None when there is nothing to say. The
    warning level is the organization's lowest notification threshold; "reached" means blocked."""
    found = spend_context_for_user(user_id=user.pk, slug=slug, now=now)
    if found is None:
        return None
    context = found.context
    organization, thresholds = context.organization, context.notice_thresholds
    warn = Decimal(thresholds[0]) / 100 if thresholds[0] < 100 else Decimal(1)
    seat_based = organization.is_seat_based
    status = found.status
    lines = []
    org_cap_said = False  # the member's own line already says the organization's cap stopped them
    if status.limit is not None:
        if status.blocked:
            by_org = org_cap_said = status.source == CapScope.ORGANIZATION
            if seat_based:
                text = (_("Your extra usage is paused: the organization's spend cap of %(limit)s is reached for this "
                          "period.") if by_org else
                        _("Your extra usage is paused: your spend limit of %(limit)s is reached for this period."))
            else:
                text = (_("Your usage is paused: the organization's spend cap of %(limit)s is reached for this "
                          "period.") if by_org else
                        _("Your usage is paused: your spend limit of %(limit)s is reached for this period."))
            lines.append(BannerLine("reached", text % {"limit": money_format(status.limit)}))
        elif status.limit > 0 and (status.limit - status.remaining) >= status.limit * warn:
            used = (status.limit - status.remaining) / status.limit
            lines.append(BannerLine("approaching", _("You have used %(share)s of your spend limit (%(left)s left).") % {
                "share": percent_format(used), "left": money_format(status.remaining)}))
    included = found.tier.included_usage.amount if found.tier is not None else None
    if seat_based and included and included > 0:
        used = found.member.included_spend / included
        if used >= 1:
            lines.append(BannerLine("approaching", _("You have used all of your seat's included usage this period.")))
        elif used >= warn:
            lines.append(BannerLine("approaching", _("You have used %(share)s of your seat's included usage.") % {
                "share": percent_format(used)}))
    is_owner = found.membership.role in (Role.OWNER, Role.PRIMARY_OWNER)
    org_cap = context.caps.organization.amount if context.caps.organization is not None else None
    if is_owner and org_cap is not None:
        capped = context.org.capped
        if capped >= org_cap:
            if not org_cap_said:  # one banner line per fact (an owner stopped by the cap is told once)
                lines.append(BannerLine("reached", _("The organization has reached its spend cap of %(cap)s.") % {
                    "cap": money_format(org_cap)}))
        elif org_cap > 0 and capped >= org_cap * warn:
            lines.append(BannerLine("approaching", _("The organization has used %(share)s of its spend cap of "
                                                     "%(cap)s.") % {"share": percent_format(capped / org_cap),
                                                                    "cap": money_format(org_cap)}))
    if not lines:
        return None
    name, label = (("monitoring:dashboard", _("Open the usage dashboard")) if is_owner
                   else ("monitoring:my_usage", _("See my usage")))
    try:
        link = reverse(name, kwargs={"slug": slug})
    except NoReverseMatch:
        link = None
    return Banner(lines, link, label)


def spend_banner(request):
    match = getattr(request, "resolver_match", None)
    slug = match.kwargs.get("slug") if match else None
    user = getattr(request, "user", None)
    if not slug or user is None or not user.is_authenticated:
        return {"spend_banner": None}
    return {"spend_banner": SimpleLazyObject(lambda: banner_for(user=user, slug=slug, now=timezone.now()))}
