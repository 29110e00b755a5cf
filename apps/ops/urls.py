from django.urls import path

from . import health, metrics

app_name = "ops"

urlpatterns = [
    path("health/live", health.live, name="health_live"),
    path("health/ready", health.ready, name="health_ready"),
    path("metrics", metrics.metrics_view, name="metrics"),
]
