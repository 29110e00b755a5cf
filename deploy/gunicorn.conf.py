"""gunicorn settings for production: `gunicorn -c deploy/gunicorn.conf.py billing_portal.wsgi:application`.

Every value can be overridden from the environment (GUNICORN_*), see docs/deploy.md."""

import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")  # the reverse proxy on this host talks to it
# Threads, not processes, for the I/O waits (PostgreSQL, Redis); processes for the 2+ cores.
worker_class = "gthread"
workers = int(os.environ.get("GUNICORN_WORKERS", multiprocessing.cpu_count() * 2))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))  # the longest request (a 1,000-event batch) is far below
graceful_timeout = 30  # SIGTERM: finish the requests in flight, then exit (systemd's TimeoutStopSec is longer)
keepalive = 5
# Workers are not recycled: each one keeps its own Prometheus counter file (PROMETHEUS_MULTIPROC_DIR).
max_requests = 0
# Trust X-Forwarded-* only from the proxy on this host (SECURE_PROXY_SSL_HEADER reads X-Forwarded-Proto).
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
# No access log here: Django logs every request (request_finished, JSON, with its request id and the link tokens
# redacted); the proxy keeps its own access log.
accesslog = None
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "warning")
# Each worker imports the app itself (billing_portal/wsgi.py runs the start-up checks in every worker).
preload_app = False


def child_exit(server, worker):
    """A worker that exits leaves its counters for /metrics to keep adding up; its live gauges go with it."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
