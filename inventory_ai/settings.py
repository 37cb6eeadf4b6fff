"""Django settings for Inventory AI.

Every deployment-specific value comes from the environment (see `.env.example` and the README's table).
The defaults run the one-command demo: a SQLite file and an embedded filesystem broker, so a real Celery
worker and beat run without any server. Production sets DATABASE_URL (PostgreSQL) and CELERY_BROKER_URL (Redis).
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from inventory_ai.env import env_bool, env_list

BASE_DIR = Path(__file__).resolve().parent.parent
# Runtime state of the embedded mode (SQLite file, broker folders, beat schedule) lives here; git ignores it.
VAR_DIR = Path(os.environ.get("INVENTORY_AI_VAR_DIR") or BASE_DIR / "var")
if not os.environ.get("INVENTORY_AI_VAR_DIR"):
    os.environ["INVENTORY_AI_VAR_DIR"] = str(VAR_DIR)  # the product settings (below) read it


# --- Core ------------------------------------------------------------------------------------------------------

# This value is public (it is in the repository); it is accepted only with DEBUG on.
DEFAULT_SECRET_KEY = "django-insecure-inventory-ai-default-key-change-me"
DEBUG = env_bool("DEBUG", default=False)
SECRET_KEY = os.environ.get("SECRET_KEY", "") or DEFAULT_SECRET_KEY
if not DEBUG and SECRET_KEY == DEFAULT_SECRET_KEY:
    raise ImproperlyConfigured(
        "SECRET_KEY is not set. With DEBUG off Inventory AI refuses to start on the default secret key: "
        "set SECRET_KEY to a long random value (e.g. `python -c 'import secrets; print(secrets.token_urlsafe(50))'`)."
    )

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    # first: its templates (inventory_ai/templates) override the admin's own (admin/base_site.html)
    "inventory_ai.apps.InventoryAIConfig",
    "inventory_ai.admin_site.InventoryAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "inventory_ai.i18n.UserLanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "inventory_ai.urls"
WSGI_APPLICATION = "inventory_ai.wsgi.application"

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
            ],
        },
    },
]

# --- Database ---------------------------------------------------------------------------------------------------

DATABASE_URL = os.environ.get("DATABASE_URL", "") or f"sqlite:///{VAR_DIR / 'inventory_ai.sqlite3'}"
DATABASES = {
    "default": dj_database_url.parse(DATABASE_URL, conn_max_age=int(os.environ.get("DB_CONN_MAX_AGE") or "60"))
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The demo runs web, worker and beat as separate processes on one SQLite file: WAL lets readers work while one
    # process writes, and the busy timeout makes a writer wait instead of failing with "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # Tests use a file (not :memory:) so that a real worker process can see the test database.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test_inventory_ai.sqlite3")}
    DATABASES["default"]["CONN_MAX_AGE"] = 0
elif "postgresql" in DATABASES["default"]["ENGINE"] and os.environ.get("DB_JIT", "off") == "off":
    # No JIT compilation: the product's queries are short, and PostgreSQL compiles any whose estimated cost is high
    # (a list sorted on a per-row subquery at 10,000 SKUs: 0.5 s of compiling for 44 ms of work). DB_JIT=on keeps it.
    options = DATABASES["default"].setdefault("OPTIONS", {})
    options["options"] = f"{options.get('options', '')} -c jit=off".strip()
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Auth, i18n, static -----------------------------------------------------------------------------------------

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en"
# The interface's languages: a person's own choice (their preference), else their browser's (Accept-Language).
LANGUAGES = [("en", "English"), ("zh-hans", "简体中文")]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT") or VAR_DIR / "static")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # The model registry (see inventory_ai/services/model_registry.py): a folder every worker can reach, or any storage.
    "models": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": os.environ.get("MODEL_STORAGE_DIR") or str(VAR_DIR / "models")},
    },
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT") or VAR_DIR / "media")
WHITENOISE_USE_FINDERS = DEBUG

# --- E-mail (purchase orders to suppliers) ---------------------------------------------------------------------------

# The demo prints e-mails on the console; production sends them through SMTP (EMAIL_HOST and friends).
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "") or (
    "django.core.mail.backends.console.EmailBackend" if DEBUG else "django.core.mail.backends.smtp.EmailBackend"
)
EMAIL_HOST = os.environ.get("EMAIL_HOST") or "localhost"
EMAIL_PORT = int(os.environ.get("EMAIL_PORT") or "25")
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", default=False)
EMAIL_TIMEOUT = int(os.environ.get("EMAIL_TIMEOUT") or "30")
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "") or "inventory-ai@localhost"

# --- HTTPS ------------------------------------------------------------------------------------------------------

# Behind a TLS-terminating proxy with DEBUG off the site is HTTPS only: plain HTTP is redirected, browsers are told
# to keep to HTTPS (HSTS), and cookies travel over HTTPS only. Without the proxy (the demo, the benchmarks, a server
# on localhost) nothing assumes HTTPS, or a plain-HTTP setup would redirect every request to an address that does
# not answer. Each value can be set on its own.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("BEHIND_TLS_PROXY") else None
_https_only = not DEBUG and env_bool("BEHIND_TLS_PROXY")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=_https_only)
# Health probes from a load balancer or an orchestrator often come over plain HTTP from inside the network.
SECURE_REDIRECT_EXEMPT = [r"^healthz(/|$)"]
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS") or (365 * 24 * 3600 if _https_only else 0))
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=SECURE_HSTS_SECONDS > 0)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", default=SECURE_HSTS_SECONDS > 0)
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", default=_https_only)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE

# --- The product's own settings: the API, Celery, the Shopify app, options, error reporting, metrics -------------

# In a module of their own, so that a Django project that hosts the app imports the same (README: "In your own
# Django project").
from inventory_ai.product_settings import *  # noqa: E402, F403

# --- Logging ----------------------------------------------------------------------------------------------------

LOG_LEVEL = (os.environ.get("LOG_LEVEL") or "INFO").upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "inventory_ai.logs.JsonFormatter"},
    },
    # LOG_FORMAT=json: one JSON object per line, with the store and event ids a message names
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json" if (os.environ.get("LOG_FORMAT") or "").lower() == "json" else "plain",
        }
    },
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {
        "inventory_ai": {"level": LOG_LEVEL},
        "integrations": {"level": LOG_LEVEL},
        "django.request": {"level": "ERROR"},
    },
}
