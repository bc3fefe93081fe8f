"""Carrying out the engine's decisions on the database, one need at a time, under a row lock.

Every action (send, answer, timeout, withdraw, quantity change) is one transaction on the
bound orchestra's database that first locks the need row (SELECT ... FOR UPDATE on PostgreSQL;
SQLite transactions are IMMEDIATE, so they serialise on the write lock), then reads the need's
state, asks the pure engine what to do, and writes the result: offer rows, the communication
log, and the e-mails in the outbox. Two musicians answering yes to the last seat at once are
therefore handled one after the other: exactly one gets it. A decision that asks musicians also
locks the project row and decides again, so two needs of one project never pick the same
musician at once; it then locks the rows of the musicians it asks and decides once more, so
two projects whose days overlap never book the same musician at once. The partial unique
constraint on offers (one live offer per musician and project) backs this up, and a
transaction it refuses is retried from the start.
"""

from __future__ import annotations

import datetime
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from django.core.exceptions import ValidationError
from django.db import IntegrityError, OperationalError, connections
from django.db.models import Count, Exists, OuterRef, Q
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _

from stagesub.messaging import outbox
from stagesub.messaging.models import Message
from stagesub.messaging.rendering import Templates, render
from stagesub.offers import engine, selection, tokens
from stagesub.offers.models import Offer, OfferEvent
from stagesub.orchestra.ids import next_readable_id
from stagesub.orchestra.models import OrchestraSettings
from stagesub.projects import services as projects
from stagesub.projects.files import sent_with
from stagesub.projects.models import Need, Project, ProjectFile
from stagesub.roster.models import Musician, Qualification, Unavailability
from stagesub.tenancy.binding import directory
from stagesub.tenancy.context import NoOrchestraBound, current_binding, orchestra_atomic
from stagesub.tenancy.due import note_due
from stagesub.tenancy.models import Orchestra

RETRIES = 3
# Outcome.refused for an answer that repeats the one already recorded.
REPEATED = "repeated"
# Outcome.refused when the decision differs from the preview the staff confirmed.
CHANGED = "changed"
# A request delivered later than this after it was queued starts its response window anew.
LATE_DELIVERY = datetime.timedelta(minutes=1)


@dataclass
class Outcome:
    decision: engine.Decision
    created: list[Offer] = field(default_factory=list)
    event: object = None  # the engine event that was decided on

    @property
    def refused(self) -> str:
        return self.decision.refused


# --- reading a need's situation -------------------------------------------------------------


def _members(need: Need) -> tuple[selection.Member, ...]:
    chosen = need.chosen_list
    qualified = Qualification.objects.filter(
        musician=OuterRef("musician"), position_id=need.position_id
    )
    rows = (
        chosen.entries.order_by("rank")
        .annotate(qualified=Exists(qualified))
        .values_list(
            "musician_id", "rank", "musician__status", "musician__local_residence", "qualified"
        )
    )
    return tuple(
        selection.Member(pk, rank, status == Musician.Status.ACTIVE, qualified, local)
        for pk, rank, status, local, qualified in rows
    )


def _accepted_counts(project: Project) -> dict[int, int]:
    return dict(
        Offer.objects.filter(project=project, status=engine.ACCEPTED)
        .values_list("need_id")
        .annotate(n=Count("pk"))
        .values_list("need_id", "n")
    )


def need_view(need: Need, accepted: int) -> selection.NeedView:
    return selection.NeedView(
        need_id=need.pk,
        order=(need.position.instrument.display_order, need.position.hierarchy_level, need.pk),
        hierarchy=need.position.hierarchy_level,
        members=_members(need),
        require_local=need.require_local_residence,
        open=need.status == Need.Status.ACTIVE and accepted < need.quantity,
    )


def project_needs(project: Project):
    return (
        project.needs.exclude(status=Need.Status.ARCHIVED)
        .select_related("position__instrument", "ranking_list", "project_list")
        .order_by("position__instrument__display_order", "position__hierarchy_level", "pk")
    )


def _overlapping_offers(project: Project):
    """Pending and accepted offers in other projects whose days overlap `project`'s. Archived
    projects do not count: no request goes out for them any more."""
    return Offer.objects.filter(
        status__in=(engine.PENDING, engine.ACCEPTED),
        project__is_archived=False,
        project__start_date__lte=project.end_date,
        project__end_date__gte=project.start_date,
    ).exclude(project_id=project.pk)


def _booking(offer: Offer) -> selection.Booking:
    other = offer.project
    return selection.Booking(
        other.pk, f"{other.project_id} {other.name}", other.start_date, other.end_date, offer.status
    )


def bookings_overlapping(project: Project) -> dict[int, tuple[selection.Booking, ...]]:
    """Musician -> their bookings in other projects on some of `project`'s days."""
    bookings: dict[int, list[selection.Booking]] = {}
    offers = (
        _overlapping_offers(project).select_related("project").order_by("project__start_date", "pk")
    )
    for offer in offers:
        bookings.setdefault(offer.musician_id, []).append(_booking(offer))
    return {m: tuple(b) for m, b in bookings.items()}


@dataclass(frozen=True)
class BusyMusician:
    musician: Musician
    booking: selection.Booking


def busy_on_lists(project: Project) -> list[BusyMusician]:
    """Musicians on the lists of the project's live needs who are already booked or asked in
    another project on some of its days (the project page's warning), by name; one query."""
    live = project.needs.exclude(status=Need.Status.ARCHIVED)
    on_lists = Musician.objects.filter(
        Q(ranking_entries__ranking_list__needs__in=live)
        | Q(project_list_entries__project_list__needs__in=live)
    ).values("pk")
    offers = (
        _overlapping_offers(project)
        .filter(musician__in=on_lists)
        .select_related("project", "musician")
        .order_by(
            "musician__last_name", "musician__first_name", "musician_id", "project__start_date"
        )
    )
    busy: dict[int, BusyMusician] = {}
    for offer in offers:  # the earliest booking of each names them
        busy.setdefault(offer.musician_id, BusyMusician(offer.musician, _booking(offer)))
    return list(busy.values())


def project_facts(
    project: Project, *, rule: str, only: Need | None = None
) -> selection.ProjectFacts:
    """What selection needs to know about the project. Under `simple` only `only`'s list is read."""
    blocking = {
        musician: (status, need)
        for musician, status, need in Offer.objects.filter(
            project=project, status__in=sorted(engine.BLOCKING)
        ).values_list("musician_id", "status", "need_id")
    }
    accepted = _accepted_counts(project)
    if rule == selection.SMART or only is None:
        needs = tuple(need_view(n, accepted.get(n.pk, 0)) for n in project_needs(project))
    else:
        needs = (need_view(only, accepted.get(only.pk, 0)),)
    return selection.ProjectFacts(
        blocking=blocking,
        needs=needs,
        rule=rule,
        period=(project.start_date, project.end_date),
        bookings=bookings_overlapping(project),
        away=_away(project, needs),
    )


def _away(project: Project, needs: tuple[selection.NeedView, ...]) -> dict:
    """The listed musicians' unavailable periods overlapping the project's days."""
    listed = {m.musician_id for view in needs for m in view.members}
    periods: dict[int, list[selection.Period]] = {}
    for musician, first, last in Unavailability.objects.filter(
        musician_id__in=listed, first_day__lte=project.end_date, last_day__gte=project.start_date
    ).values_list("musician_id", "first_day", "last_day"):
        periods.setdefault(musician, []).append((first, last))
    return selection.away_during(periods, project.start_date, project.end_date)


@dataclass(frozen=True)
class Situation:
    """A need's state (without candidates) and which of its offers' response times are over."""

    state: engine.NeedState
    expired: frozenset[int]


def _offer_rows(need_pk: int, now: datetime.datetime) -> list[tuple[int, int, str, bool]]:
    """(pk, musician, status, response time over at `now`) of the need's offers, oldest first.

    Every answer reads this under the need's lock, so it is one plain statement: the ORM's
    compilation costs several times the statement itself here (docs/performance.md). It runs
    after the lock was taken, as its own statement, so it sees every answer committed before.
    """
    connection = connections[current_binding().alias]
    quote, field = connection.ops.quote_name, Offer._meta.get_field
    columns = ", ".join(quote(field(name).column) for name in ("id", "musician", "status"))
    sql = (
        f"SELECT {columns}, {quote(field('expires_at').column)} <= %s"
        f" FROM {quote(Offer._meta.db_table)} WHERE {quote(field('need').column)} = %s"
        f" ORDER BY {quote(field('id').column)}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [connection.ops.adapt_datetimefield_value(now), need_pk])
        return [(pk, musician, status, bool(over)) for pk, musician, status, over in cursor]


def _situation(need: Need, now: datetime.datetime) -> Situation:
    rows = _offer_rows(need.pk, now)
    state = engine.NeedState(
        quantity=need.quantity,
        strategy=need.strategy,
        offers=tuple(engine.Offer(pk, musician, status) for pk, musician, status, _ in rows),
        max_recipients=need.max_recipients,
        paused=need.status in (Need.Status.PAUSED, Need.Status.ARCHIVED),
    )
    return Situation(state, frozenset(pk for pk, _, _, over in rows if over))


def _candidates(need: Need, rule: str) -> tuple[int, ...]:
    need = Need.objects.select_related(
        "project", "ranking_list", "project_list", "position__instrument"
    ).get(pk=need.pk)  # already locked by the caller; this reads its lists in one query
    facts = project_facts(need.project, rule=rule, only=need)
    view = next(v for v in facts.needs if v.need_id == need.pk)
    return selection.candidates(view, facts)


def _decide_under_musician_locks(
    need: Need, state: engine.NeedState, event: engine.Event, rule: str
) -> engine.Decision:
    """Decide, then lock the rows of the musicians the decision asks and decide again on
    candidates read under those locks, until it asks only locked musicians.

    The project lock keeps two needs of one project apart; this keeps two projects whose days
    overlap apart: whoever locks a musician first books them, and the other reads that
    booking (committed when the lock is released) and asks someone else. Locks are taken in
    musician order within a round; a rare cross-round deadlock is retried by _act.
    """
    decision = engine.decide(state, event)
    locked: set[int] = set()
    while decision.ask and not locked.issuperset(decision.ask):
        new = sorted(set(decision.ask) - locked)
        list(Musician.objects.select_for_update().filter(pk__in=new).values_list("pk", flat=True))
        locked.update(new)
        state = replace(state, candidates=_candidates(need, rule))
        decision = engine.decide(state, event)
    return decision


def _deadlock(error: OperationalError) -> bool:
    return getattr(error.__cause__, "sqlstate", None) == "40P01"  # PostgreSQL deadlock_detected


def _locked_need(need_pk: int) -> Need:
    # Lock the need row only (its optional lists are joined, and may be NULL).
    # (its lists are read only when candidates are)
    return (
        Need.objects.select_for_update(of=("self",))
        .select_related("project", "position__instrument")
        .get(pk=need_pk)
    )


# --- messages -------------------------------------------------------------------------------


def _orchestra() -> Orchestra:
    # The routing directory's short cache: no control-database query per answer.
    orchestra, _binding = directory.lookup(current_binding().subdomain)
    if orchestra is None or orchestra.pk != current_binding().orchestra_id:
        raise NoOrchestraBound("The bound orchestra is not in the directory.")
    return orchestra


def response_url(orchestra: Orchestra, offer: Offer) -> str:
    return f"{orchestra.public_url()}r/{tokens.make(orchestra.pk, offer)}/"


def _files(need: Need, timing: str) -> list[int]:
    return list(sent_with(need, timing).values_list("pk", flat=True))


def message_values(offer: Offer, orchestra: Orchestra, *, attachments: int = 0) -> dict[str, str]:
    need, project, musician = offer.need, offer.project, offer.musician
    with translation.override(musician.preferred_language):
        deadline = timezone.localtime(offer.expires_at)
        return {
            "firstName": musician.first_name,
            "lastName": musician.last_name,
            "fullName": musician.full_name,
            "orchestraName": orchestra.name,
            "projectName": project.name,
            "position": str(need.position),
            "instrument": need.position.instrument.name,
            "startDate": formats.date_format(project.start_date, "DATE_FORMAT"),
            "weekNumber": str(project.week),
            "rehearsalSchedule": project.rehearsal_schedule or _("see the attached information"),
            "concertInfo": project.concert_info or _("information will follow"),
            "quantity": str(need.quantity),
            "responseUrl": response_url(orchestra, offer),
            "responseDeadline": formats.date_format(deadline, "DATETIME_FORMAT"),
            "responseTime": str(need.response_time_hours),
            "attachmentNote": (
                _("See the attached files for sheet music and further information.")
                if attachments
                else _("Sheet music and other information will be sent separately.")
            ),
        }


def _queue(
    kind: str, offer: Offer, orchestra: Orchestra, now, templates=None, attachment_ids=()
) -> Message:
    return outbox.queue(
        kind=kind,
        musician=offer.musician,
        offer=offer,
        values=message_values(offer, orchestra, attachments=len(attachment_ids)),
        now=now,
        attachment_ids=list(attachment_ids),
        templates=templates,
        schedule=False,
    )


# --- carrying out a decision ----------------------------------------------------------------

_EVENT_FOR_STATUS = {
    engine.ACCEPTED: OfferEvent.Kind.ACCEPTED,
    engine.DECLINED: OfferEvent.Kind.DECLINED,
    engine.TIMED_OUT: OfferEvent.Kind.TIMED_OUT,
    engine.WITHDRAWN: OfferEvent.Kind.WITHDRAWN,
}


def _carry_out(
    need: Need,
    decision: engine.Decision,
    event: engine.Event,
    now: datetime.datetime,
    by: str,
    settings: OrchestraSettings | None,
) -> list[Offer]:
    """Write the decision. `settings` is read by the caller only when the decision may ask."""
    filled_notices = {n.offer_id for n in decision.notices if n.kind == "position_filled"}
    # One UPDATE per new status and one INSERT for all events: a yes that fills a need
    # withdraws every other offer of it, in this transaction, under the need's lock.
    by_status: dict[str, list[int]] = {}
    for offer_pk, status in decision.status_changes:
        by_status.setdefault(status, []).append(offer_pk)
    for status, pks in by_status.items():
        Offer.objects.filter(pk__in=pks).update(
            status=status, answered_at=now if status in (engine.ACCEPTED, engine.DECLINED) else None
        )
    OfferEvent.objects.bulk_create(
        OfferEvent(
            offer_id=offer_pk,
            kind=OfferEvent.Kind.FILLED
            if offer_pk in filled_notices
            else _EVENT_FOR_STATUS[status],
            at=now,
            by=by,
        )
        for offer_pk, status in decision.status_changes
    )
    if isinstance(event, engine.Answered) and event.accepted and decision.refused == "filled":
        OfferEvent.objects.create(
            offer_id=event.offer_id, kind=OfferEvent.Kind.LATE_ANSWER, at=now, by=by
        )
    status, quantity = need.status, need.quantity
    if decision.quantity is not None:
        need.quantity = decision.quantity
    if decision.need_filled is True:
        need.status = Need.Status.COMPLETED
    elif decision.need_filled is False and need.status == Need.Status.COMPLETED:
        need.status = Need.Status.ACTIVE
    if (status, quantity) != (need.status, need.quantity):
        need.save(update_fields=["quantity", "status"])
    if not decision.notices and not decision.ask:
        return []

    orchestra, templates = _orchestra(), Templates()
    # The notified offers are all this need's: share its (locked) row, position and project
    # instead of joining them into every offer.
    notified = Offer.objects.select_related("musician").in_bulk(
        [n.offer_id for n in decision.notices]
    )
    for offer in notified.values():
        offer.need, offer.project = need, need.project
    for notice in decision.notices:
        # (a decision confirms at most one offer: the yes it answers)
        files = (
            _files(need, ProjectFile.SendTiming.ON_ACCEPT) if notice.kind == "confirmation" else ()
        )
        _queue(notice.kind, notified[notice.offer_id], orchestra, now, templates, files)

    created = []
    if decision.ask:
        share = settings.reminder_percentage / 100
        response_time = datetime.timedelta(hours=need.response_time_hours)
        request_files = _files(need, ProjectFile.SendTiming.ON_REQUEST)
        musicians = Musician.objects.in_bulk(decision.ask)
        for musician_pk in decision.ask:
            offer = Offer.objects.create(
                offer_id=next_readable_id("REQ"),
                need=need,
                project=need.project,
                musician=musicians[musician_pk],
                sent_at=now,
                expires_at=now + response_time,
                reminder_due_at=now + response_time * share,
            )
            OfferEvent.objects.create(offer=offer, kind=OfferEvent.Kind.SENT, at=now, by=by)
            _queue("request", offer, orchestra, now, templates, request_files)
            created.append(offer)
    # One note for everything queued: the mail is due now (reminders come later and are
    # found by the pass that delivers it).
    note_due(now)
    return created


def _act(
    need_pk: int,
    event_for: Callable[[Situation], engine.Event | None],
    now: datetime.datetime | None = None,
    by: str = "",
    expected: str | None = None,
) -> Outcome:
    now = now or timezone.now()
    for attempt in range(RETRIES):
        try:
            with orchestra_atomic():
                need = _locked_need(need_pk)
                situation = _situation(need, now)
                event = event_for(situation)
                if event is None:  # the event already happened: nothing to decide or log
                    return Outcome(engine.Decision(refused=REPEATED))
                state, settings = situation.state, None
                closed = projects.requests_refused(need.project, timezone.localdate(now))
                if closed and isinstance(event, engine.Send):
                    raise ValidationError(closed)
                # A closed project asks nobody new (a refill after a no, more seats); answers
                # to requests already out still count.
                if not closed and engine.would_ask(state, event):
                    settings = OrchestraSettings.current()
                    # Asking is serialised per project (answers that ask nobody are not):
                    # lock the project row, then read the candidates as committed now, so two
                    # needs of a project never pick the same musician at the same moment.
                    list(
                        Project.objects.select_for_update()
                        .filter(pk=need.project_id)
                        .values_list("pk", flat=True)
                    )
                    state = replace(state, candidates=_candidates(need, settings.conflict_rule))
                    decision = _decide_under_musician_locks(
                        need, state, event, settings.conflict_rule
                    )
                else:
                    decision = engine.decide(state, event)
                if expected is not None and fingerprint(decision) != expected:
                    # Staff confirmed a preview that no longer holds: write nothing.
                    return Outcome(engine.Decision(refused=CHANGED), event=event)
                created = _carry_out(need, decision, event, now, by, settings)
            return Outcome(decision, created, event)
        except IntegrityError:
            # The constraint refused a second live offer for a musician (a path that did not
            # take the project lock). Start again: the musician is now blocked.
            if attempt == RETRIES - 1:
                raise
        except OperationalError as error:
            if not _deadlock(error) or attempt == RETRIES - 1:
                raise
    raise AssertionError("unreachable")


# --- the actions ----------------------------------------------------------------------------


def send(need: Need, *, now: datetime.datetime | None = None, by: str = "") -> Outcome:
    """Start or continue asking for the need; refused (ValidationError) when its project is
    archived or its week is over (projects.services.requests_refused)."""
    return _act(need.pk, lambda _situation: engine.Send(), now, by)


def send_project(project: Project, *, now: datetime.datetime | None = None, by: str = "") -> int:
    """Send for every need of the project, in processing order. Returns the offers created.

    Each need is its own transaction; what an earlier need asks is committed before the next
    need is read, so a later need cannot pick the same musician ("first processed wins").
    Refused (ValidationError) for an archived project or one whose week is over.
    """
    closed = projects.requests_refused(project, timezone.localdate(now or timezone.now()))
    if closed:
        raise ValidationError(closed)
    total = 0
    for need in project_needs(project).filter(status=Need.Status.ACTIVE):
        total += len(send(need, now=now, by=by).created)
    return total


def answer(
    offer: Offer, *, accepted: bool, now: datetime.datetime | None = None, by: str = ""
) -> Outcome:
    """The musician's answer (by = "") or one staff recorded from a phone call (by = user).

    A musician's answer after the response time is the timeout it would have become. The
    same answer again (a double click, a second tab) is refused as REPEATED and logs nothing:
    it is not a "late answer" on the musician's own seat.
    """
    now = now or timezone.now()

    def event_for(situation: Situation) -> engine.Event | None:
        # The need's offers were just read under its lock; the answered one is among them.
        status = next(o.status for o in situation.state.offers if o.offer_id == offer.pk)
        if status == (engine.ACCEPTED if accepted else engine.DECLINED):
            return None
        if not by and status == engine.PENDING and offer.pk in situation.expired:
            return engine.TimedOut(offer.pk)
        return engine.Answered(offer.pk, accepted)

    return _act(offer.need_id, event_for, now, by)


def time_out(offer: Offer, *, now: datetime.datetime | None = None) -> Outcome:
    return _act(offer.need_id, lambda _situation: engine.TimedOut(offer.pk), now)


def withdraw(offer: Offer, *, now: datetime.datetime | None = None, by: str = "") -> Outcome:
    return _act(offer.need_id, lambda _situation: engine.Withdrawn(offer.pk), now, by)


def fingerprint(decision: engine.Decision) -> str:
    """What a decision will do (status changes, musicians asked, seats), as a short digest.

    A confirmed preview carries it, so the change is made only if it still does exactly what
    the staff were shown."""
    text = repr((decision.quantity, sorted(decision.status_changes), decision.ask))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def quantity_decision(need: Need, quantity: int) -> engine.Decision:
    """What changing the need's seats to `quantity` would do now (reads, writes nothing)."""
    state = _situation(need, timezone.now()).state
    event = engine.QuantityChanged(quantity)
    closed = projects.requests_refused(need.project, timezone.localdate())
    if not closed and engine.would_ask(state, event):  # as _act decides it
        rule = OrchestraSettings.current().conflict_rule
        state = replace(state, candidates=_candidates(need, rule))
    return engine.decide(state, event)


def change_quantity(
    need: Need,
    quantity: int,
    *,
    now: datetime.datetime | None = None,
    by: str = "",
    expected: str | None = None,
) -> Outcome:
    """Change the seats; with `expected` (a preview's fingerprint) only if the change still
    withdraws and asks exactly what the preview showed (else refused as CHANGED)."""
    return _act(need.pk, lambda _situation: engine.QuantityChanged(quantity), now, by, expected)


def resend(message: Message, *, now: datetime.datetime | None = None, by: str = "") -> Message:
    """Queue a copy of a message (the musician lost it); logged on the offer."""
    now = now or timezone.now()
    with orchestra_atomic():
        copy = outbox.requeue(message, now=now)
        if message.offer_id:
            OfferEvent.objects.create(
                offer_id=message.offer_id, kind=OfferEvent.Kind.RESENT, at=now, by=by
            )
    return copy


def remind(offer_pk: int, *, now: datetime.datetime) -> bool:
    """Send the one reminder of a pending offer; False if it was answered or reminded already."""
    with orchestra_atomic():
        offer = (
            Offer.objects.select_for_update(of=("self",))
            .select_related("musician", "need__position__instrument", "project")
            .filter(pk=offer_pk, status=engine.PENDING, reminder_sent_at__isnull=True)
            .first()
        )
        if offer is None or offer.expires_at <= now:
            return False
        offer.reminder_sent_at = now
        offer.save(update_fields=["reminder_sent_at"])
        OfferEvent.objects.create(offer=offer, kind=OfferEvent.Kind.REMINDED, at=now)
        _queue("reminder", offer, _orchestra(), now)
        note_due(now)
    return True


def prepare_delivery(message: Message, at: datetime.datetime) -> str:
    """Just before a request or reminder goes out (messaging.delivery, in its transaction):
    why it must not be sent any more, or "" to send it.

    The response window starts when the request is delivered: a request that waited in the
    outbox (a mail outage) moves its offer's deadline and reminder time on by the wait, and its
    text is rendered again with the new deadline. Until then the scheduler neither times the
    offer out nor reminds it (offers.scheduler).
    """
    if message.offer_id is None or message.kind == "confirmation":
        return ""
    requests = Message.objects.filter(offer_id=message.offer_id, kind="request")
    if message.kind in ("position_filled", "withdrawn"):
        # Telling someone a request is off only makes sense if the request reached them.
        reached = requests.filter(status__in=[Message.Status.SENT, Message.Status.SENDING])
        return "" if reached.exists() else _("Not sent: the request never reached the musician.")
    offer = (
        Offer.objects.select_for_update(of=("self",))
        .select_related("musician", "need__position__instrument", "project")
        .get(pk=message.offer_id)
    )
    if offer.status != engine.PENDING:
        return _("Not sent: the request is no longer open (%(state)s).") % {
            "state": offer.get_status_display()
        }
    if message.kind == "reminder":
        return "" if offer.expires_at > at else _("Not sent: the response time has ended.")
    wait = at - offer.sent_at
    # A staff "resend" of a request that arrived once does not restart the window.
    delivered_before = requests.filter(status=Message.Status.SENT).exists()
    if wait > LATE_DELIVERY and not delivered_before:
        offer.sent_at, offer.expires_at = at, offer.expires_at + wait
        if offer.reminder_sent_at is None and offer.reminder_due_at is not None:
            offer.reminder_due_at += wait
        offer.save(update_fields=["sent_at", "expires_at", "reminder_due_at"])
        # (an SMS names no deadline: its text stays as it is)
        if message.channel == Message.Channel.EMAIL:
            values = message_values(offer, _orchestra(), attachments=len(message.attachment_ids))
            message.subject, message.body = render(message.kind, message.language, values)
    return ""
