"""Roster rules as plain functions: musicians, instruments and positions.

Every function runs on the bound orchestra's database, in one transaction, and raises
django.core.exceptions.ValidationError (with field names where a form can show them) when a
rule refuses the change. Nothing is half-written.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from stagesub.orchestra.ids import next_readable_id
from stagesub.roster import usage
from stagesub.roster.models import Instrument, Musician, Position, Qualification
from stagesub.roster.phones import normalize_phone
from stagesub.tenancy.context import orchestra_atomic
from stagesub.validation import email_address, single_line, too_long


@dataclass
class MusicianData:
    first_name: str
    last_name: str
    email: str
    phone: str = ""
    preferred_language: str = Musician.Language.SWEDISH
    local_residence: bool = False
    notes: str = ""
    position_ids: list[int] = field(default_factory=list)


@dataclass
class MusicianChange:
    musician: Musician
    messages: list[str] = field(default_factory=list)


def _clean(data: MusicianData) -> MusicianData:
    errors: dict[str, list[str]] = {}
    first, last = data.first_name.strip(), data.last_name.strip()
    email = data.email.strip()
    if not first:
        errors.setdefault("first_name", []).append(_("Enter the first name."))
    if not last:
        errors.setdefault("last_name", []).append(_("Enter the last name."))
    for name, value in (("first_name", first), ("last_name", last)):
        try:
            too_long(value, Musician._meta.get_field(name).max_length)
            single_line(value)  # names go into e-mail headers and exports
        except ValidationError as exc:
            errors.setdefault(name, []).extend(exc.messages)
    try:
        email = email_address(email)
    except ValidationError as exc:
        errors.setdefault("email", []).extend(exc.messages)
    try:
        phone = normalize_phone(data.phone)
    except ValidationError as exc:
        errors.setdefault("phone", []).extend(exc.messages)
        phone = ""
    if data.preferred_language not in Musician.Language.values:
        errors.setdefault("preferred_language", []).append(_("Choose Swedish or English."))
    position_ids = sorted(set(data.position_ids))
    if len(position_ids) != Position.objects.filter(pk__in=position_ids).count():
        errors.setdefault("position_ids", []).append(_("Choose positions from the list."))
    if errors:
        raise ValidationError(errors)
    return MusicianData(
        first_name=first,
        last_name=last,
        email=email,
        phone=phone,
        preferred_language=data.preferred_language,
        local_residence=bool(data.local_residence),
        notes=data.notes.strip(),
        position_ids=position_ids,
    )


def _refuse_duplicates(data: MusicianData, exclude_pk: int | None = None) -> None:
    others = Musician.objects.exclude(pk=exclude_pk) if exclude_pk else Musician.objects.all()
    errors: dict[str, str] = {}
    holder = others.filter(email__iexact=data.email).first()
    if holder is not None:
        errors["email"] = _("This e-mail address is already used by %(name)s (%(id)s).") % {
            "name": holder.full_name,
            "id": holder.musician_id,
        }
    if data.phone:
        holder = others.filter(phone=data.phone).first()
        if holder is not None:
            errors["phone"] = _("This phone number is already used by %(name)s (%(id)s).") % {
                "name": holder.full_name,
                "id": holder.musician_id,
            }
    if errors:
        raise ValidationError(errors)


def _refuse_beyond_plan(max_musicians: int) -> None:
    current = Musician.objects.exclude(status=Musician.Status.ARCHIVED).count()
    if current >= max_musicians:
        raise ValidationError(
            _(
                "Your plan allows %(limit)s musicians and you have %(current)s. Archive musicians "
                "you no longer use, or contact StageSub to change plan."
            )
            % {"limit": max_musicians, "current": current}
        )


def create_musician(data: MusicianData, *, max_musicians: int) -> Musician:
    data = _clean(data)
    with orchestra_atomic():
        # Taking the id first locks the counter row, so concurrent creations are serialised
        # and the plan limit below cannot be overshot by a race.
        musician_id = next_readable_id("MUS")
        _refuse_beyond_plan(max_musicians)
        _refuse_duplicates(data)
        musician = Musician.objects.create(
            musician_id=musician_id,
            first_name=data.first_name,
            last_name=data.last_name,
            email=data.email,
            phone=data.phone,
            preferred_language=data.preferred_language,
            local_residence=data.local_residence,
            notes=data.notes,
        )
        Qualification.objects.bulk_create(
            Qualification(musician=musician, position_id=pk) for pk in data.position_ids
        )
    return musician


def update_musician(musician: Musician, data: MusicianData) -> MusicianChange:
    data = _clean(data)
    with orchestra_atomic():
        musician = Musician.objects.select_for_update().get(pk=musician.pk)
        _refuse_duplicates(data, exclude_pk=musician.pk)
        for name in (
            "first_name",
            "last_name",
            "email",
            "phone",
            "preferred_language",
            "local_residence",
            "notes",
        ):
            setattr(musician, name, getattr(data, name))
        musician.save()
        messages = set_qualifications(musician, data.position_ids)
    return MusicianChange(musician, messages)


def set_qualifications(musician: Musician, position_ids: list[int]) -> list[str]:
    """Replace the musician's qualifications; say what else changed because of it."""
    with orchestra_atomic():
        current = set(musician.qualification_links.values_list("position_id", flat=True))
        wanted = set(position_ids)
        removed = sorted(current - wanted)
        if removed:
            blockers = usage.qualification_removal_blockers(musician, removed)
            if blockers:
                raise ValidationError({"position_ids": blockers})
            Qualification.objects.filter(musician=musician, position_id__in=removed).delete()
        Qualification.objects.bulk_create(
            Qualification(musician=musician, position_id=pk) for pk in sorted(wanted - current)
        )
        return usage.qualifications_removed(musician, removed) if removed else []


def set_musician_status(musician: Musician, status: str) -> Musician:
    """Activate, deactivate, archive or restore. Notes, qualifications and list places are kept."""
    if status not in Musician.Status.values:
        raise ValidationError(_("Unknown status."))
    with orchestra_atomic():
        musician = Musician.objects.select_for_update().get(pk=musician.pk)
        was_archived = musician.status == Musician.Status.ARCHIVED
        musician.status = status
        if status == Musician.Status.ARCHIVED and not was_archived:
            musician.archived_at = timezone.now()
        elif was_archived and status != Musician.Status.ARCHIVED:
            musician.restored_at = timezone.now()
        musician.save(update_fields=["status", "archived_at", "restored_at", "updated_at"])
    return musician


# --- instruments and positions -------------------------------------------------------------


def _checked_name(
    name: str,
    siblings,
    *,
    exclude_pk: int | None,
    empty: str,
    taken: str,
    params: dict | None = None,
) -> str:
    """The trimmed name, refused when empty or already used (case-insensitively) by a sibling."""
    name = name.strip()
    if not name:
        raise ValidationError({"name": empty})
    try:
        single_line(name)  # (and PostgreSQL refuses a NUL with an error)
        too_long(name, siblings.model._meta.get_field("name").max_length)
    except ValidationError as exc:
        raise ValidationError({"name": exc.messages}) from None
    clash = siblings.filter(name__iexact=name)
    if exclude_pk is not None:
        clash = clash.exclude(pk=exclude_pk)
    if clash.exists():
        raise ValidationError({"name": taken % {"name": name, **(params or {})}})
    return name


def _instrument_name(name: str, exclude_pk: int | None = None) -> str:
    return _checked_name(
        name,
        Instrument.objects.all(),
        exclude_pk=exclude_pk,
        empty=_("Enter the instrument's name."),
        taken=_("There is already an instrument called %(name)s."),
    )


def _position_name(instrument: Instrument, name: str, exclude_pk: int | None = None) -> str:
    return _checked_name(
        name,
        instrument.positions.all(),
        exclude_pk=exclude_pk,
        empty=_("Enter the position's name."),
        taken=_("%(instrument)s already has a position called %(name)s."),
        params={"instrument": instrument.name},
    )


def _apply_order(rows, ordered_ids: list[int], field: str, changed: str) -> None:
    """Number `rows` 1..n in the given order, refusing an order that is not exactly all of them."""
    existing = set(rows.values_list("pk", flat=True))
    if len(ordered_ids) != len(existing) or set(ordered_ids) != existing:
        raise ValidationError(changed)
    for number, pk in enumerate(ordered_ids, start=1):
        rows.filter(pk=pk).update(**{field: number})


def create_instrument(name: str, position_names: list[str] | None = None) -> Instrument:
    with orchestra_atomic():
        name = _instrument_name(name)
        last = Instrument.objects.aggregate(m=Max("display_order"))["m"] or 0
        instrument = Instrument.objects.create(
            instrument_id=next_readable_id("INST"), name=name, display_order=last + 1
        )
        for position_name in position_names or []:
            add_position(instrument, position_name)
    return instrument


def rename_instrument(instrument: Instrument, name: str) -> Instrument:
    with orchestra_atomic():
        instrument.name = _instrument_name(name, exclude_pk=instrument.pk)
        instrument.save(update_fields=["name"])
    return instrument


def reorder_instruments(ordered_ids: list[int]) -> None:
    """Apply a complete new order (from drag and drop) atomically."""
    with orchestra_atomic():
        _apply_order(
            Instrument.objects.all(),
            ordered_ids,
            "display_order",
            _("The instrument list changed meanwhile. Reload and try again."),
        )


def set_instrument_archived(instrument: Instrument, archived: bool) -> Instrument:
    instrument.is_archived = archived
    instrument.archived_at = timezone.now() if archived else None
    instrument.save(update_fields=["is_archived", "archived_at"])
    return instrument


def _position_blockers(position_ids: list[int]) -> list[str]:
    reasons = []
    holders = Qualification.objects.filter(position_id__in=position_ids).count()
    if holders:
        reasons.append(_("%(count)s musicians hold this qualification.") % {"count": holders})
    return reasons + usage.position_usage(position_ids)


def delete_instrument(instrument: Instrument) -> None:
    with orchestra_atomic():
        ids = list(instrument.positions.values_list("pk", flat=True))
        reasons = _position_blockers(ids)
        if reasons:
            raise ValidationError(reasons)
        instrument.positions.all().delete()
        instrument.delete()


def add_position(instrument: Instrument, name: str, hierarchy_level: int | None = None) -> Position:
    with orchestra_atomic():
        name = _position_name(instrument, name)
        if hierarchy_level is None:
            hierarchy_level = (
                instrument.positions.aggregate(m=Max("hierarchy_level"))["m"] or 0
            ) + 1
        return Position.objects.create(
            position_id=next_readable_id("POS"),
            instrument=instrument,
            name=name,
            hierarchy_level=hierarchy_level,
        )


def rename_position(position: Position, name: str) -> Position:
    with orchestra_atomic():
        position.name = _position_name(position.instrument, name, exclude_pk=position.pk)
        position.save(update_fields=["name"])
    return position


def reorder_positions(instrument: Instrument, ordered_ids: list[int]) -> None:
    with orchestra_atomic():
        _apply_order(
            instrument.positions.all(),
            ordered_ids,
            "hierarchy_level",
            _("The position list changed meanwhile. Reload and try again."),
        )


def delete_position(position: Position) -> None:
    with orchestra_atomic():
        reasons = _position_blockers([position.pk])
        if reasons:
            raise ValidationError(reasons)
        position.delete()
