from django.core.management.base import BaseCommand, CommandError

from apps.identity.services import scim_token_create
from apps.organizations.models import Organization


class Command(BaseCommand):
    help = "Create a SCIM bearer token for an organization and print it once (only its digest is stored)."

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("--name", default="Identity provider")

    def handle(self, *args, slug, name, **options):
        organization = Organization.objects.filter(slug=slug).first()
        if organization is None:
            raise CommandError(f"No organization with slug {slug!r}.")
        token, raw = scim_token_create(organization=organization, name=name, actor_label="manage.py")
        self.stdout.write(raw)
        self.stderr.write(f"SCIM token {token.public_id} for {organization.slug}: shown once, store it now.")
