import importlib

from django.urls import path
from django.views.decorators.csrf import csrf_exempt

app_name = "scim"


def _view(name: str):
    """The SCIM view `name`, imported on the first SCIM request: scim2-models builds its pydantic models when
    imported (seconds on a busy machine), a cost only identity providers' calls should pay, not the first page a
    person opens after a deploy."""

    @csrf_exempt
    def view(request, *args, **kwargs):
        return getattr(importlib.import_module("apps.identity.scim_views"), name)(request, *args, **kwargs)

    view.__name__ = name
    return view


urlpatterns = [
    path("ServiceProviderConfig", _view("service_provider_config"), name="service_provider_config"),
    path("ResourceTypes", _view("resource_types"), name="resource_types"),
    path("ResourceTypes/<str:name>", _view("resource_type"), name="resource_type"),
    path("Schemas", _view("schemas"), name="schemas"),
    path("Schemas/<str:schema_id>", _view("schema"), name="schema"),
    path(".search", _view("search"), name="search"),
    path("Users", _view("users"), name="users"),
    path("Users/.search", _view("search"), {"resource_type": "Users"}, name="users_search"),
    path("Users/<str:user_id>", _view("user"), name="user"),
    path("Groups", _view("groups"), name="groups"),
    path("Groups/.search", _view("search"), {"resource_type": "Groups"}, name="groups_search"),
    path("Groups/<str:group_id>", _view("group"), name="group"),
    path("<path:rest>", _view("not_found"), name="not_found"),
]
