"""A URL configuration for tests/machine_api/test_lean_views.py: the machine API twice, as served (/api/v1/, the
lean admission and usage views in front) and as the django-ninja operations alone (/ninja/, with the JSON 405
wrapper they had before the lean views), to compare answers."""

from django.urls import path

from apps.machine_api.api import _json_method_not_allowed, api
from billing_portal.urls import urlpatterns as served

_patterns, _app_name, _namespace = api.urls
for _pattern in _patterns:
    _pattern.callback = _json_method_not_allowed(_pattern.callback)
urlpatterns = [path("ninja/", (_patterns, "ninja_only", "ninja_only")), *served]
