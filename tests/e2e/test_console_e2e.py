"""The console in Chromium: edit an orchestra's plan and see its staff's limit change; suspend it
and see the suspended page with the platform's contact. The dashboard and the orchestra's page
are screenshotted at desktop and phone width (to STAGESUB_SCREENSHOTS, when set) and must not
scroll sideways."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.conf import settings

from stagesub.superadmin.stats import refresh_due
from stagesub.tenancy import use_orchestra
from stagesub.tenancy.binding import directory
from stagesub.tenancy.models import Orchestra
from stagesub.tenancy.seeding import run_demo_steps
from tests.conftest import PASSWORD
from tests.e2e.conftest import log_in

pytestmark = pytest.mark.django_db(transaction=True)

SIZES = {"desktop": (1280, 900), "phone": (390, 844)}


@pytest.fixture
def platform_url(orchestra_url, live_server):
    port = live_server.url.rsplit(":", 1)[1]
    return lambda path="/": f"http://{settings.BASE_DOMAIN}:{port}{path}"


def _console(browser, platform_url, size="desktop"):
    width, height = SIZES[size]
    context = browser.new_context(viewport={"width": width, "height": height}, locale="sv-SE")
    page = context.new_page()
    page.set_default_timeout(15000)
    log_in(page, platform_url(), "root", PASSWORD)
    return context, page


def test_edit_plan_and_the_orchestras_limit_changes(
    browser, orchestra_url, platform_url, superadmin, goteborg
):
    staff_context = browser.new_context(locale="sv-SE")
    staff = staff_context.new_page()
    log_in(staff, orchestra_url(goteborg), "goteborg-admin", PASSWORD)
    medium = goteborg.limits.projects
    assert f"0 / {medium}" in staff.inner_text("main")

    context, page = _console(browser, platform_url)
    page.goto(platform_url(f"/superadmin/orchestras/{goteborg.subdomain}/"))
    page.select_option("select[name=plan]", "small")
    page.fill("input[name=projects_limit]", "7")
    with page.expect_navigation():
        page.locator("form[action$='/plan/'] button[type=submit]").click()
    assert Orchestra.objects.get(pk=goteborg.pk).plan == "small"

    staff.reload()
    assert "0 / 7" in staff.inner_text("main")
    context.close()
    staff_context.close()


def test_suspend_and_the_orchestra_shows_the_suspended_page(
    browser, orchestra_url, platform_url, superadmin, goteborg
):
    staff_context = browser.new_context(locale="sv-SE")
    staff = staff_context.new_page()
    log_in(staff, orchestra_url(goteborg), "goteborg-admin", PASSWORD)

    context, page = _console(browser, platform_url)
    page.goto(platform_url(f"/superadmin/orchestras/{goteborg.subdomain}/"))
    # No reason: refused, the summary first on the page with the focus.
    with page.expect_navigation():
        page.locator("form[action$='/suspend/'] button[type=submit]").click()
    assert page.evaluate("document.activeElement.dataset.testid") == "error-summary"
    page.fill("form[action$='/suspend/'] input[name=reason]", "Obetald faktura")
    with page.expect_navigation():
        page.locator("form[action$='/suspend/'] button[type=submit]").click()
    assert "Obetald faktura" in page.inner_text("main")

    directory.forget()  # other processes' routing caches: within their few seconds
    response = staff.goto(orchestra_url(goteborg))
    assert response.status == 403
    assert settings.PLATFORM_CONTACT in staff.inner_text("[data-testid=platform-contact]")
    context.close()
    staff_context.close()


def test_dashboard_and_orchestra_page_fit_desktop_and_phone(
    browser, platform_url, superadmin, make_orchestra
):
    for name in ("Göteborgs Symfoniker", "Kungliga Filharmonikerna i Stockholm", "Malmö Opera"):
        orchestra = make_orchestra(name=name)
    with use_orchestra(orchestra):
        run_demo_steps(orchestra)  # numbers and a chart to look at
    refresh_due(budget=60)
    shots = (
        Path(os.environ["STAGESUB_SCREENSHOTS"]) if os.environ.get("STAGESUB_SCREENSHOTS") else None
    )
    first = orchestra
    for size, (width, _height) in SIZES.items():
        context, page = _console(browser, platform_url, size)
        for name, path in (
            ("dashboard", "/superadmin/"),
            ("dashboard-problems", "/superadmin/?problems=on"),
            ("orchestra", f"/superadmin/orchestras/{first.subdomain}/"),
        ):
            page.goto(platform_url(path))
            scroll_width = page.evaluate("document.documentElement.scrollWidth")
            if shots:
                shots.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(shots / f"{name}-{size}.png"), full_page=True)
            assert scroll_width <= width, f"{name} at {size}: {scroll_width} px wide"
        context.close()
