"""Django settings for StageSub, all driven by STAGESUB_* environment variables.

Defaults give the embedded setup: SQLite files under ./var, mail into a local mailbox folder,
orchestras at <subdomain>.localhost:8000. See docs/operations.md for production values.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from csp.constants import NONE, SELF

from stagesub.filemodes import private_directory
from stagesub.urlconfig import database_settings, email_settings
from stagesub.web import observability


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
# Served over HTTPS (directly or by a TLS-terminating proxy): secure cookies, redirect, HSTS.
# Off by default only on a localhost base domain, where the demo runs on plain http.
HTTPS = _env_bool(
    "STAGESUB_HTTPS", default=not (BASE_DOMAIN == "localhost" or BASE_DOMAIN.endswith(".localhost"))
)
# How links in e-mails reach an orchestra's host (the worker has no request to copy them from).
PUBLIC_SCHEME = os.environ.get("STAGESUB_PUBLIC_SCHEME", "https" if HTTPS else "http")
PUBLIC_PORT = os.environ.get("STAGESUB_PUBLIC_PORT", "8000" if BASE_DOMAIN == "localhost" else "")

# A PostgreSQL server URL (without database name) with rights to create databases and roles.
# When set, new orchestras get PostgreSQL databases there; otherwise SQLite files in DATA_DIR.
TENANT_SERVER_URL = os.environ.get("STAGESUB_TENANT_SERVER_URL", "").strip()
# Region new orchestras are placed in when none is requested ("": any region; tenancy.placement).
DEFAULT_REGION = os.environ.get("STAGESUB_DEFAULT_REGION", "").strip()
# Days a moved orchestra's previous database is kept before it is dropped (move_orchestra).
MOVE_KEEP_DAYS = float(os.environ.get("STAGESUB_MOVE_KEEP_DAYS", "7"))
# Seconds a move waits for logical replication's initial copy, then for the last changes.
MOVE_SYNC_TIMEOUT = float(os.environ.get("STAGESUB_MOVE_SYNC_TIMEOUT", "3600"))
MOVE_CATCH_UP_TIMEOUT = float(os.environ.get("STAGESUB_MOVE_CATCH_UP_TIMEOUT", "30"))
# Seconds a move lets transactions already open on the source (requests running when the
# maintenance page went up) finish before it ends them, unacknowledged, and copies.
MOVE_DRAIN_SECONDS = float(os.environ.get("STAGESUB_MOVE_DRAIN_SECONDS", "5"))

# Orchestra database connections one process may hold at once (all threads together). Size it
# so that processes × budget (+ the control database's connections) stays below the database
# server's max_connections, or PgBouncer's pool (docs/operations.md, Connections).
MAX_ORCHESTRA_CONNECTIONS = int(os.environ.get("STAGESUB_MAX_ORCHESTRA_CONNECTIONS", "8"))
# Seconds a request waits for a free slot before it is answered 503 with Retry-After.
ORCHESTRA_CONNECTION_WAIT = float(os.environ.get("STAGESUB_ORCHESTRA_CONNECTION_WAIT", "2"))
# Seconds an orchestra connection is reused at most (Django's CONN_MAX_AGE), and seconds an
# unused one stays open before the process closes it.
ORCHESTRA_CONN_MAX_AGE = int(os.environ.get("STAGESUB_ORCHESTRA_CONN_MAX_AGE", "60"))
ORCHESTRA_CONN_IDLE = float(os.environ.get("STAGESUB_ORCHESTRA_CONN_IDLE", "10"))
# Seconds a thread keeps its control-database connection across requests (0: a new connection
# per request, which costs more than most pages; docs/performance.md). Checked before reuse.
CONTROL_CONN_MAX_AGE = int(os.environ.get("STAGESUB_CONTROL_CONN_MAX_AGE", "60"))
# Every database connection (control and orchestras): seconds to establish it, and the longest
# a single statement may run (PostgreSQL; SQLite waits at most the busy timeout for a lock).
DB_CONNECT_TIMEOUT = int(os.environ.get("STAGESUB_DB_CONNECT_TIMEOUT", "5"))
DB_STATEMENT_TIMEOUT = int(os.environ.get("STAGESUB_DB_STATEMENT_TIMEOUT", "30"))
# Seconds after which a fleet operation (backup, restore, move, ...) whose process cannot be
# seen is taken to have died, so its claim and maintenance page are released.
FLEET_OPERATION_STALE_AFTER = int(os.environ.get("STAGESUB_FLEET_OPERATION_STALE_AFTER", "21600"))
# Seconds between a web process's checks of the routing generation (tenancy.binding): a
# maintenance page or a switched database reaches every process within this time.
ROUTING_POLL_SECONDS = float(os.environ.get("STAGESUB_ROUTING_POLL_SECONDS", "0.2"))
# Backups (tenancy.backup): the folder archives go to (kept 0700), the key that encrypts them
# (urlsafe base64 of 32 random bytes; set, it encrypts every archive), the nightly window in
# local time ("01:00-05:00": each orchestra at a stable offset inside it; empty turns the
# nightly backups off), and how many nightly archives are kept (latest N days, latest of M weeks).
BACKUP_DIR = Path(os.environ.get("STAGESUB_BACKUP_DIR", "") or DATA_DIR / "backups").resolve()
BACKUP_KEY = os.environ.get("STAGESUB_BACKUP_KEY", "").strip()
BACKUP_WINDOW = os.environ.get("STAGESUB_BACKUP_WINDOW", "01:00-05:00").strip()
BACKUP_KEEP_DAILY = int(os.environ.get("STAGESUB_BACKUP_KEEP_DAILY", "7"))
BACKUP_KEEP_WEEKLY = int(os.environ.get("STAGESUB_BACKUP_KEEP_WEEKLY", "4"))
# Hours without a successful backup after which an orchestra counts as missing one (mail, check).
BACKUP_MISSING_AFTER_HOURS = float(os.environ.get("STAGESUB_BACKUP_MISSING_AFTER_HOURS", "36"))
# The worker migrates orchestras whose recorded schema is older than the code's (after a deploy);
# "0" leaves it to `stagesub migrate_orchestras` (their hosts show the maintenance page until then).
AUTO_MIGRATE = os.environ.get("STAGESUB_AUTO_MIGRATE", "1").lower() not in (
    "0",
    "false",
    "no",
    "off",
)
# Seconds between the worker's looks for orchestras behind the code's schema.
AUTO_MIGRATE_INTERVAL = float(os.environ.get("STAGESUB_AUTO_MIGRATE_INTERVAL", "15"))
# Orchestra databases the worker migrates at the same time.
AUTO_MIGRATE_PARALLEL = int(os.environ.get("STAGESUB_AUTO_MIGRATE_PARALLEL", "4"))
# Days a decommissioned orchestra's database and files are kept before the worker drops them.
DECOMMISSION_KEEP_DAYS = float(os.environ.get("STAGESUB_DECOMMISSION_KEEP_DAYS", "30"))
# When the isolation monitor finds an orchestra on another orchestra's database (by its stamp),
# restore the intruder's own latest backup into a new database and switch it there ("1");
# off, it is only blocked (maintenance page) and the superadmins are told.
AUTO_REHOME = os.environ.get("STAGESUB_AUTO_REHOME", "0").lower() in ("1", "true", "yes", "on")
# Ready-made copies of the schema template the worker keeps on each PostgreSQL server, so a new
# orchestra does not wait for CREATE DATABASE (see tenancy.spares). 0 turns them off.
SPARE_DATABASES = int(os.environ.get("STAGESUB_SPARE_DATABASES", "2"))
# Largest project file accepted (PDF, images, Word, text, MusicXML), in megabytes.
MAX_UPLOAD_BYTES = int(os.environ.get("STAGESUB_MAX_UPLOAD_MB", "10")) * 1024 * 1024
# How often `stagesub worker` runs the isolation monitor, in seconds.
ISOLATION_MONITOR_INTERVAL = int(os.environ.get("STAGESUB_ISOLATION_MONITOR_INTERVAL", "3600"))
# How often `stagesub worker` looks for needs that ran out of people to ask (staff e-mail), in s.
STALLED_NEEDS_INTERVAL = int(os.environ.get("STAGESUB_STALLED_NEEDS_INTERVAL", "300"))
# Seconds each database check of verify_isolation / check_database / monitor_isolation may take
# (connect, statements, lock waits); a database slower than that is reported unreachable.
CHECK_TIMEOUT = float(os.environ.get("STAGESUB_CHECK_TIMEOUT", "10"))
# Databases checked at the same time by those commands.
CHECK_CONCURRENCY = int(os.environ.get("STAGESUB_CHECK_CONCURRENCY", "8"))
# Console statistics snapshots (superadmin.stats): seconds after which one is stale and re-read;
STATS_INTERVAL = int(os.environ.get("STAGESUB_STATS_INTERVAL", "900"))
# seconds an orchestra with fresh activity waits before its snapshot is re-read;
STATS_MIN_AGE = int(os.environ.get("STAGESUB_STATS_MIN_AGE", "60"))
# and seconds one worker pass may spend on snapshots before it returns to its other work.
STATS_PASS_BUDGET = float(os.environ.get("STAGESUB_STATS_PASS_BUDGET", "10"))
# A provisioning whose heartbeat is older than this many seconds is presumed dead and swept
# (database and role dropped, subdomain freed) by the worker or `stagesub sweep_provisioning`.
PROVISIONING_STALE_AFTER = int(os.environ.get("STAGESUB_PROVISIONING_STALE_AFTER", "300"))
# /readyz reports not ready when no worker pass has written its heartbeat for this many seconds.
WORKER_HEARTBEAT_STALE = int(os.environ.get("STAGESUB_WORKER_HEARTBEAT_STALE", "120"))
# A worker pass (its periodic jobs and tasks) running longer than this many seconds stops
# beating, so a worker stuck in a job turns /readyz stale; shorter passes keep it fresh.
WORKER_MAX_PASS = int(os.environ.get("STAGESUB_WORKER_MAX_PASS", "3600"))
# Self-service signup on the platform host (/signup/): off unless "1".
SIGNUP_ENABLED = os.environ.get("STAGESUB_SIGNUP_ENABLED", "0").lower() in (
    "1",
    "true",
    "yes",
    "on",
)
# Hours an applicant has to confirm the e-mail address; unconfirmed signups are then removed.
SIGNUP_CONFIRM_HOURS = float(os.environ.get("STAGESUB_SIGNUP_CONFIRM_HOURS", "24"))
# Hours the new admin's set-a-password link works (once).
SIGNUP_LOGIN_LINK_HOURS = float(os.environ.get("STAGESUB_SIGNUP_LOGIN_LINK_HOURS", "72"))
# Signups accepted per client address per hour, and per e-mail address per day.
SIGNUP_PER_ADDRESS_PER_HOUR = int(os.environ.get("STAGESUB_SIGNUP_PER_ADDRESS_PER_HOUR", "5"))
SIGNUP_PER_EMAIL_PER_DAY = int(os.environ.get("STAGESUB_SIGNUP_PER_EMAIL_PER_DAY", "3"))
# The plan a self-service orchestra starts on.
SIGNUP_PLAN = os.environ.get("STAGESUB_SIGNUP_PLAN", "small")

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_tasks",
    "django_tasks_db",
    "csp",
    # Second factor (TOTP and one-time recovery codes), control side: accounts.second_factor.
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    # control side
    "stagesub.tenancy",
    "stagesub.accounts",
    "stagesub.superadmin",
    "stagesub.web",
    # orchestra side (each orchestra's own database)
    "stagesub.orchestra",
    "stagesub.roster",
    "stagesub.rankings",
    "stagesub.projects",
    "stagesub.offers",
    "stagesub.messaging",
    # the office above them: dashboard, activity feed, booked musicians
    "stagesub.office",
    "stagesub.portal",
    # which rows of the original StageSub an import already wrote (import_reference)
    "stagesub.importer",
    "stagesub.sms",
    # JSON API under /api/v1/ (django-ninja; its vendored Swagger assets) and its tokens.
    "ninja",
    "stagesub.api",
]

MIDDLEWARE = [
    # First, so every log record of a request (refusals included) carries its id.
    "stagesub.web.observability.RequestIdMiddleware",
    # /healthz and /readyz: before the HTTPS redirect and the host check (balancers probe over
    # http, by address) and before routing (a broken orchestra database must not fail a probe).
    "stagesub.web.health.HealthCheckMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Static files before anything that touches a database.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "csp.middleware.CSPMiddleware",
    "stagesub.tenancy.middleware.OrchestraRoutingMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "stagesub.locale_middleware.LanguageMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "stagesub.accounts.middleware.OrchestraMembershipMiddleware",
    # A user who must use a second factor reaches nothing else until it is set up.
    "stagesub.accounts.middleware.SecondFactorMiddleware",
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
DATABASES = {
    "default": {
        **database_settings(_control_url),
        "CONN_MAX_AGE": CONTROL_CONN_MAX_AGE,
        "CONN_HEALTH_CHECKS": True,
    }
}
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
else:
    DATABASES["default"]["OPTIONS"] = {
        **DATABASES["default"].get("OPTIONS", {}),
        "connect_timeout": DB_CONNECT_TIMEOUT,
        "options": f"-c statement_timeout={DB_STATEMENT_TIMEOUT * 1000}",
    }
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
# Login throttling (accounts.throttling, design in docs/architecture.md): failed logins are
# counted in the control database over a sliding window of this many seconds.
LOGIN_THROTTLE_WINDOW = int(os.environ.get("STAGESUB_LOGIN_THROTTLE_WINDOW", "900"))
# Failures per window for one account from clients it does not know, all addresses together.
LOGIN_THROTTLE_ACCOUNT_ATTEMPTS = int(
    os.environ.get("STAGESUB_LOGIN_THROTTLE_ACCOUNT_ATTEMPTS", "10")
)
# Failures per window for one account from one known device (cookie) or one known address.
LOGIN_THROTTLE_KNOWN_ATTEMPTS = int(os.environ.get("STAGESUB_LOGIN_THROTTLE_KNOWN_ATTEMPTS", "5"))
# Failures per window from one address over all usernames (clients unknown to the account).
LOGIN_THROTTLE_ADDRESS_ATTEMPTS = int(
    os.environ.get("STAGESUB_LOGIN_THROTTLE_ADDRESS_ATTEMPTS", "30")
)
# Days a successful login keeps its browser (signed cookie) and its address known to the account.
LOGIN_KNOWN_DEVICE_DAYS = int(os.environ.get("STAGESUB_LOGIN_KNOWN_DEVICE_DAYS", "180"))
LOGIN_KNOWN_ADDRESS_DAYS = int(os.environ.get("STAGESUB_LOGIN_KNOWN_ADDRESS_DAYS", "30"))
# Hours an invitation link (accounts.invitations) and a password reset link stay valid.
INVITATION_VALID_HOURS = int(os.environ.get("STAGESUB_INVITATION_VALID_HOURS", "72"))
PASSWORD_RESET_TIMEOUT = int(os.environ.get("STAGESUB_PASSWORD_RESET_HOURS", "2")) * 3600
# Name of the issuer shown in authenticator apps next to the account (second factor, TOTP).
OTP_TOTP_ISSUER = os.environ.get("STAGESUB_OTP_ISSUER", "StageSub")
# Wrong codes are counted by accounts.throttling with the passwords' budgets (per account, in
# the control database); django-otp's own per-device delay would only add a second clock.
OTP_TOTP_THROTTLE_FACTOR = 0
OTP_STATIC_THROTTLE_FACTOR = 0
# Superadmins must set up a second factor before the console opens. Not an environment
# variable on purpose: only the test suite turns it off, for tests of other features.
SUPERADMIN_SECOND_FACTOR = True

from stagesub.accounts.clientaddr import parse_networks as _client_networks  # noqa: E402

# Client addresses (accounts.clientaddr): how many proxies in front append to X-Forwarded-For,
# and/or their networks (comma-separated CIDRs). Default: trust none, the client is REMOTE_ADDR.
TRUSTED_PROXY_COUNT = int(os.environ.get("STAGESUB_TRUSTED_PROXY_COUNT", "0"))
TRUSTED_PROXIES = _client_networks(
    os.environ.get("STAGESUB_TRUSTED_PROXIES", ""), setting="STAGESUB_TRUSTED_PROXIES"
)
if TRUSTED_PROXY_COUNT < 0:
    raise ValueError("STAGESUB_TRUSTED_PROXY_COUNT must be 0 or more")

# Host-only cookies: no SESSION_COOKIE_DOMAIN, so a Göteborg session is never sent to Malmö.
SESSION_COOKIE_DOMAIN = None
CSRF_COOKIE_DOMAIN = None
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = 60 * 60 * 12
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
CSRF_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SECURE_SSL_REDIRECT = _env_bool("STAGESUB_SSL_REDIRECT", default=HTTPS)
SECURE_HSTS_SECONDS = int(os.environ.get("STAGESUB_HSTS_SECONDS", "31536000" if HTTPS else "0"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
SECURE_HSTS_PRELOAD = False
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_X_FORWARDED_PROTO", "https") if _env_bool("STAGESUB_BEHIND_PROXY") else None
)
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]
# No inline script, no inline handler, no eval: scripts and styles come from our static files
# only (templates/tests check it: tests/web/test_csp.py). htmx is told not to eval or inject
# styles (meta htmx-config in base.html).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
        "base-uri": [SELF],
        "object-src": [NONE],
    }
}

LANGUAGE_CODE = "sv"
LANGUAGES = [("sv", "Svenska"), ("en", "English")]
LOCALE_PATHS = [PACKAGE_DIR / "locale"]
TIME_ZONE = "Europe/Stockholm"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
STATICFILES_DIRS = [PACKAGE_DIR / "static"]
# Hashed, compressed static files (collected by `stagesub serve`), which WhiteNoise serves with
# far-future cache headers. Off only where nothing runs collectstatic (the test suite, where
# the finders serve the source files).
STATIC_MANIFEST = _env_bool("STAGESUB_STATIC_MANIFEST", default=True)
# Made now so WhiteNoise finds the folder even before the first collectstatic (tests, runserver).
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if STATIC_MANIFEST
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

EMAIL_SUBJECT_PREFIX = "[StageSub] "
DEFAULT_FROM_EMAIL = os.environ.get("STAGESUB_FROM_EMAIL", f"StageSub <no-reply@{BASE_DOMAIN}>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# Where orchestras ask the platform for more (shown next to their plan's limits).
PLATFORM_CONTACT = os.environ.get("STAGESUB_PLATFORM_CONTACT", f"support@{BASE_DOMAIN}")
MAILBOX_DIR = DATA_DIR / "mailbox"
_email_url = os.environ.get("STAGESUB_EMAIL_URL", "").strip()
if _email_url:
    globals().update(email_settings(_email_url))
else:
    # Embedded default: every message lands as a file in the local mailbox folder.
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = MAILBOX_DIR
# Seconds one SMTP connect or command may take, so a hung mail server cannot hold the worker
# (overrides `?timeout=` in STAGESUB_EMAIL_URL; Django's EMAIL_TIMEOUT).
EMAIL_TIMEOUT = float(os.environ.get("STAGESUB_EMAIL_TIMEOUT", globals().get("EMAIL_TIMEOUT", 10)))
# Seconds after which a message left "sending" by a killed worker is tried again (longer than
# any one attempt can take: several EMAIL_TIMEOUTs).
MAIL_SENDING_STALE = float(os.environ.get("STAGESUB_MAIL_SENDING_STALE", "300"))
# Longest wait between delivery attempts while the mail server is unreachable (seconds), so the
# queue drains soon after it comes back.
MAIL_OUTAGE_RETRY_MAX = float(os.environ.get("STAGESUB_MAIL_OUTAGE_RETRY_MAX", "60"))
# A musician's sign-in link to their personal page (/me/): minutes it works, links per hour
# per musician (more requests get the same answer but no e-mail), days a musician session lasts.
PORTAL_LINK_MINUTES = int(os.environ.get("STAGESUB_PORTAL_LINK_MINUTES", "30"))
PORTAL_LINKS_PER_HOUR = int(os.environ.get("STAGESUB_PORTAL_LINKS_PER_HOUR", "5"))
PORTAL_SESSION_DAYS = int(os.environ.get("STAGESUB_PORTAL_SESSION_DAYS", "14"))
# Seconds between the worker's runs of each orchestra's retention settings (portal.retention).
PORTAL_RETENTION_INTERVAL = float(os.environ.get("STAGESUB_PORTAL_RETENTION_INTERVAL", "3600"))

TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
# The SMS provider's API (46elks); a local server in tests and the demo (stagesub.sms).
SMS_API_URL = os.environ.get("STAGESUB_SMS_API_URL", "https://api.46elks.com")
# Seconds between scheduler looks at the orchestras that are due (reminders, timeouts, outbox).
SCHEDULER_INTERVAL = float(os.environ.get("STAGESUB_SCHEDULER_INTERVAL", "0"))
# Seconds of one scheduler pass per orchestra before it yields to the next one (its remaining
# work waits for the next pass), and for the whole pass before the worker returns to its queue.
SCHEDULER_ORCHESTRA_BUDGET = float(os.environ.get("STAGESUB_SCHEDULER_ORCHESTRA_BUDGET", "20"))
SCHEDULER_PASS_BUDGET = float(os.environ.get("STAGESUB_SCHEDULER_PASS_BUDGET", "120"))

# JSON API (/api/v1/): requests a token may make per window of API_RATE_WINDOW seconds.
API_RATE_LIMIT = int(os.environ.get("STAGESUB_API_RATE_LIMIT", "600"))
API_RATE_WINDOW = int(os.environ.get("STAGESUB_API_RATE_WINDOW", "60"))

CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Logs go to stdout: plain lines, or one JSON object per line (STAGESUB_LOG_FORMAT=json); each
# record carries the request id, host and orchestra (stagesub.web.observability).
LOGGING = observability.logging_config(
    level=os.environ.get("STAGESUB_LOG_LEVEL", "INFO").strip().upper(),
    fmt=os.environ.get("STAGESUB_LOG_FORMAT", "plain").strip().lower(),
)
# Unhandled errors are also reported to Sentry when a DSN is given (pip install stagesub[sentry]).
# Kept out of the settings namespace (lower case), so no settings listing ever shows it.
_sentry_dsn = os.environ.get("STAGESUB_SENTRY_DSN", "").strip()
if _sentry_dsn:
    observability.init_sentry(
        _sentry_dsn, environment=os.environ.get("STAGESUB_SENTRY_ENVIRONMENT")
    )
