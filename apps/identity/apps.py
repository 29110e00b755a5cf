from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IdentityConfig(AppConfig):
    verbose_name = _("Single sign-on and SCIM")  # the section heading in Django admin
    name = "apps.identity"
    label = "identity"
    default_auto_field = "django.db.models.BigAutoField"
