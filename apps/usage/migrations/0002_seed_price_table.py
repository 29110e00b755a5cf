"""Seeds the price table (US dollars per million tokens). Prices are data: staff edit them in Django admin,
adding a row with a later effective date rather than changing a row that priced past usage."""

import datetime as dt
from decimal import Decimal

from django.db import migrations

EFFECTIVE_FROM = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)

# api id, alias, display name, (input, output, cache write, cache read), long-context rates or None
PRICES = [
    ("claude-opus-4-5-20251101", "claude-opus-4-5", "Claude Opus 4.5", ("5", "25", "6.25", "0.50"), None),
    ("claude-haiku-4-5-20251001", "claude-haiku-4-5", "Claude Haiku 4.5", ("1", "5", "1.25", "0.10"), None),
    ("claude-sonnet-4-5-20250929", "claude-sonnet-4-5", "Claude Sonnet 4.5", ("3", "15", "3.75", "0.30"),
     ("6", "22.50", "7.50", "0.60")),
    ("claude-opus-4-1-20250805", "claude-opus-4-1", "Claude Opus 4.1", ("15", "75", "18.75", "1.50"), None),
    ("claude-sonnet-4-20250514", "claude-sonnet-4-0", "Claude Sonnet 4", ("3", "15", "3.75", "0.30"),
     ("6", "22.50", "7.50", "0.60")),
    ("claude-opus-4-20250514", "claude-opus-4-0", "Claude Opus 4", ("15", "75", "18.75", "1.50"), None),
    ("claude-3-5-haiku-20241022", "claude-3-5-haiku-latest", "Claude Haiku 3.5", ("0.80", "4", "1", "0.08"), None),
]


def seed(apps, schema_editor):
    AIModel = apps.get_model("usage", "AIModel")
    ModelPrice = apps.get_model("usage", "ModelPrice")
    for api_id, alias, name, standard, long_context in PRICES:
        model, _ = AIModel.objects.get_or_create(api_id=api_id, defaults={"alias": alias, "display_name": name})
        long_rates = dict(zip(("long_input", "long_output", "long_cache_write", "long_cache_read"),
                              (Decimal(r) for r in long_context))) if long_context else {}
        ModelPrice.objects.get_or_create(
            model=model,
            effective_from=EFFECTIVE_FROM,
            defaults={
                **dict(zip(("input", "output", "cache_write", "cache_read"), (Decimal(r) for r in standard))),
                **long_rates,
            },
        )


class Migration(migrations.Migration):
    dependencies = [("usage", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
