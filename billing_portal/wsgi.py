import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "billing_portal.settings")
application = get_wsgi_application()

# Production refuses to serve a misconfiguration (apps/ops/checks.py: SITE_URL, broker, payment secrets...).
from apps.ops.checks import refuse_misconfiguration  # noqa: E402

refuse_misconfiguration()
