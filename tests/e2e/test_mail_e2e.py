"""Templates and group e-mail in a real browser: edit a template and see it in the next request
mail; send a group e-mail and see it in the sent-mail page and the mailbox of a real SMTP
server."""

import datetime
import re

import pytest

from stagesub.offers import scheduler, services
from stagesub.projects import services as projects
from stagesub.projects.services import NeedData, ProjectData
from stagesub.tenancy import use_orchestra
from tests.conftest import PASSWORD, listed_musicians
from tests.e2e.conftest import log_in

pytestmark = pytest.mark.django_db(transaction=True)


def _project_with_need(name: str, count: int):
    seat, musicians, a_list = listed_musicians(count, name="Vik{:02d}")
    project = projects.create_project(
        ProjectData(name=name, start_date=datetime.date.today() + datetime.timedelta(days=30)),
        max_projects=20,
    )
    need = projects.create_need(
        project,
        NeedData(
            position_id=seat.pk,
            quantity=count,
            strategy="parallel",
            response_time_hours=48,
            ranking_list_id=a_list.pk,
        ),
    )
    return need, musicians


def test_an_edited_template_is_in_the_next_request_mail(page, orchestra_url, goteborg, mail_server):
    with use_orchestra(goteborg):
        need, musicians = _project_with_need("Sibelius 2", 2)
    log_in(page, orchestra_url(goteborg), "goteborg-admin", PASSWORD)
    page.goto(orchestra_url(goteborg, "/templates/"))
    page.click("a[href='/templates/request/sv/']")
    body = page.locator("textarea[name=body]")
    body.fill("Hej {{firstName}}! Kan du spela i {{projectName}}? Svara här: {{responseUrl}}")
    # the live preview (htmx, server-side) follows the typing, with nothing saved yet
    page.wait_for_selector("#template-preview :text('Kan du spela i')")
    assert "Hej " in page.inner_text("#template-preview")
    body.fill("Hej {{förnamn}}")
    page.wait_for_selector("[data-testid=preview-errors]")
    assert "{{förnamn}}" in page.inner_text("[data-testid=preview-errors]")
    body.fill("Hej {{firstName}}! Kan du spela i {{projectName}}? Svara här: {{responseUrl}}")
    with page.expect_navigation():
        page.click("button[name=save]")
    assert page.locator("details.mail").count() == 1  # the history has the change
    # the next request goes out with the new text
    with use_orchestra(goteborg):
        services.send(need)
    scheduler.run_due()
    [mail] = mail_server.to(musicians[0].email)
    assert mail_server.text(mail).startswith("Hej Vik00! Kan du spela i Sibelius 2? Svara här: ")
    page.goto(orchestra_url(goteborg, "/mailbox/"))
    page.locator("details.mail summary strong").first.click()
    assert "Kan du spela i Sibelius 2?" in page.inner_text("details.mail[open] .mail-body")


def test_a_group_email_is_previewed_sent_and_in_the_mailbox(
    browser, page, orchestra_url, goteborg, mail_server
):
    with use_orchestra(goteborg):
        need, musicians = _project_with_need("Brahms 4", 3)
        for offer in services.send(need).created:
            services.answer(offer, accepted=True)
    scheduler.run_due()  # the requests and confirmations are out of the way
    received_before = len(mail_server.received)

    log_in(page, orchestra_url(goteborg), "goteborg-admin", PASSWORD)
    page.goto(orchestra_url(goteborg, "/group-email/"))
    page.select_option("select[name=project]", str(need.project_id))
    page.fill("input[name=subject]", "Ny tid för {{projectName}}")
    page.fill("textarea[name=body]", "Hej {{firstName}}!\nFörsta repetitionen börjar 11.00.")
    with page.expect_navigation():
        page.click("button[name=preview]")
    preview = page.inner_text("[data-testid=group-preview]")
    assert all(m.full_name in preview for m in musicians)
    page.once("dialog", lambda dialog: dialog.accept())  # "Send to 3 musicians?"
    with page.expect_navigation():
        page.click("[data-testid=send-group]")
    assert re.search(r"/group-email/\d+/$", page.url)
    assert page.inner_text("[data-testid=count-sent]").startswith("0")
    scheduler.run_due()
    # the progress panel updates by itself
    page.wait_for_selector("[data-testid=count-sent]:text-matches('^3')", timeout=15000)
    assert len(mail_server.received) == received_before + 3
    [mail] = [m for m in mail_server.to(musicians[1].email) if "Ny tid" in m["Subject"]]
    assert mail["Subject"] == "Ny tid för Brahms 4"
    assert "/unsubscribe/" in mail_server.text(mail)
    page.goto(orchestra_url(goteborg, "/mailbox/"))
    assert page.locator("details.mail[data-kind=group]").count() == 3
    assert "Ny tid för Brahms 4" in page.inner_text("main")
