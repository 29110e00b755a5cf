"""Routes of the Spend Limits API, included at `v1/organizations/`. No trailing slashes (the SDK sends none);
every other path under the prefix is a JSON 404, so APPEND_SLASH never redirects here."""

from django.urls import path, re_path

from . import api_views
from .openapi import openapi_schema

app_name = "admin_api_v1"

urlpatterns = [
    path("openapi.json", openapi_schema, name="openapi"),
    # `effective` before `<id>`: it would otherwise be read as a spend-limit id.
    path("spend_limits/effective", api_views.effective_view, name="effective"),
    path("spend_limits", api_views.spend_limits_view, name="spend_limits"),
    path("spend_limits/<str:spend_limit_id>", api_views.spend_limit_view, name="spend_limit"),
    path("spend_limit_increase_requests", api_views.increase_requests_view, name="increase_requests"),
    path("spend_limit_increase_requests/<str:request_id>", api_views.increase_request_view,
         name="increase_request"),
    path("spend_limit_increase_requests/<str:request_id>/approve", api_views.increase_request_approve_view,
         name="increase_request_approve"),
    path("spend_limit_increase_requests/<str:request_id>/deny", api_views.increase_request_deny_view,
         name="increase_request_deny"),
    re_path(r"^.*$", api_views.unknown_route, name="unknown"),
]
