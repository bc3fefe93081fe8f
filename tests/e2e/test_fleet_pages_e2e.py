"""The console's fleet pages and self-service signup, in Chromium.

Resolving an incident: refused until a clean isolation check started from the console has run
in the worker, then resolved with a note. Signup: the form, the confirmation link and the login
link both read from a real SMTP server on loopback, the password chosen on the new orchestra's
own host. Every page is screenshotted at 1280 and 390 px (to STAGESUB_SCREENSHOTS, when set)
and must not scroll sideways.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from django.core.management import call_command

from stagesub.tenancy import audit
from stagesub.tenancy.models import IsolationIncident, Orchestra
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)

SIZES = {"desktop": (1280, 900), "phone": (390, 844)}


@pytest.fixture
def platform_url(live_server, settings):
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False
    port = live_server.url.rsplit(":", 1)[1]
    # Links in e-mails point at the live server.
    settings.PUBLIC_SCHEME, settings.PUBLIC_PORT = "http", port
    return f"http://{settings.BASE_DOMAIN}:{port}"


def _shoot(page, name: str) -> None:
    folder = os.environ.get("STAGESUB_SCREENSHOTS")
    for size, (width, height) in SIZES.items():
        page.set_viewport_size({"width": width, "height": height})
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 1, f"{name} scrolls sideways at {width} px"
        if folder:
            Path(folder).mkdir(parents=True, exist_ok=True)
            page.screenshot(path=f"{folder}/{name}-{size}.png", full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})


def _log_in(page, base: str) -> None:
    page.goto(base + "/login/")
    page.fill("input[name=username]", "root")
    page.fill("input[name=password]", PASSWORD)
    with page.expect_navigation():
        page.press("input[name=password]", "Enter")


def test_resolve_an_incident_after_a_clean_check(browser, platform_url, superadmin, goteborg):
    incident = IsolationIncident.objects.create(summary="shared database x: goteborg, malmo")
    audit.record("server.added", actor_label="=cmd|' /C calc'!A0", server="pg-1")
    page = browser.new_context(locale="sv-SE").new_page()
    page.set_default_timeout(15000)
    _log_in(page, platform_url)
    page.goto(f"{platform_url}/superadmin/fleet/incidents/{incident.pk}/")
    assert page.locator("[data-testid=refusal]").is_visible()
    assert page.locator("form.card button[type=submit]").is_disabled()
    _shoot(page, "incident-open")
    with page.expect_navigation():
        page.click("[data-testid=latest-check] button")
    assert page.locator("[data-testid=latest-check] .badge-queued").is_visible()
    call_command("worker", "--once")
    page.reload()
    assert page.locator("[data-testid=latest-check] .badge-active").is_visible()
    assert page.locator("[data-testid=refusal]").count() == 0
    page.fill("textarea[name=note]", "Malmö's server entry corrected")
    with page.expect_navigation():
        page.click("form.card button[type=submit]")
    incident.refresh_from_db()
    assert incident.resolved_at and incident.resolution_note == "Malmö's server entry corrected"
    assert "Malmö's server entry corrected" in page.inner_text("[data-testid=timeline]")
    _shoot(page, "incident-resolved")
    for name, path in [
        ("incidents", "/superadmin/fleet/incidents/"),
        ("servers", "/superadmin/fleet/servers/"),
        ("audit", "/superadmin/fleet/audit/"),
        ("jobs", "/superadmin/fleet/jobs/"),
        ("worker", "/superadmin/fleet/worker/"),
        ("signups", "/superadmin/signups/"),
    ]:
        page.goto(platform_url + path)
        _shoot(page, name)
    page.goto(platform_url + "/superadmin/fleet/audit/?since=not-a-date")
    assert page.evaluate("document.activeElement.dataset.testid") == "error-summary"
    _shoot(page, "audit-error")
    page.context.close()


def _link(mail_server, address: str, path: str) -> str:
    text = "\n".join(mail_server.text(m) for m in mail_server.to(address))
    found = re.findall(r"https?://\S+" + re.escape(path) + r"\S+/", text)
    assert found, text
    return found[-1]


def test_signup_through_the_real_mail_server(browser, platform_url, settings, mail_server):
    settings.SIGNUP_ENABLED = True
    page = browser.new_context(locale="sv-SE").new_page()
    page.set_default_timeout(15000)
    page.goto(platform_url + "/signup/")
    page.fill("input[name=orchestra_name]", "Uppsala\u2028Kammarorkester")
    page.fill("input[name=contact_name]", "Eva Ek")
    page.fill("input[name=email]", "eva@uppsala.example.org")
    with page.expect_navigation():
        page.click("button[type=submit]")
    assert page.evaluate("document.activeElement.dataset.testid") == "error-summary"
    _shoot(page, "signup-error")
    page.fill("input[name=orchestra_name]", "Uppsala Kammarorkester")
    page.fill("input[name=subdomain]", "uppsala")
    _shoot(page, "signup-form")
    with page.expect_navigation():
        page.click("button[type=submit]")
    assert page.locator("[data-testid=signup-sent]").is_visible()
    _shoot(page, "signup-sent")
    page.goto(_link(mail_server, "eva@uppsala.example.org", "/signup/confirm/"))
    _shoot(page, "signup-confirm")
    with page.expect_navigation():
        page.click("button[type=submit]")
    assert page.locator("[data-testid=signup-confirmed]").is_visible()
    _shoot(page, "signup-confirmed")
    call_command("worker", "--once")
    orchestra = Orchestra.objects.get(subdomain="uppsala")
    welcome = _link(mail_server, "eva@uppsala.example.org", "/welcome/")
    assert welcome.startswith(f"http://uppsala.{settings.BASE_DOMAIN}:")
    page.goto(welcome)
    _shoot(page, "signup-welcome")
    page.fill("input[name=new_password1]", "a-long-and-fine-passphrase-42")
    page.fill("input[name=new_password2]", "a-long-and-fine-passphrase-42")
    with page.expect_navigation():
        page.click("button[type=submit]")
    assert page.url.rstrip("/").endswith(f"uppsala.{settings.BASE_DOMAIN}:{settings.PUBLIC_PORT}")
    assert orchestra.name in page.inner_text("header")
    page.goto(welcome)
    assert page.locator("[data-testid=signup-refused]").is_visible()
    page.context.close()
