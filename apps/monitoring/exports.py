"""CSV exports of usage for finance teams and BI tools: one row per member × local day × model × product.

The file is streamed: rows come from a server-side cursor in chunks and are written as they arrive, so an
export of 10,000 members over a month never sits in memory. Numbers are machine-readable (no locale
formatting, no thousands separators, a dot for decimals, cost at full precision); dates are ISO 8601.
"""

from __future__ import annotations

from collections.abc import Iterator

from apps.organizations.models import Organization
from apps.usage.models import UsageDailyRollup

from .ranges import DateRange

EXPORT_CHUNK_ROWS = 2000
# The documented columns (README "Exports"), in order.
USAGE_EXPORT_COLUMNS = (
    "date", "user_id", "email", "name", "product", "model", "input_tokens", "output_tokens",
    "cache_write_tokens", "cache_read_tokens", "requests", "cost", "included_cost", "currency",
)


def usage_export_rows(*, organization: Organization, date_range: DateRange) -> Iterator[tuple]:
    """The organization's daily usage per member, model and product in the range, ordered by day and member,
    read from the daily rollups through a server-side cursor (on the replica when the request reads from it:
    billing_portal.db_router)."""
    currency = organization.currency
    rows = (
        UsageDailyRollup.objects.filter(organization=organization, day__gte=date_range.start, day__lt=date_range.end)
        .order_by("day", "membership_id", "model_id", "product")
        .values_list("day", "membership__user__public_id", "membership__user__email", "membership__user__name",
                     "product", "model__api_id", "input_tokens", "output_tokens", "cache_write_tokens",
                     "cache_read_tokens", "event_count", "cost", "included_cost")
    )
    for day, user_id, email, name, product, model, *counts, cost, included in rows.iterator(
            chunk_size=EXPORT_CHUNK_ROWS):
        yield (day.isoformat(), user_id, email, name, product, model, *counts, _plain(cost), _plain(included),
               currency)


def _plain(amount) -> str:
    """A stored amount as a plain decimal string, at the precision it is stored (never exponent notation)."""
    return format(amount, "f")
