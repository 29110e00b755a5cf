"""Chart descriptions for static/js/charts.js: plain JSON (no functions, nothing to evaluate), each with the
table a screen reader gets instead of the canvas. Money goes out as exact cent strings."""

from __future__ import annotations

from decimal import Decimal

from apps.common.money import format_usd, round_to_cents


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
        [{"label": "This period", "data": [_money(d["current"]) for d in daily]},
         {"label": "Previous period", "data": [_money(d["previous"]) for d in daily]}],
        table_headers=["Day of month", "This period", "Previous period"],
        table_rows=[[str(d["day"]), format_usd(d["current"]) if d["current"] is not None else "—",
                     format_usd(d["previous"]) if d["previous"] is not None else "—"] for d in daily],
    )


def range_daily_chart(chart_id: str, daily: list[tuple], title: str) -> dict:
    """Spend per local day of a date range (one series)."""
    return _chart(
        chart_id, title, "line", [day.isoformat() for day, _ in daily],
        [{"label": "Spend", "data": [_money(cost) for _, cost in daily]}],
        table_headers=["Day", "Spend"], table_rows=[[day.isoformat(), format_usd(cost)] for day, cost in daily],
    )


def breakdown_chart(chart_id: str, items, title: str, kind: str = "doughnut") -> dict:
    return _chart(
        chart_id, title, kind, [i.label for i in items],
        [{"label": "Spend", "data": [_money(i.cost) for i in items]}],
        table_headers=["", "Spend"], table_rows=[[i.label, format_usd(i.cost)] for i in items],
    )


def org_charts(data) -> list[dict]:
    return [
        daily_chart("chart-daily", data.daily, "Daily spend, this period and the previous one"),
        breakdown_chart("chart-models", data.by_model, "Spend by model"),
        breakdown_chart("chart-products", data.by_product, "Spend by product"),
        _chart("chart-tokens", "Tokens by kind (this period)", "bar", [label for label, _ in data.tokens],
               [{"label": "Tokens", "data": [n for _, n in data.tokens]}], money=False,
               table_headers=["Kind", "Tokens"], table_rows=[[label, f"{n:,}"] for label, n in data.tokens]),
    ]


def range_charts(data) -> list[dict]:
    """The organization page's charts for a date range other than this period."""
    return [
        range_daily_chart("chart-daily", data.daily, "Daily spend in the range"),
        breakdown_chart("chart-models", data.by_model, "Spend by model"),
        breakdown_chart("chart-products", data.by_product, "Spend by product"),
        _chart("chart-tokens", "Tokens by kind", "bar", [label for label, _ in data.tokens],
               [{"label": "Tokens", "data": [n for _, n in data.tokens]}], money=False,
               table_headers=["Kind", "Tokens"], table_rows=[[label, f"{n:,}"] for label, n in data.tokens]),
    ]


def tier_charts(tiers) -> list[dict]:
    return [
        _chart("chart-tiers", "Spend by seat type (this period)", "bar", [t.label for t in tiers],
               [{"label": "Spend", "data": [_money(t.spend) for t in tiers]}],
               table_headers=["Seat type", "Spend"], table_rows=[[t.label, format_usd(t.spend)] for t in tiers]),
    ]


def member_charts(data) -> list[dict]:
    daily = (range_daily_chart("chart-daily", data.range_daily, "Daily spend in the range")
             if data.range_daily is not None
             else daily_chart("chart-daily", data.daily, "Daily spend, this period and the previous one"))
    return [daily, breakdown_chart("chart-models", data.by_model, "Spend by model")]
