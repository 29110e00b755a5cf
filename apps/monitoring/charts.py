"""Chart descriptions for static/js/charts.js: plain JSON (no functions, nothing to evaluate), each with the
table a screen reader gets instead of the canvas. Money goes out as exact cent strings."""

from __future__ import annotations

from decimal import Decimal

from django.utils.formats import date_format
from django.utils.translation import gettext as _

from apps.common.money import money_format, number_format, round_to_cents


def _money(amount: Decimal | None) -> str | None:
    return None if amount is None else str(round_to_cents(amount))


def _chart(chart_id: str, title: str, kind: str, labels: list, datasets: list[dict], *, money: bool = True,
           table_headers: list[str], table_rows: list[list[str]]) -> dict:
    return {
        "id": chart_id,
        "title": title,
        "config": {"kind": kind, "money": money, "labels": labels, "datasets": datasets},
        "headers": table_headers,
        "rows": table_rows,
    }


def daily_chart(chart_id: str, daily: list[dict], title: str) -> dict:
    return _chart(
        chart_id, title, "line", [str(d["day"]) for d in daily],
        [{"label": _("This period"), "data": [_money(d["current"]) for d in daily]},
         {"label": _("Previous period"), "data": [_money(d["previous"]) for d in daily]}],
        table_headers=[_("Day of month"), _("This period"), _("Previous period")],
        table_rows=[[str(d["day"]), money_format(d["current"]) if d["current"] is not None else "—",
                     money_format(d["previous"]) if d["previous"] is not None else "—"] for d in daily],
    )


def range_daily_chart(chart_id: str, daily: list[tuple], title: str) -> dict:
    """Spend per local day of a date range (one series)."""
    return _chart(
        chart_id, title, "line", [day.isoformat() for day, _ in daily],
        [{"label": _("Spend"), "data": [_money(cost) for _, cost in daily]}],
        table_headers=[_("Day"), _("Spend")],
        table_rows=[[date_format(day, "SHORT_DATE_FORMAT"), money_format(cost)] for day, cost in daily],
    )


def breakdown_chart(chart_id: str, items, title: str, kind: str = "doughnut") -> dict:
    return _chart(
        chart_id, title, kind, [i.label for i in items],
        [{"label": _("Spend"), "data": [_money(i.cost) for i in items]}],
        table_headers=["", _("Spend")], table_rows=[[i.label, money_format(i.cost)] for i in items],
    )


def org_charts(data) -> list[dict]:
    return [
        daily_chart("chart-daily", data.daily, _("Daily spend, this period and the previous one")),
        breakdown_chart("chart-models", data.by_model, _("Spend by model")),
        breakdown_chart("chart-products", data.by_product, _("Spend by product")),
        _chart("chart-tokens", _("Tokens by kind (this period)"), "bar", [label for label, _count in data.tokens],
               [{"label": _("Tokens"), "data": [n for _label, n in data.tokens]}], money=False,
               table_headers=[_("Kind"), _("Tokens")],
               table_rows=[[label, number_format(n)] for label, n in data.tokens]),
    ]


def range_charts(data) -> list[dict]:
    """The organization page's charts for a date range other than this period."""
    return [
        range_daily_chart("chart-daily", data.daily, _("Daily spend in the range")),
        breakdown_chart("chart-models", data.by_model, _("Spend by model")),
        breakdown_chart("chart-products", data.by_product, _("Spend by product")),
        _chart("chart-tokens", _("Tokens by kind"), "bar", [label for label, _count in data.tokens],
               [{"label": _("Tokens"), "data": [n for _label, n in data.tokens]}], money=False,
               table_headers=[_("Kind"), _("Tokens")],
               table_rows=[[label, number_format(n)] for label, n in data.tokens]),
    ]


def tier_charts(tiers) -> list[dict]:
    return [
        _chart("chart-tiers", _("Spend by seat type (this period)"), "bar", [t.label for t in tiers],
               [{"label": _("Spend"), "data": [_money(t.spend) for t in tiers]}],
               table_headers=[_("Seat type"), _("Spend")],
               table_rows=[[t.label, money_format(t.spend)] for t in tiers]),
    ]


def member_charts(data) -> list[dict]:
    daily = (range_daily_chart("chart-daily", data.range_daily, _("Daily spend in the range"))
             if data.range_daily is not None
             else daily_chart("chart-daily", data.daily, _("Daily spend, this period and the previous one")))
    return [daily, breakdown_chart("chart-models", data.by_model, _("Spend by model"))]
