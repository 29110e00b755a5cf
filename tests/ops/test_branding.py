"""BRAND_NAME (default "Billing portal") and BRAND_LOGO on pages, emails and invoice PDFs; no "billing_portal"
left in what a person reads."""

import datetime as dt
import subprocess

import pytest
from django.core import mail
from django.test import Client, override_settings
from django.utils import timezone

from apps.invoicing.exports import invoice_pdf_bytes, invoice_pdf_html
from apps.invoicing.services import invoice_issue_for_period
from apps.notices.services import notice_send
from tests.factories import OrganizationFactory

pytestmark = pytest.mark.django_db

LOGO = "img/favicon.svg"  # any file of the static folders


def test_pages_show_the_default_brand_name():
    html = Client().get("/accounts/login/").content.decode()
    assert "<title>Log in · Billing portal</title>" in html
    assert "Billing portal</a>" in html and "billing_portal" not in html


@override_settings(BRAND_NAME="Acme Billing", BRAND_LOGO=LOGO)
def test_pages_show_the_configured_brand_and_logo():
    html = Client().get("/accounts/login/").content.decode()
    assert "<title>Log in · Acme Billing</title>" in html
    assert f'<img class="brand-logo" src="/static/{LOGO}" alt="">' in html
    assert "Billing portal" not in html


@override_settings(BRAND_NAME="Acme Billing", BRAND_LOGO=LOGO, SITE_URL="https://billing.acme.example")
def test_emails_carry_the_brand_and_an_absolute_logo(django_capture_on_commit_callbacks):
    org = OrganizationFactory(name="Initech")
    mail.outbox = []
    with django_capture_on_commit_callbacks(execute=True):
        notice_send(kind="invitation", organization=org, recipients=["new@example.com"], template="invitation",
                    context={"organization": org, "inviter": "Ann", "role": "member",
                             "link": "https://billing.acme.example/invitations/x/"})
    [message] = mail.outbox
    html = message.alternatives[0][0]
    assert f'src="https://billing.acme.example/static/{LOGO}"' in html
    assert "Ann invited you to join Initech on Acme Billing as member." in message.body
    assert "billing_portal" not in html + message.body


@override_settings(BRAND_NAME="Acme Billing", BRAND_LOGO=LOGO)
def test_invoice_pdfs_carry_the_brand_and_embed_the_logo(tmp_path):
    org = OrganizationFactory(name="Initech")
    start = (timezone.now().date().replace(day=1) - dt.timedelta(days=1)).replace(day=1)
    invoice = invoice_issue_for_period(organization=org, period_start=start, now=timezone.now())
    pdf = invoice_pdf_bytes(invoice=invoice)
    (tmp_path / "invoice.pdf").write_bytes(pdf)
    text = subprocess.run(["pdftotext", str(tmp_path / "invoice.pdf"), "-"], capture_output=True, text=True,
                          check=True).stdout
    assert "Acme Billing" in text and text.index("Acme Billing") < text.index("Invoice ")  # above the title
    # The logo travels inside the document (a data: URI), so WeasyPrint fetches nothing over the network.
    assert 'class="logo" src="data:image/svg+xml;base64,' in invoice_pdf_html(invoice=invoice)


def test_billing_details_name_the_brand_not_the_code_name():
    from django.template.loader import render_to_string

    from apps.invoicing.models import BillingProfile

    org = OrganizationFactory()
    profile, _ = BillingProfile.objects.get_or_create(organization=org)
    html = render_to_string("invoicing/billing_details.html", {"profile": profile, "organization": org})
    assert "Set by Billing portal staff." in html


def test_the_api_docs_and_schemas_carry_the_brand():
    html = Client().get("/api/v1/docs").content.decode()
    assert '<a class="docs-brand" href="/">Billing portal</a>' in html and "billing_portal" not in html
    assert Client().get("/api/v1/openapi.json").json()["info"]["title"] == "Billing portal machine API"
