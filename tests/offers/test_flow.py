"""From send to answer through the outbox, a real SMTP server and the musician's link."""

from __future__ import annotations

import datetime
import re

import pytest
from django.utils import timezone

from stagesub.messaging.models import Message
from stagesub.offers import scheduler, services
from stagesub.offers.models import Offer, OfferEvent
from stagesub.projects import files
from stagesub.projects import services as projects
from stagesub.projects.models import Need, ProjectFile
from stagesub.projects.services import NeedData, ProjectData
from stagesub.tenancy import use_orchestra
from stagesub.tenancy.models import Orchestra
from tests.conftest import host_client, listed_musicians

LINK = re.compile(r"https?://[^\s]+/r/[^\s/]+/")
T0 = datetime.datetime(2027, 1, 11, 9, 0, tzinfo=datetime.UTC)


def make_need(orchestra, strategy="sequential", quantity=1, count=5, language="en", **kw) -> Need:
    with use_orchestra(orchestra):
        seat, _musicians, a_list = listed_musicians(count, preferred_language=language)
        project = projects.create_project(
            ProjectData(
                name="Mahler 2",
                start_date=datetime.date(2027, 3, 8),
                rehearsal_schedule="Mån–ons 10–13",
                concert_info="Fredag 19.30",
            ),
            max_projects=20,
        )
        return projects.create_need(
            project,
            NeedData(
                position_id=seat.pk,
                quantity=quantity,
                strategy=strategy,
                response_time_hours=48,
                ranking_list_id=a_list.pk,
                **kw,
            ),
        )


def link_path(message) -> str:
    url = LINK.search(message if isinstance(message, str) else message.body).group(0)
    return "/" + url.split("/", 3)[3]


def test_sending_writes_offers_and_their_mail_in_one_transaction(goteborg):
    need = make_need(goteborg, "parallel", 2)
    with use_orchestra(goteborg):
        created = services.send(need, now=T0).created
        queued = Message.objects.filter(kind="request")
        assert sorted(m.offer_id for m in queued) == sorted(o.pk for o in created)
        assert all(m.status == "queued" for m in queued)
        body = queued.get(offer=created[0]).body
        assert "Mahler 2" in body and "Mån–ons 10–13" in body
        assert f"{goteborg.subdomain}." in LINK.search(body).group(0)
    # the control database now knows when this orchestra next has work: at once (mail)
    assert Orchestra.objects.get(pk=goteborg.pk).next_due_at == T0


def test_a_failed_send_leaves_neither_offer_nor_mail(goteborg, monkeypatch):
    need = make_need(goteborg)

    def broken(*args, **kwargs):
        raise RuntimeError("template store unavailable")

    monkeypatch.setattr("stagesub.messaging.outbox.render", broken)
    with use_orchestra(goteborg):
        with pytest.raises(RuntimeError):
            services.send(need, now=T0)
        assert not Offer.objects.exists()
        assert not Message.objects.exists()


def test_mail_is_delivered_and_the_link_answers(goteborg, mail_server):
    need = make_need(goteborg)
    with use_orchestra(goteborg):
        offer = services.send(need, now=T0).created[0]
        files.upload(
            need.project,
            name="noter.pdf",
            content=b"%PDF-1.4 sheet music",
            display_name="Noter",
            file_type=ProjectFile.FileType.SHEET_MUSIC,
            send_timing=ProjectFile.SendTiming.ON_ACCEPT,
        )
    report = scheduler.run_due(now=T0)
    assert report.orchestras[goteborg.subdomain].sent == 1
    mail = mail_server.to(offer.musician.email)
    assert len(mail) == 1 and "Mahler 2" in mail[0]["Subject"]
    path = link_path(mail_server.text(mail[0]))

    client = host_client(goteborg)
    page = client.get(path)
    assert page.status_code == 200
    assert "Mahler 2" in page.content.decode() and "Yes, I can" in page.content.decode()
    answered = client.post(path, {"answer": "yes"}, follow=True)
    assert "Thank you! You are booked." in answered.content.decode()
    with use_orchestra(goteborg):
        assert Offer.objects.get(pk=offer.pk).status == "accepted"
        assert Need.objects.get(pk=need.pk).status == "completed"
    scheduler.run_due(now=timezone.now())
    confirmation = [
        m
        for m in mail_server.to(offer.musician.email)
        if "Bekräftelse" in m["Subject"] or "Confirmation" in m["Subject"]
    ]
    assert len(confirmation) == 1
    assert mail_server.attachments(confirmation[0]) == ["noter.pdf"]
    # the second click: a friendly page, nothing changes
    again = client.post(path, {"answer": "no"}, follow=True)
    assert "You have already answered yes." in again.content.decode()
    with use_orchestra(goteborg):
        assert Offer.objects.get(pk=offer.pk).status == "accepted"


def test_a_mail_outage_delays_mail_but_loses_and_repeats_nothing(goteborg, mail_server):
    need = make_need(goteborg, "first_come", 2, count=6)
    with use_orchestra(goteborg):
        services.send(need, now=T0)
        assert Message.objects.count() == 6
    mail_server.stop()  # the mail server refuses connections
    report = scheduler.run_due(now=T0)
    # the first refused connection stops the batch: the other five are not even tried
    assert (
        report.orchestras[goteborg.subdomain].failed,
        report.orchestras["goteborg"].deferred,
    ) == (1, 5)
    with use_orchestra(goteborg):
        assert Message.objects.filter(status="queued").count() == 6
        assert sorted(Message.objects.values_list("attempts", flat=True)) == [0] * 5 + [1]
        retry_at = Message.objects.first().next_attempt_at
        assert retry_at > T0
        assert set(Message.objects.values_list("next_attempt_at", flat=True)) == {retry_at}
    # before the backoff has passed nothing is tried again
    assert Orchestra.objects.get(pk=goteborg.pk).next_due_at == retry_at
    assert scheduler.run_due(now=T0 + datetime.timedelta(seconds=5)).orchestras == {}
    # still down at the first retry
    scheduler.run_due(now=retry_at)
    with use_orchestra(goteborg):
        assert Message.objects.filter(status="queued").count() == 6
        assert sorted(Message.objects.values_list("attempts", flat=True)) == [0] * 5 + [2]
        retry_at = Message.objects.first().next_attempt_at
    mail_server.start()
    scheduler.run_due(now=retry_at)
    scheduler.run_due(now=retry_at + datetime.timedelta(hours=2))  # and again: nothing resent
    ids = [m["Message-ID"] for m in mail_server.received]
    assert len(ids) == 6 and len(set(ids)) == 6
    with use_orchestra(goteborg):
        assert Message.objects.filter(status="sent").count() == 6


def test_a_goteborg_link_is_refused_on_malmos_host(goteborg, malmo):
    need = make_need(goteborg)
    make_need(malmo)  # Malmö has an offer with the same number
    with use_orchestra(goteborg):
        services.send(need, now=timezone.now())
        path = link_path(Message.objects.get())
    with use_orchestra(malmo):
        services.send(Need.objects.get(), now=timezone.now())
    on_malmo = host_client(malmo).get(path)
    assert on_malmo.status_code == 404
    assert "This link does not work" in on_malmo.content.decode()
    assert host_client(malmo).post(path, {"answer": "yes"}).status_code == 404
    with use_orchestra(malmo):
        assert not Offer.objects.filter(status="accepted").exists()
    assert host_client(goteborg).get(path).status_code == 200


@pytest.mark.parametrize(
    "token", ["1-" + "0" * 32, "abc", "1-short", "99999999-" + "a" * 32, "-", "1-" + "z" * 400]
)
def test_forged_and_malformed_links_get_a_friendly_404(goteborg, token):
    make_need(goteborg)
    with use_orchestra(goteborg):
        services.send(Need.objects.get(), now=timezone.now())
    response = host_client(goteborg).get(f"/r/{token}/")
    assert response.status_code == 404
    assert "This link does not work" in response.content.decode()


def test_an_answer_that_is_neither_yes_nor_no_is_refused(goteborg):
    need = make_need(goteborg)
    with use_orchestra(goteborg):
        offer = services.send(need, now=timezone.now()).created[0]
        path = link_path(Message.objects.get())
    response = host_client(goteborg).post(path, {"answer": "maybe"})
    assert response.status_code == 400
    assert "Choose yes or no." in response.content.decode()
    with use_orchestra(goteborg):
        assert Offer.objects.get(pk=offer.pk).status == "pending"


def test_an_expired_link_times_the_offer_out_and_asks_the_next(goteborg):
    need = make_need(goteborg)
    sent = timezone.now() - datetime.timedelta(hours=49)
    with use_orchestra(goteborg):
        offer = services.send(need, now=sent).created[0]
        path = link_path(Message.objects.get())
    client = host_client(goteborg)
    assert client.get(path).status_code == 410
    response = client.post(path, {"answer": "yes"}, follow=True)
    assert "The time to answer has run out" in response.content.decode()
    with use_orchestra(goteborg):
        assert Offer.objects.get(pk=offer.pk).status == "timed_out"
        assert Offer.objects.filter(status="pending").exclude(pk=offer.pk).count() == 1


def test_a_late_yes_on_a_filled_first_come_need_is_told_the_seat_is_filled(goteborg):
    need = make_need(goteborg, "first_come", 1, count=3)
    with use_orchestra(goteborg):
        first, second, _third = services.send(need, now=timezone.now()).created
        paths = {m.offer_id: link_path(m) for m in Message.objects.all()}
    client = host_client(goteborg)
    client.post(paths[first.pk], {"answer": "yes"})
    late = client.post(paths[second.pk], {"answer": "yes"}, follow=True)
    assert "The seat has been filled" in late.content.decode()
    with use_orchestra(goteborg):
        assert Offer.objects.get(pk=second.pk).status == "withdrawn"
        assert Message.objects.filter(offer=second, kind="position_filled").count() == 1
        assert OfferEvent.objects.filter(offer=second, kind="late_answer").exists()


def test_a_withdrawn_offer_says_so_and_the_musician_is_told(goteborg):
    need = make_need(goteborg)
    with use_orchestra(goteborg):
        offer = services.send(need, now=timezone.now()).created[0]
        path = link_path(Message.objects.get())
        services.withdraw(offer, by="admin")
        assert Message.objects.filter(offer=offer, kind="withdrawn").count() == 1
        # the next musician is asked, and the withdrawn one is not asked again
        nxt = Offer.objects.get(status="pending")
        assert nxt.musician_id != offer.musician_id
    response = host_client(goteborg).get(path)
    assert response.status_code == 410
    assert "The request was withdrawn" in response.content.decode()


def test_the_page_speaks_the_musicians_language(goteborg):
    need = make_need(goteborg, count=2, language="sv")
    with use_orchestra(goteborg):
        services.send(need, now=timezone.now())
        message = Message.objects.get()
        assert message.language == "sv" and "Förfrågan om vikariat" in message.subject
    # the browser's own choice is English; the musician's is Swedish
    page = host_client(goteborg, language="en").get(link_path(message))
    assert "Ja, jag kan" in page.content.decode()
    assert page["Content-Language"] == "sv"


def test_the_requests_files_open_from_the_link_while_it_is_open(goteborg):
    need = make_need(goteborg)
    with use_orchestra(goteborg):
        sheet = files.upload(need.project, name="program.pdf", content=b"%PDF-1.4 program")
        hidden = files.upload(
            need.project, name="noter.pdf", content=b"%PDF-1.4 notes", send_timing="on_accept"
        )
        services.send(need, now=timezone.now())
        message = Message.objects.get()
        assert message.attachment_ids == [sheet.pk]
        path = link_path(message)
    client = host_client(goteborg)
    page = client.get(path).content.decode()
    assert "program.pdf" in page or sheet.display_name in page
    assert client.get(f"{path}files/{sheet.file_id}/").status_code == 200
    # the files for accepted musicians are not shown to someone only asked
    assert client.get(f"{path}files/{hidden.file_id}/").status_code == 404
    client.post(path, {"answer": "no"})
    assert client.get(f"{path}files/{sheet.file_id}/").status_code == 404


def test_a_batch_is_delivered_over_one_smtp_session(goteborg, mail_server):
    need = make_need(goteborg, "first_come", 2, count=6)
    with use_orchestra(goteborg):
        services.send(need, now=T0)
    scheduler.run_due(now=T0)
    assert len(mail_server.received) == 6
    assert mail_server.sessions == 1


def test_a_request_file_whose_bytes_are_gone_is_a_404_not_an_error(goteborg):
    need = make_need(goteborg)
    with use_orchestra(goteborg):
        sheet = files.upload(need.project, name="program.pdf", content=b"%PDF-1.4 program")
        services.send(need, now=timezone.now())
        path = link_path(Message.objects.get())
    client = host_client(goteborg)
    # readable ids are case-insensitive in every URL, as elsewhere in the product
    assert client.get(f"{path}files/{sheet.file_id.lower()}/").status_code == 200
    with use_orchestra(goteborg):
        files.path_of(sheet.stored).unlink()
    assert client.get(f"{path}files/{sheet.file_id}/").status_code == 404
