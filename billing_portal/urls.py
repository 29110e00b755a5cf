from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from apps.extra_usage.stripe_views import stripe_card_setup
from apps.invoicing.stripe_webhook import stripe_webhook
from apps.machine_api.api import machine_api_urls
from billing_portal import api_docs

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("apps.ops.urls")),  # /health/live, /health/ready, /metrics (apps/ops)
    # API docs rendered from our own static files (issue 24), before the APIs' own catch-all routes.
    path("api/v1/docs", api_docs.machine_docs, name="api_docs_machine"),
    path("v1/organizations/docs", api_docs.admin_docs, name="api_docs_admin"),
    path("api/webhooks/docs", api_docs.webhooks_docs, name="api_docs_webhooks"),
    path("api/webhooks/openapi.json", api_docs.webhooks_schema, name="api_docs_webhooks_schema"),
    path("api/v1/", machine_api_urls()),
    path("v1/organizations/", include("apps.admin_api.api_urls")),
    path("accounts/", include("apps.accounts.urls")),
    path("", include("apps.admin_api.urls")),
    path("", include("apps.organizations.urls")),
    path("orgs/<slug:slug>/invoices/", include("apps.invoicing.urls")),
    path("", include("apps.console.urls")),
    path("", include("apps.console.extra_usage_urls")),
    path("", include("apps.monitoring.urls")),
    path("", include("apps.webhooks.urls")),
    path("stripe/webhook/", stripe_webhook, name="stripe_webhook"),
    path("orgs/<slug:slug>/extra-usage/card/", stripe_card_setup, name="stripe_card_setup"),
    path("", include("apps.notices.urls")),
]
# Identity (issue 17): owners' Security & SSO page, the SSO entry and OIDC callback, SCIM 2.0 provisioning.
urlpatterns += [path("", include("apps.identity.urls")), path("", include("apps.identity.sso_urls")),
                path("scim/v2/", include("apps.identity.scim_urls"))]

if settings.BENCH_BASELINE_VIEW:  # `make bench` only: the one-SELECT baseline view (billing_portal/bench_views.py)
    from billing_portal.bench_views import select_one

    urlpatterns.insert(0, path("bench/select", select_one, name="bench_select"))
