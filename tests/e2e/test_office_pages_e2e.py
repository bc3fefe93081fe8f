"""The pages the new user's findings changed, in Chromium at desktop and phone width.

Each page is screenshotted (to STAGESUB_SCREENSHOTS, when set, for a person to look at) and
must not scroll sideways: a long name wraps instead of widening the page.
"""

from __future__ import annotations

import datetime
import os
import re
from pathlib import Path

import pytest

from stagesub.offers import services as offers
from stagesub.projects import services as projects
from stagesub.projects.services import NeedData, ProjectData
from stagesub.roster.models import Instrument, Position
from stagesub.tenancy import use_orchestra
from tests.conftest import PASSWORD, listed_musicians
from tests.e2e.conftest import log_in

pytestmark = pytest.mark.django_db(transaction=True)

SIZES = {"desktop": (1280, 900), "phone": (390, 844)}
LONG = "Kontrabasklarinett" * 5  # 90 characters without a space


def _setup(goteborg):
    with use_orchestra(goteborg):
        seat, _musicians, a_list = listed_musicians(6, name="Vik{:02d}")
        instrument = Instrument.objects.get(name="Violin")
        Position.objects.create(position_id="POS900", instrument=instrument, name=LONG)
        project = projects.create_project(
            ProjectData(
                name="Sibelius 2", start_date=datetime.date.today() + datetime.timedelta(days=30)
            ),
            max_projects=20,
        )
        need = projects.create_need(
            project,
            NeedData(
                position_id=seat.pk,
                quantity=3,
                strategy="parallel",
                response_time_hours=48,
                ranking_list_id=a_list.pk,
            ),
        )
        offers.answer(offers.send(need).created[0], accepted=True)
        old = projects.create_project(
            ProjectData(name="Mahler 9", start_date=datetime.date(2026, 1, 5)), max_projects=20
        )
        projects.set_project_archived(old, True)
    return project, need, old


def test_changed_pages_fit_desktop_and_phone(browser, orchestra_url, goteborg):
    project, need, old = _setup(goteborg)
    shots = (
        Path(os.environ.get("STAGESUB_SCREENSHOTS", ""))
        if os.environ.get("STAGESUB_SCREENSHOTS")
        else None
    )
    pid, nid = project.project_id, need.need_id
    pages = {
        "project": f"/projects/{pid}/",
        "seats-preview": None,  # posted below
        "need-error": None,
        "projects": "/projects/?show=all",
        "archived": f"/projects/{old.project_id}/",
        "musicians": "/musicians/",
        "instruments": "/instruments/",
        "mailbox": "/mailbox/",
        "new-project-at-limit": "/projects/new/",
        "import-preview": None,
    }
    goteborg.projects_limit = 1  # Sibelius 2 is the one project not archived
    goteborg.save()
    for size, (width, height) in SIZES.items():
        context = browser.new_context(viewport={"width": width, "height": height}, locale="sv-SE")
        page = context.new_page()
        page.set_default_timeout(15000)
        log_in(page, orchestra_url(goteborg), "goteborg-admin", PASSWORD)
        for name, path in pages.items():
            if name == "seats-preview":
                page.goto(orchestra_url(goteborg, f"/projects/{pid}/needs/{nid}/quantity/"))
                page.fill("input[name=quantity]", "2")
                with page.expect_navigation():
                    page.locator("form button.primary").first.click()
                assert page.locator("[data-testid=quantity-preview]").count() == 1
            elif name == "need-error":
                page.goto(orchestra_url(goteborg, f"/projects/{pid}/"))
                page.locator("summary", has_text=re.compile("behov", re.I)).first.click()
                with page.expect_navigation():
                    page.locator("form[action$='/needs/new/'] button.primary").click()
                # The summary is first on the page, and has the focus.
                assert page.evaluate("document.activeElement.dataset.testid") == "error-summary"
            elif name == "import-preview":
                page.goto(orchestra_url(goteborg, "/musicians/import/"))
                sheet = "Förnamn;Efternamn;E-post;Telefon\nVik00;Fiolsson;vik00@example.se;\n"
                page.set_input_files(
                    "input[type=file]",
                    files=[{"name": "lista.csv", "mimeType": "text/csv", "buffer": sheet.encode()}],
                )
                with page.expect_navigation():
                    page.locator("form button.primary").click()
                assert "Fiolsson" in page.inner_text("[data-testid=import-diff]")
            else:
                page.goto(orchestra_url(goteborg, path))
            if name == "new-project-at-limit":
                assert page.locator("[data-testid=project-limit]").count() == 1
            scroll_width = page.evaluate("document.documentElement.scrollWidth")
            assert scroll_width <= width, f"{name} at {size}: {scroll_width} px wide"
            if shots:
                shots.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(shots / f"{name}-{size}.png"), full_page=True)
        context.close()
