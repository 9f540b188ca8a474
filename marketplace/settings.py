"""Settings for the 시흥 데이터거래소 portal.

Every deployment knob comes from the environment (documented in `.env.example`).
The defaults suit a developer machine; `make run` points DATABASE_URL and REDIS_URL
at the embedded servers it starts, CI points them at the machine's servers.
Nothing here starts a server or touches the network.
"""

import os
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from celery.schedules import crontab
from csp.constants import NONCE
from django.core.exceptions import ImproperlyConfigured

from marketplace import storage_config
from marketplace.env import env_bool, env_int, env_list, env_str
from marketplace.storage_config import default_storage_config

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("VAR_DIR", str(BASE_DIR / "var")))

# --- Core -----------------------------------------------------------------

DEBUG = env_bool("DJANGO_DEBUG", False)
SECRET_KEY = env_str("DJANGO_SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("DJANGO_SECRET_KEY must be set when DJANGO_DEBUG is off (see .env.example).")
    SECRET_KEY = "insecure-development-key-only-for-debug"
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])
SITE_URL = env_str("SITE_URL", "http://localhost:8000")
# What the public ids of CKAN and DCAT (catalog.interop.object_uuid) are made under: set once, keep when SITE_URL
# changes (a new domain, http → https), or harvesters of this catalog see every dataset as new.
INTEROP_ID_NAMESPACE = env_str("INTEROP_ID_NAMESPACE", "")  # empty: SITE_URL

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "marketplace.staticfiles.StaticFilesConfig",
    "django.contrib.humanize",
    "django.contrib.postgres",
    "rules",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_filters",
    "django_htmx",
    "csp",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "django_structlog",
    "core",
    "accounts",
    "catalog",
    "transactions",
    "marketplace",
]
# Development and benchmark tools (the synthetic catalog seeder): never in production.
DEVTOOLS = env_bool("DEVTOOLS", DEBUG)
if DEVTOOLS:
    INSTALLED_APPS.append("devtools")

MIDDLEWARE = [
    # First: every log line of the request (even a redirect by the middleware below) carries its id.
    "marketplace.middleware.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "marketplace.middleware.KoreanFirstLocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    # Anonymous pages the same for everyone, from Redis per catalog generation (after CSRF and CSP: it re-tokens and
    # re-nonces what it serves; marketplace/page_cache.py, docs/performance.md).
    "marketplace.page_cache.PageCacheMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "accounts.middleware.ActiveOrganizationMiddleware",
    "accounts.middleware.PolicyConsentMiddleware",
    "accounts.middleware.MfaRequiredMiddleware",
    "django_structlog.middlewares.RequestMiddleware",
]

ROOT_URLCONF = "marketplace.urls"
WSGI_APPLICATION = "marketplace.wsgi.application"
ASGI_APPLICATION = "marketplace.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.debug",
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "csp.context_processors.nonce",
                "marketplace.context_processors.site",
                "accounts.context_processors.active_organization",
            ],
        },
    },
]

# --- Database ---------------------------------------------------------------

DATABASE_URL = env_str("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/marketplace")
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 60))}
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# Catalog searches AND the bitmaps of broad filters; at a million datasets the default 4 MB work_mem
# degrades them to page-level bitmaps that recheck every row, and the default random_page_cost (4, for
# spinning disks) makes the planner scan the whole table for a filtered probe (830 ms instead of 250 ms,
# measured in bench/search.py). Both per connection, so no server configuration is needed.
DATABASES["default"].setdefault("OPTIONS", {})["options"] = (
    f"-c work_mem={env_str('DB_WORK_MEM', '32MB')} -c random_page_cost={env_str('DB_RANDOM_PAGE_COST', '1.1')}"
)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: cache, Celery broker ---------------------------------------------

REDIS_URL = env_str("REDIS_URL", "redis://127.0.0.1:6379/0")
CACHES = {
    "default": {
        "BACKEND": "core.cache.RedisCache",  # Django's, with one Redis client per pool (core/cache.py)
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": env_str("CACHE_KEY_PREFIX", "mkt"),
        "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
    },
    # The {% cache %} parts of the pages (templates/base.html: the footer, the menus, …), kept in each process:
    # made of templates, translations, settings, URLs and static file names, which change only with a restart (a
    # deploy); core.apps empties it when runserver reloads a template and when a test changes a setting.
    # ("template_fragments" is the alias {% cache %} uses when given none.)
    "template_fragments": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": "template-fragments",
        "TIMEOUT": None,
        "OPTIONS": {"MAX_ENTRIES": 2000},
    },
}
# Sessions read from Redis and written through to the database: one query less on every signed-in page.
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"

CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "") or REDIS_URL
CELERY_RESULT_BACKEND = env_str("CELERY_RESULT_BACKEND", "") or REDIS_URL
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_TASK_DEFAULT_QUEUE", "marketplace")
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_RESULT_EXPIRES = 3600
# Celery's Django fix-up closes the database connection before and after every task unless this is set: a new
# PostgreSQL backend per task (a fork, and its caches and shared buffers mapped again). Set beyond reach, so that a
# worker keeps its connection between tasks by Django's own rules instead (marketplace/celery.py: DB_CONN_MAX_AGE,
# and closed when an error left it unusable or a task left autocommit off), as a web process does between requests.
CELERY_DB_REUSE_MAX = 2**31
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# visibility_timeout: an unacknowledged task (acks_late) is redelivered after this long; it must
# exceed the longest check (a 5 GB file takes ~4 minutes here) or a second worker starts it again.
CELERY_BROKER_TRANSPORT_OPTIONS = {"socket_connect_timeout": 2, "socket_timeout": 5, "visibility_timeout": 6 * 3600}
CELERY_BEAT_SCHEDULE = {
    "accounts-expire-invitations": {
        "task": "accounts.tasks.invitations_expire_task",
        "schedule": 3600.0,
    },
    "catalog-expire-uploads": {
        "task": "catalog.tasks.uploads_expire_task",
        "schedule": 6 * 3600.0,
    },
    # An upload whose bytes all arrived but whose join failed, and whose client went away, becomes its file.
    "catalog-complete-stranded-uploads": {
        "task": "catalog.tasks.uploads_complete_stranded_task",
        "schedule": 300.0,
    },
    # Every minute: a package whose build lost its worker waits at most PACKAGE_LEASE_SECONDS plus this.
    "transactions-packages-housekeeping": {
        "task": "transactions.tasks.packages_housekeeping_task",
        "schedule": float(env_int("PACKAGE_HOUSEKEEPING_SECONDS", 60)),
    },
    "transactions-cancel-overdue-orders": {
        "task": "transactions.tasks.orders_cancel_overdue_task",
        "schedule": 300.0,
    },
    # Subscription periods past their end are ended (packages expired, the buyer told) within minutes; access
    # itself stops at valid_until whether or not this ran.
    "transactions-subscriptions-expire": {
        "task": "transactions.tasks.subscriptions_expire_task",
        "schedule": 300.0,
    },
    "transactions-subscriptions-remind": {
        "task": "transactions.tasks.subscriptions_remind_task",
        "schedule": 3600.0,
    },
    "transactions-reconcile-card-payments": {
        "task": "transactions.tasks.payments_reconcile_task",
        "schedule": 60.0,
    },
    # The 1st of each month, 01:30 in the scheduler's time zone (UTC unless CELERY_TIMEZONE says otherwise): the month
    # just ended in Korea closes into the providers' statements (idempotent; admins also have a button).
    "transactions-close-statements": {
        "task": "transactions.tasks.statements_close_month_task",
        "schedule": crontab(minute=30, hour=1, day_of_month=1),
    },
    "transactions-reconcile-card-refunds": {
        "task": "transactions.tasks.refunds_reconcile_task",
        "schedule": 60.0,
    },
    # Daily: title buckets built once the catalog is large, again when it has doubled (catalog.services.title_buckets).
    "catalog-title-buckets": {
        "task": "catalog.tasks.title_buckets_task",
        "schedule": 24 * 3600.0,
    },
    # Daily: how common each Hangul lexeme is, from which a search's figures start (catalog.lexemes).
    "catalog-lexeme-frequencies": {
        "task": "catalog.tasks.lexeme_frequencies_task",
        "schedule": 24 * 3600.0,
    },
}
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

# --- Authentication (django-allauth, e-mail login) --------------------------

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_EMAIL_VERIFICATION = env_str("ACCOUNT_EMAIL_VERIFICATION", "mandatory")
ACCOUNT_CONFIRM_EMAIL_ON_GET = False
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_SIGNUP_FORM_CLASS = "accounts.forms.SignupExtraForm"
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[시흥 데이터거래소] "
ACCOUNT_DEFAULT_HTTP_PROTOCOL = env_str("ACCOUNT_DEFAULT_HTTP_PROTOCOL", "http")
if env_bool("DISABLE_RATE_LIMITS", False):
    ACCOUNT_RATE_LIMITS = False
LOGIN_REDIRECT_URL = "accounts:dashboard"
LOGIN_URL = "account_login"

# --- Second factor (allauth.mfa; docs/security.md) -----------------------------------
# TOTP (an authenticator app) with recovery codes for every user, and security keys / passkeys (WebAuthn) as a
# second factor. MFA_REQUIRED_FOR_STAFF: platform admins and organization owners must set one up before they
# reach any page but its set-up (accounts.middleware.MfaRequiredMiddleware). On unless turned off; `make run`
# and the tests turn it off (the demo's accounts sign in with a password alone), docker-compose leaves it on.
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes", "webauthn"]
MFA_ADAPTER = "accounts.mfa.MfaAdapter"
MFA_TOTP_ISSUER = env_str("MFA_TOTP_ISSUER", "시흥 데이터거래소")
MFA_TOTP_TOLERANCE = 1  # one 30-second step either side: a phone's clock a little off still signs in
MFA_PASSKEY_LOGIN_ENABLED = False  # a second factor, not a password replacement (yet)
# WebAuthn needs a secure context: https, or http://localhost (development, the browser tests); "insecure" accepts
# any origin (never in production).
MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN = env_bool("MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN", False)
MFA_REQUIRED_FOR_STAFF = env_bool("MFA_REQUIRED_FOR_STAFF", True)

# --- E-mail -----------------------------------------------------------------

# "console+file" (development): printed to the console and kept under var/mail, where
# the dev mailbox page (/dev/mail/) shows it. "smtp" for production.
EMAIL_MODE = env_str("EMAIL_MODE", "smtp" if not DEBUG else "console+file")
if EMAIL_MODE == "smtp":
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
elif EMAIL_MODE == "console+file":
    EMAIL_BACKEND = "marketplace.mail.ConsoleAndFileBackend"
elif EMAIL_MODE == "locmem":
    EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
else:
    raise ImproperlyConfigured(f"EMAIL_MODE must be smtp, console+file or locmem, not {EMAIL_MODE!r}")
EMAIL_FILE_PATH = str(VAR_DIR / "mail")
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_TIMEOUT = 10
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "시흥 데이터거래소 <no-reply@data.siheung.go.kr>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# The dev mailbox page (/dev/mail/) shows the portal's e-mail: only where mail is kept in files and only
# when asked for (DEV_MAILBOX=1 make run). Even then it opens only to platform admins, or on this machine
# with DEV_MAILBOX_KEY (the launcher makes one and prints the link); everyone else gets a 404.
DEV_MAILBOX = EMAIL_MODE == "console+file" and env_bool("DEV_MAILBOX", False)
DEV_MAILBOX_KEY = env_str("DEV_MAILBOX_KEY", "")

# --- Internationalisation -----------------------------------------------------

LANGUAGE_CODE = "ko"
# Our own date formats per language (marketplace/formats/<lang>/formats.py): one for dates, one with times.
FORMAT_MODULE_PATH = ["marketplace.formats"]
LANGUAGES = [("ko", "한국어"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Seoul"
USE_I18N = True
USE_TZ = True
LANGUAGE_COOKIE_NAME = "django_language"
LANGUAGE_COOKIE_SAMESITE = "Lax"

# --- Static and uploaded files ------------------------------------------------

STATIC_URL = "/static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
NODE_MODULES = BASE_DIR / "node_modules"
STATICFILES_DIRS = [
    BASE_DIR / "static",
    ("vendor/krds", NODE_MODULES / "krds-uiux" / "resources"),
    ("vendor/htmx", NODE_MODULES / "htmx.org" / "dist"),
    ("vendor/tus", NODE_MODULES / "tus-js-client" / "dist"),
    ("vendor/chartjs", NODE_MODULES / "chart.js" / "dist"),
    ("vendor/leaflet", NODE_MODULES / "leaflet" / "dist"),
]
# What collectstatic skips in the npm packages: marketplace/staticfiles.py.
# Uploaded data lives in private storage: never under STATIC_URL or a public MEDIA_URL. STORAGE_BACKEND picks it:
# "filesystem" (the default: PRIVATE_STORAGE_ROOT, a local disk or a volume every node mounts) or "s3" (any
# S3-compatible object storage through django-storages; marketplace/storage_config.py, docs/operations.md).
STORAGE_BACKEND = env_str("STORAGE_BACKEND", "filesystem").strip().lower()
_DEFAULT_STORAGE = default_storage_config(os.environ, private_root=VAR_DIR / "private")
STORAGES = {
    "default": _DEFAULT_STORAGE,
    "staticfiles": {
        "BACKEND": env_str("STATICFILES_STORAGE_BACKEND", "whitenoise.storage.CompressedManifestStaticFilesStorage"),
    },
}

# --- Coverage maps (Leaflet) ------------------------------------------------------
# Background tiles of the dataset pages' coverage maps; an empty MAP_TILE_URL draws the outline alone.
# The tile host is added to the CSP's img-src below, so a self-hosted or commercial tile server only
# needs these two settings.
MAP_TILE_URL = env_str("MAP_TILE_URL", "https://tile.openstreetmap.org/{z}/{x}/{y}.png").strip()
MAP_TILE_ATTRIBUTION = env_str(
    "MAP_TILE_ATTRIBUTION", '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors'
)


def _tile_origins(url: str) -> list[str]:
    """The CSP source of a Leaflet tile URL template ({s}.example.org → *.example.org)."""
    if not url or url.startswith("/"):
        return []  # no tiles, or tiles served by this site ('self')
    parts = urlsplit(url.replace("{s}", "*"))
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ImproperlyConfigured(f"MAP_TILE_URL must be an http(s) URL template, not {url!r}")
    return [f"{parts.scheme}://{parts.netloc}"]


# --- Security -------------------------------------------------------------------

SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("BEHIND_TLS_PROXY", False) else None
# Production behind TLS (docker-compose's defaults; `manage.py check --deploy` is clean with them, see
# tests/test_deploy_checks.py): plain http is redirected to https (the proxy says which by X-Forwarded-Proto,
# above), and browsers are told to use https only for SECURE_HSTS_SECONDS (HSTS). Start with a short value
# (3600) on a new domain, then a year; preload only once every subdomain serves https.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
# /healthz stays reachable over plain http from inside the network (health checks call the container directly).
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
# The request id (marketplace.middleware.RequestIdMiddleware): a header set by the proxy in front (nginx sets
# X-Request-ID to its own $request_id) is trusted only when named here; empty = every request gets a new id.
REQUEST_ID_TRUSTED_HEADER = env_str("REQUEST_ID_TRUSTED_HEADER", "")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'", NONCE],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:", *_tile_origins(MAP_TILE_URL)],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
        "base-uri": ["'self'"],
        "object-src": ["'none'"],
    },
}

# --- REST framework -------------------------------------------------------------

REST_FRAMEWORK = {
    # Programs send a key (accounts.api.authentication); the portal's own pages use the session, with CSRF.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.api.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],  # each view names its own
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "core.api.pagination.Pages",
    "PAGE_SIZE": 20,
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "rest_framework.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_THROTTLE_CLASSES": ["core.api.throttling.PerTokenThrottle", "core.api.throttling.PerIPThrottle"],
    "EXCEPTION_HANDLER": "core.api.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
# Requests per key, and per client address for requests without a key ("<n>/<second|minute|hour|day>").
API_RATE_PER_TOKEN = env_str("API_RATE_PER_TOKEN", "1200/minute")
API_RATE_PER_IP = env_str("API_RATE_PER_IP", "600/minute")
API_TOKEN_PREFIX = "sdx_"
API_TOKEN_DEFAULT_DAYS = 365
API_TOKEN_MAX_DAYS = env_int("API_TOKEN_MAX_DAYS", 730)
API_TOKEN_TOUCH_SECONDS = 60  # last-used time and address are written at most once a minute per key
# The largest file a program may send in one multipart POST (/api/v1/provider/versions/<id>/files/); larger
# files go through the resumable tus endpoint (/catalog/uploads/, up to UPLOAD_MAX_BYTES).
API_UPLOAD_MAX_BYTES = env_int("API_UPLOAD_MAX_BYTES", 100 * 1024**2)

SPECTACULAR_SETTINGS = {
    "TITLE": "시흥 데이터거래소 API (Siheung Data Exchange API)",
    "DESCRIPTION": (
        "데이터를 찾고, 사고, 내려받고, 게시하는 모든 일을 프로그램으로 합니다. "
        "인증: `Authorization: Token <key>` (내 페이지 → API 키). 오류는 모두 같은 모양입니다: "
        '`{"error": {"status", "code", "message", "message_ko", "message_en", "fields"}}`. '
        "Everything a person does in the portal, a program can do. Walkthroughs: /api/docs/guide/ (docs/api.md)."
    ),
    "VERSION": "1.0.0",
    "OAS_VERSION": "3.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Choice sets whose field names collide across components ("state", "kind") get names of their own.
    "ENUM_NAME_OVERRIDES": {
        "VersionStateEnum": "catalog.models.VersionState",
        "CheckStateEnum": "catalog.models.CheckState",
        "UploadStateEnum": "catalog.models.UploadState",
        "OfferKindEnum": "catalog.models.OfferKind",
        "OrganizationKindEnum": "accounts.models.OrganizationKind",
        "OrderStateEnum": "transactions.models.OrderState",
        "PaymentStateEnum": "transactions.models.PaymentState",
        "PaymentMethodEnum": "transactions.models.PaymentMethod",
        "CheckoutMethodEnum": ["card", "bank_transfer"],
        "PackageStateEnum": "transactions.models.PackageState",
        "ApiKeyStateEnum": ["active", "expired", "revoked"],
        "PublicVersionStateEnum": ["published", "superseded"],  # a version buyers can see (catalog.api)
        # Money after checkout (transactions.api.money_serializers).
        "RefundStateEnum": "transactions.models.RefundState",
        "RefundSourceEnum": "transactions.models.RefundSource",
        "RefundRequestStateEnum": "transactions.models.RefundRequestState",
        "RefundRequestKindEnum": "transactions.models.RefundRequestKind",
        "DocumentKindEnum": "transactions.documents.models.DocumentKind",
        "SubscriptionStateEnum": "transactions.models.SubscriptionState",
        "StatementStateEnum": "transactions.statements.models.StatementState",
        "VoucherStateEnum": "transactions.models.VoucherState",
        "LedgerAccountKindEnum": "transactions.models.LedgerAccountKind",
        "LedgerTransactionKindEnum": "transactions.models.LedgerTransactionKind",
        "ChartUnitEnum": ["won", "count"],
        "ExportFormatEnum": ["json", "csv"],
    },
    # The Error component and each operation's error responses (400/401/403/404/409/429), from the operation
    # and its view's permissions, so every endpoint's errors are declared without listing them in each view.
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "core.api.schema.add_error_responses",
    ],
}

# --- Operator details (footer, e-mails) -------------------------------------------

OPERATOR = {
    "name_ko": env_str("OPERATOR_NAME_KO", "시흥시 스마트도시과"),
    "name_en": env_str("OPERATOR_NAME_EN", "Smart City Division, Siheung City"),
    "address_ko": env_str("OPERATOR_ADDRESS_KO", "(14988) 경기도 시흥시 시청로 20"),
    "address_en": env_str("OPERATOR_ADDRESS_EN", "20 Sicheong-ro, Siheung-si, Gyeonggi-do 14988"),
    "phone": env_str("OPERATOR_PHONE", "031-310-2114"),
    "email": env_str("OPERATOR_EMAIL", "data@siheung.go.kr"),
    "brn": env_str("OPERATOR_BRN", "134-83-00000"),
}
# The privacy officer (개인정보 보호책임자) named in the privacy policy (개인정보 보호법 제31조); the policy's text
# itself is versioned in the database (accounts.PolicyVersion), these fill its placeholders.
PRIVACY_OFFICER = {
    "name_ko": env_str("PRIVACY_OFFICER_NAME_KO", "시흥시 스마트도시과장"),
    "name_en": env_str("PRIVACY_OFFICER_NAME_EN", "Head of the Smart City Division, Siheung City"),
    "phone": env_str("PRIVACY_OFFICER_PHONE", OPERATOR["phone"]),
    "email": env_str("PRIVACY_OFFICER_EMAIL", OPERATOR["email"]),
}

# --- Domain settings -------------------------------------------------------------

INVITATION_TTL_DAYS = env_int("INVITATION_TTL_DAYS", 14)
# Resumable uploads: the largest file accepted. Unfinished uploads are staged in the default storage (shared by
# every node: staging/uploads/<upload>/); UPLOAD_STAGING_DIR is a node-local spool only, where the bytes of the
# PATCH being received wait before they become a chunk in S3 (on filesystem storage they spool inside the storage).
UPLOAD_MAX_BYTES = env_int("UPLOAD_MAX_BYTES", 10 * 1024**3)
UPLOAD_STAGING_DIR = Path(env_str("UPLOAD_STAGING_DIR", str(VAR_DIR / "uploads")))
# A PATCH holds its upload's lease while bytes arrive and renews it every quarter of this; a web node that died
# mid-request leaves a lease that expires after this many seconds, then the client resumes (409 until then).
UPLOAD_LEASE_SECONDS = env_int("UPLOAD_LEASE_SECONDS", 60)
# An unfinished upload nobody resumed for this many days is cancelled and its bytes deleted.
UPLOAD_EXPIRE_DAYS = env_int("UPLOAD_EXPIRE_DAYS", 7)
# Ingest workers: DuckDB limits per check (memory and threads) and where work files go. DuckDB keeps the
# CSV buffers it has read up to its memory limit, and a second thread keeps more (docs/catalog-ingest.md).
INGEST_MEMORY_LIMIT = env_str("INGEST_MEMORY_LIMIT", "160MB")
INGEST_THREADS = env_int("INGEST_THREADS", 1)
# Distinct values per file counted exactly (summed over its columns); columns beyond it keep an estimate (≈).
INGEST_EXACT_DISTINCT_LIMIT = env_int("INGEST_EXACT_DISTINCT_LIMIT", 1_000_000)
INGEST_WORK_DIR = Path(env_str("INGEST_WORK_DIR", str(VAR_DIR / "ingest")))

# Catalog search (catalog/discovery.py, docs/search.md). Up to this many matches the total, the facets and the page
# are exact (one pass over the matches, ~7 µs each at a million datasets); above it they are estimated from a
# sample and a worker counts them exactly (cached per catalog generation), and relevance is served as popularity.
CATALOG_EXACT_CAP = env_int("CATALOG_EXACT_CAP", 3_000)
# The anonymous page cache (marketplace/page_cache.py, docs/performance.md): home, catalog results, dataset pages,
# CKAN/DCAT reads and /api/v1/ lists for visitors who are not signed in, kept per catalog generation and at most
# PAGE_CACHE_SECONDS; answers larger than PAGE_CACHE_MAX_BYTES are not kept.
PAGE_CACHE = env_bool("PAGE_CACHE", True)
PAGE_CACHE_SECONDS = env_int("PAGE_CACHE_SECONDS", 600)
PAGE_CACHE_MAX_BYTES = env_int("PAGE_CACHE_MAX_BYTES", 1024 * 1024)
# At most this many bytes of pages are stored per PAGE_CACHE_SECONDS (beyond it pages are served, not kept until the
# window ends): the pages in Redis stay under twice this, whatever URLs a script asks for.
PAGE_CACHE_BUDGET_BYTES = env_int("PAGE_CACHE_BUDGET_BYTES", 128 * 1024 * 1024)
# Of which one client address (an IPv6 one by its /64) stores at most this many: a script asking never-seen URLs cannot
# spend everyone's budget (the pages it stored are still served to everyone; hits are never limited by this).
PAGE_CACHE_ADDRESS_BUDGET_BYTES = env_int("PAGE_CACHE_ADDRESS_BUDGET_BYTES", 8 * 1024 * 1024)
# Datasets per page of the DCAT-AP catalog (/catalog.ttl?page=N; issue 17, catalog.dcat).
DCAT_PAGE_SIZE = env_int("DCAT_PAGE_SIZE", 100)
# Above this many matches ranking would read too many search vectors: titles holding every word come first.
CATALOG_RANK_CAP = env_int("CATALOG_RANK_CAP", 1_000)
# Above this many (estimated) matches the figures stay estimates, labelled so, and no worker counts them exactly: a
# count reads every match (~5–7 µs each; 175,000 matches: 1.1 s of the database). Elasticsearch's default is 10,000.
CATALOG_COUNT_CAP = env_int("CATALOG_COUNT_CAP", 10_000)
# The matches per second the workers may be asked to count exactly, over all web processes (core.cache.spend_per_second):
# ~5–7 µs of the database each, so 20,000 a second is about a tenth of a core. Beyond it a search asked again keeps its
# labelled estimate (counted at a later ask): a burst of varied searches never turns into a backlog of counts that
# takes the CPU the searches need. 0: no limit.
CATALOG_COUNT_BUDGET = env_int("CATALOG_COUNT_BUDGET", 20_000)
# The nested samples (1 in N entries) behind estimates, coarsest first; changing them needs `manage.py catalog_reindex`.
CATALOG_SAMPLE_LEVELS = [int(n) for n in env_str("CATALOG_SAMPLE_LEVELS", "1000,100,10").split(",")]
# Title buckets (catalog.services.title_buckets): how many, and from how many entries the daily task builds them
# (below it a title-ordered search is cheap without them). `manage.py catalog_title_buckets` builds them at once.
CATALOG_TITLE_BUCKETS = env_int("CATALOG_TITLE_BUCKETS", 256)
CATALOG_TITLE_BUCKETS_FROM = env_int("CATALOG_TITLE_BUCKETS_FROM", 20_000)

# --- Purchases, payments and delivery (transactions) -------------------------------

# Card payments go through a PG in the Toss Payments shape (checkout redirect → success URL → server-side
# confirm with an Idempotency-Key → webhook). PG_SIMULATOR=true (make run, the tests, the benches; never in
# production) installs the simulated gateway, the dev-only app devtools.pg_simulator, under /pg-sim/, and the
# base URLs default to it; `python -m devtools.pg_simulator --port N` serves it in its own process instead.
# Otherwise PG_API_BASE defaults to Toss and PG_CHECKOUT_URL (a page loading Toss's SDK) must be set
# (`manage.py check --deploy` warns when it is not). An empty value counts as unset (docker-compose passes them).
PG_SIMULATOR = env_bool("PG_SIMULATOR", False)
PAYMENT_CARD_ADAPTER = env_str("PAYMENT_CARD_ADAPTER", "toss")
PG_API_BASE = env_str("PG_API_BASE", "") or (f"{SITE_URL}/pg-sim" if PG_SIMULATOR else "https://api.tosspayments.com")
PG_CHECKOUT_URL = env_str("PG_CHECKOUT_URL", "") or (f"{SITE_URL}/pg-sim/checkout/" if PG_SIMULATOR else "")
PG_CLIENT_KEY = env_str("PG_CLIENT_KEY", "") or "test_ck_simulated"
PG_SECRET_KEY = env_str("PG_SECRET_KEY", "") or "test_sk_simulated"
PG_TIMEOUT_SECONDS = env_int("PG_TIMEOUT_SECONDS", 10)
# A request asking the PG to confirm holds a lease this long (longer than the call can take: connect 3 s + read);
# others finding the payment `confirming` meanwhile answer "being confirmed" instead of asking again.
PAYMENT_CONFIRM_LEASE_SECONDS = env_int("PAYMENT_CONFIRM_LEASE_SECONDS", PG_TIMEOUT_SECONDS + 5)
# The reconciliation task (every minute) takes card payments left `confirming` or authorised-but-unconfirmed this long.
PAYMENT_RECONCILE_AFTER_SECONDS = env_int("PAYMENT_RECONCILE_AFTER_SECONDS", 120)
# The simulator sends PAYMENT_STATUS_CHANGED webhooks to PG_SIMULATOR_WEBHOOK_URL (empty: our webhook path on
# the success URL's host).
PG_SIMULATOR_WEBHOOKS = env_bool("PG_SIMULATOR_WEBHOOKS", True)
PG_SIMULATOR_WEBHOOK_URL = env_str("PG_SIMULATOR_WEBHOOK_URL", "")
PG_SIMULATOR_CONFIRM_DELAY_MS = env_int("PG_SIMULATOR_CONFIRM_DELAY_MS", 0)  # how long the simulator's confirm takes
if PG_SIMULATOR:
    INSTALLED_APPS.append("devtools.pg_simulator")
# "Pay by card" is a form whose answer redirects to the PG's payment window: the CSP must let forms go there.
CONTENT_SECURITY_POLICY["DIRECTIVES"]["form-action"] += _tile_origins(PG_CHECKOUT_URL)
# 무통장입금: the account buyers pay into, and how long they have.
BANK_TRANSFER_ACCOUNT = {
    "bank": env_str("BANK_TRANSFER_BANK", "NH농협은행"),
    "number": env_str("BANK_TRANSFER_NUMBER", "301-0000-0000-00"),
    "holder": env_str("BANK_TRANSFER_HOLDER", "시흥시"),
}
BANK_TRANSFER_DAYS = env_int("BANK_TRANSFER_DAYS", 7)
# An order not paid within this many minutes is cancelled automatically (card); bank transfers use the days above.
ORDER_PAYMENT_TIMEOUT_MINUTES = env_int("ORDER_PAYMENT_TIMEOUT_MINUTES", 30)
# The refund policy buyers may invoke themselves (transactions/refunds/policy.py and the page that states it, after
# 전자상거래법 제17조): withdrawal within REFUND_WINDOW_DAYS of payment for data not yet downloaded; data not as
# described or not usable within REFUND_DEFECT_DAYS. An admin may refund at any time.
REFUND_WINDOW_DAYS = env_int("REFUND_WINDOW_DAYS", 7)
REFUND_DEFECT_DAYS = env_int("REFUND_DEFECT_DAYS", 90)
VAT_RATE_PERCENT = 10
# Subscriptions: the buyer is e-mailed this many days before the last paid period ends, and may renew (a new
# order at the price then in force, paid at checkout) from that day on; the new period starts when the old ends.
SUBSCRIPTION_REMINDER_DAYS = env_int("SUBSCRIPTION_REMINDER_DAYS", 7)
PLATFORM_COMMISSION_PERCENT = env_int("PLATFORM_COMMISSION_PERCENT", 10)
# 데이터바우처: the buyer's own share (자부담, percent of the eligible lines) a voucher is registered with by default,
# and the lowest and highest share a registration may state (at least 1: a voucher never pays a whole order).
VOUCHER_COPAY_PERCENT_DEFAULT = env_int("VOUCHER_COPAY_PERCENT_DEFAULT", 20)
VOUCHER_COPAY_PERCENT_MIN = max(1, env_int("VOUCHER_COPAY_PERCENT_MIN", 10))
VOUCHER_COPAY_PERCENT_MAX = min(99, env_int("VOUCHER_COPAY_PERCENT_MAX", 50))

# Receipts and tax documents (transactions.documents). The PDF embeds a Korean font with every Hangul syllable:
# Pretendard (SIL OFL 1.1) from npm (package.json); KRDS's own PretendardGOV files are a subset (2,780 syllables).
DOCUMENT_FONT_DIR = env_str(
    "DOCUMENT_FONT_DIR", str(BASE_DIR / "node_modules" / "pretendard" / "dist" / "public" / "static" / "alternative")
)
# Who issues 전자세금계산서: "export" = nobody here; suppliers upload the monthly CSV to 홈택스
# (transactions/documents/einvoice.py documents how a Popbill adapter would plug in).
E_INVOICE_ADAPTER = env_str("E_INVOICE_ADAPTER", "export")
# How many days after a bank-transfer payment a buyer without a registration number may ask for a 현금영수증 on
# the receipt page (a policy of the platform; check the legal deadline with the tax adviser).
CASH_RECEIPT_REQUEST_DAYS = env_int("CASH_RECEIPT_REQUEST_DAYS", 5)
# Signed download links: lifetime; ready packages are deleted after PACKAGE_TTL_DAYS (rebuilt on request).
DOWNLOAD_LINK_TTL_SECONDS = env_int("DOWNLOAD_LINK_TTL_SECONDS", 3600)
# On S3 a valid link redirects to a presigned URL of the object that lives only this long (the storage's own
# querystring_expire): the browser follows it at once, and that URL, unlike our link, is not checked again when used.
PRESIGNED_URL_SECONDS = storage_config.PRESIGNED_URL_SECONDS
PACKAGE_TTL_DAYS = env_int("PACKAGE_TTL_DAYS", 30)
# How downloads leave: "stream" (Django streams with Range support), "x-accel" (nginx serves the file from
# the internal location below) or "presigned" (a presigned S3 URL; chosen automatically with S3 storage).
DOWNLOAD_BACKEND = env_str("DOWNLOAD_BACKEND", "stream")
DOWNLOAD_X_ACCEL_PREFIX = env_str("DOWNLOAD_X_ACCEL_PREFIX", "/protected/")
PACKAGE_WORK_DIR = Path(env_str("PACKAGE_WORK_DIR", str(VAR_DIR / "packages")))
# A package build that fails for a transient reason is retried 3 times, after this delay doubled each time.
PACKAGE_RETRY_DELAY_SECONDS = env_int("PACKAGE_RETRY_DELAY_SECONDS", 30)
# A building package carries a lease: its worker refreshes the heartbeat every PACKAGE_HEARTBEAT_SECONDS.
# One whose heartbeat is older than PACKAGE_LEASE_SECONDS lost its worker (killed, out of memory, machine
# restarted) and is built again by the housekeeping, a redelivered message or a retry. A package is built
# at most PACKAGE_MAX_ATTEMPTS times (lost workers and transient errors together) before it fails visibly.
PACKAGE_HEARTBEAT_SECONDS = env_int("PACKAGE_HEARTBEAT_SECONDS", 10)
PACKAGE_LEASE_SECONDS = env_int("PACKAGE_LEASE_SECONDS", 120)
PACKAGE_MAX_ATTEMPTS = env_int("PACKAGE_MAX_ATTEMPTS", 4)
# A build that hangs while its worker lives (a storage read that never returns) must end: the package task
# (and the one making a version's copies) gets a soft time limit of BASE + PER_GB × its data in GB (then it
# is retried, and failed visibly after PACKAGE_MAX_ATTEMPTS) and a hard one GRACE later (the pool process is
# killed; the lease runs out and the housekeeping takes over). Measured: ~10 s per GB for a package, as
# much again once per version for its Excel copies (bench/delivery.py), so the defaults leave a wide margin.
PACKAGE_TIME_LIMIT_BASE_SECONDS = env_int("PACKAGE_TIME_LIMIT_BASE_SECONDS", 600)
PACKAGE_TIME_LIMIT_SECONDS_PER_GB = env_int("PACKAGE_TIME_LIMIT_SECONDS_PER_GB", 300)
PACKAGE_TIME_LIMIT_GRACE_SECONDS = env_int("PACKAGE_TIME_LIMIT_GRACE_SECONDS", 120)
# The copies of a published file its packages carry (catalog.derived) are made under a lease of this length,
# renewed while bytes move; a copy whose builder stopped renewing is built again by the next caller.
DERIVED_FILE_LEASE_SECONDS = env_int("DERIVED_FILE_LEASE_SECONDS", 60)

# --- Logging (structlog; JSON in production, readable in development) ------------

LOG_FORMAT = env_str("LOG_FORMAT", "console" if DEBUG else "json")
LOG_LEVEL = env_str("LOG_LEVEL", "INFO")
from marketplace.logging import configure_logging  # noqa: E402

LOGGING = configure_logging(LOG_FORMAT, LOG_LEVEL)
DJANGO_STRUCTLOG_CELERY_ENABLED = True
# RequestIdMiddleware has already checked (or replaced) X-Request-ID: django-structlog keeps the id it chose.
DJANGO_STRUCTLOG_TRUST_UPSTREAM_REQUEST_ID = True

# --- Issue 16: live ---
# Live tables (catalog.live) and their buyers' feeds (transactions.livefeed). Tasks of the sub-packages:
CELERY_IMPORTS = [*globals().get("CELERY_IMPORTS", []), "catalog.live.tasks", "transactions.livefeed.tasks"]
LIVE_BATCH_MAX_ROWS = env_int("LIVE_BATCH_MAX_ROWS", 1000)  # rows per POST …/rows
LIVE_BODY_MAX_BYTES = env_int("LIVE_BODY_MAX_BYTES", 2 * 1024 * 1024)  # bytes per POST …/rows
LIVE_CACHE_DIR = Path(env_str("LIVE_CACHE_DIR", str(VAR_DIR / "live")))  # tail CSVs, compaction work, store copies
LIVE_COMPACT_MIN_ROWS = env_int("LIVE_COMPACT_MIN_ROWS", 5000)  # rows gathered before they are folded into DuckDB
LIVE_COMPACT_LEASE_SECONDS = env_int("LIVE_COMPACT_LEASE_SECONDS", 600)
# Server-Sent Events: each open stream holds one gunicorn gthread thread. At most LIVE_STREAM_MAX_PER_PROCESS
# streams per process (more get 503 + Retry-After); a stream ends after LIVE_STREAM_MAX_SECONDS (the client
# reconnects with Last-Event-ID), sends a keep-alive comment every LIVE_STREAM_KEEPALIVE_SECONDS, and reads
# PostgreSQL on each Redis wake-up, every 2 s anyway, and every LIVE_STREAM_POLL_SECONDS when Redis is away.
LIVE_STREAM_MAX_PER_PROCESS = env_int("LIVE_STREAM_MAX_PER_PROCESS", 2)  # keep it below gunicorn --threads (4)
LIVE_STREAM_MAX_SECONDS = env_int("LIVE_STREAM_MAX_SECONDS", 300)
LIVE_STREAM_KEEPALIVE_SECONDS = env_int("LIVE_STREAM_KEEPALIVE_SECONDS", 15)
LIVE_STREAM_POLL_SECONDS = float(env_str("LIVE_STREAM_POLL_SECONDS", "1.0"))
# Webhooks: a delivery is tried LIVE_WEBHOOK_MAX_ATTEMPTS times, waiting BASE × 2^(attempt-1) seconds (capped at
# an hour) between tries; each HTTP call times out after LIVE_WEBHOOK_TIMEOUT_SECONDS; one delivery carries at most
# LIVE_WEBHOOK_MAX_ROWS rows.
LIVE_WEBHOOK_MAX_ATTEMPTS = env_int("LIVE_WEBHOOK_MAX_ATTEMPTS", 8)
LIVE_WEBHOOK_BACKOFF_SECONDS = env_int("LIVE_WEBHOOK_BACKOFF_SECONDS", 2)
LIVE_WEBHOOK_TIMEOUT_SECONDS = env_int("LIVE_WEBHOOK_TIMEOUT_SECONDS", 5)
LIVE_WEBHOOK_MAX_ROWS = env_int("LIVE_WEBHOOK_MAX_ROWS", 500)
LIVE_WEBHOOK_LEASE_SECONDS = env_int("LIVE_WEBHOOK_LEASE_SECONDS", 60)
# Development only: webhooks to http:// and to private or loopback addresses (refused in production).
LIVE_WEBHOOK_ALLOW_HTTP = env_bool("LIVE_WEBHOOK_ALLOW_HTTP", DEBUG)
LIVE_WEBHOOK_ALLOW_PRIVATE = env_bool("LIVE_WEBHOOK_ALLOW_PRIVATE", DEBUG)
# The demo's air-quality sensors report every minute (catalog.demo; only when the demo data is loaded).
LIVE_DEMO_FEED = env_bool("LIVE_DEMO_FEED", DEBUG)
CELERY_BEAT_SCHEDULE["catalog-live-compact"] = {"task": "catalog.live.tasks.live_compact_task", "schedule": 60.0}
CELERY_BEAT_SCHEDULE["catalog-live-snapshots"] = {"task": "catalog.live.tasks.live_snapshots_task", "schedule": 300.0}
CELERY_BEAT_SCHEDULE["transactions-livefeed-webhooks"] = {
    "task": "transactions.livefeed.tasks.webhooks_housekeeping_task",
    "schedule": 30.0,
}
if LIVE_DEMO_FEED:
    CELERY_BEAT_SCHEDULE["catalog-live-demo-feed"] = {
        "task": "catalog.live.tasks.live_demo_feed_task",
        "schedule": 60.0,
    }
# --- Issue 16: store ---
# The query stores (catalog.querystore): one DuckDB file per published version and variant in private storage.
# Other storages than the file system: each node keeps a local copy in QUERYSTORE_CACHE_DIR (checked by SHA-256).
QUERYSTORE_CACHE_DIR = Path(env_str("QUERYSTORE_CACHE_DIR", str(VAR_DIR / "querystore-cache")))
QUERYSTORE_WORK_DIR = Path(env_str("QUERYSTORE_WORK_DIR", str(VAR_DIR / "querystore-work")))
QUERYSTORE_BUILD_MEMORY_LIMIT = env_str("QUERYSTORE_BUILD_MEMORY_LIMIT", "512MB")
QUERYSTORE_BUILD_THREADS = env_int("QUERYSTORE_BUILD_THREADS", 1)
# A build renews its lease every quarter of this; one whose lease ran out lost its worker and is taken over.
QUERYSTORE_LEASE_SECONDS = env_int("QUERYSTORE_LEASE_SECONDS", 120)
QUERYSTORE_MAX_ATTEMPTS = env_int("QUERYSTORE_MAX_ATTEMPTS", 4)
# Queries (catalog.querystore.engine): the table API's page size and the user SQL's sandbox.
DATA_PAGE_MAX_ROWS = env_int("DATA_PAGE_MAX_ROWS", 1000)
DATA_SQL_MAX_ROWS = env_int("DATA_SQL_MAX_ROWS", 10000)
DATA_SQL_TIMEOUT_SECONDS = float(env_str("DATA_SQL_TIMEOUT_SECONDS", "10"))
DATA_SQL_MEMORY_LIMIT = env_str("DATA_SQL_MEMORY_LIMIT", "512MB")
DATA_SQL_THREADS = env_int("DATA_SQL_THREADS", 2)
CELERY_BEAT_SCHEDULE["catalog-query-stores-housekeeping"] = {
    "task": "catalog.tasks.query_stores_housekeeping_task",
    "schedule": float(env_int("QUERYSTORE_HOUSEKEEPING_SECONDS", 60)),
}

# --- Issue 16: metering ---
# Calls a day to the data API without an API plan: per organization, or per client address when anonymous.
DATA_API_DEFAULT_DAILY_QUOTA = env_int("DATA_API_DEFAULT_DAILY_QUOTA", 1000)
# The Redis of the quota counters and usage counters (default: REDIS_URL).
DATA_API_REDIS_URL = env_str("DATA_API_REDIS_URL", "")
# Days a metered plan's monthly bill may stay unpaid (like a bank transfer, the buyer pays it on the order page).
API_BILL_PAYMENT_DAYS = env_int("API_BILL_PAYMENT_DAYS", 14)
# The highest monthly cap (won) a buyer may set on a metered plan.
API_MONTHLY_CAP_MAX_KRW = env_int("API_MONTHLY_CAP_MAX_KRW", 100_000_000)
# Every minute: the Redis usage counters are persisted to ApiUsage (exactly once, even if killed mid-way).
CELERY_BEAT_SCHEDULE["apiplans-usage-flush"] = {
    "task": "transactions.apiplans.tasks.usage_flush_task",
    "schedule": 60.0,
}
# The 1st of each month, 00:20 UTC (09:20 in Korea, the Korean month is over): metered plans' bills (idempotent).
CELERY_BEAT_SCHEDULE["apiplans-bill-month"] = {
    "task": "transactions.apiplans.tasks.bills_make_month_task",
    "schedule": crontab(minute=20, hour=0, day_of_month=1),
}
# Every 5 minutes: API subscription plans whose period is over are ended (access stops at valid_until anyway).
CELERY_BEAT_SCHEDULE["apiplans-expire"] = {
    "task": "transactions.apiplans.tasks.plans_expire_task",
    "schedule": 300.0,
}

# --- Issue 17: harvesting (catalog.harvest) ---
CELERY_IMPORTS = [*CELERY_IMPORTS, "catalog.harvest.tasks"]
# A run's lease: renewed after every page and record; a run whose lease ran out (its worker killed) is taken over by
# the next harvest_due beat (every HARVEST_DUE_SECONDS). After HARVEST_MAX_ATTEMPTS claims the run ends failed.
HARVEST_LEASE_SECONDS = env_int("HARVEST_LEASE_SECONDS", 300)
HARVEST_MAX_ATTEMPTS = env_int("HARVEST_MAX_ATTEMPTS", 5)
HARVEST_DUE_SECONDS = env_int("HARVEST_DUE_SECONDS", 60)
HARVEST_TASK_RETRIES = env_int("HARVEST_TASK_RETRIES", 3)
# One GET of a source page: its timeout, its size cap (streamed, refused beyond), its retries (connection errors,
# timeouts, 5xx) with backoff BASE × 2^n seconds; CKAN pages of HARVEST_CKAN_ROWS packages.
HARVEST_HTTP_TIMEOUT_SECONDS = env_int("HARVEST_HTTP_TIMEOUT_SECONDS", 30)
HARVEST_MAX_PAGE_BYTES = env_int("HARVEST_MAX_PAGE_BYTES", 64 * 1024 * 1024)
HARVEST_FETCH_RETRIES = env_int("HARVEST_FETCH_RETRIES", 2)
HARVEST_RETRY_BACKOFF_SECONDS = float(env_str("HARVEST_RETRY_BACKOFF_SECONDS", "2"))
HARVEST_CKAN_ROWS = env_int("HARVEST_CKAN_ROWS", 100)
# Sources, their pages, redirects and fetched files are read from public internet addresses only (never loopback,
# private or link-local ones such as 169.254.169.254). Development and the tests' fake sources on 127.0.0.1 only.
HARVEST_ALLOW_PRIVATE = env_bool("HARVEST_ALLOW_PRIVATE", False)
# One DCAT page is parsed in at most this many seconds (a page built to make the parser slow fails the run).
HARVEST_PARSE_SECONDS = env_int("HARVEST_PARSE_SECONDS", 60)
# resource_mode "fetch": a resource larger than this stays a link (the listing says so).
HARVEST_FETCH_MAX_BYTES = env_int("HARVEST_FETCH_MAX_BYTES", 200 * 1024 * 1024)
CELERY_BEAT_SCHEDULE["catalog-harvest-due"] = {
    "task": "catalog.harvest.tasks.harvest_due",
    "schedule": float(HARVEST_DUE_SECONDS),
}
