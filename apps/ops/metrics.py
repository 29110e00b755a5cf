"""GET /metrics: the Prometheus text exposition (prometheus-client's own encoder).

- Framework figures: django-prometheus's middleware (requests by view, method and status, latency) and cache
  backends (gets, hits, misses); PostgreSQL's own transaction and connection figures (collectors.py).
- Product figures: the counters in apps/common/metrics.py (admissions by reason, usage events by outcome, rate
  limit refusals, webhook attempts and delivery lag, Celery tasks and their run time) and the figures read from
  the database at scrape time (collectors.py: queue depths and oldest ages, invoices, auto-reload outcomes).
- Several processes: when PROMETHEUS_MULTIPROC_DIR is set (deploy/gunicorn.conf.py, the systemd units, `make
  demo`), every gunicorn worker and Celery pool process of the host writes its counters to a file there, and a
  scrape of any worker adds them up (prometheus-client's multiprocess mode).

Access: loopback callers that did not come through the reverse proxy (no X-Forwarded-For / Forwarded header),
or any caller with `Authorization: Bearer <METRICS_TOKEN>`. Anyone else gets a 404, as if nothing were here.
"""

from __future__ import annotations

import hmac
import ipaddress
import os

from django.conf import settings
from django.http import Http404, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest, multiprocess
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from .collectors import BrokerCollector, DatabaseCollector

_scrape_time = CollectorRegistry(auto_describe=False)
_scrape_time.register(DatabaseCollector())
_scrape_time.register(BrokerCollector())


def _process_registry() -> CollectorRegistry:
    """The counters of this host's processes: all of them in multiprocess mode, else this process's own."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return registry
    return REGISTRY


def _bearer_ok(request) -> bool:
    token = settings.METRICS_TOKEN
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, given = header.partition(" ")
    return bool(token) and scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(),
                                                                               token.encode())


def _loopback_direct(request) -> bool:
    if "HTTP_X_FORWARDED_FOR" in request.META or "HTTP_FORWARDED" in request.META:
        return False  # relayed by the reverse proxy: the caller is somewhere else
    try:
        return ipaddress.ip_address(request.META.get("REMOTE_ADDR", "")).is_loopback
    except ValueError:
        return False


def metrics_allowed(request) -> bool:
    return _bearer_ok(request) or _loopback_direct(request)


@never_cache
@require_GET
def metrics_view(request):
    if not metrics_allowed(request):
        raise Http404
    body = generate_latest(_process_registry()) + generate_latest(_scrape_time)
    return HttpResponse(body, content_type=CONTENT_TYPE_LATEST)
