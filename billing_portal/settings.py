"""Settings, all read from the environment (see .env.example). PostgreSQL only: `make demo` starts an embedded
PostgreSQL (scripts/demo.py) and passes its DATABASE_URL; without one, the local server on 127.0.0.1:5432."""

import ipaddress
from pathlib import Path

import environ
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

from billing_portal.env import database_url_config, env, read, read_bool, read_url

BASE_DIR = Path(__file__).resolve().parent.parent
environ.Env.read_env(BASE_DIR / ".env", overwrite=False) if (BASE_DIR / ".env").exists() else None

DEBUG = read_bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("Environment variable SECRET_KEY is required when DEBUG is false")
    SECRET_KEY = "insecure-dev-only-key-do-not-use-in-production-0123456789abcdef"  # noqa: S105
ALLOWED_HOSTS = read("ALLOWED_HOSTS", lambda: env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"]))
CSRF_TRUSTED_ORIGINS = read("CSRF_TRUSTED_ORIGINS", lambda: env.list("CSRF_TRUSTED_ORIGINS", default=[]))

INSTALLED_APPS = [
    "billing_portal.admin_apps.PortalAdminConfig",  # django.contrib.admin behind the second factor (issue 26)
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "djmoney",
    "axes",
    "csp",
    "apps.accounts",
    "apps.organizations",
    "apps.seats",
    "apps.usage",
    "apps.extra_usage",
    "apps.spending",
    "apps.monitoring",
    "apps.machine_api",
    "apps.invoicing",
    "apps.admin_api",
    "apps.demo",
    "apps.console",
    "apps.webhooks",
    "apps.notices",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Static files straight after security: compressed, hashed names, far-future cache headers (see STORAGES).
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # After authentication: the user's saved language, else Accept-Language, else the organization's default.
    "apps.organizations.middleware.PreferredLanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",
    # Last, so nearest the views: it sees the login redirect of any view an expired session reaches.
    "billing_portal.middleware.HtmxLoginRedirectMiddleware",
]

ROOT_URLCONF = "billing_portal.urls"
WSGI_APPLICATION = "billing_portal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "apps.console.context_processors.console_nav",
                "apps.monitoring.context_processors.spend_banner",
            ],
            # The one money filter (`{{ amount|money }}`), and |number and |percent, on every template.
            "builtins": ["apps.common.templatetags.money", "apps.common.templatetags.dates"],
        },
    },
]

DATABASES = {
    "default": read_url(
        "DATABASE_URL",
        default="postgres://postgres@127.0.0.1:5432/billing_portal",
        parse=database_url_config,
    )
}
DATABASES["default"]["CONN_MAX_AGE"] = read("CONN_MAX_AGE", lambda: env.int("CONN_MAX_AGE", default=0))
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

# Read replica (docs/scaling.md), off unless DATABASE_REPLICA_URL is set: a "replica" alias that dashboard and
# monitoring reads use through billing_portal.db_router.dashboard_db(); writes always go to "default".
_replica = read_url("DATABASE_REPLICA_URL", default=None, parse=database_url_config)
if _replica is not None:
    DATABASES["replica"] = {**_replica, "CONN_MAX_AGE": DATABASES["default"]["CONN_MAX_AGE"],
                            "CONN_HEALTH_CHECKS": True, "TEST": {"MIRROR": "default"}}
DATABASE_ROUTERS = ["billing_portal.db_router.PrimaryReplicaRouter"]
DASHBOARD_DB_ALIAS = env.str("DASHBOARD_DB_ALIAS", default="replica" if _replica is not None else "default")
if DASHBOARD_DB_ALIAS not in DATABASES:
    raise ImproperlyConfigured(
        f"Environment variable DASHBOARD_DB_ALIAS is malformed: {DASHBOARD_DB_ALIAS!r} is not a configured "
        f"database (configured: {', '.join(DATABASES)}; set DATABASE_REPLICA_URL for 'replica')"
    )

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "organizations:home"
LOGOUT_REDIRECT_URL = "accounts:login"

LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
# The five languages of the subscription's help articles, named in their own language in the picker.
LANGUAGES = [("en", "English"), ("de", "Deutsch"), ("fr", "Français"), ("it", "Italiano"), ("es", "Español")]
LOCALE_PATHS = [BASE_DIR / "locale"]

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
# WhiteNoise serves what `collectstatic` gathered into STATIC_ROOT (`make demo` runs it; so must a deployment):
# gzip/brotli-compressed copies and content-hashed names, cached for a year. billing_portal/test_settings.py
# uses plain names, as the suite serves static files from the source folders.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "billing_portal.storage.StaticFilesStorage"},
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Money: one currency per organization; USD is the only one offered today.
CURRENCIES = ("USD",)
DEFAULT_CURRENCY = "USD"

EMAIL_CONFIG = read_url("EMAIL_URL", default="consolemail://", parse=lambda url: environ.Env.email_url_config(url))
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="billing@billing-portal.example")
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000")

REDIS_URL = env.str("REDIS_URL", default="redis://127.0.0.1:6379/0")
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
        if read_bool("USE_REDIS_CACHE", default=False)
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

# Celery. Without a broker the demo runs tasks eagerly, in-process.
CELERY_BROKER_URL = read_url("CELERY_BROKER_URL", default=None, parse=lambda url: url)
CELERY_TASK_ALWAYS_EAGER = CELERY_BROKER_URL is None
if CELERY_BROKER_URL is None:
    # Eager tasks never reach a broker; naming the in-memory one keeps Celery from warning about a missing host.
    CELERY_BROKER_URL = "memory://localhost/"
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = "UTC"
# A task is acknowledged only when it finished, and a task whose worker died is redelivered: every task is
# idempotent, so running one twice is safe, while losing one is not.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
if CELERY_BROKER_URL.startswith("filesystem://"):
    # The demo's broker when no Redis answers (scripts/demo.py): kombu's filesystem transport, one folder for the
    # web server, the worker and beat on this machine (created by the demo runner).
    _broker_folder = Path(env.str("CELERY_BROKER_FOLDER", default=str(BASE_DIR / ".demo" / "broker")))
    CELERY_BROKER_TRANSPORT_OPTIONS = {"data_folder_in": str(_broker_folder / "queue"),
                                       "data_folder_out": str(_broker_folder / "queue"),
                                       "control_folder": str(_broker_folder / "control")}
# All beat schedules live here. Each runs in UTC; the tasks themselves work out each organization's local time.
CELERY_BEAT_SCHEDULE = {
    # Every 5 minutes: spend notices a lost follow-up missed, and the dashboards' daily totals brought up to date,
    # for every organization with usage this period (apps/monitoring/tasks.py; idempotent).
    "monitoring-sweep": {
        "task": "apps.monitoring.tasks.monitoring_sweep",
        "schedule": crontab(minute="*/5"),
    },
    # Every 15 minutes: closes the previous period for every organization whose local month has turned.
    "invoicing-close-periods": {
        "task": "apps.invoicing.tasks.invoice_run_due_periods",
        "schedule": crontab(minute="*/15"),
    },
    # Every minute: auto-reloads due but not bought (a lost after-usage task), and charges left pending.
    "extra-usage-auto-reload-sweep": {
        "task": "apps.extra_usage.tasks.auto_reload_sweep",
        "schedule": crontab(minute="*"),
    },
    # Daily at 08:00 UTC: one digest of pending extra-usage requests to each admin (claimed per admin per day).
    "extra-usage-daily-digest": {
        "task": "apps.spending.tasks.digest_send_daily",
        "schedule": crontab(hour=8, minute=0),
    },
    # Every 5 minutes: emails whose enqueue was lost or whose worker died are enqueued again (apps/notices).
    "notices-outbox-sweep": {
        "task": "apps.notices.tasks.outbox_sweep",
        "schedule": crontab(minute="*/5"),
    },
}
# Team prepaid extra usage: the payment provider (a dotted path to an apps.extra_usage.payments class).
PAYMENT_PROVIDER = env.str("PAYMENT_PROVIDER", default="apps.extra_usage.payments.RecordingProvider")

# Machine API limits.
USAGE_BATCH_MAX_EVENTS = 1000
USAGE_MAX_FUTURE_SKEW_SECONDS = 300
ORG_COUNTER_SLOTS = read("ORG_COUNTER_SLOTS", lambda: env.int("ORG_COUNTER_SLOTS", default=16))

# Benchmarks and scaling (bench/, docs/scaling.md). The one-SELECT baseline view is mounted only for `make bench`.
BENCH_BASELINE_VIEW = read_bool("BENCH_BASELINE_VIEW", default=False)

# Login throttling (django-axes): five failures lock the username+IP pair for 15 minutes.
AXES_FAILURE_LIMIT = 5
AXES_COOLOFF_TIME = 0.25
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
# The login form posts the email as "username" (Django's AuthenticationForm); without this axes looks for an
# "email" field, finds none and counts every failure against a blank username, so the right password still
# got in after the limit. Emails are compared lower-cased, so "Owner@" and "owner@" share one counter.
AXES_USERNAME_FORM_FIELD = "username"
AXES_USERNAME_CALLABLE = "billing_portal.axes_username.axes_username"
AXES_ENABLED = read_bool("AXES_ENABLED", default=True)

SESSION_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# Content-Security-Policy (django-csp): only our own scripts, styles and forms; no inline code, no framing.
# Templates therefore carry no inline <script>/style="" and HTMX runs with includeIndicatorStyles off.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
        "base-uri": ["'self'"],
        "object-src": ["'none'"],
    }
}
# Request bodies above 5 MB are refused (the machine API answers a JSON 413); a 1,000-event batch is ~300 KB.
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
# Machine API: requests per key per minute (fixed window in Redis; fails open when Redis is down).
MACHINE_API_RATE_LIMIT_PER_MINUTE = read(
    "MACHINE_API_RATE_LIMIT_PER_MINUTE", lambda: env.int("MACHINE_API_RATE_LIMIT_PER_MINUTE", default=600_000)
)
if not DEBUG:
    SECURE_SSL_REDIRECT = read_bool("SECURE_SSL_REDIRECT", default=True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = 31536000
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# LOGGING: structured (structlog), see the Operations block at the end.

# --- Scale-out (docs/scaling.md) -----------------------------------------------------------------------------
# Server-side prepared statements on the machine API's hot path (apps/common/sql.py). On by default; turn off
# behind a transaction-mode pooler (PgBouncer 1.18 cannot keep prepared statements across transactions).
DATABASE_PREPARED_STATEMENTS = read_bool("DATABASE_PREPARED_STATEMENTS", default=True)
# Server-side cursors do not survive transaction pooling either (Django's own advice for PgBouncer).
DATABASES["default"].setdefault("DISABLE_SERVER_SIDE_CURSORS", not DATABASE_PREPARED_STATEMENTS)
# After any write request (a non-GET), that session reads from the primary for this many seconds, so a person
# who just changed a setting sees it even while the replica lags (billing_portal/db_router.py).
REPLICA_PIN_SECONDS = read("REPLICA_PIN_SECONDS", lambda: env.int("REPLICA_PIN_SECONDS", default=10))
MIDDLEWARE.append("billing_portal.db_router.ReplicaPinMiddleware")
TEMPLATES[0]["OPTIONS"]["context_processors"].append("billing_portal.db_router.replica_freshness")
# The reporting pages whose reads of reporting models go to the replica (DASHBOARD_DB_ALIAS), by URL name.
REPLICA_READ_VIEWS = frozenset({
    "monitoring:dashboard", "monitoring:dashboard_tiers", "monitoring:dashboard_members",
    "monitoring:member_detail", "monitoring:my_usage", "invoicing:invoice_csv", "monitoring:usage_export",
})
# Monthly partitions of the usage ledger kept ready ahead of the current month (apps/usage/partitions.py).
USAGE_PARTITION_MONTHS_AHEAD = read(
    "USAGE_PARTITION_MONTHS_AHEAD", lambda: env.int("USAGE_PARTITION_MONTHS_AHEAD", default=3)
)
# Daily at 03:10 UTC: create the ledger's partitions for the coming months (idempotent).
CELERY_BEAT_SCHEDULE["usage-partitions-ahead"] = {
    "task": "apps.usage.tasks.usage_partitions_ensure",
    "schedule": crontab(hour=3, minute=10),
}
# One queue per kind of work, so a month's invoicing or a digest run never delays the after-usage follow-ups.
# Workers: see README "Scaling". A task not listed goes to "default".
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {
    # After-usage follow-ups and their sweeps: auto-reload, dashboard totals (latency matters: minutes).
    "apps.spending.tasks.usage_followups": {"queue": "followups"},
    "apps.extra_usage.tasks.auto_reload_task": {"queue": "followups"},
    "apps.extra_usage.tasks.auto_reload_sweep": {"queue": "followups"},
    "apps.monitoring.tasks.monitoring_sweep": {"queue": "followups"},
    "apps.monitoring.tasks.org_daily_refresh_task": {"queue": "followups"},
    # Notices: emails a person waits for (spend-limit notices, a decision on their request).
    "apps.monitoring.tasks.spend_notifications_task": {"queue": "notices"},
    "apps.extra_usage.tasks.request_decision_notify_task": {"queue": "notices"},
    # Outgoing webhooks: customers' systems wait for them like a person for an email.
    "apps.webhooks.tasks.*": {"queue": "notices"},
    # Invoicing: period close, invoices and their emails; and the ledger's monthly partitions.
    "apps.invoicing.tasks.*": {"queue": "invoicing"},
    "apps.usage.tasks.*": {"queue": "invoicing"},
    # Digests: the daily batch of summaries to admins.
    "apps.spending.tasks.digest_send_daily": {"queue": "digests"},
    "apps.spending.tasks.digest_send_organization_task": {"queue": "digests"},
}
# A worker started without -Q consumes every queue; `-Q followups,notices` gives one its own share (README).
CELERY_TASK_QUEUES = {name: {"exchange": name, "routing_key": name}
                      for name in ("followups", "notices", "invoicing", "digests", "default")}
# Outgoing webhooks (apps/webhooks). Plain http:// is refused; tests allow it to reach a server on 127.0.0.1.
# Every address is checked by the outbound guard (OUTBOUND_ALLOWED_NETWORKS below).
WEBHOOKS_REQUIRE_HTTPS = read_bool("WEBHOOKS_REQUIRE_HTTPS", default=True)
WEBHOOKS_TIMEOUT_SECONDS = 10
# How long a worker holds a delivery it is sending; a worker that dies leaves it to the sweep after this.
WEBHOOKS_DELIVERY_LEASE_SECONDS = read(
    "WEBHOOKS_DELIVERY_LEASE_SECONDS", lambda: env.int("WEBHOOKS_DELIVERY_LEASE_SECONDS", default=60)
)
# Every minute: webhook retries whose time came, deliveries a lost enqueue or a dead worker left (idempotent).
CELERY_BEAT_SCHEDULE["webhooks-deliveries-sweep"] = {
    "task": "apps.webhooks.tasks.webhook_deliveries_sweep",
    "schedule": crontab(minute="*"),
}
# Stripe (PAYMENT_PROVIDER=apps.extra_usage.payments.StripeProvider): keys from the environment only.
STRIPE_SECRET_KEY = env.str("STRIPE_SECRET_KEY", default="")
STRIPE_WEBHOOK_SECRET = env.str("STRIPE_WEBHOOK_SECRET", default="")
if PAYMENT_PROVIDER in ("stripe", "apps.extra_usage.payments.StripeProvider") and not STRIPE_SECRET_KEY:
    raise ImproperlyConfigured("Environment variable STRIPE_SECRET_KEY is required when PAYMENT_PROVIDER=stripe")

# --- Identity: password reset, two-factor, OIDC single sign-on, SCIM (apps/accounts, apps/identity) ----------
INSTALLED_APPS += [
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "allauth",
    "allauth.account",
    "allauth.socialaccount",
    "allauth.socialaccount.providers.openid_connect",
    "apps.identity",
]
MIDDLEWARE += [
    # Marks request.user.is_verified() once the second factor was given at login.
    "django_otp.middleware.OTPMiddleware",
    # Required by django-allauth (its social login flow keeps state on the request).
    "allauth.account.middleware.AccountMiddleware",
    # A member of an organization that requires two-factor is sent to set it up before any of its pages.
    "apps.identity.middleware.TwoFactorRequiredMiddleware",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
PASSWORD_RESET_TIMEOUT = 60 * 60 * 3  # a reset link works for 3 hours, once
# The password login asks this (a dotted path) whether an email must sign in through its organization's SSO;
# accounts sits below organizations, so the policy lives in apps.identity and is looked up by name.
PASSWORD_LOGIN_POLICY = "apps.identity.sso.password_login_policy"
OTP_TOTP_ISSUER = "billing_portal"
# django-allauth serves only the OpenID Connect login and callback (apps/identity/urls.py); the password login,
# reset and change stay Django's own views. Each organization's provider is built from its SSO settings.
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*"]
ACCOUNT_EMAIL_VERIFICATION = "none"
ACCOUNT_ADAPTER = "apps.identity.sso.SsoAccountAdapter"
SOCIALACCOUNT_ADAPTER = "apps.identity.sso.OrganizationSsoAdapter"
SOCIALACCOUNT_AUTO_SIGNUP = True
SOCIALACCOUNT_EMAIL_AUTHENTICATION = True
SOCIALACCOUNT_EMAIL_AUTHENTICATION_AUTO_CONNECT = True
SOCIALACCOUNT_EMAIL_VERIFICATION = "none"
SOCIALACCOUNT_STORE_TOKENS = False
SOCIALACCOUNT_LOGIN_ON_GET = False
SOCIALACCOUNT_REQUESTS_TIMEOUT = 10
# Verified domains (issue 26): the TXT lookup's nameservers, "ip" or "ip:port", comma-separated; empty uses the
# system's resolver (/etc/resolv.conf). Tests point it at a DNS server on loopback.
IDENTITY_DNS_NAMESERVERS = env.list("IDENTITY_DNS_NAMESERVERS", default=[])
IDENTITY_DNS_TIMEOUT = env.float("IDENTITY_DNS_TIMEOUT", default=5.0)

# --- Outbound guard (apps/common/outbound.py): webhooks, OIDC discovery/JWKS/token ------------------------------
# Every server-side fetch resolves its host once and connects only to public addresses. Local testing opens exact
# networks here (comma-separated CIDRs, e.g. 127.0.0.1/32); there is no off-switch. A deploy check refuses a list
# that opens private, loopback or link-local ranges when DEBUG is off (apps/common/checks.py).
INSTALLED_APPS.append("apps.common")  # registers the outbound guard's deploy check (apps/common/checks.py)
OUTBOUND_ALLOWED_NETWORKS = read("OUTBOUND_ALLOWED_NETWORKS", lambda: [
    str(ipaddress.ip_network(cidr.strip(), strict=False))
    for cidr in env.list("OUTBOUND_ALLOWED_NETWORKS", default=[]) if cidr.strip()])
# JSON request bodies (apps/common/json_body.py): nesting depth and size on every API.
JSON_BODY_MAX_DEPTH = 32
JSON_BODY_MAX_BYTES = DATA_UPLOAD_MAX_MEMORY_SIZE
# Floods (apps/common/ratelimit.py ClientThrottle): requests per account and per client address in a fixed window
# of `window` seconds, counted in Redis; the next one gets a 429 with the wait. Logins also keep django-axes'
# lockout after five failures. "account" is the email typed (login, reset), the SCIM token, the OIDC provider.
THROTTLE_LIMITS = {
    "login": {"window": 60, "account": 20, "address": 60},
    "password_reset": {"window": 900, "account": 5, "address": 20},
    "scim": {"window": 60, "account": 600, "address": 1200},
    "oidc_callback": {"window": 60, "account": 300, "address": 30},
}
# Invoices as documents (issue 23): the seller printed on every invoice and credit note (copied onto each one
# when it is issued), from the environment; the defaults are the demo's believable ones. Address lines are
# separated by ";". Bank transfers quote the invoice number as their reference.
INVOICE_ISSUER = {
    "legal_name": env.str("INVOICE_ISSUER_NAME", default="Billing Portal Demo Ltd."),
    "address": [line.strip() for line in env.str(
        "INVOICE_ISSUER_ADDRESS", default="4 Grand Canal Quay; Dublin 2, D02 X285; Ireland").split(";")
        if line.strip()],
    "country": env.str("INVOICE_ISSUER_COUNTRY", default="IE").upper(),
    "tax_id": env.str("INVOICE_ISSUER_TAX_ID", default="IE1000000H"),
    "email": env.str("INVOICE_ISSUER_EMAIL", default="billing@billing-portal.example"),
    "phone": env.str("INVOICE_ISSUER_PHONE", default="+353 1 555 0100"),
    "website": env.str("INVOICE_ISSUER_WEBSITE", default="https://billing-portal.example"),
    "bank_name": env.str("INVOICE_ISSUER_BANK", default="Allied Irish Banks"),
    "iban": env.str("INVOICE_ISSUER_IBAN", default="IE29AIBK93115212345678"),
    "bic": env.str("INVOICE_ISSUER_BIC", default="AIBKIE2D"),
}
# Payment reminders: this many days before the due date, and this many days after it (beat, hourly).
INVOICE_REMINDER_DAYS_BEFORE = env.int("INVOICE_REMINDER_DAYS_BEFORE", default=3)
INVOICE_REMINDER_DAYS_AFTER = env.int("INVOICE_REMINDER_DAYS_AFTER", default=1)
CELERY_BEAT_SCHEDULE["invoicing-payment-reminders"] = {
    "task": "apps.invoicing.tasks.invoice_reminders_send",
    "schedule": crontab(minute=5),
}

# --- Operations (issue 24; apps/ops, docs/deploy.md): health, metrics, logs, errors, start-up checks, brand ----
from apps.ops.errors import sentry_init  # noqa: E402
from apps.ops.logs import configure_structlog, logging_config  # noqa: E402

INSTALLED_APPS += ["django_structlog", "apps.ops"]
MIDDLEWARE = [
    # First and last: django-prometheus times and counts every request (by view, method and status).
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    # The request id (X-Request-ID or a new one) bound to every log line and every task queued, and echoed.
    "apps.ops.logs.RequestIdMiddleware",
    "django_structlog.middlewares.RequestMiddleware",
    *MIDDLEWARE,
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]
# Cache gets, hits and misses counted by django-prometheus's drop-in backends (same behaviour otherwise).
CACHES["default"]["BACKEND"] = {
    "django.core.cache.backends.redis.RedisCache": "django_prometheus.cache.backends.redis.NativeRedisCache",
    "django.core.cache.backends.locmem.LocMemCache": "django_prometheus.cache.backends.locmem.LocMemCache",
}[CACHES["default"]["BACKEND"]]
# /metrics answers loopback callers not relayed by the proxy, and anyone with `Authorization: Bearer <token>`.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
# /health/ready fails when the read replica (DATABASE_REPLICA_URL) is further behind than this.
REPLICA_MAX_LAG_SECONDS = read("REPLICA_MAX_LAG_SECONDS", lambda: env.float("REPLICA_MAX_LAG_SECONDS", default=30.0))
# The load balancer's probes and Prometheus may speak plain HTTP to the web process.
SECURE_REDIRECT_EXEMPT = [r"^health/", r"^metrics$"]
# File storage (/health/ready writes and deletes a probe file there).
MEDIA_ROOT = env.str("MEDIA_ROOT", default=str(BASE_DIR / "media"))

# Logs: JSON lines (LOG_FORMAT=json, the default) or readable lines (console, `make demo`), via structlog.
LOG_FORMAT = env.str("LOG_FORMAT", default="json")
if LOG_FORMAT not in ("json", "console"):
    raise ImproperlyConfigured(f"Environment variable LOG_FORMAT is malformed: expected json or console, got "
                               f"{LOG_FORMAT!r}")
LOGGING = logging_config(fmt=LOG_FORMAT, level=env.str("LOG_LEVEL", default="WARNING"))
configure_structlog()
DJANGO_STRUCTLOG_CELERY_ENABLED = True  # the request id travels in the headers of the tasks a request queues
DJANGO_STRUCTLOG_TRUST_UPSTREAM_REQUEST_ID = True  # X-Request-ID, once RequestIdMiddleware found it sane
DJANGO_STRUCTLOG_IP_LOGGING_ENABLED = False  # no client addresses in application logs (the proxy keeps those)
DJANGO_STRUCTLOG_STATUS_4XX_LOG_LEVEL = 20  # INFO: a client's 4xx is not the operator's warning

# Errors: Sentry when SENTRY_DSN is set (Django, Celery and logging integrations; no personal data).
SENTRY_DSN = env.str("SENTRY_DSN", default="")
SENTRY_ENABLED = sentry_init(
    dsn=SENTRY_DSN, environment=env.str("SENTRY_ENVIRONMENT", default="production"),
    release=env.str("SENTRY_RELEASE", default=""),
    traces_sample_rate=read("SENTRY_TRACES_SAMPLE_RATE", lambda: env.float("SENTRY_TRACES_SAMPLE_RATE", default=0.0)),
)

# Start-up checks (apps/ops/checks.py): with DEBUG off, web and worker processes refuse to start on a
# configuration error (missing or plain-http SITE_URL, no broker, Stripe without its secrets).
SITE_URL_FROM_ENV = env.str("SITE_URL", default=None) is not None
OPS_REFUSE_AT_START = read_bool("OPS_REFUSE_AT_START", default=not DEBUG)

# Branding: the product name and logo on pages, emails and invoice PDFs ({% brand_name %}, {% brand_logo_url %}).
# BRAND_LOGO: a path under the static files (e.g. img/logo.svg) or an https:// URL (added to the CSP's img-src).
BRAND_NAME = env.str("BRAND_NAME", default="Billing portal")
BRAND_LOGO = env.str("BRAND_LOGO", default="")
if BRAND_LOGO.startswith("https://"):
    CONTENT_SECURITY_POLICY["DIRECTIVES"]["img-src"].append("/".join(BRAND_LOGO.split("/")[:3]))
elif BRAND_LOGO.startswith("http://") or BRAND_LOGO.startswith("/"):
    raise ImproperlyConfigured(f"Environment variable BRAND_LOGO is malformed: use a static file path such as "
                               f"img/logo.svg or an https:// URL, got {BRAND_LOGO!r}")
TEMPLATES[0]["OPTIONS"]["builtins"].append("apps.common.templatetags.brand")
OTP_TOTP_ISSUER = BRAND_NAME
# --- API docs (issue 24, billing_portal/api_docs.py) -----------------------------------------------------------
# django-ninja as an app: its bundled Swagger UI is collected and served from our own static files (no CDN).
INSTALLED_APPS += ["ninja"]
