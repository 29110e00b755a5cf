from django.contrib import admin
from django.urls import include, path

from apps.gateway.api import api as machine_api

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", machine_api.urls),
    path("v1/organizations/", include("apps.admin_api.api_urls")),
    path("accounts/", include("apps.accounts.urls")),
    path("", include("apps.admin_api.urls")),
    path("", include("apps.organizations.urls")),
    path("orgs/<slug:slug>/invoices/", include("apps.invoicing.urls")),
    path("", include("apps.extra_usage.urls")),
]
