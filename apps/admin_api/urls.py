from django.urls import path

from . import views

app_name = "admin_api"

urlpatterns = [
    path("orgs/<slug:slug>/settings/admin-api-keys/", views.admin_api_keys_page, name="keys"),
    path("orgs/<slug:slug>/settings/admin-api-keys/<str:public_id>/revoke/", views.admin_api_key_revoke_page,
         name="revoke"),
]
