"""Django settings for StageSub, all driven by STAGESUB_* environment variables.

Defaults give the embedded setup: SQLite files under ./var, mail into a local mailbox folder,
orchestras at <subdomain>.localhost:8000. See docs/operations.md for production values.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from stagesub.filemodes import private_directory
from stagesub.urlconfig import database_settings, email_settings


def _env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


PACKAGE_DIR = Path(__file__).resolve().parent
DATA_DIR = Path(os.environ.get("STAGESUB_DATA_DIR", "var")).resolve()
DEBUG = _env_bool("STAGESUB_DEBUG", default=False)


def _secret_key() -> str:
    key = os.environ.get("STAGESUB_SECRET_KEY")
    if key:
        return key
    # Embedded default: a random key kept in the data directory, so sessions and encrypted
    # secrets survive restarts without anyone choosing a weak key by hand.
    private_directory(DATA_DIR)
    key_file = DATA_DIR / "secret_key"
    if not key_file.exists():
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(64))
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()

BASE_DOMAIN = os.environ.get("STAGESUB_BASE_DOMAIN", "localhost").strip().lower().rstrip(".")
ALLOWED_HOSTS = [BASE_DOMAIN, f".{BASE_DOMAIN}"]
# How links in e-mails reach an orchestra's host (the worker has no request to copy them from).
PUBLIC_SCHEME = os.environ.get(
    "STAGESUB_PUBLIC_SCHEME", "http" if BASE_DOMAIN == "localhost" else "https"
)
PUBLIC_PORT = os.environ.get("STAGESUB_PUBLIC_PORT", "8000" if BASE_DOMAIN == "localhost" else "")

# A PostgreSQL server URL (without database name) with rights to create databases and roles.
# When set, new orchestras get PostgreSQL databases there; otherwise SQLite files in DATA_DIR.
TENANT_SERVER_URL = os.environ.get("STAGESUB_TENANT_SERVER_URL", "").strip()

# Open orchestra connections one thread keeps before closing the least recently used.
MAX_OPEN_ORCHESTRA_CONNECTIONS = int(
    os.environ.get("STAGESUB_MAX_OPEN_ORCHESTRA_CONNECTIONS", "32")
)
# Seconds an orchestra connection is kept open between requests (Django's CONN_MAX_AGE).
ORCHESTRA_CONN_MAX_AGE = int(os.environ.get("STAGESUB_ORCHESTRA_CONN_MAX_AGE", "300"))
# Ready-made copies of the schema template the worker keeps on each PostgreSQL server, so a new
# orchestra does not wait for CREATE DATABASE (see tenancy.spares). 0 turns them off.
SPARE_DATABASES = int(os.environ.get("STAGESUB_SPARE_DATABASES", "2"))
# Largest project file accepted (PDF, images, Word, text, MusicXML), in megabytes.
MAX_UPLOAD_BYTES = int(os.environ.get("STAGESUB_MAX_UPLOAD_MB", "10")) * 1024 * 1024
# How often `stagesub worker` runs the isolation monitor, in seconds.
ISOLATION_MONITOR_INTERVAL = int(os.environ.get("STAGESUB_ISOLATION_MONITOR_INTERVAL", "3600"))

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_tasks",
    "django_tasks_db",
    # control side
    "stagesub.tenancy",
    "stagesub.accounts",
    "stagesub.superadmin",
    # orchestra side (each orchestra's own database)
    "stagesub.orchestra",
    "stagesub.roster",
    "stagesub.rankings",
    "stagesub.projects",
    "stagesub.offers",
    "stagesub.messaging",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "stagesub.tenancy.middleware.OrchestraRoutingMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "stagesub.locale_middleware.LanguageMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "stagesub.accounts.middleware.OrchestraMembershipMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

# The routing middleware picks stagesub.urls_orchestra or stagesub.urls_platform per host.
ROOT_URLCONF = "stagesub.urls_platform"
WSGI_APPLICATION = "stagesub.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [PACKAGE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "stagesub.tenancy.context_processors.orchestra",
            ],
        },
    }
]

_control_url = os.environ.get("STAGESUB_DATABASE_URL")
if not _control_url:
    # Embedded default: the control database is a file in the data directory (made on demand).
    private_directory(DATA_DIR)
    _control_url = f"sqlite:///{DATA_DIR / 'control.sqlite3'}"
DATABASES = {"default": database_settings(_control_url)}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    DATABASES["default"]["OPTIONS"] = {
        # WAL lets the web process read while the worker writes; IMMEDIATE avoids the
        # deadlock-prone upgrade from a read to a write lock inside transactions.
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=10000;",
        "transaction_mode": "IMMEDIATE",
    }
    # Tests: a file, not Django's shared in-memory database, whose table locks fail at once
    # instead of waiting; threads in concurrency tests write the control database too.
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "control-test.sqlite3")}
DATABASE_ROUTERS = ["stagesub.tenancy.router.OrchestraRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
# Failed logins allowed per window, counted per client address and per username.
LOGIN_THROTTLE_ATTEMPTS = int(os.environ.get("STAGESUB_LOGIN_THROTTLE_ATTEMPTS", "5"))
LOGIN_THROTTLE_WINDOW = int(os.environ.get("STAGESUB_LOGIN_THROTTLE_WINDOW", "900"))

# Host-only cookies: no SESSION_COOKIE_DOMAIN, so a Göteborg session is never sent to Malmö.
SESSION_COOKIE_DOMAIN = None
CSRF_COOKIE_DOMAIN = None
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = 60 * 60 * 12
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SECURE_SSL_REDIRECT = _env_bool("STAGESUB_SSL_REDIRECT", default=not DEBUG)
SECURE_HSTS_SECONDS = int(os.environ.get("STAGESUB_HSTS_SECONDS", "0" if DEBUG else "31536000"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = False
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_X_FORWARDED_PROTO", "https") if _env_bool("STAGESUB_BEHIND_PROXY") else None
)
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]

LANGUAGE_CODE = "sv"
LANGUAGES = [("sv", "Svenska"), ("en", "English")]
LOCALE_PATHS = [PACKAGE_DIR / "locale"]
TIME_ZONE = "Europe/Stockholm"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
STATICFILES_DIRS = [PACKAGE_DIR / "static"]

EMAIL_SUBJECT_PREFIX = "[StageSub] "
DEFAULT_FROM_EMAIL = os.environ.get("STAGESUB_FROM_EMAIL", f"StageSub <no-reply@{BASE_DOMAIN}>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
MAILBOX_DIR = DATA_DIR / "mailbox"
_email_url = os.environ.get("STAGESUB_EMAIL_URL", "").strip()
if _email_url:
    globals().update(email_settings(_email_url))
else:
    # Embedded default: every message lands as a file in the local mailbox folder.
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = MAILBOX_DIR

TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
# Seconds between scheduler looks at the orchestras that are due (reminders, timeouts, outbox).
SCHEDULER_INTERVAL = float(os.environ.get("STAGESUB_SCHEDULER_INTERVAL", "0"))

CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "loggers": {
        "stagesub": {
            "handlers": ["console"],
            "level": os.environ.get("STAGESUB_LOG_LEVEL", "INFO"),
        },
    },
}
