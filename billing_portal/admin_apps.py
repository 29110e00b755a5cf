"""django.contrib.admin with billing_portal.admin_site.PortalAdminSite (second factor required) as `admin.site`.
Apart from admin_site.py because an app config module is imported before the apps are ready."""

from django.contrib.admin.apps import AdminConfig


class PortalAdminConfig(AdminConfig):
    default_site = "billing_portal.admin_site.PortalAdminSite"
