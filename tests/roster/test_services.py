"""Roster rules on the bound orchestra's database (both backends)."""

from concurrent.futures import ThreadPoolExecutor

import pytest
from django.core.exceptions import ValidationError
from django.db import connections as django_connections

from stagesub.orchestra.ids import next_readable_id
from stagesub.roster import services
from stagesub.roster.models import Instrument, Musician, Position
from stagesub.roster.services import MusicianData
from stagesub.tenancy import use_orchestra


def _data(**kwargs):
    defaults = {"first_name": "Anna", "last_name": "Berg", "email": "anna.berg@example.se"}
    return MusicianData(**{**defaults, **kwargs})


@pytest.fixture
def bound(goteborg):
    with use_orchestra(goteborg):
        yield goteborg


def test_default_seed(bound):
    assert Instrument.objects.count() == 14
    assert Position.objects.count() == 43
    assert list(Instrument.objects.values_list("name", flat=True)[:3]) == [
        "Violin",
        "Viola",
        "Cello",
    ]
    violin = Instrument.objects.get(name="Violin")
    assert violin.instrument_id == "INST001"
    assert (
        next(p.name for p in violin.positions.order_by("hierarchy_level"))
        == "Förste konsertmästare"
    )
    # counters start after what was seeded
    assert next_readable_id("INST") == "INST015"
    assert next_readable_id("POS") == "POS044"


def test_create_musician_with_qualifications(bound):
    tutti = Position.objects.get(name="Tutti violin 1")
    musician = services.create_musician(
        _data(phone="070-123 45 67", position_ids=[tutti.pk]), max_musicians=200
    )
    assert musician.musician_id == "MUS001"
    assert musician.phone == "+46701234567"
    assert list(musician.qualifications.all()) == [tutti]


def test_duplicate_email_refused_case_insensitively_naming_the_holder(bound):
    services.create_musician(_data(), max_musicians=200)
    with pytest.raises(ValidationError) as exc:
        services.create_musician(
            _data(first_name="Other", email="ANNA.Berg@Example.se"), max_musicians=200
        )
    assert "Anna Berg (MUS001)" in str(exc.value.message_dict["email"])


def test_duplicate_phone_refused_after_normalising(bound):
    services.create_musician(_data(phone="+46 70 123 45 67"), max_musicians=200)
    with pytest.raises(ValidationError) as exc:
        services.create_musician(_data(email="x@example.se", phone="0701234567"), max_musicians=200)
    assert "MUS001" in str(exc.value.message_dict["phone"])


def test_invalid_input_reported_per_field_and_nothing_written(bound):
    with pytest.raises(ValidationError) as exc:
        services.create_musician(
            _data(first_name=" ", email="not-an-email", phone="12", position_ids=[99999]),
            max_musicians=200,
        )
    assert set(exc.value.message_dict) == {"first_name", "email", "phone", "position_ids"}
    assert not Musician.objects.exists()


def test_plan_limit(bound):
    services.create_musician(_data(), max_musicians=1)
    with pytest.raises(ValidationError, match="plan allows 1"):
        services.create_musician(_data(email="b@example.se"), max_musicians=1)
    # archived musicians do not count
    services.set_musician_status(Musician.objects.get(), Musician.Status.ARCHIVED)
    services.create_musician(_data(email="b@example.se"), max_musicians=1)


def test_concurrent_creation_gives_unique_ids_and_respects_the_plan(goteborg):
    def create(n):
        try:
            with use_orchestra(goteborg):
                return services.create_musician(
                    _data(email=f"m{n}@example.se"), max_musicians=15
                ).musician_id
        except ValidationError:
            return None
        finally:
            django_connections.close_all()

    with ThreadPoolExecutor(max_workers=8) as pool:
        ids = [i for i in pool.map(create, range(24)) if i]
    assert len(ids) == 15 and len(set(ids)) == 15
    with use_orchestra(goteborg):
        assert Musician.objects.count() == 15


def test_archive_and_restore_keep_notes_and_record_when(bound):
    musician = services.create_musician(_data(notes="Prefers second desk"), max_musicians=200)
    musician = services.set_musician_status(musician, Musician.Status.ARCHIVED)
    assert musician.archived_at is not None
    musician = services.set_musician_status(musician, Musician.Status.ACTIVE)
    musician.refresh_from_db()
    assert musician.notes == "Prefers second desk"
    assert musician.restored_at is not None and musician.status == "active"


def test_update_replaces_qualifications(bound):
    a, b = Position.objects.filter(instrument__name="Viola")[:2]
    musician = services.create_musician(_data(position_ids=[a.pk]), max_musicians=200)
    services.update_musician(musician, _data(position_ids=[b.pk], phone="0701112233"))
    musician.refresh_from_db()
    assert list(musician.qualifications.all()) == [b] and musician.phone == "+46701112233"


def test_position_and_instrument_deletion_refused_while_held(bound):
    harp = Instrument.objects.get(name="Harpa")
    solo = harp.positions.get(name="Soloharpa")
    services.create_musician(_data(position_ids=[solo.pk]), max_musicians=200)
    with pytest.raises(ValidationError, match="hold this qualification"):
        services.delete_position(solo)
    with pytest.raises(ValidationError, match="hold this qualification"):
        services.delete_instrument(harp)
    services.delete_position(harp.positions.get(name="Harpa 2"))
    assert harp.positions.count() == 1


def test_instruments_create_rename_reorder_archive(bound):
    lute = services.create_instrument("Luta", ["Sololuta", "Luta 2"])
    assert lute.instrument_id == "INST015" and lute.display_order == 15
    assert [p.hierarchy_level for p in lute.positions.order_by("hierarchy_level")] == [1, 2]
    with pytest.raises(ValidationError):
        services.create_instrument("violin")
    with pytest.raises(ValidationError):
        services.rename_instrument(lute, "Viola")
    ids = list(Instrument.objects.values_list("pk", flat=True))
    services.reorder_instruments([lute.pk, *[i for i in ids if i != lute.pk]])
    assert Instrument.objects.first() == lute
    with pytest.raises(ValidationError, match="changed meanwhile"):
        services.reorder_instruments(ids[:-1])
    services.set_instrument_archived(lute, True)
    lute.refresh_from_db()
    assert lute.is_archived and lute.archived_at is not None
    positions = list(lute.positions.order_by("hierarchy_level"))
    services.reorder_positions(lute, [positions[1].pk, positions[0].pk])
    assert lute.positions.order_by("hierarchy_level").first() == positions[1]
