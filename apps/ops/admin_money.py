"""Money in Django admin lists shows its currency, formatted by the one money formatter (apps/common/money.py).

The admin classes stay in their apps; at start-up (OpsConfig.ready, after admin's autodiscovery) each money
column named below is swapped in `list_display` for a column that formats it: amounts kept in cents
(totals, charges, caps, balances) with `money_format` (rounded to cents half up, "$1,234.56" / "1.234,56 $"),
exact amounts (an event's cost, counters) with `rate_format` (every digit kept). The currency is the row's own
(`currency`), else its organization's; the organization is fetched with the page's rows (list_select_related),
never one query per row.
"""

from __future__ import annotations

from django.contrib import admin
from djmoney.money import Money

from apps.common.money import money_format, rate_format

CENTS = "cents"
EXACT = "exact"
MONEY_COLUMNS: dict[str, dict[str, str]] = {
    "invoicing.invoice": {"total": CENTS},
    "extra_usage.prepaidcharge": {"amount": CENTS},
    "extra_usage.prepaidledgerentry": {"amount": EXACT},
    "extra_usage.extrausagesettings": {"prepaid_balance": EXACT, "reload_threshold": CENTS, "reload_amount": CENTS,
                                       "monthly_reload_limit": CENTS},
    "extra_usage.extrausagerequest": {"approved_amount": CENTS},
    "seats.seattier": {"monthly_fee": CENTS, "included_usage": CENTS},
    "seats.seatcharge": {"amount": CENTS},
    "usage.spendcap": {"amount": CENTS},
    "usage.usageevent": {"cost": EXACT, "included_cost": EXACT},
    "usage.memberperiodusage": {"spend": EXACT, "included_spend": EXACT},
    "usage.orgusageslot": {"spend": EXACT, "included_spend": EXACT},
    "usage.usagedailyrollup": {"cost": EXACT, "included_cost": EXACT},
}


def _currency(obj) -> str:
    own = getattr(obj, "currency", None)
    if isinstance(own, str) and own:
        return own
    organization = getattr(obj, "organization", None) if hasattr(obj, "organization_id") else None
    return getattr(organization, "currency", None) or "USD"


def money_column(field, kind: str):
    def column(obj):
        value = getattr(obj, field.name)
        if value is None:
            return admin.site.empty_value_display
        if isinstance(value, Money):
            return money_format(value.amount, str(value.currency))
        return (money_format if kind == CENTS else rate_format)(value, _currency(obj))

    column.short_description = field.verbose_name
    column.admin_order_field = field.name
    column.__name__ = f"{field.name}_money"
    return column


def money_columns_install(site=admin.site) -> int:
    """Swap the money columns of every registered list for formatted ones; returns how many were swapped."""
    swapped = 0
    for model, model_admin in site._registry.items():
        columns = MONEY_COLUMNS.get(model._meta.label_lower)
        if not columns:
            continue
        display = list(model_admin.list_display)
        for index, name in enumerate(display):
            if isinstance(name, str) and name in columns:
                display[index] = money_column(model._meta.get_field(name), columns[name])
                swapped += 1
        model_admin.list_display = tuple(display)
        if any(f.name == "organization" for f in model._meta.fields) and model_admin.list_select_related is not True:
            related = tuple(model_admin.list_select_related or ())
            model_admin.list_select_related = (*related, "organization") if "organization" not in related else related
    return swapped
