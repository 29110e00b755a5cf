from django.urls import path

from . import views

app_name = "identity"

urlpatterns = [
    path("orgs/<slug:slug>/settings/security/", views.identity_settings_page, name="settings"),
    path("orgs/<slug:slug>/settings/security/two-factor/", views.two_factor_requirement, name="two_factor"),
    path("orgs/<slug:slug>/settings/security/sso/", views.sso_settings, name="sso"),
    path("orgs/<slug:slug>/settings/security/domains/", views.domain_claim, name="domain_claim"),
    path("orgs/<slug:slug>/settings/security/domains/<int:domain_id>/verify/", views.domain_verify,
         name="domain_verify"),
    path("orgs/<slug:slug>/settings/security/domains/<int:domain_id>/remove/", views.domain_remove,
         name="domain_remove"),
    path("orgs/<slug:slug>/settings/security/scim-tokens/", views.scim_token_create_view, name="scim_token_create"),
    path("orgs/<slug:slug>/settings/security/scim-tokens/<str:public_id>/revoke/", views.scim_token_revoke_view,
         name="scim_token_revoke"),
    path("sso/start/", views.sso_start, name="sso_start"),
]

