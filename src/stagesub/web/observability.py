"""Logs that can be followed: a request id, the host and the orchestra on every record.

* :class:`RequestIdMiddleware` takes a sane incoming ``X-Request-ID`` (from a proxy or load
  balancer) or makes one, keeps it in a context variable for the request and returns it in the
  response header.
* :class:`RequestContextFilter` (on the console handler) adds ``request_id``, ``host`` and
  ``orchestra`` to every record, whichever logger wrote it. The orchestra is the bound one
  (``tenancy.context``), so background jobs that bind an orchestra are labelled too.
* :class:`JsonFormatter` writes one JSON object per line (``STAGESUB_LOG_FORMAT=json``).
* :func:`init_sentry` reports errors to Sentry when a DSN is configured (optional extra).

Imported by settings: nothing here may import Django models at module level.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import uuid
from contextvars import ContextVar
from datetime import UTC, datetime

REQUEST_ID_HEADER = "X-Request-ID"
# Accepted from outside only when it cannot smuggle anything into a log line or a header.
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
_UNPRINTABLE = re.compile(r"[^\x21-\x7e]")
NOTHING = "-"


_request: ContextVar[object | None] = ContextVar("stagesub_current_request", default=None)


def current_request():
    """The request this thread or task is serving, or None (a job, the shell)."""
    return _request.get()


def request_id_from(incoming: str | None) -> str:
    """The incoming id when it is sane, else a fresh one (32 hex digits)."""
    if incoming and _SANE_REQUEST_ID.fullmatch(incoming):
        return incoming
    return uuid.uuid4().hex


def _host_for_logs(request) -> str:
    # The raw header, not get_host(): a disallowed host must still be logged (it raises there).
    raw = request.META.get("HTTP_HOST") or request.META.get("SERVER_NAME") or NOTHING
    return _UNPRINTABLE.sub("?", raw)[:255]


class RequestIdMiddleware:
    """First in the stack, so every record of the request (refusals included) carries the id."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request_id = request_id_from(request.headers.get(REQUEST_ID_HEADER))
        request.request_id = request_id
        token = _request.set(request)
        try:
            response = self.get_response(request)
        finally:
            _request.reset(token)
        response[REQUEST_ID_HEADER] = request_id
        return response


def _orchestra_of(request) -> str:
    from stagesub.tenancy.context import binding_or_none

    binding = binding_or_none()
    if binding is not None:
        return binding.subdomain
    # After the routing middleware has unbound (Django logs 4xx responses there).
    orchestra = getattr(request, "orchestra", None)
    return orchestra.subdomain if orchestra is not None else NOTHING


def _request_of(record: logging.LogRecord):
    # Django logs 4xx/5xx responses with the request attached, some after the middleware has
    # returned (outside the context variable): the record's own request is the better source.
    request = getattr(record, "request", None)
    return request if hasattr(request, "META") else _request.get()


class RequestContextFilter(logging.Filter):
    """Adds request_id, host and orchestra to each record passing the handler it sits on."""

    def filter(self, record: logging.LogRecord) -> bool:
        request = _request_of(record)
        record.request_id = getattr(request, "request_id", NOTHING)
        record.host = _host_for_logs(request) if request is not None else NOTHING
        record.orchestra = _orchestra_of(request)
        return True


PLAIN_FORMAT = (
    "%(asctime)s %(levelname)s %(name)s [%(request_id)s %(host)s %(orchestra)s] %(message)s"
)


class JsonFormatter(logging.Formatter):
    """One JSON object per line; a traceback goes into "traceback" as one string."""

    FIELDS = ("request_id", "host", "orchestra", "status_code", "method", "path", "duration_ms")

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for field in self.FIELDS:
            value = getattr(record, field, None)
            if value is not None:
                entry[field] = value
        if record.exc_info:
            entry["traceback"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


class StdoutHandler(logging.StreamHandler):
    """Writes to whatever sys.stdout is at the time (a replaced stdout is followed)."""

    def __init__(self):
        super().__init__(sys.stdout)

    @property
    def stream(self):
        return sys.stdout

    @stream.setter
    def stream(self, value):
        # StreamHandler assigns its stream in __init__; the property always reads sys.stdout.
        pass


def logging_config(*, level: str, fmt: str) -> dict:
    """The LOGGING setting: everything (Django's own loggers included) to stdout at `level`.

    Django's default config sends ``django.request`` (which logs every 500 with its traceback)
    only to a console handler that is silent unless DEBUG: it is routed here instead, so an
    error in production leaves its traceback in the log.
    """
    if fmt not in ("plain", "json"):
        raise ValueError(f"STAGESUB_LOG_FORMAT must be plain or json, not {fmt!r}")
    quiet = level if level == "DEBUG" else "WARNING"
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_context": {"()": RequestContextFilter}},
        "formatters": {
            "plain": {"format": PLAIN_FORMAT},
            "json": {"()": JsonFormatter},
        },
        "handlers": {
            "console": {
                "()": StdoutHandler,
                "formatter": fmt,
                "filters": ["request_context"],
            }
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            # Replaces Django's defaults (console only when DEBUG, mail to ADMINS).
            "django": {"handlers": ["console"], "level": level, "propagate": False},
            # runserver's own request lines; the production server logs access itself.
            "django.server": {"handlers": ["console"], "level": level, "propagate": False},
            # The task worker says "no more tasks" at INFO on every pass (every ~2 s).
            "django_tasks": {"level": quiet},
            "django_tasks_db": {"level": quiet},
            # The embedded PostgreSQL of tests and benchmarks narrates every start and stop.
            "pgserver": {"level": quiet},
        },
    }


def _tag_event(event, hint):
    request = _request.get()
    tags = event.setdefault("tags", {})
    if request is not None:
        tags["request_id"] = request.request_id
    subdomain = _orchestra_of(request)
    if subdomain != NOTHING:
        tags["orchestra"] = subdomain
    return event


def init_sentry(dsn: str, *, environment: str | None = None) -> None:
    """Report unhandled errors to Sentry, tagged with request id and orchestra.

    The SDK is an optional extra (``pip install stagesub[sentry]``); asking for Sentry without
    it is a configuration error, said at start-up rather than discovered at the first error.
    Personal data is not sent (no cookies, no user ids, no request bodies).
    """
    try:
        import sentry_sdk
        from sentry_sdk.integrations.django import DjangoIntegration
    except ImportError as exc:
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured(
            "STAGESUB_SENTRY_DSN is set but sentry-sdk is not installed: "
            "pip install 'stagesub[sentry]'"
        ) from exc
    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        # The SDK's default sends no personal data (cookies, user ids, bodies): kept so.
        integrations=[DjangoIntegration()],
        before_send=_tag_event,
    )
