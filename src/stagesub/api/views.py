"""The JSON API under /api/v1/ on an orchestra's host (django-ninja: OpenAPI from typed schemas).

Authentication is a bearer token of the host's orchestra; every endpoint calls the same
services and models as the UI. Errors are application/problem+json.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
import logging

from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404
from ninja import NinjaAPI, Query, Schema
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.security import HttpBearer
from pydantic import ConfigDict, Field

from stagesub.api import tokens
from stagesub.offers import services as offers
from stagesub.offers.models import Offer
from stagesub.projects.models import Need, Project
from stagesub.roster.models import Instrument, Musician
from stagesub.tenancy.context import current_binding

PROBLEM = "application/problem+json"
MAX_PAGE = 100


def problem(status: int, title: str, detail: object = "", **headers: str) -> HttpResponse:
    body = {"type": "about:blank", "title": title, "status": status}
    if detail:
        body["detail"] = detail
    response = JsonResponse(body, status=status, content_type=PROBLEM)
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


class RateLimited(Exception):
    def __init__(self, retry_after: int):
        self.retry_after = retry_after


class TokenAuth(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str):
        # The token must belong to the orchestra this host is bound to (fail closed).
        found = tokens.authenticate(token, current_binding().subdomain)
        if found is None:
            return None
        if request.method not in ("GET", "HEAD", "OPTIONS") and not found.can_write:
            raise HttpError(403, "This token is read-only.")
        limit = tokens.take(found)
        if not limit.allowed:
            raise RateLimited(limit.retry_after)
        return found


class StageSubApi(NinjaAPI):
    def get_openapi_schema(self, *args, **kwargs):
        # ninja gives every response its renderer's media type; errors are problem+json here.
        schema = super().get_openapi_schema(*args, **kwargs)
        for item in schema["paths"].values():
            for operation in item.values():
                for code, response in operation.get("responses", {}).items():
                    if int(code) >= 400 and "application/json" in response.get("content", {}):
                        response["content"] = {PROBLEM: response["content"]["application/json"]}
        return schema


api = StageSubApi(
    title="StageSub API",
    version="1",
    auth=TokenAuth(),
    urls_namespace="api",
    docs_url="/docs",
    openapi_url="/openapi.json",
)


@api.exception_handler(AuthenticationError)
def _unauthenticated(request, exc):
    return problem(
        401,
        "Authentication required",
        "A valid token of this orchestra is needed.",
        WWW_Authenticate="Bearer",
    )


@api.exception_handler(RateLimited)
def _limited(request, exc):
    return problem(429, "Too many requests", Retry_After=str(exc.retry_after))


@api.exception_handler(NinjaValidationError)
def _invalid(request, exc):
    return problem(422, "Invalid request", exc.errors)


@api.exception_handler(HttpError)
def _http_error(request, exc):
    return problem(exc.status_code, str(exc))


@api.exception_handler(Http404)
def _not_found(request, exc):
    return problem(404, "Not found")


@api.exception_handler(RequestDataTooBig)
def _too_big(request, exc):
    return problem(413, "Request body too large")


@api.exception_handler(DjangoValidationError)
def _refused(request, exc):
    return problem(409, "Refused", exc.messages)


@api.exception_handler(Exception)
def _server_error(request, exc):
    # Logged by Django's request logger like any other 500; the client gets no traceback.
    logging.getLogger("django.request").error("API error", exc_info=exc)
    return problem(500, "Server error")


# --- pagination and ETags -------------------------------------------------------------------


class Page(Schema):
    next: str | None = None


def _cursor(pk: int) -> str:
    return base64.urlsafe_b64encode(str(pk).encode()).decode()


def _after(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        after = int(base64.urlsafe_b64decode(cursor.encode()).decode())
    except (ValueError, UnicodeDecodeError) as error:
        raise HttpError(400, "Malformed cursor.") from error
    # Beyond a bigint PostgreSQL refuses the comparison itself.
    if not 0 <= after < 2**63:
        raise HttpError(400, "Malformed cursor.")
    return after


def text(value: str) -> str:
    """A string from the URL or query as the database can take it (PostgreSQL refuses NUL)."""
    if "\x00" in value:
        raise HttpError(400, "Text must not contain NUL characters.")
    return value


def paged(queryset, cursor: str | None, limit: int) -> tuple[list, str | None]:
    """Keyset pagination on the primary key: stable while rows are added."""
    rows = list(queryset.filter(pk__gt=_after(cursor)).order_by("pk")[: limit + 1])
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (_cursor(rows[-1].pk) if more else None)


def with_etag(request: HttpRequest, data: dict) -> HttpResponse:
    body = json.dumps(data, default=str).encode()
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    if etag in request.headers.get("If-None-Match", ""):
        response = HttpResponse(status=304)
    else:
        response = HttpResponse(body, content_type="application/json")
    response["ETag"] = etag
    return response


class Listing(Schema):
    cursor: str | None = None
    limit: int = Field(MAX_PAGE, ge=1, le=MAX_PAGE)


# --- schemas --------------------------------------------------------------------------------


class PositionOut(Schema):
    id: str
    name: str
    hierarchy_level: int


class InstrumentOut(Schema):
    id: str
    name: str
    positions: list[PositionOut]


class MusicianOut(Schema):
    id: str
    first_name: str
    last_name: str
    email: str
    phone: str
    status: str
    local_residence: bool
    qualifications: list[str]


class ProjectOut(Schema):
    id: str
    name: str
    start_date: datetime.date
    end_date: datetime.date
    is_archived: bool


class NeedOut(Schema):
    id: str
    project: str
    position: str
    quantity: int
    strategy: str
    status: str


class OfferOut(Schema):
    id: str
    need: str
    project: str
    musician: str
    status: str
    sent_at: datetime.datetime
    expires_at: datetime.datetime
    answered_at: datetime.datetime | None


class MusicianPage(Page):
    items: list[MusicianOut]


class InstrumentPage(Page):
    items: list[InstrumentOut]


class ProjectPage(Page):
    items: list[ProjectOut]


class NeedPage(Page):
    items: list[NeedOut]


class OfferPage(Page):
    items: list[OfferOut]


class Problem(Schema):
    type: str
    title: str
    status: int
    detail: object = None


class Sent(Schema):
    created: list[OfferOut]
    refused: str = ""


class AnswerIn(Schema):
    model_config = ConfigDict(extra="forbid")
    accepted: bool


ERRORS = {
    400: Problem,
    401: Problem,
    403: Problem,
    404: Problem,
    409: Problem,
    422: Problem,
    429: Problem,
}


def musician_out(m: Musician) -> dict:
    return {
        "id": m.musician_id,
        "first_name": m.first_name,
        "last_name": m.last_name,
        "email": m.email,
        "phone": m.phone,
        "status": m.status,
        "local_residence": m.local_residence,
        "qualifications": sorted(q.position.position_id for q in m.qualification_links.all()),
    }


def offer_out(o: Offer) -> dict:
    return {
        "id": o.offer_id,
        "need": o.need.need_id,
        "project": o.project.project_id,
        "musician": o.musician.musician_id,
        "status": o.status,
        "sent_at": o.sent_at,
        "expires_at": o.expires_at,
        "answered_at": o.answered_at,
    }


def _listing(request, rows, nxt, convert) -> HttpResponse:
    return with_etag(request, {"items": [convert(r) for r in rows], "next": nxt})


# --- reads ----------------------------------------------------------------------------------


@api.get("/musicians", response={200: MusicianPage, **ERRORS})
def list_musicians(request, page: Query[Listing], status: str | None = None):
    qs = Musician.objects.prefetch_related("qualification_links__position")
    if status:
        qs = qs.filter(status=text(status))
    rows, nxt = paged(qs, page.cursor, page.limit)
    return _listing(request, rows, nxt, musician_out)


@api.get("/musicians/{musician_id}", response={200: MusicianOut, **ERRORS})
def get_musician(request, musician_id: str):
    musician = get_object_or_404(Musician, musician_id=text(musician_id))
    return with_etag(request, musician_out(musician))


@api.get("/instruments", response={200: InstrumentPage, **ERRORS})
def list_instruments(request, page: Query[Listing]):
    rows, nxt = paged(Instrument.objects.prefetch_related("positions"), page.cursor, page.limit)

    def out(i: Instrument) -> dict:
        positions = sorted(i.positions.all(), key=lambda p: (p.hierarchy_level, p.pk))
        return {
            "id": i.instrument_id,
            "name": i.name,
            "positions": [
                {"id": p.position_id, "name": p.name, "hierarchy_level": p.hierarchy_level}
                for p in positions
            ],
        }

    return _listing(request, rows, nxt, out)


@api.get("/projects", response={200: ProjectPage, **ERRORS})
def list_projects(request, page: Query[Listing], archived: bool | None = None):
    qs = Project.objects.all()
    if archived is not None:
        qs = qs.filter(is_archived=archived)
    rows, nxt = paged(qs, page.cursor, page.limit)
    return _listing(
        request,
        rows,
        nxt,
        lambda p: {
            "id": p.project_id,
            "name": p.name,
            "start_date": p.start_date,
            "end_date": p.end_date,
            "is_archived": p.is_archived,
        },
    )


def need_out(n: Need) -> dict:
    return {
        "id": n.need_id,
        "project": n.project.project_id,
        "position": n.position.position_id,
        "quantity": n.quantity,
        "strategy": n.strategy,
        "status": n.status,
    }


@api.get("/needs", response={200: NeedPage, **ERRORS})
def list_needs(request, page: Query[Listing], project: str | None = None):
    qs = Need.objects.select_related("project", "position")
    if project:
        qs = qs.filter(project__project_id=text(project))
    rows, nxt = paged(qs, page.cursor, page.limit)
    return _listing(request, rows, nxt, need_out)


@api.get("/offers", response={200: OfferPage, **ERRORS})
def list_offers(request, page: Query[Listing], need: str | None = None, status: str | None = None):
    qs = Offer.objects.select_related("need", "project", "musician")
    if need:
        qs = qs.filter(need__need_id=text(need))
    if status:
        qs = qs.filter(status=text(status))
    rows, nxt = paged(qs, page.cursor, page.limit)
    return _listing(request, rows, nxt, offer_out)


# --- writes: the same services the staff use in the UI ---------------------------------------


def _by(request) -> str:
    return f"api:{request.auth.name}"


@api.post("/needs/{need_id}/send", response={200: Sent, **ERRORS})
def send_need(request, need_id: str):
    need = get_object_or_404(Need, need_id=text(need_id))
    outcome = offers.send(need, by=_by(request))
    created = Offer.objects.select_related("need", "project", "musician").filter(
        pk__in=[o.pk for o in outcome.created]
    )
    return {"created": [offer_out(o) for o in created], "refused": outcome.refused or ""}


@api.post("/projects/{project_id}/send", response={200: Sent, **ERRORS})
def send_project(request, project_id: str):
    project = get_object_or_404(Project, project_id=text(project_id))
    before = set(Offer.objects.filter(project=project).values_list("pk", flat=True))
    offers.send_project(project, by=_by(request))
    created = (
        Offer.objects.select_related("need", "project", "musician")
        .filter(project=project)
        .exclude(pk__in=before)
    )
    return {"created": [offer_out(o) for o in created], "refused": ""}


def _acted(outcome, offer: Offer) -> HttpResponse | dict:
    if outcome.refused:
        return problem(409, "Refused", outcome.refused)
    offer.refresh_from_db()
    return offer_out(offer)


@api.post("/offers/{offer_id}/answer", response={200: OfferOut, **ERRORS})
def answer_offer(request, offer_id: str, payload: AnswerIn):
    offer = get_object_or_404(
        Offer.objects.select_related("need", "project", "musician"), offer_id=text(offer_id)
    )
    return _acted(offers.answer(offer, accepted=payload.accepted, by=_by(request)), offer)


@api.post("/offers/{offer_id}/withdraw", response={200: OfferOut, **ERRORS})
def withdraw_offer(request, offer_id: str):
    offer = get_object_or_404(
        Offer.objects.select_related("need", "project", "musician"), offer_id=text(offer_id)
    )
    return _acted(offers.withdraw(offer, by=_by(request)), offer)
