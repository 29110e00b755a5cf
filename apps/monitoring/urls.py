from django.urls import path

from . import export_views, views

app_name = "monitoring"

urlpatterns = [
    path("orgs/<slug:slug>/usage/dashboard/", views.dashboard, name="dashboard"),
    path("orgs/<slug:slug>/usage/dashboard/tiers/", views.dashboard_tiers, name="dashboard_tiers"),
    path("orgs/<slug:slug>/usage/dashboard/members/", views.dashboard_members, name="dashboard_members"),
    path("orgs/<slug:slug>/usage/dashboard/members/<int:membership_id>/", views.member_detail,
         name="member_detail"),
    path("orgs/<slug:slug>/usage/notifications/", views.notification_settings, name="notification_settings"),
    path("orgs/<slug:slug>/usage/me/", views.my_usage, name="my_usage"),
    path("orgs/<slug:slug>/usage/dashboard/export.csv", export_views.usage_export, name="usage_export"),
]
