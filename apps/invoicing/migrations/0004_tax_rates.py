"""The standard VAT rates of the EU member states and the UK (staff keep them current in Django admin)."""

from decimal import Decimal

from django.db import migrations

STANDARD_RATES = {
    "AT": "20", "BE": "21", "BG": "20", "CY": "19", "CZ": "21", "DE": "19", "DK": "25", "EE": "24", "ES": "21",
    "FI": "25.5", "FR": "20", "GR": "24", "HR": "25", "HU": "27", "IE": "23", "IT": "22", "LT": "21", "LU": "17",
    "LV": "21", "MT": "18", "NL": "21", "PL": "23", "PT": "23", "RO": "21", "SE": "25", "SI": "22", "SK": "23",
    "GB": "20",
}


def add_rates(apps, schema_editor):
    TaxRate = apps.get_model("invoicing", "TaxRate")
    TaxRate.objects.bulk_create(
        [TaxRate(country=country, name="VAT", rate=Decimal(rate)) for country, rate in STANDARD_RATES.items()],
        ignore_conflicts=True,
    )


class Migration(migrations.Migration):
    dependencies = [("invoicing", "0003_invoice_documents")]
    operations = [migrations.RunPython(add_rates, migrations.RunPython.noop)]
