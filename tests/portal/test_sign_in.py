"""The musician's sign-in link: same answer for unknown addresses, throttled, single use (also
under concurrency), expiring, bound to the orchestra's host; the session opens only /me/."""

from __future__ import annotations

import datetime
import re
import threading
from concurrent.futures import ThreadPoolExecutor

from django.db import connections as django_connections
from django.test import override_settings
from django.utils import timezone

from stagesub.messaging.models import Message
from stagesub.portal import access
from stagesub.portal.models import SignInLink
from stagesub.tenancy import use_orchestra
from tests.conftest import host_client, listed_musicians

LINK = re.compile(r"https?://\S+/me/link/(\S+)/")


def musician_in(orchestra, **extra):
    with use_orchestra(orchestra):
        _seat, musicians, _list = listed_musicians(1, **extra)
        return musicians[0]


def ask_for_link(orchestra, email: str) -> str:
    """Request a link through /me/ and return the path the e-mail carries ("" if none)."""
    before = _link_count(orchestra)
    response = host_client(orchestra).post("/me/", {"email": email})
    assert response.status_code == 200
    assert "If the address is in the orchestra's register" in response.content.decode()
    with use_orchestra(orchestra):
        if _link_count(orchestra) == before:
            return ""
        body = Message.objects.filter(kind="portal_link").order_by("-pk").first().body
    return "/me/link/" + LINK.search(body).group(1) + "/"


def _link_count(orchestra) -> int:
    with use_orchestra(orchestra):
        return Message.objects.filter(kind="portal_link").count()


def test_a_link_signs_in_once_and_opens_the_personal_page(goteborg):
    musician = musician_in(goteborg)
    path = ask_for_link(goteborg, musician.email.upper())  # any case
    client = host_client(goteborg)
    assert client.get(path).status_code == 200  # a mail scanner's GET uses nothing
    response = client.post(path)
    assert response.status_code == 302 and response["Location"] == "/me/home/"
    page = client.get("/me/home/")
    assert page.status_code == 200 and "Hello M00!" in page.content.decode()
    assert page["Cache-Control"] == "no-store"
    # the musician session is no staff login
    assert client.get("/musicians/").status_code in (302, 403)
    # used: a second use is refused with the reason
    again = host_client(goteborg).post(path)
    assert again.status_code == 410 and "already been used" in again.content.decode()


def test_an_unknown_address_gets_the_same_answer_and_no_mail(goteborg):
    musician_in(goteborg)
    assert ask_for_link(goteborg, "nobody@example.se") == ""
    with use_orchestra(goteborg):
        assert not SignInLink.objects.exists()


def test_an_invalid_address_is_a_form_error(goteborg):
    response = host_client(goteborg).post("/me/", {"email": "not an address"})
    assert response.status_code == 400 and "error-summary" in response.content.decode()


@override_settings(PORTAL_LINKS_PER_HOUR=2)
def test_links_are_throttled_per_musician_with_the_same_answer(goteborg):
    musician = musician_in(goteborg)
    assert ask_for_link(goteborg, musician.email)
    assert ask_for_link(goteborg, musician.email)
    assert ask_for_link(goteborg, musician.email) == ""  # same page, no third mail


def test_a_link_on_another_orchestras_host_is_refused(goteborg, malmo):
    musician = musician_in(goteborg)
    musician_in(malmo)  # Malmö has a musician with the same pk
    path = ask_for_link(goteborg, musician.email)
    response = host_client(malmo).post(path)
    assert response.status_code == 404 and "for another orchestra" in response.content.decode()
    assert access.COOKIE not in response.cookies
    # and it still works where it belongs
    assert host_client(goteborg).post(path).status_code == 302


def test_an_expired_link_is_refused(goteborg):
    musician = musician_in(goteborg)
    path = ask_for_link(goteborg, musician.email)
    with use_orchestra(goteborg):
        SignInLink.objects.update(expires_at=timezone.now() - datetime.timedelta(seconds=1))
    response = host_client(goteborg).post(path)
    assert response.status_code == 410 and "expired" in response.content.decode()


def test_a_tampered_link_is_refused(goteborg):
    musician = musician_in(goteborg)
    path = ask_for_link(goteborg, musician.email)
    response = host_client(goteborg).post(path.replace("/me/link/", "/me/link/x"))
    assert response.status_code == 404 and access.COOKIE not in response.cookies


def test_a_session_from_another_orchestra_opens_nothing(goteborg, malmo):
    musician = musician_in(goteborg)
    musician_in(malmo)
    client = host_client(goteborg)
    client.post(ask_for_link(goteborg, musician.email))
    cookie = client.cookies[access.COOKIE].value
    other = host_client(malmo)
    other.cookies[access.COOKIE] = cookie
    assert other.get("/me/home/")["Location"] == "/me/"


def test_two_uses_at_once_sign_in_exactly_once(goteborg):
    musician = musician_in(goteborg)
    path = ask_for_link(goteborg, musician.email)
    token = path.split("/")[3]
    barrier = threading.Barrier(8)

    def use(_):
        try:
            with use_orchestra(goteborg):
                barrier.wait()
                return access.use_link(token, orchestra_id=goteborg.pk, now=timezone.now())
        finally:
            django_connections.close_all()

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(use, range(8)))
    assert sum(r.musician is not None for r in results) == 1
    assert {r.refused for r in results if r.musician is None} == {access.USED}
