"""`manage.py create_api_key <org-slug> [--name NAME]`: a new machine API key, printed once (only its hash is
stored)."""

from django.core.management.base import BaseCommand, CommandError

from apps.organizations.models import Organization
from apps.organizations.services import api_key_create


class Command(BaseCommand):
    help = "Create a machine API key for an organization and print it once; only a hash is stored."

    def add_arguments(self, parser):
        parser.add_argument("slug", help="The organization's slug, e.g. acme-team.")
        parser.add_argument("--name", default="Command-line key", help="A label to recognise the key by.")

    def handle(self, *args, slug, name, **options):
        organization = Organization.objects.filter(slug=slug).first()
        if organization is None:
            raise CommandError(f"No organization with slug {slug!r}.")
        name = name.strip()
        if not name or len(name) > 100:
            raise CommandError("--name must be 1 to 100 characters.")
        key, raw = api_key_create(organization=organization, name=name, actor=None)
        self.stderr.write(f"Created key {key.public_id} ({name!r}) for {organization.name}. "
                          "Copy it now: it will not be shown again.")
        self.stdout.write(raw)
