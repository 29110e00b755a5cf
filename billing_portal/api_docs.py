"""Interactive API docs that render with no network but the portal's own (issue 24): Swagger UI from the copy
django-ninja bundles (`ninja` is in INSTALLED_APPS, so its static files are collected and served with ours),
loaded as external files with the settings in a JSON data block, so the pages run under the portal's strict
Content-Security-Policy unchanged (Swagger UI sets styles through the DOM, which `style-src 'self'` allows).

- `/api/v1/docs`: the machine API (`/api/v1/openapi.json`).
- `/v1/organizations/docs`: the Admin API: spend limits, usage and cost analytics, webhook endpoints
  (`/v1/organizations/openapi.json`).
- `/api/webhooks/docs`: the webhook events (`/api/webhooks/openapi.json`, OpenAPI 3.1 `webhooks`, one per event
  type; apps/webhooks/schema.py).
"""

from __future__ import annotations

from django.http import JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET

from apps.webhooks.schema import webhooks_openapi

PAGES = (
    ("machine", _("Machine API"), "api_docs_machine", "machine_api:openapi-json"),
    ("admin", _("Admin API"), "api_docs_admin", "admin_api_v1:openapi"),
    ("webhooks", _("Webhook events"), "api_docs_webhooks", "api_docs_webhooks_schema"),
)


def _page(request, current: str):
    pages = [{"key": key, "title": title, "url": reverse(view), "schema_url": reverse(schema)}
             for key, title, view, schema in PAGES]
    page = next(p for p in pages if p["key"] == current)
    settings = {"url": page["schema_url"], "layout": "BaseLayout", "deepLinking": True, "validatorUrl": None,
                "docExpansion": "list", "defaultModelsExpandDepth": 0}
    return render(request, "api_docs/swagger.html", {"pages": pages, "page": page, "swagger_settings": settings})


@require_GET
def machine_docs(request):
    return _page(request, "machine")


@require_GET
def admin_docs(request):
    return _page(request, "admin")


@require_GET
def webhooks_docs(request):
    return _page(request, "webhooks")


@require_GET
def webhooks_schema(request):
    return JsonResponse(webhooks_openapi())
