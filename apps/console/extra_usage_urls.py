"""Every extra-usage URL, under the `extra_usage:` names: the owners' settings pages (apps/extra_usage/views.py)
and the pages that read the admission decision (apps/console/request_views.py: the review modal, "Increase
limit", "Deny", the member's request). One URL module, so the namespace stays one."""

from django.urls import path

from apps.extra_usage import views

from . import request_views

app_name = "extra_usage"

urlpatterns = [
    path("orgs/<slug:slug>/extra-usage/", views.settings_page, name="settings"),
    path("orgs/<slug:slug>/extra-usage/switch/", views.switch, name="switch"),
    path("orgs/<slug:slug>/extra-usage/members-mode/", views.members_mode, name="members_mode"),
    path("orgs/<slug:slug>/extra-usage/members/<int:membership_id>/", views.member_switch, name="member_switch"),
    path("orgs/<slug:slug>/extra-usage/requests-switch/", views.requests_switch, name="requests_switch"),
    path("orgs/<slug:slug>/extra-usage/prepaid/purchase/", views.purchase_modal, name="purchase"),
    path("orgs/<slug:slug>/extra-usage/prepaid/auto-reload/", views.auto_reload_modal, name="auto_reload"),
    path("orgs/<slug:slug>/extra-usage/review/", views.review, name="review"),
    path("orgs/<slug:slug>/extra-usage/requests/", request_views.review_modal, name="review_modal"),
    path("orgs/<slug:slug>/extra-usage/requests/<str:public_id>/approve/", request_views.request_approve,
         name="approve"),
    path("orgs/<slug:slug>/extra-usage/requests/<str:public_id>/deny/", request_views.request_deny, name="deny"),
    path("orgs/<slug:slug>/extra-usage/mine/", request_views.my_extra_usage, name="my"),
    path("orgs/<slug:slug>/extra-usage/mine/request/", request_views.request_create, name="request_create"),
]
