"""The whole loop in a real browser: staff send a request, the musician answers from the mail.

Log in, add a need, preview and send, deliver the mail to a real SMTP server, open the link
from the delivered mail on a phone-sized page, answer yes, and watch the staff's project page
update by itself.
"""

import datetime
import re

import pytest

from stagesub.offers import scheduler
from stagesub.projects import services as projects
from stagesub.projects.services import ProjectData
from stagesub.tenancy import use_orchestra
from tests.conftest import PASSWORD, listed_musicians
from tests.e2e.conftest import log_in

pytestmark = pytest.mark.django_db(transaction=True)


def test_send_answer_from_the_mail_and_the_project_page_updates(
    browser, page, orchestra_url, goteborg, mail_server, settings
):
    port = orchestra_url(goteborg).rsplit(":", 1)[1].rstrip("/")
    settings.PUBLIC_SCHEME, settings.PUBLIC_PORT = "http", port
    with use_orchestra(goteborg):
        seat, musicians, a_list = listed_musicians(3, name="Vik{:02d}")
        project = projects.create_project(
            ProjectData(
                name="Sibelius 2", start_date=datetime.date.today() + datetime.timedelta(days=30)
            ),
            max_projects=20,
        )
    # staff log in and add a need on the project page
    log_in(page, orchestra_url(goteborg), "goteborg-admin", PASSWORD)
    page.goto(orchestra_url(goteborg, f"/projects/{project.project_id}/"))
    page.locator("summary", has_text=re.compile("need|behov", re.I)).first.click()
    with page.expect_response(lambda r: "/need-lists/" in r.url):  # the position's lists
        page.select_option("select[name=position]", str(seat.pk))
    page.wait_for_timeout(200)  # (htmx swaps the list select in after the response)
    page.select_option("select[name=chosen_list]", f"rank:{a_list.pk}")
    page.select_option("select[name=strategy]", "sequential")
    page.fill("input[name=quantity]", "1")
    with page.expect_navigation():
        page.locator("form[action$='/needs/new/'] button.primary").click()
    # preview, then send
    page.locator("#offers-panel a[href$='/send/']").last.click()
    assert "Vik00" in page.inner_text("main")
    with page.expect_navigation():
        page.click("[data-testid=confirm-send]")
    assert page.locator("[data-testid=offer-status]").count() == 1
    # the worker delivers the mail to the SMTP server
    scheduler.run_due()
    mail = mail_server.to(musicians[0].email)
    assert len(mail) == 1
    link = re.search(r"http://\S+/r/\S+/", mail_server.text(mail[0])).group(0)
    # the musician opens the link on a phone and answers yes
    phone = browser.new_context(viewport={"width": 390, "height": 844}, locale="sv-SE")
    musician_page = phone.new_page()
    musician_page.goto(link)
    assert "Sibelius 2" in musician_page.inner_text("main")
    with musician_page.expect_navigation():
        musician_page.click("button[value=yes]")
    assert musician_page.locator("[data-state=accepted]").count() == 1, musician_page.content()[
        :3000
    ]
    phone.close()
    # the staff's page, never reloaded, shows the answer and a toast
    page.wait_for_selector(".toast", timeout=15000)
    assert "Vik00" in page.inner_text(".toast")
    assert page.locator("#offers-panel .badge-accepted").count() == 1
    assert page.inner_text("[data-testid=staffing-count]").startswith("1 ")
