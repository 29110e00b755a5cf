from django.urls import path

from . import views

app_name = "webhooks"

urlpatterns = [
    path("orgs/<slug:slug>/settings/webhooks/", views.endpoints_page, name="endpoints"),
    path("orgs/<slug:slug>/settings/webhooks/<str:public_id>/", views.endpoint_detail, name="endpoint_detail"),
    path("orgs/<slug:slug>/settings/webhooks/<str:public_id>/rotate/", views.endpoint_rotate,
         name="endpoint_rotate"),
    path("orgs/<slug:slug>/settings/webhooks/<str:public_id>/delete/", views.endpoint_delete_page,
         name="endpoint_delete"),
    path("orgs/<slug:slug>/settings/webhooks/<str:public_id>/test/", views.endpoint_test, name="endpoint_test"),
    path("orgs/<slug:slug>/settings/webhooks/<str:public_id>/deliveries/<int:delivery_id>/", views.delivery_detail,
         name="delivery_detail"),
    path("orgs/<slug:slug>/settings/webhooks/<str:public_id>/deliveries/<int:delivery_id>/replay/",
         views.delivery_replay_view, name="delivery_replay"),
]
