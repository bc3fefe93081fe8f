"""Every URL of an orchestra's host × admin / member / deactivated / anonymous.

The URL patterns are enumerated from stagesub.urls_orchestra, so views added later are covered
by the same test: each must either carry a role (accounts.roles sets `stagesub_role`) or be
listed below as deliberately public. Admin-only views are derived from that attribute, and
the table of the existing admin-only views and actions keeps them from being loosened unseen.
"""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.urls import URLPattern, URLResolver, get_resolver

from tests.conftest import PASSWORD, host_client, login

# Reachable without a login, each for its reason (the answer link and calendar feed carry a
# secret token; the rest are how one logs in, or gets back in).
PUBLIC = {
    "login",
    "logout",
    "set_language",
    "offers:respond",
    "offers:respond_file",
    "projects:calendar_feed",
    "accounts:login_code",
    "accounts:invitation",
    "accounts:password_reset",
    "accounts:password_reset_done",
    "accounts:password_reset_confirm",
    "accounts:password_reset_complete",
    "signup_welcome",
    # the musician's link to stop group e-mails: its signed token is the capability
    "messaging:unsubscribe",
    # The musician's personal page: no staff role; a sign-in link starts a musician session
    # that each of these requires (or, for the calendar, a secret token).
    "portal:start",
    "portal:sign_in",
    "portal:sign_out",
    "portal:home",
    "portal:answer",
    "portal:add_unavailability",
    "portal:remove_unavailability",
    "portal:contact",
    "portal:renew_calendar",
    "portal:calendar",
    "portal:export",
    "sms:inbound",  # the SMS provider's webhook: the orchestra's secret in the URL
    "sms:short_link",  # the request SMS's short answer link: a secret token, as offers:respond
}

# The admin-only views and actions that exist today: settings, users, imports, deletions.
ADMIN_VIEWS = {
    "settings",
    "roster:import",
    "projects:calendar_renew",
    "accounts:users",
    "accounts:user_action",
    "messaging:templates",
    "messaging:template",
    "messaging:template_preview",
    "messaging:template_reset",
    "messaging:sender",
    "portal:musician_data",
    "portal:musician_data_json",
    "portal:musician_erase",
    "portal:retention",
    "sms:settings",
}
ADMIN_ACTIONS = {
    "roster:instrument_action": {"delete"},
    "roster:position_action": {"delete"},
    "rankings:action": {"clear", "delete"},
    "projects:project_action": {"delete"},
    "projects:need_action": {"delete"},
    "projects:plist_action": {"delete"},
}

SAMPLES = {
    "int": "1",
    "str": "x",
    "readable": "X001",
    "uuid": "00000000-0000-0000-0000-000000000000",
    "path": "x",
    "slug": "x",
}


def _walk(patterns, prefix="", namespace=None):
    for entry in patterns:
        if isinstance(entry, URLResolver):
            ns = entry.namespace or namespace
            yield from _walk(entry.url_patterns, prefix + str(entry.pattern), ns)
        elif isinstance(entry, URLPattern):
            name = f"{namespace}:{entry.name}" if namespace else entry.name
            yield name, prefix + str(entry.pattern), entry.callback


def _path(route: str) -> str:
    return "/" + re.sub(r"<(?:(\w+):)?\w+>", lambda m: SAMPLES[m.group(1) or "str"], route)


ROUTES = sorted(_walk(get_resolver("stagesub.urls_orchestra").url_patterns))
# The JSON API authenticates with a bearer token of the orchestra, never with a session
# (tests/api/test_api.py checks that each of its routes refuses a request without a token).
PUBLIC |= {name for name, _, _ in ROUTES if name.startswith("api:")} | {"api_not_found"}


def _role(callback) -> str | None:
    # Class-based views keep the decorator's attribute on the function as_view() returned.
    return getattr(callback, "stagesub_role", None)


def test_every_orchestra_view_has_a_role_or_is_listed_as_public():
    unmarked = [name for name, _, cb in ROUTES if _role(cb) is None and name not in PUBLIC]
    assert unmarked == [], f"views without staff_required/admin_required: {unmarked}"
    marked_public = [name for name, _, cb in ROUTES if name in PUBLIC and _role(cb) is not None]
    assert marked_public == []


def test_the_existing_admin_views_and_actions_stay_admin_only():
    by_name = {name: cb for name, _, cb in ROUTES}
    assert {n for n in ADMIN_VIEWS if _role(by_name[n]) != "admin"} == set()
    for name, actions in ADMIN_ACTIONS.items():
        assert getattr(by_name[name], "stagesub_admin_actions", set()) == actions, name


@pytest.fixture
def people(goteborg):
    users = get_user_model().objects
    users.create_user(
        "member", email="m@g.example.org", password=PASSWORD, role="member", orchestra=goteborg
    )
    users.create_user(
        "gone", email="g@g.example.org", password=PASSWORD, role="member", orchestra=goteborg
    )
    clients = {
        "admin": login(goteborg, "goteborg-admin"),
        "member": login(goteborg, "member"),
        "deactivated": login(goteborg, "gone"),
        "anonymous": host_client(goteborg),
    }
    # Deactivated after logging in: the session it holds must stop working at once.
    users.filter(username="gone").update(is_active=False)
    return clients


def _is_login_redirect(response) -> bool:
    return response.status_code == 302 and "/login/" in response["Location"]


@pytest.mark.parametrize(
    "name,route,callback", [pytest.param(*r, id=r[0]) for r in ROUTES if r[0] not in PUBLIC]
)
def test_role_matrix(people, name, route, callback):
    path = _path(route)
    admin_only = _role(callback) == "admin"
    for who in ("anonymous", "deactivated"):
        assert _is_login_redirect(people[who].get(path)), (who, path)
        assert _is_login_redirect(people[who].post(path, {"action": "delete"})), (who, path)
    member = people["member"].get(path)
    if admin_only:
        assert member.status_code == 403, (path, member.status_code)
        assert "Only an administrator" in member.content.decode()
    else:
        assert member.status_code != 403 and not _is_login_redirect(member), (path, member)
    for action in getattr(callback, "stagesub_admin_actions", ()):
        assert people["member"].post(path, {"action": action}).status_code == 403, (path, action)
        refused = people["admin"].post(path, {"action": action})
        assert refused.status_code != 403 and not _is_login_redirect(refused), (path, action)
    admin = people["admin"].get(path)
    assert admin.status_code != 403 and not _is_login_redirect(admin), (path, admin.status_code)


def test_members_do_not_see_admin_only_actions_and_see_their_role(people):
    member = people["member"].get("/musicians/").content.decode()
    admin = people["admin"].get("/musicians/").content.decode()
    assert "/musicians/import/" in admin and "/users/" in admin and "/settings/" in admin
    assert "/musicians/import/" not in member and "/users/" not in member
    assert "/settings/" not in member and "(Member)" in member
    assert "(Administrator)" in admin
