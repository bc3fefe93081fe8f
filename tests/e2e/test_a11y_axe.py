"""axe-core (vendored, tests/e2e/vendor/) over every page of the product: no serious or critical
WCAG 2.1 A/AA violation on any page a person can reach.

The staff pages are enumerated from the orchestra host's URL conf (the same walk and fixture the
malformed-id test uses), so a new page is scanned without being listed here; only pages that are
not HTML (exports, feeds, redirects) are skipped, by what the browser gets back.
"""

from __future__ import annotations

import datetime
import re
from pathlib import Path

import pytest
from django.utils import timezone

from stagesub.offers import services as offers
from stagesub.offers.models import Offer
from stagesub.projects import services as projects
from stagesub.projects.services import NeedData, ProjectData
from stagesub.tenancy import use_orchestra
from tests.conftest import PASSWORD, listed_musicians
from tests.e2e.conftest import log_in
from tests.test_malformed_ids import ROUTES, _url, world  # noqa: F401 (world is a fixture)

pytestmark = pytest.mark.django_db(transaction=True)

AXE = (Path(__file__).parent / "vendor" / "axe-core-4.10.2" / "axe.min.js").read_text()
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
# Routes that only act (POST) or answer with something other than a page.
NOT_PAGES = {"logout", "set_language", "sms:inbound"}  # (the SMS provider's webhook)


def _is_page(name: str) -> bool:
    # The JSON API is a machine interface; its /docs page is ninja's vendored Swagger UI.
    return name not in NOT_PAGES and not name.startswith("api:") and name != "api_not_found"


def axe_findings(page) -> list[str]:
    """Serious and critical axe violations of the page as it is now, one line per node."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(AXE)
    # axe accepts an aria-describedby whose ids are missing (help text that is never read).
    dangling = page.evaluate(
        "() => [...document.querySelectorAll('[aria-describedby]')].filter(el =>"
        " el.getAttribute('aria-describedby').split(/\\s+/).some(id =>"
        " id && !document.getElementById(id))).map(el => el.id || el.outerHTML.slice(0, 80))"
    )
    result = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", TAGS
    )
    return [f"aria-describedby names a missing element: {el}" for el in dangling] + [
        f"{v['id']} ({v['impact']}): {node['target']} {node.get('failureSummary', '')[:160]}"
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
        for node in v["nodes"]
    ]


@pytest.fixture
def axe_page(browser):
    # The page's Content-Security-Policy would refuse the injected axe script.
    context = browser.new_context(locale="sv-SE", bypass_csp=True)
    page = context.new_page()
    page.set_default_timeout(15000)
    yield page
    context.close()


def _scan(page, url: str, found: dict[str, list[str]], label: str = "") -> None:
    # Asked first from the page (same host, same cookies): navigating to an export would start
    # a download, and a POST-only route answers 405.
    # A fragment (htmx swaps it into a page) is scanned as part of that page, not alone.
    kind = page.evaluate(
        "u => fetch(u).then(async r => r.ok ? (r.headers.get('content-type') || '') + ' '"
        " + (await r.text()).trimStart().slice(0, 15).toLowerCase() : '')",
        url,
    )
    if "text/html" not in kind or "<!doctype html" not in kind:
        return
    page.goto(url)
    page.wait_for_load_state("load")
    findings = axe_findings(page)
    if findings:
        found[label or url] = findings


def test_every_staff_page_has_no_serious_axe_violation(
    axe_page,
    orchestra_url,
    goteborg,
    world,  # noqa: F811 (the imported fixture)
):
    page = axe_page
    found: dict[str, list[str]] = {}
    page.goto(orchestra_url(goteborg, "/login/"))
    _scan(page, orchestra_url(goteborg, "/login/"), found)
    page.fill("input[name=username]", "goteborg-admin")
    page.fill("input[name=password]", "wrong")
    with page.expect_navigation():
        page.press("input[name=password]", "Enter")
    found_login = axe_findings(page)
    if found_login:
        found["login with errors"] = found_login
    log_in(page, orchestra_url(goteborg), "goteborg-admin", PASSWORD)
    scanned = 0
    for name in ROUTES:
        if not _is_page(name):
            continue
        _scan(page, orchestra_url(goteborg, _url(name, world)), found, name)
        scanned += 1
    assert scanned > 30
    # Each qualification checkbox is in a group named by its instrument (axe cannot tell).
    page.goto(orchestra_url(goteborg, "/musicians/new/"))
    groups = page.evaluate(
        "() => [...document.querySelectorAll('input[name=position_ids]')].map(box =>"
        " box.closest('fieldset').querySelector('legend').textContent.trim())"
    )
    assert "Violin" in groups and "Viola" in groups, groups
    # A form sent empty shows its errors and the summary.
    page.goto(orchestra_url(goteborg, f"/projects/{world['project_id']}/"))
    page.locator("summary", has_text=re.compile("behov", re.I)).first.click()
    with page.expect_navigation():
        page.locator("form[action$='/needs/new/'] button.primary").click()
    assert page.locator("[data-testid=error-summary]").count() == 1
    findings = axe_findings(page)
    if findings:
        found["need form with errors"] = findings
    assert found == {}, "\n".join(f"{k}:\n  " + "\n  ".join(v) for k, v in found.items())


@pytest.fixture
def two_offers(goteborg):
    """Two open requests to the musicians of a list, and the answer page's link of each."""
    with use_orchestra(goteborg):
        seat, _musicians, a_list = listed_musicians(2, name="Tangent{:02d}")
        project = projects.create_project(
            ProjectData(name="Brahms 4", start_date=datetime.date.today() + datetime.timedelta(30)),
            max_projects=20,
        )
        need = projects.create_need(
            project,
            NeedData(
                position_id=seat.pk,
                quantity=2,
                strategy="parallel",
                response_time_hours=48,
                ranking_list_id=a_list.pk,
            ),
        )
        sent = offers.send(need).created
        links = [offers.response_url(goteborg, offer) for offer in sent]
    return sent, links


def test_answer_page_by_keyboard_at_320_px_with_no_axe_violation(
    browser, orchestra_url, goteborg, two_offers
):
    sent, links = two_offers
    context = browser.new_context(
        viewport={"width": 320, "height": 640}, locale="sv-SE", bypass_csp=True
    )
    page = context.new_page()
    page.set_default_timeout(15000)
    path = "/" + links[0].split("/", 3)[3]
    page.goto(orchestra_url(goteborg, path))
    assert axe_findings(page) == []
    assert page.evaluate("document.documentElement.scrollWidth") <= 320
    # Keyboard only: Tab from the top until "yes" has the focus, then Enter.
    for _ in range(30):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.value") == "yes":
            break
    else:
        pytest.fail("the yes button is not reachable by Tab")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.locator("[data-state=accepted]").count() == 1
    assert axe_findings(page) == []
    assert page.evaluate("document.documentElement.scrollWidth") <= 320
    # An expired request.
    with use_orchestra(goteborg):
        Offer.objects.filter(pk=sent[1].pk).update(
            expires_at=timezone.now() - datetime.timedelta(hours=1)
        )
    page.goto(orchestra_url(goteborg, "/" + links[1].split("/", 3)[3]))
    assert page.locator("[data-state=expired]").count() == 1
    assert axe_findings(page) == []
    assert page.evaluate("document.documentElement.scrollWidth") <= 320
    context.close()
