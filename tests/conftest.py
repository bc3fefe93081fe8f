"""Shared fixtures: real orchestras with real databases, and clients bound to their hosts."""

from __future__ import annotations

import itertools
import os

import pytest
from django.conf import settings
from django.test import Client
from django.utils import translation

from stagesub.tenancy.models import DatabaseServer, Orchestra
from stagesub.tenancy.provisioning import ProvisionRequest, create_orchestra

BACKEND = os.environ.get("STAGESUB_TEST_BACKEND", "sqlite")
PASSWORD = "correct-horse-battery-staple"
_counter = itertools.count(1)

# tests/postgres/ holds behaviour that only PostgreSQL has (roles, CONNECT privileges, row
# locks); the SQLite run does not collect it rather than reporting it as skipped.
collect_ignore_glob = [] if BACKEND == "postgresql" else ["postgres/*"]
# tests/pgbouncer/ needs the PgBouncer that the suite starts with STAGESUB_TEST_PGBOUNCER=1.
if not os.environ.get("STAGESUB_TEST_PGBOUNCER_ADMIN_URL"):
    collect_ignore_glob.append("pgbouncer/*")


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings, request):
    # Argon2 is what production uses (tested in tests/accounts); elsewhere it only costs time.
    if "argon2" not in request.keywords:
        settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _second_factor_where_tested(settings, request):
    # Superadmins must enrol TOTP before the console opens (tested in tests/accounts, marked
    # second_factor); elsewhere console tests log in with the password alone.
    if "second_factor" not in request.keywords:
        settings.SUPERADMIN_SECOND_FACTOR = False


@pytest.fixture(autouse=True)
def _english_outside_requests():
    # Messages built outside a request (services called directly) follow the active language;
    # the tests read them in English. Pages follow the person's choice: see host_client.
    with translation.override("en"):
        yield


@pytest.fixture
def backend() -> str:
    return BACKEND


def host_for(orchestra=None) -> str:
    return f"{orchestra.subdomain}.{settings.BASE_DOMAIN}" if orchestra else settings.BASE_DOMAIN


def host_client(orchestra=None, *, language: str | None = "en", **kwargs) -> Client:
    """A test client whose every request goes to the orchestra's host (or the platform's).

    Pages are Swedish unless the person chose English; the client chooses English (the
    language the assertions are written in) unless told `language=None`.
    """
    client = Client(HTTP_HOST=host_for(orchestra), **kwargs)
    if language:
        client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    return client


@pytest.fixture
def make_orchestra(db):
    """Provision a real orchestra (own database, stamp, admin) on the backend under test."""

    def make(subdomain: str | None = None, name: str | None = None, **kwargs):
        subdomain = subdomain or f"orch{next(_counter)}"
        result = create_orchestra(
            ProvisionRequest(
                subdomain=subdomain,
                name=name or f"Orkester {subdomain}",
                admin_email=f"admin@{subdomain}.example.org",
                admin_password=PASSWORD,
                **kwargs,
            )
        )
        return result.orchestra

    return make


@pytest.fixture
def goteborg(make_orchestra):
    return make_orchestra("goteborg", "Göteborgs Symfoniker")


@pytest.fixture
def malmo(make_orchestra):
    return make_orchestra("malmo", "Malmö Symfoniorkester")


@pytest.fixture
def superadmin(db):
    from django.contrib.auth import get_user_model

    return get_user_model().objects.create_user(
        "root", email="root@example.org", password=PASSWORD, role="superadmin"
    )


def login(orchestra, username: str, password: str = PASSWORD) -> Client:
    client = host_client(orchestra)
    response = client.post("/login/", {"username": username, "password": password})
    assert response.status_code == 302, response.content.decode()[:2000]
    return client


def point_at_same_database(victim: Orchestra, target: Orchestra, tmp_path) -> None:
    """Deliberately misconfigure: victim's row now reaches target's database by other URL text."""
    server = DatabaseServer(name="same-place-other-spelling", kind=target.server.kind)
    if target.server.kind == "sqlite":
        link = tmp_path / "other-spelling"
        link.symlink_to(target.server.url)
        server.set_url(str(link))
    else:
        # The same server reached with an extra connection parameter: a different URL string.
        server.set_url(target.server.url + "&application_name=other_spelling")
    server.save()
    Orchestra.objects.filter(pk=victim.pk).update(
        server=server,
        database_name=target.database_name,
        database_user=target.database_user,
        database_password_encrypted=target.database_password_encrypted,
    )


def listed_musicians(
    count: int, *, name: str = "M{:02d}", position: str = "Tutti violin 1", **extra
):
    """In the bound orchestra: `count` musicians qualified for `position`, all on its A list in
    creation order. Returns (position, musicians, a_list)."""
    from stagesub.rankings import services as rankings
    from stagesub.roster import services as roster
    from stagesub.roster.models import Position
    from stagesub.roster.services import MusicianData

    seat = Position.objects.get(name=position, instrument__name="Violin")
    musicians = [
        roster.create_musician(
            MusicianData(
                first_name=name.format(i),
                last_name="F",
                email=f"{name.format(i).lower()}@example.se",
                position_ids=[seat.pk],
                **extra,
            ),
            max_musicians=1000,
        )
        for i in range(count)
    ]
    a_list = rankings.create_list(seat, "A")
    rankings.add_musicians(a_list, [m.pk for m in musicians])
    return seat, musicians, a_list


@pytest.fixture
def mail_server(settings):
    """A real SMTP server on a loopback port; Django's mail goes there for the test."""
    from tests.mailserver import MailServer

    server = MailServer()
    server.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", server.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_TIMEOUT = 5
    yield server
    server.stop()
