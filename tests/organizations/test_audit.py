"""Audit rows are written in the transaction of the change they record, or not at all."""

import pytest
from django.db import transaction

from apps.organizations.models import AuditEntry
from apps.organizations.services import audit_record
from tests.factories import OrganizationFactory


@pytest.mark.django_db(transaction=True)
def test_audit_record_refuses_to_run_outside_a_transaction():
    org = OrganizationFactory()
    with pytest.raises(RuntimeError, match="inside the transaction"):
        audit_record(organization=org, action="cap.organization", target="organization", old=None, new="10.00")
    assert not AuditEntry.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_audit_record_rolls_back_with_the_change_it_records():
    org = OrganizationFactory()
    with pytest.raises(ValueError), transaction.atomic():
        audit_record(organization=org, action="cap.organization", target="organization", old=None, new="10.00")
        raise ValueError("the change fails")
    assert not AuditEntry.objects.exists()
    with transaction.atomic():
        audit_record(organization=org, action="cap.organization", target="organization", old=None, new="10.00")
    assert AuditEntry.objects.count() == 1
