"""Data rights: export everything about a musician; erasure leaves no personal data anywhere
(every text column of every orchestra table, the file store, the mailbox folder) while the
history keeps its counts; retention by the worker; the commands."""

from __future__ import annotations

import datetime
import io
import json
from pathlib import Path

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from stagesub.messaging import delivery
from stagesub.messaging.models import Message
from stagesub.offers import services
from stagesub.offers.models import Offer
from stagesub.orchestra.storage import storage_root
from stagesub.portal import retention, rights
from stagesub.portal.models import Erasure, Retention
from stagesub.projects import files
from stagesub.roster.models import Musician, Unavailability
from stagesub.tenancy import use_orchestra
from stagesub.tenancy.models import AuditEvent
from stagesub.tenancy.sides import OrchestraAppConfig
from tests.conftest import PASSWORD, login
from tests.offers.test_flow import make_need

NAME, EMAIL, PHONE = "Xaveria Quintbrook", "xaveria.q@example.se", "+46701112233"


@pytest.fixture
def mailbox(settings, tmp_path):
    settings.EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    settings.EMAIL_FILE_PATH = tmp_path / "mailbox"
    return tmp_path / "mailbox"


def person_with_history(orchestra, mailbox) -> tuple[Musician, object]:
    """A musician who was asked, answered, got mail delivered, is named in a file and notes."""
    need = make_need(orchestra, "sequential", 1, count=2)
    with use_orchestra(orchestra):
        musician = need.ranking_list.entries.get(rank=1).musician
        first, last = NAME.split()
        Musician.objects.filter(pk=musician.pk).update(
            first_name=first, last_name=last, email=EMAIL, phone=PHONE, notes="Ring 0701112233"
        )
        Unavailability.objects.create(
            musician=musician,
            first_day=datetime.date(2027, 5, 1),
            last_day=datetime.date(2027, 5, 2),
        )
        files.upload(
            need.project, name="seating.txt", content=f"Stämning: {NAME}".encode(), need=need
        )
        files.upload(need.project, name="notes.txt", content=b"Mahler 2, del 1", need=need)
        pending_import = storage_root() / "imports"
        pending_import.mkdir(exist_ok=True)
        (pending_import / "abc.bin").write_text(f"Förnamn;Efternamn;E-post\n{NAME};{EMAIL}")
        need.project.concert_info = f"Solist {NAME}"
        need.project.save()
        services.send(need, now=timezone.now())
        services.answer(Offer.objects.get(musician=musician), accepted=True)
        delivery.deliver_due(orchestra_name=orchestra.name, now=timezone.now())
        musician.refresh_from_db()
    assert any(NAME in p.read_text() for p in mailbox.iterdir())  # delivered there
    return musician, need


def personal_data_left(orchestra, mailbox: Path) -> list[str]:
    """Every place in the orchestra's data that still holds the name, e-mail or phone."""
    terms = [NAME, NAME.split()[1], EMAIL, PHONE, "0701112233"]
    found = []
    with use_orchestra(orchestra):
        for config in apps.get_app_configs():
            if not isinstance(config, OrchestraAppConfig):
                continue
            for model in config.get_models():
                for row in model.objects.values_list():
                    text = json.dumps(row, default=str, ensure_ascii=False).lower()
                    found += [f"{model._meta.label}: {t}" for t in terms if t.lower() in text]
        for path in storage_root().rglob("*"):
            if path.is_file():
                content = path.read_bytes().lower()
                found += [f"file {path.name}: {t}" for t in terms if t.lower().encode() in content]
    for path in mailbox.iterdir():
        text = path.read_text(errors="replace").lower()
        found += [f"mailbox {path.name}: {t}" for t in terms if t.lower() in text]
    return found


def test_export_has_everything_stored_about_the_musician(goteborg, mailbox):
    musician, _need = person_with_history(goteborg, mailbox)
    staff = login(goteborg, "goteborg-admin")
    response = staff.get(f"/musicians/{musician.musician_id}/data.json")
    assert response.status_code == 200 and "attachment" in response["Content-Disposition"]
    data = json.loads(response.content)
    assert data["musician"]["email"] == EMAIL and data["musician"]["phone"] == PHONE
    assert {"offers.Offer", "messaging.Message", "roster.Unavailability"} <= set(data["related"])
    assert any(NAME.split()[0] in m["body"] for m in data["related"]["messaging.Message"])
    page = staff.get(f"/musicians/{musician.musician_id}/data/").content.decode()
    assert EMAIL in page and "Mahler 2" in page


def test_erasure_leaves_no_personal_data_anywhere_and_keeps_the_counts(goteborg, mailbox):
    musician, need = person_with_history(goteborg, mailbox)
    assert personal_data_left(goteborg, mailbox)  # the search finds them before
    with use_orchestra(goteborg):
        counts = (Offer.objects.count(), Message.objects.count(), Musician.objects.count())
    staff = login(goteborg, "goteborg-admin")
    url = f"/musicians/{musician.musician_id}/erase/"
    wrong = staff.post(url, {"confirm": "yes"})
    assert wrong.status_code == 400 and "error-summary" in wrong.content.decode()
    assert personal_data_left(goteborg, mailbox)  # nothing half-done
    assert staff.post(url, {"confirm": musician.musician_id}).status_code == 302
    assert personal_data_left(goteborg, mailbox) == []
    with use_orchestra(goteborg):
        assert (Offer.objects.count(), Message.objects.count(), Musician.objects.count()) == counts
        assert Offer.objects.get(musician=musician).status == "accepted"  # history kept
        assert Erasure.objects.get(musician=musician).by == "goteborg-admin"
        # the other file is untouched
        assert files.path_of(need.files.get().stored).read_bytes() == b"Mahler 2, del 1"
    event = AuditEvent.objects.get(action="musician.erased")
    assert (
        event.orchestra_id == goteborg.pk and event.details["musician_id"] == musician.musician_id
    )
    # irreversible: a second erasure is refused
    assert staff.post(url, {"confirm": musician.musician_id}).status_code == 409


def test_a_member_cannot_export_or_erase(goteborg, mailbox):
    musician, _need = person_with_history(goteborg, mailbox)
    get_user_model().objects.create_user(
        "member", email="m@g.example.org", password=PASSWORD, role="member", orchestra=goteborg
    )
    client = login(goteborg, "member")
    assert client.get(f"/musicians/{musician.musician_id}/data.json").status_code == 403
    assert (
        client.post(
            f"/musicians/{musician.musician_id}/erase/", {"confirm": musician.musician_id}
        ).status_code
        == 403
    )


def test_the_commands_export_and_erase(goteborg, mailbox):
    musician, _need = person_with_history(goteborg, mailbox)
    out = io.StringIO()
    call_command("export_musician", "goteborg", musician.musician_id, stdout=out)
    assert json.loads(out.getvalue())["musician"]["email"] == EMAIL
    with pytest.raises(CommandError):
        call_command("erase_musician", "goteborg", musician.musician_id)  # no --yes
    assert personal_data_left(goteborg, mailbox)
    call_command(
        "erase_musician", "goteborg", musician.musician_id.lower(), "--yes", stdout=io.StringIO()
    )
    assert personal_data_left(goteborg, mailbox) == []
    with pytest.raises(CommandError):
        call_command("export_musician", "malmo-nope", musician.musician_id)


def test_retention_empties_old_texts_and_erases_long_archived_musicians(goteborg, mailbox):
    musician, _need = person_with_history(goteborg, mailbox)
    later = timezone.now() + datetime.timedelta(days=400)
    with use_orchestra(goteborg):
        assert retention.apply_retention(later) == (0, 0)  # unset: keep everything
        Retention.objects.create(message_body_days=30, archived_erase_months=12)
        Musician.objects.filter(pk=musician.pk).update(
            status="archived", archived_at=timezone.now()
        )
        bodies, erased = retention.apply_retention(later)
        assert bodies == Message.objects.count() and erased == 1
        assert not Message.objects.exclude(body="").exists()
        assert retention.apply_retention(later) == (0, 0)  # erased once
    assert personal_data_left(goteborg, mailbox) == []


def test_the_worker_job_runs_retention_in_every_orchestra(goteborg, malmo, mailbox):
    for orchestra in (goteborg, malmo):
        with use_orchestra(orchestra):
            Retention.objects.create(message_body_days=0)
    person_with_history(goteborg, mailbox)
    result = retention._retention_job()
    assert "0 failed" in result
    with use_orchestra(goteborg):
        assert not Message.objects.exclude(body="").exists()


def test_a_musician_downloads_their_own_export(goteborg, mailbox):
    from tests.portal.test_personal_page import signed_in

    musician, _need = person_with_history(goteborg, mailbox)
    client = signed_in(goteborg, musician)
    response = client.get("/me/export.json")
    assert response.status_code == 200
    assert json.loads(response.content)["musician"]["email"] == EMAIL
    with use_orchestra(goteborg):
        assert rights.export(musician)["musician"]["phone"] == PHONE


def test_retention_settings_are_saved_and_bad_values_refused(goteborg):
    staff = login(goteborg, "goteborg-admin")
    bad = staff.post("/settings/retention/", {"message_body_days": "-3"})
    assert bad.status_code == 400 and "error-summary" in bad.content.decode()
    with use_orchestra(goteborg):
        assert not Retention.objects.exists()
    ok = staff.post(
        "/settings/retention/", {"message_body_days": "90", "archived_erase_months": ""}
    )
    assert ok.status_code == 302
    with use_orchestra(goteborg):
        policy = Retention.current()
        assert (policy.message_body_days, policy.archived_erase_months) == (90, None)


def test_erasure_never_touches_another_orchestras_mail(goteborg, malmo, mailbox):
    # The mailbox folder is the whole platform's: Malmö's mail to a musician of the same name
    # (and address) is Malmö's record, not Göteborg's to erase.
    person_with_history(malmo, mailbox)
    malmos = {p.name: p.read_text() for p in mailbox.iterdir()}
    musician, _need = person_with_history(goteborg, mailbox)
    with use_orchestra(goteborg):
        rights.erase(musician, actor_label="test")
    for name, text in malmos.items():
        assert (mailbox / name).read_text() == text
    ours = [p for p in mailbox.iterdir() if p.name not in malmos]
    assert ours and not any(NAME in p.read_text() for p in ours)  # Göteborg's mail is clean
