from django.urls import path

from . import views

app_name = "organizations"

urlpatterns = [
    path("", views.home, name="home"),
    path("orgs/<slug:slug>/", views.organization_home, name="organization_home"),
]
