"""Malformed ids sent to staff pages get a 4xx and change nothing, never a 500.

Every route of the orchestra's host is walked: each URL parameter gets each bad value (GET and
POST), and every id a POST body carries (listed per route in BODY_IDS) gets each bad value while
the rest of the form is valid. A new route must say which ids its POST body carries (or none),
so it cannot slip past this test.
"""

from __future__ import annotations

import datetime

import pytest
from django.apps import apps
from django.urls import URLPattern, URLResolver

from stagesub import urls_orchestra
from stagesub.messaging.models import Message
from stagesub.offers import services as offers
from stagesub.projects import calendar, files
from stagesub.projects import services as projects
from stagesub.projects.models import ProjectList
from stagesub.projects.services import NeedData, ProjectData
from stagesub.rankings.models import RankingList
from stagesub.roster.models import Instrument, Position
from stagesub.tenancy import use_orchestra
from stagesub.tenancy.sides import OrchestraAppConfig
from tests.conftest import listed_musicians, login

BAD = [
    "abc",
    "",
    "9" * 30,  # beyond any integer column
    str(2**63),  # one past PostgreSQL's bigint
    "-1",
    "1.5",
    " 1",
    "²",  # str.isdigit() says yes, int() says no
    "١٢٣٤٥",  # Arabic-Indic digits: int() reads 12345
    "1\x00",
]

# route name -> [(form fields besides the id, the field carrying an id)]. Values "{x}" are
# filled with the fixture's real ids; the id field gets each bad value (put into a pattern when
# the field is given as (name, pattern)).
BODY_IDS: dict[str, list[tuple[dict, str]]] = {
    "rankings:create": [({"list_type": "B"}, "position")],
    "rankings:action": [
        ({"action": "add"}, "musicians"),
        ({"action": "remove", "version": "{rank_version}"}, "entry"),
        ({"action": "remove", "entry": "{rank_entry}"}, "version"),
    ],
    "rankings:reorder": [
        ({"version": "{rank_version}"}, "order"),
        ({"order": "{rank_entry}"}, "version"),
    ],
    "projects:plist_create": [
        ({"copy_from": "rank:{rank_pk}"}, "position"),
        ({"position": "{viola_pk}"}, ("copy_from", "rank:{}")),
        ({"position": "{viola_pk}"}, ("copy_from", "project:{}")),
    ],
    "projects:plist_action": [
        ({"action": "add"}, "musicians"),
        ({"action": "remove", "version": "{plist_version}"}, "entry"),
        ({"action": "remove", "entry": "{plist_entry}"}, "version"),
    ],
    "projects:plist_reorder": [
        ({"version": "{plist_version}"}, "order"),
        ({"order": "{plist_entry}"}, "version"),
    ],
    "projects:apply_template": [({}, "template")],
    "projects:file_action": [
        ({"action": "reuse", "send_timing": "on_accept"}, "need"),
        ({"action": "reuse", "need": "NEED002"}, "send_timing"),
    ],
    "projects:need_create": [
        (
            {
                "chosen_list": "rank:{rank_pk}",
                "strategy": "sequential",
                "quantity": "1",
                "response_time": "48",
                "response_unit": "hours",
            },
            "position",
        ),
        (
            {
                "position": "{violin_pk}",
                "strategy": "sequential",
                "quantity": "1",
                "response_time": "48",
                "response_unit": "hours",
            },
            "chosen_list",
        ),
    ],
    "offers:offer": [({"action": "resend"}, "message")],
    "roster:instrument_reorder": [({}, "order")],
    "roster:position_reorder": [({}, "order")],
    "accounts:user_action": [({"action": "deactivate"}, "user"), ({"action": "role"}, "user")],
}
# Fields a person fills in or that a form checks: refused with a message on the page (a
# redirect or the form again), which is also fine, as long as nothing changes.
REFUSED_WITH_A_MESSAGE: dict[str, list[tuple[dict, str]]] = {
    "offers:quantity": [({}, "quantity")],
    "roster:musician_create": [
        ({"first_name": "Ny", "last_name": "Musiker", "email": "ny@example.se"}, "positions")
    ],
    "roster:import": [({}, "token")],
    "messaging:group_email": [
        ({"subject": "Hej", "body": "Hej", "status": "active"}, field)
        for field in ("project", "need", "instrument", "position", "ranking_list", "files")
    ],
}
# Routes whose POST body carries no id (or that take no POST): their URL ids are still walked.
NO_BODY_IDS = {
    "home",
    "login",
    "logout",
    "set_language",
    "settings",
    "signup_welcome",  # its token is signed; a bad one is refused with 404
    "roster:musicians",
    "roster:musician",
    "roster:musician_edit",  # the same form as musician_create
    "roster:musician_status",
    "roster:export",
    "roster:instruments",
    "roster:instrument_create",
    "roster:instrument_action",
    "roster:position_action",
    "rankings:overview",
    "rankings:list",
    "projects:projects",
    "projects:project_create",
    "projects:calendar_feed",
    "projects:calendar_renew",
    "projects:project_calendar",
    "projects:file_upload",  # its need is a choice the form checks
    "projects:file",
    "projects:project",
    "projects:project_edit",
    "projects:project_action",
    "projects:need_action",
    "projects:need_edit",  # the same form as need_create
    "projects:need_lists",  # GET only; its position (a query parameter) reads as none if bad
    "projects:plist",
    "offers:respond",
    "offers:respond_file",
    "offers:send_project",
    "offers:live",
    "offers:send_need",
    "messaging:mailbox",
    "accounts:login_code",
    "accounts:invitation",
    "accounts:account",
    "accounts:second_factor",
    "accounts:password_change",
    "accounts:password_reset",
    "accounts:password_reset_done",
    "accounts:password_reset_confirm",
    "accounts:password_reset_complete",
    "accounts:users",
    "messaging:templates",
    "messaging:sender",
    "messaging:template",
    "messaging:template_preview",
    "messaging:template_reset",
    "messaging:group_email_history",
    "messaging:group_email_detail",
    "messaging:unsubscribe",
    "office:activity",
    "office:booked",
    "office:booked_csv",
    "office:booked_xlsx",
    "portal:start",
    "portal:sign_in",
    "portal:sign_out",
    "portal:home",
    "portal:answer",
    "portal:add_unavailability",  # dates, refused with a message (tests/portal)
    "portal:remove_unavailability",
    "portal:contact",  # contact details, refused with a message (tests/portal)
    "portal:renew_calendar",
    "portal:calendar",
    "portal:export",
    "portal:musician_data",
    "portal:musician_data_json",
    "portal:musician_erase",  # the typed confirmation is text, refused with a message
    "portal:retention",
    "sms:settings",  # credentials and choices, refused with a message (tests/sms)
    "sms:short_link",  # a signed token; a bad one is refused with 404
    "sms:inbound",  # the provider's webhook: its secret in the URL, the offer code in the text
}


def _routes(patterns=urls_orchestra.urlpatterns, prefix="", namespace=""):
    """(name, route with <converter:param>) for every pattern of the orchestra's host."""
    for p in patterns:
        if isinstance(p, URLResolver):
            ns = f"{namespace}{p.namespace}:" if p.namespace else namespace
            yield from _routes(p.url_patterns, prefix + str(p.pattern), ns)
        elif isinstance(p, URLPattern):
            yield f"{namespace}{p.name}", prefix + str(p.pattern)


ROUTES = dict(_routes())
# The JSON API: its bodies carry no ids (tests/api sends it malformed bodies).
NO_BODY_IDS |= {name for name in ROUTES if name.startswith("api:")} | {"api_not_found"}
# The token pages: a name and a checkbox; revoking takes the id in the URL only.
NO_BODY_IDS |= {"api_tokens", "api_token_revoke"}


@pytest.fixture
def world(goteborg):
    """One of everything an id can name, in Göteborg's database."""
    with use_orchestra(goteborg):
        violin, musicians, a_list = listed_musicians(3)
        viola = Position.objects.filter(instrument__name="Viola").first()
        project = projects.create_project(
            ProjectData(name="Mahler 2", start_date=datetime.date(2027, 3, 8)), max_projects=20
        )
        need = projects.create_need(
            project,
            NeedData(
                position_id=violin.pk,
                quantity=1,
                strategy="sequential",
                response_time_hours=48,
                ranking_list_id=a_list.pk,
            ),
        )
        projects.create_need(
            project,
            NeedData(
                position_id=violin.pk,
                quantity=1,
                strategy="sequential",
                response_time_hours=48,
                ranking_list_id=a_list.pk,
            ),
        )
        plist = projects.create_project_list(project, violin, copy_from=a_list)
        projects.save_as_template(plist, "Mall")
        files.upload(project, name="noter.pdf", content=b"%PDF-1.4 x", need=need)
        offer = offers.send(need).created[0]
        calendar.feed_token()  # made by the first look at the project list: not a change
        a_list.refresh_from_db()
        plist = ProjectList.objects.get(pk=plist.pk)
        values = {
            "project_id": project.project_id,
            "need_id": need.need_id,
            "list_id": plist.list_id,
            "file_id": "FILE001",
            "ranking_list_id": a_list.ranking_list_id,
            "musician_id": musicians[0].musician_id,
            "offer_id": offer.offer_id,
            "token": offers.response_url(goteborg, offer).rstrip("/").rsplit("/", 1)[1],
            "fmt": "csv",
            "kind": "request",
            "language": "sv",
            "instrument_pk": str(violin.instrument_id),
            "position_pk": str(violin.pk),
            # body values
            "rank_pk": str(a_list.pk),
            "rank_version": str(a_list.version),
            "rank_entry": str(a_list.entries.first().pk),
            "plist_version": str(plist.version),
            "plist_entry": str(plist.entries.first().pk),
            "violin_pk": str(violin.pk),
            "viola_pk": str(viola.pk),
            "message": str(Message.objects.get(offer=offer).pk),
            "uidb64": "MQ",  # a user id in a password reset link (base64 of "1")
        }
    return values


def _url(name: str, world: dict, bad_param: str | None = None, bad: str = "") -> str:
    route = ROUTES[name]
    for part in route.split("<")[1:]:
        converter_param = part.split(">")[0]
        param = converter_param.split(":")[-1]
        if param == bad_param:
            value = bad
        elif param == "pk":
            value = world["position_pk" if route.startswith("positions/") else "instrument_pk"]
        else:
            value = world[param]
        route = route.replace(f"<{converter_param}>", value, 1)
    return "/" + route


def _snapshot(orchestra) -> dict:
    """Every row of every orchestra model: what "nothing changed" compares."""
    with use_orchestra(orchestra):
        return {
            model._meta.label: sorted(map(repr, model.objects.values_list()))
            for config in apps.get_app_configs()
            if isinstance(config, OrchestraAppConfig)
            for model in config.get_models()
        }


def test_every_route_says_which_ids_its_post_body_carries():
    assert set(ROUTES) == set(BODY_IDS) | set(REFUSED_WITH_A_MESSAGE) | NO_BODY_IDS
    assert len(ROUTES) == len(BODY_IDS) + len(REFUSED_WITH_A_MESSAGE) + len(NO_BODY_IDS)


@pytest.mark.parametrize("name", sorted(n for n, route in ROUTES.items() if "<" in route))
def test_bad_ids_in_the_url_are_4xx(goteborg, world, name):
    client = login(goteborg, "goteborg-admin")
    params = [part.split(">")[0].split(":")[-1] for part in ROUTES[name].split("<")[1:]]
    before, wrong = _snapshot(goteborg), []
    for param in params:
        for bad in BAD:
            if not bad:
                continue  # an empty parameter is another URL (a 404, or Django's added slash)
            url = _url(name, world, param, bad)
            for method in (client.get, client.post):
                status = method(url).status_code
                if not 400 <= status < 500:
                    wrong.append((method.__name__, url, status))
    assert wrong == [], wrong
    assert _snapshot(goteborg) == before


def _cases(table):
    return [(name, fields, field) for name, cases in table.items() for fields, field in cases]


@pytest.mark.parametrize(("name", "fields", "field"), _cases(BODY_IDS))
def test_bad_ids_in_the_post_body_are_4xx_and_change_nothing(goteborg, world, name, fields, field):
    _post_bad_values(goteborg, world, name, fields, field, ok=lambda s: 400 <= s < 500)


@pytest.mark.parametrize(("name", "fields", "field"), _cases(REFUSED_WITH_A_MESSAGE))
def test_bad_values_in_forms_are_refused_and_change_nothing(goteborg, world, name, fields, field):
    _post_bad_values(goteborg, world, name, fields, field, ok=lambda s: s in (200, 302, 400))


def _post_bad_values(goteborg, world, name, fields, field, ok):
    _post_bad_values_of(BAD, goteborg, world, name, fields, field, ok)


def _post_bad_values_of(values, goteborg, world, name, fields, field, ok):
    client = login(goteborg, "goteborg-admin")
    url = _url(name, world)
    body = {k: v.format(**world) for k, v in fields.items()}
    field, pattern = field if isinstance(field, tuple) else (field, "{}")
    before, wrong = _snapshot(goteborg), []
    for bad in values:
        status = client.post(url, {**body, field: pattern.format(bad)}).status_code
        if not ok(status):
            wrong.append((bad, status))
    assert wrong == [], wrong
    assert _snapshot(goteborg) == before


def test_the_fixture_reaches_every_action(goteborg, world):
    # The body cases are only meaningful if the same form with good ids does work.
    client = login(goteborg, "goteborg-admin")
    with use_orchestra(goteborg):
        entry = RankingList.objects.get().entries.order_by("rank").last().pk
    removed = client.post(
        _url("rankings:action", world),
        {"action": "remove", "entry": str(entry), "version": world["rank_version"]},
    )
    assert removed.status_code == 302
    with use_orchestra(goteborg):
        assert RankingList.objects.get().entries.count() == 2
        assert Instrument.objects.filter(pk=world["instrument_pk"]).exists()
    assert client.post(_url("projects:apply_template", world), {"template": "0"}).status_code == 404


def test_an_odd_instrument_in_the_musician_filter_is_ignored(goteborg):
    client = login(goteborg, "goteborg-admin")
    for bad in BAD:
        assert client.get("/musicians/", {"instrument": bad}).status_code == 200, bad


# Free-text fields posted outside a Django form (forms refuse NUL themselves): PostgreSQL
# refuses a NUL byte with an error, so it must be refused before it reaches the database.
TEXT_FIELDS = [
    ("rankings:create", {"position": "{viola_pk}", "list_type": "A"}, "description"),
    ("rankings:action", {"action": "describe"}, "description"),
    ("projects:plist_action", {"action": "template"}, "template_name"),
    ("roster:instrument_create", {"action": "create"}, "name"),
    ("roster:instrument_action", {"action": "rename"}, "name"),
    ("roster:instrument_action", {"action": "add_position"}, "name"),
    ("roster:position_action", {"action": "rename"}, "name"),
]


@pytest.mark.parametrize(("name", "fields", "field"), TEXT_FIELDS)
def test_a_nul_in_free_text_is_refused_and_changes_nothing(goteborg, world, name, fields, field):
    _post_bad_values_of(
        ["Viola\x00", "\x00"], goteborg, world, name, fields, field, ok=lambda s: s in (302, 400)
    )


@pytest.mark.parametrize("path", ["/musicians/", "/projects/", "/rankings/"])
def test_a_nul_in_a_search_is_no_server_error(goteborg, world, path):
    client = login(goteborg, "goteborg-admin")
    assert client.get(path, {"q": "a\x00b"}).status_code in (200, 400)
