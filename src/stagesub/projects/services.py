"""Project, need and project-list rules as plain functions on the bound orchestra's database."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import (
    Case,
    Exists,
    F,
    FloatField,
    OuterRef,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Cast, Coalesce
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from stagesub.orchestra.ids import next_readable_id
from stagesub.projects import usage
from stagesub.projects.models import Need, Project, ProjectList, ProjectListEntry
from stagesub.projects.weeks import week_end
from stagesub.rankings.models import RankingList
from stagesub.roster.models import Musician, Position, Qualification
from stagesub.tenancy.context import orchestra_atomic
from stagesub.validation import too_long

MAX_RESPONSE_HOURS = 4500  # about six months


# A project longer than this is a typing mistake, not a production (it would keep every
# musician booked in it from being asked for anything else for that long).
MAX_PROJECT_DAYS = 366


@dataclass
class ProjectData:
    name: str
    start_date: datetime.date
    # None: the Sunday of the start week (a project given by its week).
    end_date: datetime.date | None = None
    rehearsal_schedule: str = ""
    concert_info: str = ""
    notes: str = ""


def _clean_project(data: ProjectData) -> ProjectData:
    if not data.name.strip():
        raise ValidationError({"name": _("Enter the project's name.")})
    try:
        too_long(data.name.strip(), Project._meta.get_field("name").max_length)
    except ValidationError as exc:
        raise ValidationError({"name": exc.messages}) from None
    end = data.end_date or week_end(data.start_date)
    if end < data.start_date:
        raise ValidationError({"end_date": _("The project cannot end before it starts.")})
    if (end - data.start_date).days >= MAX_PROJECT_DAYS:
        raise ValidationError(
            {"end_date": _("A project can last at most %(n)s days.") % {"n": MAX_PROJECT_DAYS}}
        )
    return ProjectData(
        name=data.name.strip(),
        start_date=data.start_date,
        end_date=end,
        rehearsal_schedule=data.rehearsal_schedule.strip(),
        concert_info=data.concert_info.strip(),
        notes=data.notes.strip(),
    )


def _limit_message(current: int, max_projects: int) -> str:
    return _(
        "Your plan allows %(limit)s projects and you have %(current)s. Archive finished "
        "projects, or contact StageSub (%(contact)s) to change plan."
    ) % {"limit": max_projects, "current": current, "contact": settings.PLATFORM_CONTACT}


def project_limit_reached(max_projects: int, current: int | None = None) -> str:
    """Why no project can be created now, or "": shown before anyone fills in the form.
    `current` is the number of projects not archived, when the caller has counted them."""
    if current is None:
        current = Project.objects.filter(is_archived=False).count()
    return _limit_message(current, max_projects) if current >= max_projects else ""


def create_project(data: ProjectData, *, max_projects: int) -> Project:
    data = _clean_project(data)
    with orchestra_atomic():
        project_id = next_readable_id("PROJ")  # locks the counter: the limit check cannot race
        current = Project.objects.filter(is_archived=False).count()
        if current >= max_projects:
            raise ValidationError(_limit_message(current, max_projects))
        return Project.objects.create(project_id=project_id, **data.__dict__)


def update_project(project: Project, data: ProjectData) -> Project:
    data = _clean_project(data)
    for key, value in data.__dict__.items():
        setattr(project, key, value)
    project.save()
    return project


def requests_refused(project: Project, today: datetime.date) -> str:
    """Why no request may be sent for the project now, or "" (archived, or its week is over)."""
    if project.is_archived:
        return _("The project is archived, so no requests can be sent. Restore it first.")
    if not project.is_upcoming(today):
        return _(
            "The project's week is over (it started %(date)s), so no requests can be sent."
        ) % {"date": formats.date_format(project.start_date, "DATE_FORMAT")}
    return ""


def set_project_archived(project: Project, archived: bool) -> Project:
    project.is_archived = archived
    project.archived_at = timezone.now() if archived else None
    project.save(update_fields=["is_archived", "archived_at", "updated_at"])
    return project


def delete_project(project: Project) -> None:
    """Delete a project with its needs and lists; refused once offers have been sent."""
    with orchestra_atomic():
        if usage.offers_sent(project):
            raise ValidationError(
                _("A project that has sent requests cannot be deleted. Archive it instead.")
            )
        from stagesub.projects import files

        files.remove_all(project)
        project.needs.all().delete()
        project.lists.all().delete()
        project.delete()


# --- project lists --------------------------------------------------------------------------


def project_list_name(project: Project) -> str:
    return f"V. {project.week} {project.name}"


def create_project_list(project: Project, position: Position, *, copy_from=None) -> ProjectList:
    """The project's own list for a position, optionally starting as a copy of another list."""
    with orchestra_atomic():
        existing = ProjectList.objects.filter(project=project, position=position).first()
        if existing is not None:
            raise ValidationError(
                _("The project already has its own list for %(position)s (%(id)s).")
                % {"position": position, "id": existing.list_id}
            )
        if copy_from is not None and copy_from.position_id != position.pk:
            raise ValidationError(_("Only a list of the same position can be copied."))
        project_list = ProjectList.objects.create(
            list_id=next_readable_id("CLIST"),
            project=project,
            position=position,
            name=project_list_name(project),
        )
        if copy_from is not None:
            _copy_entries(copy_from, project_list)
    return project_list


def _copy_entries(source, target: ProjectList) -> int:
    allowed = set(target.candidate_musicians().values_list("pk", flat=True))
    ordered = [e.musician_id for e in source.entries.order_by("rank") if e.musician_id in allowed]
    ProjectListEntry.objects.bulk_create(
        ProjectListEntry(project_list=target, musician_id=pk, rank=i)
        for i, pk in enumerate(ordered, 1)
    )
    return len(ordered)


def copy_sources(project: Project, position: Position) -> list:
    """Lists a new project list may start from: the position's A/B/C lists and other projects'."""
    standard = list(RankingList.objects.filter(position=position))
    others = list(
        ProjectList.objects.filter(position=position)
        .exclude(project=project)
        .select_related("project")
        .order_by("-project__start_date")[:20]
    )
    return standard + others


def save_as_template(project_list: ProjectList, template_name: str) -> ProjectList:
    name = template_name.strip()
    if not name:
        raise ValidationError({"template_name": _("Give the template a name.")})
    too_long(name, ProjectList._meta.get_field("template_name").max_length)
    project_list.is_template, project_list.template_name = True, name
    project_list.save(update_fields=["is_template", "template_name"])
    return project_list


def templates_for(position: Position | None = None):
    query = ProjectList.objects.filter(is_template=True).select_related(
        "position__instrument", "project"
    )
    return query.filter(position=position) if position else query


def apply_template(template: ProjectList, project: Project) -> ProjectList:
    """A new list for the template's position in `project`, in the template's order.

    Musicians who are no longer active or qualified are left out, so the copy is sendable.
    """
    if not template.is_template:
        raise ValidationError(_("That list is not a template."))
    return create_project_list(project, template.position, copy_from=template)


def delete_project_list(project_list: ProjectList) -> None:
    with orchestra_atomic():
        need = project_list.needs.exclude(status=Need.Status.ARCHIVED).first()
        if need is not None:
            raise ValidationError(
                _("The list is used by the need %(need)s; change or delete the need first.")
                % {"need": need.need_id}
            )
        project_list.delete()


# --- needs ----------------------------------------------------------------------------------


@dataclass
class NeedData:
    position_id: int
    quantity: int
    strategy: str
    response_time_hours: int
    ranking_list_id: int | None = None
    project_list_id: int | None = None
    max_recipients: int | None = None
    require_local_residence: bool = False


def available_musicians(project: Project, chosen_list, *, local_only: bool) -> list[Musician]:
    """Members of the list who can be asked in this project, in rank order."""
    asked = usage.musicians_asked(project)
    qualified = Qualification.objects.filter(
        musician=OuterRef("musician"), position_id=chosen_list.position_id
    )
    entries = (
        chosen_list.entries.select_related("musician")
        .filter(Exists(qualified), musician__status=Musician.Status.ACTIVE)
        .order_by("rank")
    )
    return [
        e.musician
        for e in entries
        if e.musician_id not in asked and (e.musician.local_residence or not local_only)
    ]


def _validate_need(
    project: Project, data: NeedData, *, need: Need | None = None
) -> tuple[Position, object]:
    errors: dict[str, list[str]] = {}

    def error(field: str, message: str) -> None:
        errors.setdefault(field, []).append(message)

    position = Position.objects.filter(pk=data.position_id).select_related("instrument").first()
    if position is None:
        raise ValidationError({"position_id": _("Choose a position.")})
    if data.strategy not in Need.Strategy.values:
        error("strategy", _("Choose how musicians are asked."))
    if data.quantity < 1:
        error("quantity", _("At least one musician is needed."))
    if data.strategy == Need.Strategy.PARALLEL and data.quantity < 2:
        error(
            "quantity",
            _("Asking in parallel needs at least 2 seats; use one at a time for one seat."),
        )
    if data.max_recipients is not None:
        if data.strategy != Need.Strategy.FIRST_COME:
            error("max_recipients", _("A maximum number of recipients only applies to first come."))
        elif data.max_recipients < data.quantity:
            error(
                "max_recipients",
                _("Send to at least as many musicians as there are seats (%(q)s).")
                % {"q": data.quantity},
            )
    if not 1 <= data.response_time_hours <= MAX_RESPONSE_HOURS:
        error("response_time_hours", _("Response time must be between 1 hour and 6 months."))
    if bool(data.ranking_list_id) == bool(data.project_list_id):
        raise ValidationError({**errors, "list": [_("Choose one ranking list.")]})
    if data.ranking_list_id:
        chosen = RankingList.objects.filter(pk=data.ranking_list_id, position=position).first()
    else:
        chosen = ProjectList.objects.filter(
            pk=data.project_list_id, position=position, project=project
        ).first()
    if chosen is None:
        raise ValidationError({**errors, "list": [_("Choose a list of this position.")]})
    if errors:
        raise ValidationError(errors)
    available = len(available_musicians(project, chosen, local_only=data.require_local_residence))
    still_needed = data.quantity - (0 if need is None else accepted_count(need))
    if available < still_needed:
        raise ValidationError(
            {
                "quantity": [
                    _(
                        "The list has %(available)s musicians who can be asked, fewer than the %(q)s needed."
                    )
                    % {"available": available, "q": still_needed}
                ]
            }
        )
    return position, chosen


def accepted_count(need: Need) -> int:
    return sum(
        1
        for accepted_need, _musician in usage.accepted_musicians(need.project)
        if accepted_need.pk == need.pk
    )


def create_need(project: Project, data: NeedData) -> Need:
    with orchestra_atomic():
        _validate_need(project, data)
        return Need.objects.create(
            need_id=next_readable_id("NEED"),
            project=project,
            position_id=data.position_id,
            quantity=data.quantity,
            ranking_list_id=data.ranking_list_id,
            project_list_id=data.project_list_id,
            strategy=data.strategy,
            max_recipients=data.max_recipients,
            response_time_hours=data.response_time_hours,
            require_local_residence=data.require_local_residence,
        )


def update_need(need: Need, data: NeedData) -> Need:
    """Change a need. Quantity, strategy, list and response time only until the first offer
    is sent (then seats change through offers.services.change_quantity, after a preview)."""
    with orchestra_atomic():
        need = Need.objects.select_for_update().get(pk=need.pk)
        if need.status == Need.Status.ARCHIVED:
            raise ValidationError(_("An archived need cannot be changed."))
        if data.position_id != need.position_id:
            raise ValidationError(
                {"position_id": _("The position of a need cannot change; add a new need instead.")}
            )
        accepted = accepted_count(need)
        if data.quantity < accepted:
            raise ValidationError(
                {
                    "quantity": _(
                        "%(n)s musicians have already accepted; the quantity cannot go below that."
                    )
                    % {"n": accepted}
                }
            )
        sent = usage.offers_sent(need)
        if sent and data.quantity != need.quantity:
            # Changing seats with requests out withdraws or asks musicians: that goes through
            # the seats page, which shows who first (offers.views.change_quantity).
            raise ValidationError(
                {
                    "quantity": _(
                        "Requests have been sent: change the seats with “Change seats…” on "
                        "the project page, which shows who would be withdrawn or asked first."
                    )
                }
            )
        if sent:
            locked = {
                "strategy": data.strategy != need.strategy,
                "list": (data.ranking_list_id, data.project_list_id)
                != (need.ranking_list_id, need.project_list_id),
                "response_time_hours": data.response_time_hours != need.response_time_hours,
            }
            changed = [field for field, differs in locked.items() if differs]
            if changed:
                raise ValidationError(
                    {field: _("Cannot change once requests have been sent.") for field in changed}
                )
        _validate_need(need.project, data, need=need)
        need.quantity = data.quantity
        need.strategy, need.max_recipients = data.strategy, data.max_recipients
        need.ranking_list_id, need.project_list_id = data.ranking_list_id, data.project_list_id
        need.response_time_hours = data.response_time_hours
        need.require_local_residence = data.require_local_residence
        if need.status == Need.Status.COMPLETED and accepted < need.quantity:
            need.status = Need.Status.ACTIVE  # more seats than accepted: asking continues
        need.save()
    return need


def set_need_paused(need: Need, paused: bool) -> Need:
    if need.status in (Need.Status.COMPLETED, Need.Status.ARCHIVED):
        raise ValidationError(_("A filled or archived need cannot be paused or resumed."))
    need.status = Need.Status.PAUSED if paused else Need.Status.ACTIVE
    need.save(update_fields=["status"])
    return need


def set_project_paused(project: Project, paused: bool) -> int:
    """Pause or resume every active/paused need; filled and archived needs are left alone."""
    wanted, other = (
        (Need.Status.PAUSED, Need.Status.ACTIVE)
        if paused
        else (Need.Status.ACTIVE, Need.Status.PAUSED)
    )
    return project.needs.filter(status=other).update(status=wanted)


def delete_need(need: Need) -> str:
    """Delete a need, or archive it when offers were sent for it. Returns "deleted" or "archived"."""
    if usage.offers_sent(need):
        need.status, need.archived_at = Need.Status.ARCHIVED, timezone.now()
        need.save(update_fields=["status", "archived_at"])
        return "archived"
    need.delete()
    return "deleted"


def needs_using(*, ranking_list=None, position_ids=None):
    needs = Need.objects.exclude(status=Need.Status.ARCHIVED).select_related("project")
    if ranking_list is not None:
        needs = needs.filter(ranking_list=ranking_list)
    if position_ids is not None:
        needs = needs.filter(position_id__in=position_ids)
    return needs


def describe_need(need: Need) -> str:
    return _("the need %(need)s in project %(project)s (%(id)s)") % {
        "need": need.need_id,
        "project": need.project.name,
        "id": need.project.project_id,
    }


def add_to_project_list(project_list: ProjectList, musician_ids: list[int]):
    from stagesub.rankings.services import add_musicians

    return add_musicians(project_list, musician_ids)


def staffing(project: Project) -> dict:
    """Accepted seats over needed seats, as the project list and page show it."""
    return staffing_of([project])[project.pk]


def with_staffing(projects: QuerySet) -> QuerySet:
    """`projects` with their staffing counted in the database (one query for a whole page,
    and something to sort by): staffing_needed, staffing_accepted (seats of needs not
    archived), staffing_sent (offers of every need) and staffing_share (accepted / needed;
    NULL without needs)."""
    counts = usage.offer_count_expressions()
    per_project = Need.objects.filter(project=OuterRef("pk")).order_by().values("project")
    live = per_project.exclude(status=Need.Status.ARCHIVED)

    def total(needs, expression):
        return Coalesce(Subquery(needs.annotate(v=expression).values("v")), 0)

    return projects.annotate(
        staffing_needed=total(live, Sum("quantity")),
        staffing_accepted=total(live, counts["accepted"]),
        staffing_sent=total(per_project, counts["sent"]),
    ).annotate(
        staffing_share=Case(
            When(staffing_needed=0, then=Value(None, output_field=FloatField())),
            When(staffing_sent=0, then=Value(0.0)),
            default=Cast("staffing_accepted", FloatField()) / F("staffing_needed"),
            output_field=FloatField(),
        )
    )


def staffing_row(needed: int, accepted: int, sent: int) -> dict:
    """What the list and the page show of a project's staffing, from with_staffing's counts."""
    if not needed:
        label, percent = "no_needs", None
    elif not sent:
        label, percent = "not_started", 0
    else:
        percent = round(100 * accepted / needed)
        label = "full" if accepted >= needed else "partial"
    colour = (
        None
        if percent is None
        else ("green" if percent >= 80 else "yellow" if percent >= 50 else "red")
    )
    return {
        "needed": needed,
        "accepted": accepted,
        "percent": percent,
        "label": label,
        "colour": colour,
    }


def staffing_of(projects) -> dict[int, dict]:
    """staffing() for many projects (objects or pks) in one query, whatever their number."""
    pks = [getattr(p, "pk", p) for p in projects]
    rows = with_staffing(Project.objects.filter(pk__in=pks)).values_list(
        "pk", "staffing_needed", "staffing_accepted", "staffing_sent"
    )
    return {pk: staffing_row(needed, accepted, sent) for pk, needed, accepted, sent in rows}


def need_state(need: Need, counts: tuple[int, int] | None = None) -> str:
    """not_started, in_progress, paused, filled or archived (for the project page).

    `counts` is the need's (offers sent, offers accepted) from usage.offer_counts, when the
    caller read them for all its needs at once."""
    if counts is None:
        counts = usage.offer_counts([need.project_id]).get(need.pk, (0, 0))
    sent, accepted = counts
    if need.status == Need.Status.ARCHIVED:
        return "archived"
    if need.status == Need.Status.COMPLETED or accepted >= need.quantity:
        return "filled"
    if need.status == Need.Status.PAUSED:
        return "paused"
    return "in_progress" if sent else "not_started"


def need_states(project: Project, needs: list[Need]) -> dict[int, str]:
    """need_state() of each of the project's `needs`, in one query."""
    counts = usage.offer_counts([project])
    return {n.pk: need_state(n, counts.get(n.pk, (0, 0))) for n in needs}


def accepted_by_position(project: Project) -> list[tuple[str, list]]:
    """Accepted musicians grouped as "Instrument – Position", in display order, then by name."""
    groups: dict = {}
    for need, musician in usage.accepted_musicians(project):
        key = (
            need.position.instrument.display_order,
            need.position.hierarchy_level,
            str(need.position),
        )
        groups.setdefault(key, []).append(musician)
    return [
        (key[2], sorted(ms, key=lambda m: (m.last_name, m.first_name)))
        for key, ms in sorted(groups.items())
    ]
