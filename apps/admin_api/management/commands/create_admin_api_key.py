"""`manage.py create_admin_api_key <org-slug> --scopes read:spend_limits,write:spend_limits,read:analytics
[--name NAME]`:
a new Admin API key, printed once on stdout (only its hash is stored)."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from apps.admin_api.services import admin_api_key_create
from apps.organizations.models import Organization


class Command(BaseCommand):
    help = "Create an Admin API key (spend limits, analytics) for an Enterprise organization and print it once."

    def add_arguments(self, parser):
        parser.add_argument("slug", help="The organization's slug, e.g. globex-enterprise.")
        parser.add_argument("--scopes", default="read:spend_limits,write:spend_limits",
                            help="Comma-separated: read:spend_limits, write:spend_limits, read:analytics "
                                 "(default: the two spend-limit scopes).")
        parser.add_argument("--name", default="Command-line Admin API key", help="A label to recognise the key by.")

    def handle(self, *args, slug, scopes, name, **options):
        organization = Organization.objects.filter(slug=slug).first()
        if organization is None:
            raise CommandError(f"No organization with slug {slug!r}.")
        chosen = [s.strip() for s in scopes.split(",") if s.strip()]
        try:
            key, raw = admin_api_key_create(organization=organization, name=name, scopes=chosen, actor=None,
                                            now=timezone.now())
        except ValidationError as error:
            raise CommandError("; ".join(f"{f}: {' '.join(m)}" for f, m in error.message_dict.items())) from None
        self.stderr.write(f"Created Admin API key {key.public_id} ({key.name!r}, {', '.join(key.scopes)}) for "
                          f"{organization.name}. Copy it now: it will not be shown again.")
        self.stdout.write(raw)
