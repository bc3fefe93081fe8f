"""The personal page: availability respected by the engine and explained in the staff preview,
answers through the answer service, contact changes logged for the staff, the calendar feed."""

from __future__ import annotations

import datetime

from django.utils import timezone

from stagesub.offers import services
from stagesub.offers.models import Offer
from stagesub.portal.models import ContactChange
from stagesub.roster.models import Musician, Unavailability
from stagesub.tenancy import use_orchestra
from tests.conftest import host_client, login
from tests.offers.test_flow import make_need
from tests.portal.test_sign_in import ask_for_link

# make_need's project starts Monday 2027-03-08 (week 10).
IN_THE_WEEK = ("2027-03-10", "2027-03-12")


def signed_in(orchestra, musician):
    client = host_client(orchestra)
    assert client.post(ask_for_link(orchestra, musician.email)).status_code == 302
    return client


def first_two(orchestra, need):
    with use_orchestra(orchestra):
        return [e.musician for e in need.ranking_list.entries.order_by("rank")][:2]


def test_a_musician_away_that_week_is_skipped_and_the_preview_says_why(goteborg):
    need = make_need(goteborg, "sequential", 1, count=3)
    first, second = first_two(goteborg, need)
    client = signed_in(goteborg, first)
    response = client.post(
        "/me/availability/", {"first_day": IN_THE_WEEK[0], "last_day": IN_THE_WEEK[1]}
    )
    assert response.status_code == 302
    staff = login(goteborg, "goteborg-admin")
    url = f"/projects/{need.project.project_id}/needs/{need.need_id}/send/"
    page = staff.get(url).content.decode()
    assert "Unavailable" in page and "said so on their page" in page
    with use_orchestra(goteborg):
        services.send(need, now=timezone.now())
        assert list(Offer.objects.values_list("musician_id", flat=True)) == [second.pk]


def test_a_period_outside_the_project_week_does_not_skip(goteborg):
    need = make_need(goteborg, "sequential", 1, count=2)
    first, _second = first_two(goteborg, need)
    with use_orchestra(goteborg):
        Unavailability.objects.create(
            musician=first,
            first_day=datetime.date(2027, 3, 15),
            last_day=datetime.date(2027, 3, 20),
        )
        services.send(need, now=timezone.now())
        assert list(Offer.objects.values_list("musician_id", flat=True)) == [first.pk]


def test_bad_periods_are_refused_with_the_error_at_the_field(goteborg):
    need = make_need(goteborg, count=1)
    (first,) = first_two(goteborg, need)
    client = signed_in(goteborg, first)
    backwards = client.post(
        "/me/availability/", {"first_day": "2027-03-12", "last_day": "2027-03-10"}
    )
    assert backwards.status_code == 400
    assert "cannot be before the first day" in backwards.content.decode()
    garbage = client.post("/me/availability/", {"first_day": "x", "last_day": ""})
    assert garbage.status_code == 400
    with use_orchestra(goteborg):
        assert not Unavailability.objects.exists()


def test_one_musician_cannot_remove_anothers_period(goteborg):
    need = make_need(goteborg, count=2)
    first, second = first_two(goteborg, need)
    with use_orchestra(goteborg):
        theirs = Unavailability.objects.create(
            musician=second, first_day=datetime.date(2027, 3, 8), last_day=datetime.date(2027, 3, 9)
        )
    client = signed_in(goteborg, first)
    assert client.post(f"/me/availability/{theirs.pk}/delete/").status_code == 404
    with use_orchestra(goteborg):
        assert Unavailability.objects.filter(pk=theirs.pk).exists()


def test_answering_on_the_page_goes_through_the_answer_service(goteborg):
    need = make_need(goteborg, "sequential", 1, count=2)
    first, _second = first_two(goteborg, need)
    with use_orchestra(goteborg):
        services.send(need, now=timezone.now())
        offer = Offer.objects.get(musician=first)
    client = signed_in(goteborg, first)
    assert "Mahler 2" in client.get("/me/home/").content.decode()
    assert client.post(f"/me/requests/{offer.offer_id}/", {"answer": "yes"}).status_code == 302
    with use_orchestra(goteborg):
        offer.refresh_from_db()
        assert offer.status == "accepted"
        assert offer.messages.filter(kind="confirmation").exists()  # the service's cascade
    page = client.get("/me/home/").content.decode()
    assert "No requests are waiting" in page and "Mahler 2" in page  # now an engagement


def test_another_musicians_request_cannot_be_answered(goteborg):
    need = make_need(goteborg, "parallel", 2, count=2)
    first, second = first_two(goteborg, need)
    with use_orchestra(goteborg):
        services.send(need, now=timezone.now())
        theirs = Offer.objects.get(musician=second)
    client = signed_in(goteborg, first)
    assert client.post(f"/me/requests/{theirs.offer_id}/", {"answer": "no"}).status_code == 404
    with use_orchestra(goteborg):
        theirs.refresh_from_db()
        assert theirs.status == "pending"


def test_contact_changes_apply_at_once_and_are_shown_to_the_staff(goteborg):
    need = make_need(goteborg, count=1)
    (first,) = first_two(goteborg, need)
    client = signed_in(goteborg, first)
    response = client.post(
        "/me/contact/",
        {"email": "new@example.se", "phone": "070-123 45 67", "preferred_language": "en"},
    )
    assert response.status_code == 302
    with use_orchestra(goteborg):
        first.refresh_from_db()
        assert (first.email, first.phone, first.preferred_language) == (
            "new@example.se",
            "+46701234567",
            "en",
        )
        assert sorted(ContactChange.objects.values_list("field", flat=True)) == [
            "email",
            "phone",
        ]
    staff = login(goteborg, "goteborg-admin")
    page = staff.get(f"/musicians/{first.musician_id}/").content.decode()
    assert 'data-testid="contact-changes"' in page and "phone" in page


def test_a_bad_phone_changes_nothing(goteborg):
    need = make_need(goteborg, count=1)
    (first,) = first_two(goteborg, need)
    client = signed_in(goteborg, first)
    response = client.post(
        "/me/contact/", {"email": "new@example.se", "phone": "12", "preferred_language": "sv"}
    )
    assert response.status_code == 400 and "not a valid phone number" in response.content.decode()
    with use_orchestra(goteborg):
        assert Musician.objects.get(pk=first.pk).email == first.email
        assert not ContactChange.objects.exists()


def test_the_calendar_feed_has_stable_uids_and_can_be_revoked(goteborg):
    need = make_need(goteborg, "sequential", 1, count=1)
    (first,) = first_two(goteborg, need)
    with use_orchestra(goteborg):
        services.send(need, now=timezone.now())
        services.answer(Offer.objects.get(), accepted=True)
    client = signed_in(goteborg, first)
    page = client.get("/me/home/").content.decode()
    feed = page.split("/me/calendar/")[1].split('"')[0]
    anonymous = host_client(goteborg)
    first_read = anonymous.get(f"/me/calendar/{feed}").content.decode()
    uid = f"UID:{need.project.project_id.lower()}@goteborg."
    assert uid in first_read and "Mahler 2" in first_read
    assert uid in anonymous.get(f"/me/calendar/{feed}").content.decode()  # same UID again
    client.post("/me/calendar/renew/")
    assert anonymous.get(f"/me/calendar/{feed}").status_code == 404
