"""Routes of the Admin API, included at `v1/organizations/`: the django-ninja API (api.py), its generated OpenAPI
schema, and a JSON 404 for every other path under the prefix (so APPEND_SLASH never redirects here)."""

from django.http import JsonResponse
from django.urls import path, re_path
from django.views.decorators.http import require_GET

from .api import admin_api_patterns, api, unknown_route

app_name = "admin_api_v1"


@require_GET
def openapi_schema(request):
    return JsonResponse(api.get_openapi_schema())


urlpatterns = [
    path("openapi.json", openapi_schema, name="openapi"),
    *admin_api_patterns(),
    re_path(r"^.*$", unknown_route, name="unknown"),
]
