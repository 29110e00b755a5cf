from django.urls import path

from . import scim_views as v

app_name = "scim"

urlpatterns = [
    path("ServiceProviderConfig", v.service_provider_config, name="service_provider_config"),
    path("ResourceTypes", v.resource_types, name="resource_types"),
    path("ResourceTypes/<str:name>", v.resource_type, name="resource_type"),
    path("Schemas", v.schemas, name="schemas"),
    path("Schemas/<str:schema_id>", v.schema, name="schema"),
    path(".search", v.search, name="search"),
    path("Users", v.users, name="users"),
    path("Users/.search", v.search, {"resource_type": "Users"}, name="users_search"),
    path("Users/<str:user_id>", v.user, name="user"),
    path("Groups", v.groups, name="groups"),
    path("Groups/.search", v.search, {"resource_type": "Groups"}, name="groups_search"),
    path("Groups/<str:group_id>", v.group, name="group"),
    path("<path:rest>", v.not_found, name="not_found"),
]
