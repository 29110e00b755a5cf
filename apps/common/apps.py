from django.apps import AppConfig


class CommonConfig(AppConfig):
    """Shared helpers; installed only to register their system checks (apps/common/checks.py)."""

    name = "apps.common"
    label = "common"

    def ready(self):
        from . import checks  # noqa: F401 (registers the checks)
