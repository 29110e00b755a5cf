from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OrganizationsConfig(AppConfig):
    verbose_name = _("Organizations")  # the section heading in Django admin
    name = "apps.organizations"
    label = "organizations"
    default_auto_field = "django.db.models.BigAutoField"
