"""The one money formatter (apps/common/money.py and its |money filter): CLDR's format per locale through
Babel, cents rounded half up, None read as "Unlimited" in the reader's language."""

from decimal import Decimal

import pytest
from django.template import Context, Template
from django.utils import translation

from apps.common.money import money_format, number_format, percent_format
from apps.console.forms import CapForm, amount_normalize

NBSP, NNBSP = "\u00a0", "\u202f"


@pytest.mark.parametrize(("language", "expected"), [
    ("en", "$1,234.56"),
    ("de", f"1.234,56{NBSP}$"),
    ("fr", f"1{NNBSP}234,56{NBSP}$US"),
    ("it", f"1.234,56{NBSP}USD"),
    # The glossary quotes "1234,56 US$"; Babel's CLDR data groups four-digit amounts in Spanish currency format.
    ("es", f"1.234,56{NBSP}US$"),
])
def test_money_in_each_locale(language, expected):
    assert money_format(Decimal("1234.56"), "USD", language) == expected
    with translation.override(language):
        assert money_format(Decimal("1234.56")) == expected
        assert Template("{{ amount|money }}").render(Context({"amount": Decimal("1234.56")})) == expected


def test_cents_are_rounded_half_up_and_credits_keep_their_sign():
    assert money_format(Decimal("0.005"), locale="en") == "$0.01"
    assert money_format(Decimal("2.675"), locale="en") == "$2.68"
    assert money_format(Decimal("-76"), locale="en") == "-$76.00"
    assert money_format(Decimal("-76"), locale="de") == f"-76,00{NBSP}$"


@pytest.mark.parametrize(("language", "word"), [("en", "Unlimited"), ("de", "Unbegrenzt"), ("fr", "Illimité"),
                                                ("it", "Illimitato"), ("es", "Ilimitado")])
def test_no_amount_reads_unlimited_in_the_readers_language(language, word):
    with translation.override(language):
        assert money_format(None) == word
        assert Template("{{ amount|money }}").render(Context({"amount": None})) == word


def test_numbers_and_percentages_follow_the_locale():
    assert number_format(12345, "en") == "12,345"
    assert number_format(12345, "de") == "12.345"
    assert percent_format(Decimal("0.375"), "en") == "38%"
    assert percent_format(Decimal("0.375"), "de") == f"38{NBSP}%"
    assert percent_format(None, "en") == "—"


def test_the_usd_filters_are_gone_from_the_apps_that_had_their_own():
    from apps.console.templatetags import console
    from apps.extra_usage.templatetags import extra_usage
    from apps.monitoring.templatetags import monitoring

    for library in (console, extra_usage, monitoring):
        assert "usd" not in library.register.filters


@pytest.mark.parametrize(("language", "typed", "amount"), [
    ("en", "1,234.56", "1234.56"), ("en", "$500", "500"),
    ("de", "1.234,56", "1234.56"), ("de", "500,00", "500.00"), ("de", "500.00", "500.00"),
    ("fr", f"1{NNBSP}234,56", "1234.56"), ("it", "1.234,56", "1234.56"), ("es", "1234,56", "1234.56"),
])
def test_amounts_are_read_as_the_reader_types_them(language, typed, amount):
    with translation.override(language):
        assert amount_normalize(typed) == amount
        form = CapForm({"amount": typed, "action": "set"})
        assert form.is_valid(), form.errors
        assert form.cleaned_data["amount"] == Decimal(amount)


def test_cap_form_errors_are_translated():
    with translation.override("de"):
        form = CapForm({"amount": "abc", "action": "set"})
        assert not form.is_valid()
        assert form.errors["amount"] == ["Geben Sie einen Betrag in Dollar ein, z. B. 500 oder 500,00."]


@pytest.mark.parametrize(("language", "expected"), [
    ("en", "Wednesday 18 November 2026"), ("de", "Mittwoch, 18. November 2026"),
    ("fr", "mercredi 18 novembre 2026"), ("es", "miércoles 18 de noviembre de 2026"),
])
def test_long_dates_follow_the_locale(language, expected):
    import datetime as dt

    template = Template('{% load i18n %}{% translate "l j F Y" context "long date format" as f %}{{ d|date:f }}')
    with translation.override(language):
        assert template.render(Context({"d": dt.date(2026, 11, 18)})) == expected
