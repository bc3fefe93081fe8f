"""Request routing: the Host header picks the orchestra, whose database is bound for the request."""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import InterfaceError, OperationalError, ProgrammingError
from django.shortcuts import render
from django.urls import set_urlconf

from stagesub.tenancy.automigrate import awaiting_migration
from stagesub.tenancy.binding import directory
from stagesub.tenancy.connections import ConnectionBudgetExhausted
from stagesub.tenancy.context import TenancyError, bind
from stagesub.tenancy.hosts import parse_host
from stagesub.tenancy.models import Orchestra

logger = logging.getLogger("stagesub.tenancy")

# Errors that say an orchestra's database cannot be used right now (down, hung past its
# timeout, missing, schema broken), as opposed to a bug in a view: IntegrityError and
# DataError are not here and stay 500s.
UNUSABLE_DATABASE = (OperationalError, InterfaceError, ProgrammingError)
# Seconds a client is asked to wait before trying again, per kind of 503.
RETRY_AFTER_BUSY = ConnectionBudgetExhausted.retry_after
RETRY_AFTER_UNAVAILABLE = 30
RETRY_AFTER_MAINTENANCE = 30

PLATFORM_URLCONF = "stagesub.urls_platform"
ORCHESTRA_URLCONF = "stagesub.urls_orchestra"


class OrchestraRoutingMiddleware:
    """Bind the host's orchestra for the whole request, or serve the platform, or refuse.

    * the bare base domain: platform pages (landing, superadmin, login); nothing bound;
    * ``<subdomain>.<base>`` of an active orchestra: that orchestra's pages, its database bound;
    * a suspended orchestra: the "suspended" page; unknown or not servable: 404. Never another.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        match = parse_host(request.get_host(), settings.BASE_DOMAIN)
        request.orchestra = None
        if match.is_platform:
            self._use_urlconf(request, PLATFORM_URLCONF)
            return self.get_response(request)
        if not match.is_orchestra:
            return render(request, "tenancy/no_orchestra.html", status=404)
        orchestra, binding = directory.lookup(match.subdomain)
        if orchestra is not None and (
            orchestra.maintenance_reason or (binding is not None and awaiting_migration(orchestra))
        ):
            # A restore, a move or a migration is switching this orchestra's database, or the
            # code is newer than its schema and the worker has not migrated it yet.
            response = render(request, "tenancy/maintenance.html", {"busy": orchestra}, status=503)
            response["Retry-After"] = str(RETRY_AFTER_MAINTENANCE)
            return response
        if orchestra is None or binding is None:
            # An archived (decommissioned) orchestra keeps its subdomain reserved: it reads as
            # suspended, never as a free name.
            if orchestra is not None and orchestra.status in (
                Orchestra.Status.SUSPENDED,
                Orchestra.Status.ARCHIVED,
            ):
                return render(
                    request,
                    "tenancy/suspended.html",
                    {"suspended": orchestra, "platform_contact": settings.PLATFORM_CONTACT},
                    status=403,
                )
            return render(request, "tenancy/no_orchestra.html", status=404)
        request.orchestra = orchestra
        self._use_urlconf(request, ORCHESTRA_URLCONF)
        try:
            with bind(binding):
                return self.get_response(request)
        except (TenancyError, ConnectionBudgetExhausted, *UNUSABLE_DATABASE) as exc:
            # Raised while binding (no slot free, the stamp check on a reused connection):
            # nothing of the request has run yet.
            return self.refusal(request, exc)

    @staticmethod
    def _use_urlconf(request, urlconf: str) -> None:
        # Django applies request.urlconf only when it reaches the view; set it now as well so
        # pages rendered by later middleware (refusals) reverse URLs of the right host.
        request.urlconf = urlconf
        set_urlconf(urlconf)

    def process_exception(self, request, exception):
        if request.orchestra is None:
            return None
        if isinstance(exception, (TenancyError, ConnectionBudgetExhausted, *UNUSABLE_DATABASE)):
            return self.refusal(request, exception)
        return None

    @staticmethod
    def refusal(request, exception):
        """The friendly 503 for an orchestra whose database may not or cannot be used now."""
        where = f"{request.get_host()} {request.path}"
        if isinstance(exception, ConnectionBudgetExhausted):
            # Not an error of anyone's: the process is at its connection budget. The client
            # tries again; nothing was read or written for this request.
            logger.warning("connection budget full on %s: %s", where, exception)
            response = render(request, "tenancy/busy.html", status=503)
            response["Retry-After"] = str(RETRY_AFTER_BUSY)
            return response
        if isinstance(exception, TenancyError):
            # A wrong stamp or a refused cross-orchestra query: never serve, always shout.
            logger.critical("tenancy refusal on %s: %s", where, exception)
        else:
            logger.error("orchestra database unusable on %s", where, exc_info=exception)
        response = render(request, "tenancy/unavailable.html", status=503)
        response["Retry-After"] = str(RETRY_AFTER_UNAVAILABLE)
        return response
