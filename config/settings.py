"""IncidentDesk settings.

Every environment-specific value is read here, once, from the environment (django-environ).
The defaults make a laptop work with nothing installed (SQLite file, a broker that needs no
server, console email); production sets variables, and with ``DEBUG`` off nothing falls back to
an insecure default.
"""

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
env_file = env.path("ENV_FILE", default=str(BASE_DIR / ".env"))
if Path(env_file).is_file():
    env.read_env(str(env_file))

DEBUG = env.bool("DEBUG", default=False)

SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off (see .env.example).")
    SECRET_KEY = "insecure-development-key-only-used-with-DEBUG-on"  # noqa: S105

ALLOWED_HOSTS = env.list(
    "ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"] if DEBUG else []
)
if not ALLOWED_HOSTS and not DEBUG:
    # Otherwise every request, /healthz included, would be refused with 400 at run time.
    raise ImproperlyConfigured("ALLOWED_HOSTS must be set when DEBUG is off (see .env.example).")
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "config.apps.IncidentDeskAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "simple_history",
    "django_htmx",
    "incidents",
    "postmortems",
    "oncall",
    "bench",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "incidents.middleware.UserTimeZoneMiddleware",
    "incidents.middleware.AdminQueryNulMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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
                "config.context_processors.header",
            ],
            # ``when``: times with their zone named, also in the hour the clocks go back.
            "builtins": ["incidents.templatetags.moments"],
        },
    },
]

# --- Database ---------------------------------------------------------------------------------
# Default: a SQLite file under var/. SQLite is shared by the web server, the worker and beat in
# `make run`, so it runs in WAL mode with immediate transactions and a generous busy timeout.
_default_sqlite = VAR_DIR / "incidentdesk.sqlite3"
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{_default_sqlite}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    if DATABASES["default"]["NAME"] == str(_default_sqlite):
        VAR_DIR.mkdir(exist_ok=True)
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
    DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)
    # Statements run through ``incidents.db.prepared_cursor`` are prepared: planned once per
    # connection. Django's own cursors bind parameters client-side and are never prepared.
    # Behind a transaction-pooling PgBouncer, set DATABASE_PREPARED=false.
    if env.bool("DATABASE_PREPARED", default=True):
        DATABASES["default"].setdefault("OPTIONS", {}).setdefault("prepare_threshold", 5)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache ----------------------------------------------------------------------------------
# API rate limits count in the cache, so every web process must share it: Redis when
# REDIS_URL is set (production, and `make test`), else this process's memory (a laptop runs
# one web process).
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "incidentdesk",
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"

# --- Time and language ----------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

# --- Static files (served by whitenoise, no CDN) ----------------------------------------------
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = env.path("STATIC_ROOT", default=str(VAR_DIR / "static"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if not DEBUG and env.bool("STATIC_MANIFEST", default=True)
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = DEBUG

# --- Email ---------------------------------------------------------------------------------
EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="IncidentDesk <incidentdesk@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- Celery ---------------------------------------------------------------------------------
# Default: kombu's filesystem transport under var/, so a laptop needs no broker server.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_dir = VAR_DIR / "celery"
    for _sub in ("queue", "control", "processed"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "control_folder": str(_broker_dir / "control"),
        "processed_folder": str(_broker_dir / "processed"),
        "store_processed": False,
    }
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_TASK_DEFAULT_QUEUE", default="celery")
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_ENABLE_UTC = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SOFT_TIME_LIMIT = 60
CELERY_TASK_TIME_LIMIT = 90
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_EAGER_PROPAGATES = CELERY_TASK_ALWAYS_EAGER

# --- Security -------------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
    SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=True)
    CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=True)
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)

# --- REST framework (the API under /api/v1/, see docs/api.md) ---------------------------------
# Model permissions as Django's backend gives them, read in one query (config/auth_backend.py).
AUTHENTICATION_BACKENDS = ["config.auth_backend.ModelPermissionsBackend"]

REST_FRAMEWORK = {
    # Token first: an unauthenticated request gets 401 with "WWW-Authenticate: Bearer".
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "incidents.api.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["incidents.api.permissions.ActionPermissions"],
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_PARSER_CLASSES": ["incidents.api.parsers.StrictJSONParser"],
    "DEFAULT_FILTER_BACKENDS": [
        "incidents.api.filters.FilterBackend",
        "incidents.api.filters.StrictOrderingFilter",
    ],
    "DEFAULT_PAGINATION_CLASS": "incidents.api.pagination.CursorPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_THROTTLE_CLASSES": ["incidents.api.throttling.TokenRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        # Per token (or per signed-in person for the browsable API), and per address for
        # requests without credentials. Counted in the shared cache.
        "token": env.str("API_RATE_LIMIT", default="600/minute"),
        "anonymous": env.str("API_ANONYMOUS_RATE_LIMIT", default="60/minute"),
    },
    # How many reverse proxies stand in front (their X-Forwarded-For entries are trusted to
    # name the client). 0: the connecting address, so a client cannot pick its own address
    # by sending the header.
    "NUM_PROXIES": env.int("API_NUM_PROXIES", default=0),
    "EXCEPTION_HANDLER": "incidents.api.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "incidents.api.schema.AutoSchema",
    "DATETIME_FORMAT": "iso-8601",
    "DURATION_FORMAT": "iso-8601",
    "COERCE_DECIMAL_TO_STRING": True,
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
# How long an Idempotency-Key is remembered (a purge task forgets older ones).
API_IDEMPOTENCY_KEY_TTL = env.int("API_IDEMPOTENCY_KEY_TTL", default=24 * 60 * 60)

SPECTACULAR_SETTINGS = {
    "TITLE": "IncidentDesk API",
    "DESCRIPTION": (
        "Incidents from monitoring, pages from the paging tool, post-mortems and action "
        "items, on-call and compensation for finance. Authenticate with "
        "`Authorization: Bearer <token>` (tokens are issued by managers in the admin). "
        "Validation errors are `{field: [messages]}`; every other error is an RFC 7807 "
        "problem (`application/problem+json`), including two no operation lists: a method "
        "a path does not list answers `405` (`method_not_allowed`), and an address without "
        "its trailing slash answers `308` (`trailing_slash`) with the address to use in "
        "`Location`, the method kept. Timestamps are ISO 8601 in UTC; money is a string "
        "with two decimals. See docs/api.md."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Like everything but the status page and the health check: for signed-in people and
    # token holders only (a client fetches it with its token, as it calls the API).
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "IncidentStatusEnum": "incidents.models.IncidentStatus",
        "IncidentRoleEnum": "incidents.models.IncidentRole",
        "TimelineEventKindEnum": "incidents.models.TimelineEventKind",
        "PostmortemStatusEnum": "postmortems.models.PostmortemStatus",
        "ActionItemStatusEnum": "postmortems.models.ActionItemStatus",
        "ActionItemKindEnum": "postmortems.models.ActionItemKind",
        "ShiftRoleEnum": "oncall.models.ShiftRole",
        "ShiftSourceEnum": "oncall.models.ShiftSource",
        "PageSourceEnum": "oncall.models.PageSource",
    },
    # Swagger UI and ReDoc from the sidecar package's static files (whitenoise), no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- Logging ---------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
}

# --- IncidentDesk ----------------------------------------------------------------------------
# Used to build absolute links in emails and notifications.
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000")

# Demo data (`manage.py seed_demo`) is for laptops and tests only: refused in production.
ALLOW_DEMO_DATA = env.bool("ALLOW_DEMO_DATA", default=DEBUG)
DEMO_PASSWORD = env.str("DEMO_PASSWORD", default="incidentdesk-demo")

# Notifications: a send claimed longer ago than this is presumed lost with its worker and is
# retried by the dispatch sweep.
NOTIFICATION_CLAIM_TIMEOUT = env.int("NOTIFICATION_CLAIM_TIMEOUT", default=300)
NOTIFICATION_MAX_ATTEMPTS = env.int("NOTIFICATION_MAX_ATTEMPTS", default=8)
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)
WEBHOOK_TIMEOUT = env.int("WEBHOOK_TIMEOUT", default=5)
