from django.urls import path

from . import views

app_name = "notices"

urlpatterns = [
    path("notifications/", views.preferences, name="preferences"),
    path("notifications/unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
]
