"""The Content-Security-Policy in a real browser: staff and superadmin pages load with no policy
violation, and the behaviour moved out of inline scripts (confirmations, auto-submitting
filters, the week hint, the subdomain suggestion) still works."""

from __future__ import annotations

import re

import pytest

from stagesub.tenancy import use_orchestra
from tests.conftest import PASSWORD, listed_musicians
from tests.e2e.conftest import log_in

pytestmark = pytest.mark.django_db(transaction=True)

# Recorded by the page itself; Playwright's init scripts are not subject to the page's policy.
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__cspViolations.push(e.violatedDirective + " " + (e.blockedURI || "inline"));
});
"""


@pytest.fixture
def watched(page):
    messages: list[str] = []
    page.add_init_script(RECORD_VIOLATIONS)
    page.on("console", lambda m: messages.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: messages.append(f"page error: {exc}"))

    def violations() -> list[str]:
        seen = page.evaluate("window.__cspViolations || []")
        return seen + [m for m in messages if "Content Security Policy" in m or "page error" in m]

    return page, violations


def test_staff_pages_load_without_policy_violations(watched, orchestra_url, goteborg):
    page, violations = watched
    with use_orchestra(goteborg):
        _seat, musicians, a_list = listed_musicians(3, name="Csp{:02d}")
        rankings_list_id = a_list.ranking_list_id
        musician_id = musicians[0].musician_id
    log_in(page, orchestra_url(goteborg), "goteborg-admin", PASSWORD)
    for path in [
        "/",
        "/projects/",
        "/projects/new/",
        "/musicians/",
        f"/musicians/{musician_id}/",
        "/rankings/",
        f"/rankings/{rankings_list_id}/",
        "/instruments/",
        "/mailbox/",
        "/settings/",
        "/no-such-page/",
    ]:
        page.goto(orchestra_url(goteborg, path))
        page.wait_for_load_state("load")
        assert violations() == [], f"{path}: {violations()}"


def test_moved_behaviour_still_works(watched, orchestra_url, goteborg):
    page, violations = watched
    with use_orchestra(goteborg):
        _seat, musicians, _ = listed_musicians(1, name="Conf{:02d}")
        musician_id = musicians[0].musician_id
    log_in(page, orchestra_url(goteborg), "goteborg-admin", PASSWORD)

    # the week of the chosen start date is shown as it is picked
    page.goto(orchestra_url(goteborg, "/projects/new/"))
    page.fill("#id_start_date", "2027-01-04")
    page.dispatch_event("#id_start_date", "change")
    assert re.fullmatch(r"\S+ 1", page.inner_text("#week-hint"))

    # a filter select submits its form when the choice changes
    page.goto(orchestra_url(goteborg, "/projects/"))
    with page.expect_navigation():
        page.select_option("select[name=show]", "past")
    assert "show=past" in page.url

    # a destructive button asks first, and "cancel" sends nothing
    page.goto(orchestra_url(goteborg, f"/musicians/{musician_id}/"))
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    questions: list[str] = []

    def dismiss(dialog):
        questions.append(dialog.message)
        dialog.dismiss()

    page.once("dialog", dismiss)
    page.locator("button[value=archive]").first.click()
    page.wait_for_timeout(300)
    assert questions and posts == []
    page.once("dialog", lambda dialog: dialog.accept())
    with page.expect_navigation():
        page.locator("button[value=archive]").first.click()
    assert len(posts) == 1
    assert violations() == []


def test_superadmin_subdomain_suggestion_without_inline_script(
    watched, live_server, settings, superadmin
):
    page, violations = watched
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = False
    port = live_server.url.rsplit(":", 1)[1]
    base = f"http://{settings.BASE_DOMAIN}:{port}/"
    log_in(page, base, "root", PASSWORD)
    page.goto(base + "superadmin/orchestras/new/")
    page.fill("#id_name", "Örebro Kammarorkester")
    assert page.input_value("#id_subdomain") == "orebro-kammarorkester"
    assert violations() == []


def test_a_violation_would_be_seen(watched, orchestra_url, goteborg):
    # The watcher itself works: an inline script injected into a served page is refused and seen.
    page, violations = watched
    page.goto(orchestra_url(goteborg, "/login/"))
    page.evaluate(
        "() => { const s = document.createElement('script'); s.textContent = 'window.x = 1';"
        " document.body.appendChild(s); }"
    )
    page.wait_for_timeout(200)
    assert any("script-src" in v for v in violations())
