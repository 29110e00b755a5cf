from django.urls import path

from . import audit_views, billing_views, prices_views, setup_views, views

app_name = "console"

urlpatterns = [
    path("orgs/<slug:slug>/settings/usage/", views.usage_settings, name="usage_settings"),
    path("orgs/<slug:slug>/settings/usage/org-cap/", views.org_cap_section, name="org_cap_section"),
    path("orgs/<slug:slug>/settings/usage/org-cap/edit/", views.org_cap_edit, name="org_cap_edit"),
    path("orgs/<slug:slug>/settings/usage/tier-caps/", views.tier_caps_section, name="tier_caps_section"),
    path("orgs/<slug:slug>/settings/usage/tier-caps/<int:tier_id>/edit/", views.tier_cap_edit, name="tier_cap_edit"),
    path("orgs/<slug:slug>/settings/usage/limits/", views.limits_table, name="limits_table"),
    path("orgs/<slug:slug>/settings/usage/limits/<int:membership_id>/edit/", views.member_cap_edit,
         name="member_cap_edit"),
    path("orgs/<slug:slug>/settings/usage/extra-usage-setup/", setup_views.extra_usage_setup,
         name="extra_usage_setup"),
    path("orgs/<slug:slug>/settings/usage/extra-usage-setup/done/", setup_views.extra_usage_setup_finish,
         name="extra_usage_setup_finish"),
    path("orgs/<slug:slug>/settings/usage/extra-usage-setup/<slug:step>/", setup_views.extra_usage_setup_step,
         name="extra_usage_setup_step"),
    path("orgs/<slug:slug>/settings/usage/changes/", views.recent_changes, name="recent_changes"),
    path("orgs/<slug:slug>/members/", views.members, name="members"),
    path("orgs/<slug:slug>/members/table/", views.members_table, name="members_table"),
    path("orgs/<slug:slug>/members/invite/", views.member_invite_view, name="member_invite"),
    path("orgs/<slug:slug>/members/<int:membership_id>/seat/", views.member_seat, name="member_seat"),
    path("orgs/<slug:slug>/members/<int:membership_id>/role/", views.member_role, name="member_role"),
    path("orgs/<slug:slug>/members/<int:membership_id>/remove/", views.member_remove_view, name="member_remove"),
    path("orgs/<slug:slug>/members/invitations/<int:invitation_id>/revoke/", views.invitation_revoke_view,
         name="invitation_revoke"),
    path("orgs/<slug:slug>/members/invitations/<int:invitation_id>/resend/", views.invitation_resend_view,
         name="invitation_resend"),
    path("invitations/<str:token>/", views.invitation_accept, name="invitation_accept"),
    path("orgs/<slug:slug>/settings/audit-log/", audit_views.audit_log, name="audit_log"),
    path("orgs/<slug:slug>/settings/audit-log/export.csv", audit_views.audit_log_export, name="audit_log_export"),
    path("orgs/<slug:slug>/settings/prices/", prices_views.prices, name="prices"),
    path("orgs/<slug:slug>/settings/language/", views.language_settings, name="language_settings"),
    path("orgs/<slug:slug>/billing/history/", billing_views.billing_history, name="billing_history"),
    path("orgs/<slug:slug>/billing/history/<slug:kind>/<int:charge_id>/receipt/", billing_views.billing_receipt,
         name="billing_receipt"),
]
