"""Follow-up work after usage is recorded. Safe to run twice: each step claims its work in the database."""

from celery import shared_task


@shared_task(acks_late=True)
def usage_followups(organization_id: int, membership_ids: list[int]) -> None:
    """Runs the after-usage steps of the apps above the ledger (auto-reload, spend-limit notifications)."""
    from .followups import run_followups

    run_followups(organization_id=organization_id, membership_ids=membership_ids)
