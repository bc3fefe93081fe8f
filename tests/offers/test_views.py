"""The staff's side: preview and send, act on offers, change seats, live panel, mailbox, settings."""

from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from stagesub.messaging.models import Message
from stagesub.offers import services
from stagesub.offers.models import Offer, OfferEvent
from stagesub.orchestra.models import OrchestraSettings
from stagesub.projects import services as projects
from stagesub.projects.models import Need
from stagesub.projects.services import NeedData
from stagesub.rankings import services as rankings
from stagesub.roster.models import Position
from stagesub.tenancy import use_orchestra
from tests.conftest import login
from tests.offers.test_flow import make_need


def staff(orchestra):
    return login(orchestra, f"{orchestra.subdomain}-admin")


def test_preview_shows_who_is_asked_and_why_the_others_are_not_then_sends(goteborg):
    need = make_need(goteborg, "parallel", 2, count=4)
    with use_orchestra(goteborg):
        musicians = [e.musician for e in need.ranking_list.entries.order_by("rank")]
        musicians[0].status = "inactive"
        musicians[0].save()
    client = staff(goteborg)
    url = f"/projects/{need.project.project_id}/needs/{need.need_id}/send/"
    page = client.get(url).content.decode()
    assert "Will be asked now" in page and "Inactive or archived" in page
    assert "Send 2 requests" in page
    with use_orchestra(goteborg):
        assert not Offer.objects.exists()  # the preview wrote nothing
    response = client.post(url)
    assert response.status_code == 302
    with use_orchestra(goteborg):
        asked = list(Offer.objects.order_by("pk").values_list("musician_id", flat=True))
        assert asked == [musicians[1].pk, musicians[2].pk]
        assert set(OfferEvent.objects.values_list("by", flat=True)) == {"goteborg-admin"}


def test_project_send_gives_a_shared_musician_to_the_first_need_processed(goteborg):
    need = make_need(goteborg, "sequential", 1, count=3)
    with use_orchestra(goteborg):
        viola = (
            Position.objects.filter(instrument__name="Viola").order_by("hierarchy_level").first()
        )
        shared = need.ranking_list.entries.get(rank=1).musician
        shared.qualification_links.create(position=viola)
        viola_list = rankings.create_list(viola, "A")
        rankings.add_musicians(viola_list, [shared.pk])
        projects.create_need(
            need.project,
            NeedData(
                position_id=viola.pk,
                quantity=1,
                strategy="sequential",
                response_time_hours=48,
                ranking_list_id=viola_list.pk,
            ),
        )
    client = staff(goteborg)
    page = client.get(f"/projects/{need.project.project_id}/send/").content.decode()
    assert "Will be asked for" in page  # the viola need sees the violin need took them
    client.post(f"/projects/{need.project.project_id}/send/")
    with use_orchestra(goteborg):
        offer = Offer.objects.get(musician=shared)
        assert offer.need_id == need.pk
        assert Offer.objects.count() == 1  # the viola need had nobody else


def test_smart_setting_keeps_the_musician_for_the_need_where_ranked_best(goteborg):
    need = make_need(goteborg, "sequential", 1, count=3)
    with use_orchestra(goteborg):
        OrchestraSettings.objects.update_or_create(pk=1, defaults={"conflict_rule": "smart"})
        viola = (
            Position.objects.filter(instrument__name="Viola").order_by("hierarchy_level").first()
        )
        entries = need.ranking_list.entries.order_by("rank")
        shared = entries[2].musician  # third on the violin list, first on the viola list
        shared.qualification_links.create(position=viola)
        viola_list = rankings.create_list(viola, "A")
        rankings.add_musicians(viola_list, [shared.pk])
        viola_need = projects.create_need(
            need.project,
            NeedData(
                position_id=viola.pk,
                quantity=1,
                strategy="sequential",
                response_time_hours=48,
                ranking_list_id=viola_list.pk,
            ),
        )
        services.send_project(need.project)
        assert Offer.objects.get(musician=shared).need_id == viola_need.pk


def test_staff_record_a_phone_answer_withdraw_and_resend(goteborg):
    need = make_need(goteborg, "parallel", 2, count=5)
    with use_orchestra(goteborg):
        first, second = services.send(need).created
    client = staff(goteborg)
    client.post(f"/offers/{first.offer_id}/", {"action": "record_yes"})
    client.post(f"/offers/{second.offer_id}/", {"action": "withdraw"})
    with use_orchestra(goteborg):
        assert Offer.objects.get(pk=first.pk).status == "accepted"
        assert Offer.objects.get(pk=second.pk).status == "withdrawn"
        assert Message.objects.filter(offer=second, kind="withdrawn").exists()
        assert Offer.objects.filter(status="pending").count() == 1  # the seat is asked again
        request = Message.objects.get(offer=first, kind="request")
        pending = Offer.objects.get(status="pending")
        pending_request = Message.objects.get(offer=pending, kind="request")
    # a second phone answer changes nothing and says why
    again = client.post(f"/offers/{first.offer_id}/", {"action": "record_no"}, follow=True)
    assert "no longer waiting for an answer" in again.content.decode()
    refused = client.post(
        f"/offers/{first.offer_id}/", {"action": "resend", "message": request.pk}, follow=True
    )
    assert "no longer open" in refused.content.decode()
    with use_orchestra(goteborg):
        confirmation = Message.objects.get(offer=first, kind="confirmation")
    client.post(f"/offers/{first.offer_id}/", {"action": "resend", "message": confirmation.pk})
    with use_orchestra(goteborg):
        assert Message.objects.filter(offer=first, kind="request").count() == 1
        assert Message.objects.filter(offer=first, kind="confirmation").count() == 2
        assert OfferEvent.objects.filter(offer=first, kind="resent").exists()
    client.post(f"/offers/{pending.offer_id}/", {"action": "resend", "message": pending_request.pk})
    with use_orchestra(goteborg):
        assert Message.objects.filter(offer=pending, kind="request").count() == 2
    log = client.get(f"/offers/{first.offer_id}/").content.decode()
    for line in ("Request sent", "Answered yes", "Message sent again", "goteborg-admin"):
        assert line in log
    assert (
        client.post(f"/offers/{first.offer_id}/", {"action": "resend", "message": "x"}).status_code
        == 400  # malformed (tests/test_malformed_ids.py); a well-formed unknown one is a 404
    )


def test_another_orchestras_staff_cannot_reach_the_offer(goteborg, malmo):
    need = make_need(goteborg)
    with use_orchestra(goteborg):
        offer = services.send(need).created[0]
    make_need(malmo)
    assert staff(malmo).get(f"/offers/{offer.offer_id}/").status_code == 404
    assert (
        staff(malmo).post(f"/offers/{offer.offer_id}/", {"action": "withdraw"}).status_code == 404
    )
    with use_orchestra(goteborg):
        assert Offer.objects.get(pk=offer.pk).status == "pending"


def test_raising_the_seats_of_a_filled_need_reopens_it_and_asks_more(goteborg):
    need = make_need(goteborg, "sequential", 1, count=4)
    with use_orchestra(goteborg):
        services.answer(services.send(need).created[0], accepted=True)
        assert Need.objects.get(pk=need.pk).status == "completed"
    client = staff(goteborg)
    url = f"/projects/{need.project.project_id}/needs/{need.need_id}/quantity/"
    preview = client.post(url, {"quantity": "2"})
    fingerprint = preview.context["preview"].fingerprint
    client.post(url, {"quantity": "2", "fingerprint": fingerprint, "confirm": "1"})
    with use_orchestra(goteborg):
        assert Need.objects.get(pk=need.pk).status == "active"
        assert Offer.objects.filter(status="pending").count() == 1
    below = client.post(url, {"quantity": "0"})
    assert below.status_code == 400 and "between 1 and 500" in below.content.decode()
    word = client.post(url, {"quantity": "two"})
    assert word.status_code == 400 and "whole number" in word.content.decode()


def test_changing_seats_previews_who_is_withdrawn_and_asked_before_sending_anything(goteborg):
    need = make_need(goteborg, "parallel", 3, count=6)
    with use_orchestra(goteborg):
        out = services.send(need).created
        names = [o.musician.full_name for o in out]
        queued = Message.objects.count()
    client = staff(goteborg)
    project_page = client.get(f"/projects/{need.project.project_id}/").content.decode()
    panel = project_page.split('id="offers-panel"')[1].split("</section>")[0]
    assert "<input" not in panel and "Change seats" in panel  # no field in what refreshes
    url = f"/projects/{need.project.project_id}/needs/{need.need_id}/quantity/"
    assert client.get(url).status_code == 200
    fewer = client.post(url, {"quantity": "2"})
    page = fewer.content.decode()
    assert fewer.status_code == 200 and "Withdrawn and told by e-mail:" in page
    assert names[2] in page and names[0] not in page.split("Withdrawn and told")[1][:200]
    more = client.post(url, {"quantity": "4"}).content.decode()
    assert "Asked by e-mail now:" in more
    with use_orchestra(goteborg):  # previews sent and changed nothing
        assert Message.objects.count() == queued
        assert Need.objects.get(pk=need.pk).quantity == 3
        # Someone answers no meanwhile: the confirmed preview no longer holds.
        services.answer(out[2], accepted=False)
        queued = Message.objects.count()
    stale = client.post(
        url,
        {"quantity": "2", "fingerprint": fewer.context["preview"].fingerprint, "confirm": "1"},
    )
    assert stale.status_code == 409 and "Nothing was sent" in stale.content.decode()
    with use_orchestra(goteborg):
        assert Message.objects.count() == queued
        assert Need.objects.get(pk=need.pk).quantity == 3
    fresh = stale.context["preview"].fingerprint
    done = client.post(url, {"quantity": "2", "fingerprint": fresh, "confirm": "1"})
    assert done.status_code == 302
    with use_orchestra(goteborg):
        assert Need.objects.get(pk=need.pk).quantity == 2
        assert Offer.objects.filter(need=need, status="pending").count() == 2


def test_editing_the_seats_of_a_need_with_requests_out_is_refused_in_favour_of_the_preview(
    goteborg,
):
    need = make_need(goteborg, "parallel", 3, count=6)
    with use_orchestra(goteborg):
        services.send(need)
        queued = Message.objects.count()
        with pytest.raises(ValidationError) as refused:
            projects.update_need(
                need,
                NeedData(
                    position_id=need.position_id,
                    quantity=2,
                    strategy="parallel",
                    response_time_hours=48,
                    ranking_list_id=need.ranking_list_id,
                ),
            )
        assert "Change seats" in str(refused.value)
        assert Offer.objects.filter(status="pending").count() == 3
        assert Message.objects.count() == queued


def test_the_live_panel_shows_answers_and_a_toast(goteborg):
    need = make_need(goteborg, "parallel", 2, count=4)
    with use_orchestra(goteborg):
        first = services.send(need).created[0]
    client = staff(goteborg)
    project_page = client.get(f"/projects/{need.project.project_id}/").content.decode()
    assert 'hx-trigger="every 5s"' in project_page and "0 of 2 seats filled" in project_page
    with use_orchestra(goteborg):
        since = OfferEvent.objects.order_by("-pk").first().pk
        services.answer(first, accepted=True)
    panel = client.get(f"/projects/{need.project.project_id}/live/?since={since}").content.decode()
    assert "1 of 2 seats filled" in panel
    assert f"{first.musician.full_name} accepted the request" in panel
    # seen once: the next poll carries the new mark and shows no toast again
    quiet = client.get(
        f"/projects/{need.project.project_id}/live/?since={since + 10}"
    ).content.decode()
    assert "accepted the request" not in quiet
    assert client.get(f"/projects/{need.project.project_id}/live/?since=x").status_code == 200


def test_mailbox_lists_sent_mail_with_working_links(goteborg):
    need = make_need(goteborg)
    with use_orchestra(goteborg):
        services.send(need, now=timezone.now() - datetime.timedelta(minutes=1))
    page = staff(goteborg).get("/mailbox/").content.decode()
    assert "Mahler 2" in page and "/r/" in page
    assert staff(goteborg).get("/mailbox/?status=nonsense&page=999").status_code == 200


def test_settings_are_validated_next_to_the_field(goteborg):
    client = staff(goteborg)
    bad = client.post("/settings/", {"reminder_percentage": "95", "conflict_rule": "smart"})
    assert bad.status_code == 400
    assert "less than or equal to 90" in bad.content.decode()
    client.post("/settings/", {"reminder_percentage": "50", "conflict_rule": "smart"})
    with use_orchestra(goteborg):
        current = OrchestraSettings.current()
        assert (current.reminder_percentage, current.conflict_rule) == (50, "smart")


def test_readable_ids_in_offer_urls_are_case_insensitive(goteborg):
    need = make_need(goteborg)
    with use_orchestra(goteborg):
        offer = services.send(need).created[0]
    client = staff(goteborg)
    project_id, need_id = need.project.project_id.lower(), need.need_id.lower()
    assert client.get(f"/projects/{project_id}/needs/{need_id}/send/").status_code == 200
    assert client.get(f"/offers/{offer.offer_id.lower()}/").status_code == 200


def test_no_requests_for_an_archived_or_past_project_and_archiving_says_so(goteborg):
    need = make_need(goteborg, "parallel", 2, count=4)
    project = need.project
    client = staff(goteborg)
    archived = client.post(
        f"/projects/{project.project_id}/action/", {"action": "archive"}, follow=True
    )
    page = archived.content.decode()
    assert "was archived" in page and 'data-testid="archived-badge"' in page
    assert 'data-testid="requests-closed"' in page and "/send/" not in page
    for show in ("archived", "all"):
        listing = client.get(f"/projects/?show={show}").content.decode()
        assert "Mahler 2" in listing and "badge-archived" in listing
    with use_orchestra(goteborg):
        with pytest.raises(ValidationError, match="archived"):
            services.send(need)
        with pytest.raises(ValidationError, match="archived"):
            services.send_project(project)
    refused = client.post(f"/projects/{project.project_id}/send/", follow=True)
    assert "archived" in refused.content.decode()
    client.post(f"/projects/{project.project_id}/action/", {"action": "restore"})
    with use_orchestra(goteborg):
        first = services.send(need).created[0]
        # The week is over: nothing new is sent, a no is not replaced, the yes still counts.
        after = timezone.make_aware(datetime.datetime(2027, 4, 1, 12))
        with pytest.raises(ValidationError, match="week is over"):
            services.send(need, now=after)
        services.answer(first, accepted=False, now=after)
        assert Offer.objects.count() == 2


def test_project_page_offers_pause_or_resume_and_counts_staffing_in_one_place(goteborg):
    need = make_need(goteborg, "parallel", 2, count=4)
    with use_orchestra(goteborg):
        services.answer(services.send(need).created[0], accepted=True)
    client = staff(goteborg)
    url = f"/projects/{need.project.project_id}/"
    page = client.get(url).content.decode()
    assert "Pause project" in page and "Resume project" not in page
    assert page.count("% (1/2)") == 1 and "1 of 2 seats filled" in page
    panel = page.split('id="offers-panel"')[1].split("</section>")[0]
    assert "% (1/2)" in panel  # the figure that refreshes is the only one
    client.post(f"{url}action/", {"action": "pause"})
    page = client.get(url).content.decode()
    assert "Resume project" in page and "Pause project" not in page
