"""Group e-mail: filters, the preview and its fingerprint, the outbox, delivery to a real SMTP
server, the history, and the personal link that stops group e-mails (not requests)."""

from __future__ import annotations

import datetime
import re

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from stagesub.messaging import group
from stagesub.messaging.models import GroupEmail, GroupOptOut, Message
from stagesub.offers import scheduler, services
from stagesub.offers.models import Offer
from stagesub.projects import files
from stagesub.projects import services as projects
from stagesub.projects.models import ProjectFile
from stagesub.projects.services import ProjectData
from stagesub.rankings import services as rankings
from stagesub.roster.models import Musician, Position
from stagesub.tenancy import use_orchestra
from tests.conftest import PASSWORD, host_client, login
from tests.offers.test_flow import T0, make_need

STOP_LINK = re.compile(r"https?://[^\s]+/unsubscribe/[^\s/]+/")


@pytest.fixture
def booked(goteborg):
    """A project where M00, M01 and M02 accepted (M03, M04 were never asked)."""
    need = make_need(goteborg, "parallel", 3, count=5)
    with use_orchestra(goteborg):
        for offer in services.send(need, now=T0).created:
            services.answer(offer, accepted=True, now=T0)
        Message.objects.update(status=Message.Status.SENT)  # the engine's mail is not at issue
    return need


def _form(need, **extra) -> dict:
    return {
        "project": need.project_id,
        "status": "active",
        "subject": "Rehearsal news for {{projectName}}",
        "body": "Hi {{firstName}},\nthe first rehearsal of {{projectName}} moves to 11.00.",
    } | extra


def _preview(client, data):
    response = client.post("/group-email/", data | {"preview": "1"})
    return response, response.context.get("fingerprint", "")


def _send(client, data, fingerprint):
    return client.post("/group-email/", data | {"send": "1", "fingerprint": fingerprint})


def _deliver():
    return scheduler.run_due(now=timezone.now() + datetime.timedelta(seconds=1))


def test_the_booked_musicians_get_a_personal_copy_through_the_outbox(goteborg, booked, mail_server):
    staff = login(goteborg, "goteborg-admin")
    data = _form(booked)
    preview, fingerprint = _preview(staff, data)
    page = preview.content.decode()
    assert preview.status_code == 200
    assert "3 recipients" in page and "M00 F" in page and "M02 F" in page and "M03 F" not in page
    sent = _send(staff, data, fingerprint)
    assert sent.status_code == 302
    with use_orchestra(goteborg):
        group_email = GroupEmail.objects.get()
        queued = Message.objects.filter(group_email=group_email)
        assert sorted(m.to_email for m in queued) == [
            "m00@example.se",
            "m01@example.se",
            "m02@example.se",
        ]
        assert all(m.status == "queued" and m.kind == "group" for m in queued)
    assert sent["Location"] == f"/group-email/{group_email.pk}/"
    progress = staff.get(sent["Location"]).content.decode()
    assert "0 sent" in progress and "3 waiting" in progress and "hx-trigger" in progress

    _deliver()
    [mail] = mail_server.to("m01@example.se")
    assert mail["Subject"] == "Rehearsal news for Mahler 2"
    text = mail_server.text(mail)
    assert text.startswith("Hi M01,\r\nthe first rehearsal of Mahler 2 moves to 11.00.")
    assert f"//{goteborg.subdomain}." in STOP_LINK.search(text).group(0)
    assert not mail_server.to("m03@example.se")
    done = staff.get(sent["Location"]).content.decode()
    assert "3 sent" in done and "0 waiting" in done and "hx-trigger" not in done
    history = staff.get("/group-email/sent/").content.decode()
    assert (
        "Rehearsal news for {{projectName}}" in history
        and "3 sent, 0 waiting, 0 refused" in history
    )


def test_each_recipients_delivery_state_is_shown(goteborg, booked, mail_server):
    mail_server.refuse = {"m02@example.se"}
    staff = login(goteborg, "goteborg-admin")
    data = _form(booked)
    _response, fingerprint = _preview(staff, data)
    location = _send(staff, data, fingerprint)["Location"]
    _deliver()
    page = staff.get(location)
    states = {m.to_email: m.status for m in page.context["copies"]}
    assert states == {
        "m00@example.se": "sent",
        "m01@example.se": "sent",
        "m02@example.se": "failed",
    }
    assert "refused by the mail server" in page.content.decode()
    assert "2 sent, 0 waiting, 1 refused" in staff.get("/group-email/sent/").content.decode()


def test_a_stale_preview_is_refused_and_nothing_is_sent(goteborg, booked):
    staff = login(goteborg, "goteborg-admin")
    data = _form(booked)
    _response, fingerprint = _preview(staff, data)
    with use_orchestra(goteborg):  # someone else is booked after the preview
        extra = make_need_offer_accepted(booked)
    refused = _send(staff, data, fingerprint)
    assert refused.status_code == 409
    assert "changed since the preview" in refused.content.decode()
    assert extra.musician.full_name in refused.content.decode()  # the new preview shows them
    edited = _send(staff, data | {"body": "Another text"}, refused.context["fingerprint"])
    assert edited.status_code == 409  # the text differs from the one previewed, too
    with use_orchestra(goteborg):
        assert not GroupEmail.objects.exists()
        assert not Message.objects.filter(kind="group").exists()
    # the fresh preview's fingerprint sends to all four
    assert _send(staff, data, refused.context["fingerprint"]).status_code == 302
    with use_orchestra(goteborg):
        assert Message.objects.filter(kind="group").count() == 4


def make_need_offer_accepted(need) -> Offer:
    need.quantity = 4
    need.save(update_fields=["quantity"])
    offer = services.send(need, now=T0).created[0]
    services.answer(offer, accepted=True, now=T0)
    return offer


def test_zero_recipients_is_a_clear_error_and_nothing_is_sent(goteborg, booked):
    staff = login(goteborg, "goteborg-admin")
    data = _form(booked, language="sv")  # every booked musician reads English
    response, fingerprint = _preview(staff, data)
    assert response.status_code == 400
    assert "No musician matches these choices" in response.content.decode()
    forced = _send(staff, data, fingerprint or "0" * 32)
    assert forced.status_code == 400
    with use_orchestra(goteborg):
        assert not GroupEmail.objects.exists() and not Message.objects.filter(kind="group").exists()


def test_filters_instrument_position_list_status_and_language(goteborg, booked):
    with use_orchestra(goteborg):
        viola = Position.objects.filter(instrument__name="Viola").first()
        m03, m04 = Musician.objects.filter(first_name__in=["M03", "M04"]).order_by("first_name")
        m04.status = Musician.Status.INACTIVE
        m04.save(update_fields=["status"])
        m03.preferred_language = "sv"
        m03.save(update_fields=["preferred_language"])
        a_list = booked.ranking_list
        b_list = rankings.create_list(Position.objects.get(pk=booked.position_id), "B")
        rankings.add_musicians(b_list, [m03.pk])

        def names(**filters):
            audience = group.Audience(**({"status": "active"} | filters))
            return [m.first_name for m in group.recipients(audience).musicians]

        assert names() == ["M00", "M01", "M02", "M03"]  # active only, by default
        assert names(status="") == ["M00", "M01", "M02", "M03", "M04"]
        assert names(status="inactive") == ["M04"]
        assert names(language="sv") == ["M03"]
        assert names(ranking_list=b_list) == ["M03"]
        assert names(ranking_list=a_list, status="") == ["M00", "M01", "M02", "M03", "M04"]
        assert names(position=booked.position) == ["M00", "M01", "M02", "M03"]
        assert names(instrument=booked.position.instrument, language="en") == ["M00", "M01", "M02"]
        assert names(position=viola) == []
        # with a project: booked there, as that instrument or position
        assert names(project=booked.project) == ["M00", "M01", "M02"]
        assert names(need=booked, instrument=booked.position.instrument) == ["M00", "M01", "M02"]
        assert names(project=booked.project, position=viola) == []


def test_project_variables_need_a_project_and_bad_text_is_refused_by_name(goteborg, booked):
    staff = login(goteborg, "goteborg-admin")
    no_project = _form(booked, project="")
    response, _f = _preview(staff, no_project)
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert "Unknown variable: {{projectName}}" in errors["subject"][0]
    assert "need a project" in errors["subject"][1]
    for body, named in (("Hej {{nobody}}", "{{nobody}}"), ("<p>Hej</p>", "<p>")):
        response, _f = _preview(staff, _form(booked, body=body))
        assert response.status_code == 400 and named in " ".join(
            response.context["form"].errors["body"]
        )


def test_chosen_project_files_are_attached_and_other_projects_files_refused(
    goteborg, booked, mail_server
):
    with use_orchestra(goteborg):
        schedule = files.upload(
            booked.project, name="schema.pdf", content=b"%PDF-1.4 schedule", display_name="Schema"
        )
        other = projects.create_project(
            ProjectData(name="Brahms", start_date=datetime.date(2027, 4, 5)), max_projects=20
        )
        foreign = files.upload(other, name="brahms.pdf", content=b"%PDF-1.4 x", display_name="B")
    staff = login(goteborg, "goteborg-admin")
    response, _f = _preview(staff, _form(booked, files=[foreign.pk]))
    assert response.status_code == 400
    assert response.context["form"].errors["files"] == ["Attach only files of the chosen project."]
    data = _form(booked, files=[schedule.pk])
    _response, fingerprint = _preview(staff, data)
    assert _send(staff, data, fingerprint).status_code == 302
    _deliver()
    [mail] = mail_server.to("m00@example.se")
    assert mail_server.attachments(mail) == ["schema.pdf"]
    with use_orchestra(goteborg):
        assert ProjectFile.objects.filter(pk=schedule.pk).exists()


def test_the_stop_link_stops_group_email_but_not_requests(goteborg, malmo, booked, mail_server):
    staff = login(goteborg, "goteborg-admin")
    data = _form(booked)
    _response, fingerprint = _preview(staff, data)
    _send(staff, data, fingerprint)
    _deliver()
    link = STOP_LINK.search(mail_server.text(mail_server.to("m00@example.se")[0])).group(0)
    path = "/" + link.split("/", 3)[3]

    musician = host_client(goteborg)  # no login
    assert "Stop group e-mails?" in musician.get(path).content.decode()
    with use_orchestra(goteborg):
        assert not GroupOptOut.objects.exists()  # opening the link changes nothing
    assert musician.post(path).status_code == 302
    assert "no more group e-mails" in musician.get(path + "?done=1").content.decode()
    assert musician.post(path).status_code == 302  # a second click is harmless
    assert host_client(malmo).get(path).status_code == 404  # bound to Göteborg's host
    assert host_client(goteborg).get(path[:-3] + "00/").status_code == 404  # forged

    preview, fingerprint = _preview(staff, data)
    assert [m.first_name for m in preview.context["found"].musicians] == ["M01", "M02"]
    assert "stopped group e-mails and is left out: M00 F" in preview.content.decode()
    with use_orchestra(goteborg):
        m00 = Musician.objects.get(first_name="M00")
        opt_out = GroupOptOut.objects.get(musician=m00)
    profile = staff.get(f"/musicians/{m00.musician_id}/").content.decode()
    assert 'data-testid="group-email-state"' in profile and "stopped group e-mails" in profile

    # requests for work still reach M00
    need = make_need_in_new_project(goteborg, m00)
    with use_orchestra(goteborg):
        offer = services.send(need, now=timezone.now()).created[0]
    assert offer.musician_id == m00.pk
    before = len(mail_server.to("m00@example.se"))
    _deliver()
    assert len(mail_server.to("m00@example.se")) == before + 1
    assert opt_out.at is not None


def make_need_in_new_project(orchestra, musician):
    from stagesub.projects.services import NeedData

    with use_orchestra(orchestra):
        seat = Position.objects.get(name="Tutti violin 1", instrument__name="Violin")
        project = projects.create_project(
            ProjectData(name="Sibelius", start_date=datetime.date(2027, 5, 3)), max_projects=20
        )
        a_list = rankings.create_list(seat, "B")
        rankings.add_musicians(a_list, [musician.pk])
        return projects.create_need(
            project,
            NeedData(
                position_id=seat.pk,
                quantity=1,
                strategy="sequential",
                response_time_hours=48,
                ranking_list_id=a_list.pk,
            ),
        )


def test_group_email_is_for_staff_of_the_orchestra(goteborg, booked):
    get_user_model().objects.create_user(
        "goteborg-member", password=PASSWORD, role="member", orchestra=goteborg
    )
    member = login(goteborg, "goteborg-member")
    assert member.get("/group-email/").status_code == 200
    data = _form(booked)
    _response, fingerprint = _preview(member, data)
    assert _send(member, data, fingerprint).status_code == 302
    with use_orchestra(goteborg):
        assert GroupEmail.objects.get().sent_by == "goteborg-member"
    for path in ("/group-email/", "/group-email/sent/", "/group-email/1/"):
        assert host_client(goteborg).get(path).status_code == 302  # to the login page
