"""The machine API has no tables of its own: it parses, authenticates, calls one spending service and answers."""
from django.apps import AppConfig


class MachineApiConfig(AppConfig):
    name = "apps.machine_api"
    label = "machine_api"
    default_auto_field = "django.db.models.BigAutoField"
