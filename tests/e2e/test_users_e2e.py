"""In Chromium: a superadmin enrols TOTP before the console opens and invites another
superadmin; an orchestra admin invites a colleague who logs in. Mail goes through a real SMTP
server on loopback; codes are computed from the device's key as the phone app would."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model

from tests.accounts.test_second_factor import code_for
from tests.conftest import PASSWORD
from tests.e2e.conftest import log_in

User = get_user_model()
NEW = "a-brand-new-passphrase-7"


def _link(mail_server, address, port):
    (message,) = mail_server.to(address)
    link = re.search(r"https?://(\S+)/invitation/(\S+)/", mail_server.text(message))
    host = link.group(1).split(":")[0]
    return f"http://{host}:{port}/invitation/{link.group(2)}/"


def _create_account(page, url, username):
    page.goto(url)
    page.fill("#id_username", username)
    page.fill("#id_password1", NEW)
    page.fill("#id_password2", NEW)
    with page.expect_navigation():
        page.get_by_role("button", name="Skapa konto").click()


@pytest.mark.second_factor
def test_superadmin_enrols_totp_then_invites_a_superadmin(
    page, live_server, settings, superadmin, mail_server
):
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = False
    port = live_server.url.rsplit(":", 1)[1]
    base = f"http://{settings.BASE_DOMAIN}:{port}/"
    log_in(page, base, "root", PASSWORD)
    page.goto(base + "superadmin/")
    assert "/account/second-factor/" in page.url  # the console waits for the second factor
    # The QR code is drawn (a broken image has no natural width).
    assert page.locator("img.qr").evaluate("img => img.complete && img.naturalWidth") > 100
    page.fill("#id_code", code_for(superadmin))
    with page.expect_navigation():
        page.get_by_role("button", name="Bekräfta").click()
    assert page.locator("[data-testid=recovery-codes] li").count() == 10
    page.goto(base + "superadmin/users/")
    page.fill("#id_email", "ops@example.org")
    with page.expect_navigation():
        page.get_by_role("button", name="Skicka inbjudan").click()
    assert "ops@example.org" in page.content()
    # The invited superadmin, in a browser of their own.
    other = page.context.browser.new_context(locale="sv-SE").new_page()
    _create_account(other, _link(mail_server, "ops@example.org", port), "ops")
    log_in(other, base, "ops", NEW)
    other.goto(base + "superadmin/")
    assert "/account/second-factor/" in other.url
    ops = User.objects.get(username="ops")
    other.fill("#id_code", code_for(ops))
    with other.expect_navigation():
        other.get_by_role("button", name="Bekräfta").click()
    other.goto(base + "superadmin/")
    assert other.url.endswith("/superadmin/") and ops.is_superadmin
    other.context.close()


def test_an_admin_invites_a_colleague_who_logs_in(page, orchestra_url, goteborg, mail_server):
    port = orchestra_url(goteborg).rsplit(":", 1)[1].strip("/")
    log_in(page, orchestra_url(goteborg), "goteborg-admin", PASSWORD)
    page.goto(orchestra_url(goteborg, "/users/"))
    page.fill("#id_email", "eva@example.se")
    page.select_option("#id_role", "member")
    with page.expect_navigation():
        page.get_by_role("button", name="Skicka inbjudan").click()
    colleague = page.context.browser.new_context(locale="sv-SE").new_page()
    _create_account(colleague, _link(mail_server, "eva@example.se", port), "eva")
    assert "/login/" in colleague.url
    log_in(colleague, orchestra_url(goteborg), "eva", NEW)
    colleague.goto(orchestra_url(goteborg, "/projects/"))
    assert "(Medlem)" in colleague.content()
    colleague.goto(orchestra_url(goteborg, "/users/"))
    assert colleague.get_by_role("heading", name="Det här kan du inte göra").is_visible()
    colleague.context.close()
