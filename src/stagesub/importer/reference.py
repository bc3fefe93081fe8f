"""Import one orchestra's database of the original StageSub into an orchestra of ours.

The source is read with psycopg in a read-only, repeatable-read transaction (one consistent
snapshot); everything on our side happens in one transaction on the bound orchestra's database,
so a refused source or a failure writes nothing. Each written row is recorded in ImportedRow
(source table + integer id), which makes a second run skip what the first one wrote.

The original's quirks (reference-schema.md §7) are tolerated and reported, never fatal: columns
missing from older databases get defaults, NULLs where our model needs a value get our default,
e-mails differing only by case are merged into the first musician, test rows are skipped.
"""

from __future__ import annotations

import datetime
import hashlib
import re
import secrets
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction

from stagesub.importer.models import ImportedRow
from stagesub.messaging import templates_admin
from stagesub.messaging.models import MessageTemplate
from stagesub.offers import engine
from stagesub.offers.models import Offer, OfferEvent
from stagesub.orchestra.ids import advance_past, format_readable_id, next_readable_id
from stagesub.projects import files
from stagesub.projects.models import (
    Need,
    Project,
    ProjectFile,
    ProjectList,
    ProjectListEntry,
    StoredFile,
)
from stagesub.rankings.models import RankingEntry, RankingList
from stagesub.roster.models import Instrument, Musician, Position, Qualification
from stagesub.roster.phones import normalize_phone
from stagesub.tenancy.context import current_binding, orchestra_atomic

# Tables and columns without which a database is not the original's orchestra schema.
REQUIRED = {
    "Instrument": {"id", "instrumentId", "name"},
    "Position": {"id", "positionId", "instrumentId", "name", "hierarchyLevel"},
    "Musician": {"id", "musicianId", "firstName", "lastName", "email", "phone", "isActive"},
    "MusicianQualification": {"musicianId", "positionId"},
    "RankingList": {"id", "rankingListId", "positionId", "listType"},
    "Ranking": {"id", "listId", "musicianId", "rank"},
    "Project": {"id", "projectId", "name", "startDate", "weekNumber"},
    "ProjectNeed": {
        "id",
        "projectNeedId",
        "projectId",
        "positionId",
        "quantity",
        "rankingListId",
        "requestStrategy",
    },
    "Request": {"id", "requestId", "projectNeedId", "musicianId", "status", "sentAt"},
}
# Columns some databases lack (added by hand-run files): the default used when missing.
OPTIONAL = {
    "Instrument": {"displayOrder": None, "isArchived": False, "archivedAt": None},
    "Musician": {
        "preferredLanguage": "sv",
        "localResidence": False,
        "notes": None,
        "isArchived": False,
        "archivedAt": None,
        "restoredAt": None,
    },
    "RankingList": {"description": None},
    "Project": {"rehearsalSchedule": None, "concertInfo": None, "notes": None},
    "ProjectNeed": {
        "customRankingListId": None,
        "maxRecipients": None,
        "responseTimeHours": 24,
        "requireLocalResidence": False,
        "archivedAt": None,
        "status": "active",
    },
    "Request": {"reminderSentAt": None, "respondedAt": None},
    "ProjectFile": {
        "originalFileName": None,
        "mimeType": None,
        "projectNeedId": None,
        "sendTiming": "on_request",
    },
}
TEST_PROJECT_PREFIXES = ("INTEGRATION-TEST-", "PROBLEM-FINDER-", "VALIDATION-TEST-")
TEST_EMAIL_DOMAIN = "@stagesubtest.com"
# Source request status -> ours. "timeout" is only ever queried by the original, kept for safety.
REQUEST_STATUS = {
    "pending": engine.PENDING,
    "accepted": engine.ACCEPTED,
    "declined": engine.DECLINED,
    "timed_out": engine.TIMED_OUT,
    "timeout": engine.TIMED_OUT,
    "cancelled": engine.WITHDRAWN,
}
ANSWER_EVENT = {
    engine.ACCEPTED: OfferEvent.Kind.ACCEPTED,
    engine.DECLINED: OfferEvent.Kind.DECLINED,
    engine.WITHDRAWN: OfferEvent.Kind.FILLED,
}
NEED_STATUSES = {s.value for s in Need.Status}
STRATEGIES = {s.value for s in Need.Strategy}
# The original's IdSequence.entityType for each prefix that has one (§3).
SEQUENCE_ENTITY = {
    "MUS": "musician",
    "INST": "instrument",
    "POS": "position",
    "RANK": "rankingList",
    "PROJ": "project",
    "NEED": "projectNeed",
    "REQ": "request",
    "CLIST": "customList",
    "FILE": "projectFile",
}


# The original's template variables (both dialects, §4.3-4.4) -> ours. Names missing here were
# never filled by the original's sender (yesLink, projectDate, ...): reported, template skipped.
TEMPLATE_VARIABLES = {
    "firstName": "firstName",
    "lastName": "lastName",
    "musician_name": "fullName",
    "musicianName": "fullName",
    "projectName": "projectName",
    "project_name": "projectName",
    "positionName": "position",
    "position": "position",
    "instrumentName": "instrument",
    "instrument_name": "instrument",
    "startDate": "startDate",
    "start_date": "startDate",
    "weekNumber": "weekNumber",
    "rehearsalSchedule": "rehearsalSchedule",
    "rehearsal_schedule": "rehearsalSchedule",
    "concertInfo": "concertInfo",
    "concert_info": "concertInfo",
    "responseUrl": "responseUrl",
    "response_url": "responseUrl",
    "responseLink": "responseUrl",
    "responseTime": "responseTime",
    "response_time": "responseTime",
    "quantity": "quantity",
    "attachmentNote": "attachmentNote",
}
_SOURCE_PLACEHOLDER = re.compile(r"\{\{([A-Za-z_]+)\}\}")


def translate_template(text: str) -> tuple[str, list[str]]:
    """`text` with the original's variable names replaced by ours; the untranslatable names."""
    unknown: list[str] = []

    def swap(match: re.Match) -> str:
        ours = TEMPLATE_VARIABLES.get(match.group(1))
        if ours is None:
            unknown.append(match.group(1))
            return match.group(0)
        return "{{" + ours + "}}"

    return _SOURCE_PLACEHOLDER.sub(swap, text), unknown


class NotReferenceSchema(Exception):
    """The source database is not an orchestra database of the original StageSub."""


@dataclass
class Report:
    dry_run: bool
    created: Counter = field(default_factory=Counter)
    already: Counter = field(default_factory=Counter)
    skipped: list[tuple[str, str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def skip(self, kind: str, source: str, reason: str) -> None:
        self.skipped.append((kind, source, reason))

    def lines(self) -> list[str]:
        verb = "would create" if self.dry_run else "created"
        out = [f"{verb} {n} {kind}" for kind, n in sorted(self.created.items())]
        out += [f"already imported: {n} {kind}" for kind, n in sorted(self.already.items())]
        out += [f"skipped {kind} {source}: {reason}" for kind, source, reason in self.skipped]
        out += [f"note: {note}" for note in self.notes]
        return out


def _utc(value: datetime.datetime | None) -> datetime.datetime | None:
    """The original stores UTC wall-clock time without a zone (§7.8)."""
    if value is None:
        return None
    return value.replace(tzinfo=datetime.UTC)


class _Source:
    """The original's tables as dicts, with missing optional columns filled by their defaults."""

    def __init__(self, conn: psycopg.Connection, report: Report) -> None:
        self.conn = conn
        self.report = report
        rows = conn.execute(
            "SELECT table_name, column_name FROM information_schema.columns"
            " WHERE table_schema = 'public'"
        ).fetchall()
        self.columns: dict[str, set[str]] = {}
        for table, column in rows:
            self.columns.setdefault(table, set()).add(column)
        missing = []
        for table, needed in REQUIRED.items():
            if table not in self.columns:
                missing.append(f'table "{table}"')
            else:
                missing += [f'"{table}"."{c}"' for c in sorted(needed - self.columns[table])]
        if missing:
            raise NotReferenceSchema(
                "not an orchestra database of the original StageSub; missing: " + ", ".join(missing)
            )
        for table in ("Orchestra", "User", "Customer", "SystemLog", "Tenant"):
            if table in self.columns:
                self.report.notes.append(
                    f'table "{table}" is a leftover of the combined schema: not imported'
                )

    def has(self, table: str) -> bool:
        return table in self.columns

    def rows(self, table: str, order: str = '"id"') -> list[dict]:
        present = self.columns[table]
        wanted = REQUIRED.get(table, set()) | set(OPTIONAL.get(table, {}))
        if table not in REQUIRED:
            wanted = present
        select = sorted(wanted & present)
        for column, default in OPTIONAL.get(table, {}).items():
            if column not in present:
                self.report.notes.append(
                    f'column "{table}"."{column}" missing in this database: {default!r} used'
                )
        sql = 'SELECT {} FROM "{}" ORDER BY {}'.format(
            ", ".join(f'"{c}"' for c in select), table, order
        )
        cursor = self.conn.cursor(row_factory=psycopg.rows.dict_row)
        result = cursor.execute(sql).fetchall()
        defaults = {c: d for c, d in OPTIONAL.get(table, {}).items() if c not in present}
        if defaults:
            for row in result:
                row.update(defaults)
        return result


class _Importer:
    def __init__(self, source: _Source, report: Report, files_dir: Path | None) -> None:
        self.src = source
        self.files_dir = files_dir
        self.written: list[Path] = []
        self.report = report
        self.maps: dict[str, dict[int, int]] = {}
        self.dry_counter = 0
        self.kept_numbers: dict[str, int] = {}
        self.advanced: dict[str, int] = {}
        self.done = {
            (t, k): pk
            for t, k, pk in ImportedRow.objects.values_list(
                "source_table", "source_key", "target_pk"
            )
        }
        self.new_marks: list[ImportedRow] = []

    # -- ids ----------------------------------------------------------------------------

    def readable_id(self, prefix: str, source_id: str | None, taken: set[str]) -> str:
        """The source's readable id when it has our form and is free, else a fresh one."""
        match = re.fullmatch(rf"{prefix}(\d{{3,12}})", source_id or "")
        if match:
            candidate = format_readable_id(prefix, int(match.group(1)))
            if candidate == source_id and len(candidate) <= 20 and candidate not in taken:
                taken.add(candidate)
                number = int(match.group(1))
                self.kept_numbers[prefix] = max(number, self.kept_numbers.get(prefix, 0))
                return candidate
        if self.report.dry_run:
            # No real counter in a dry run: a REQ sequence on PostgreSQL cannot be rolled back.
            self.dry_counter += 1
            fresh = f"DRY{self.dry_counter}"
        else:
            self.advance(prefix)
            fresh = next_readable_id(prefix)
            while fresh in taken:
                fresh = next_readable_id(prefix)
        taken.add(fresh)
        return fresh

    def advance(self, prefix: str) -> None:
        """Move our counter past the kept source numbers (once per new maximum, not per row)."""
        number = self.kept_numbers.get(prefix, 0)
        if not self.report.dry_run and number > self.advanced.get(prefix, 0):
            advance_past(prefix, number)
            self.advanced[prefix] = number

    # -- bookkeeping --------------------------------------------------------------------

    def seen(self, table: str, source_pk: int) -> int | None:
        return self.done.get((table, str(source_pk)))

    def mark(self, table: str, source_pk: int, target_pk: int, kind: str) -> None:
        self.maps.setdefault(table, {})[source_pk] = target_pk
        self.new_marks.append(
            ImportedRow(source_table=table, source_key=str(source_pk), target_pk=target_pk)
        )
        self.report.created[kind] += 1

    def known(self, table: str, source_pk: int, kind: str) -> bool:
        target = self.seen(table, source_pk)
        if target is None:
            return False
        self.maps.setdefault(table, {})[source_pk] = target
        self.report.already[kind] += 1
        return True

    def target(self, table: str, source_pk: int | None) -> int | None:
        if source_pk is None:
            return None
        return self.maps.get(table, {}).get(source_pk)

    # -- tables -------------------------------------------------------------------------

    def instruments(self) -> None:
        taken = set(Instrument.objects.values_list("instrument_id", flat=True))
        names = {n.casefold(): pk for n, pk in Instrument.objects.values_list("name", "pk")}
        for row in self.src.rows(
            "Instrument",
            '"displayOrder" NULLS LAST, "id"'
            if "displayOrder" in self.src.columns["Instrument"]
            else '"id"',
        ):
            if self.known("Instrument", row["id"], "instruments"):
                continue
            name = (row["name"] or "").strip()[:100]
            if name.casefold() in names:
                # Same instrument already here (made by hand or another source): reuse it.
                self.maps.setdefault("Instrument", {})[row["id"]] = names[name.casefold()]
                self.report.skip("instrument", row["instrumentId"], "exists here; reused")
                continue
            order = row["displayOrder"]
            instrument = Instrument.objects.create(
                instrument_id=self.readable_id("INST", row["instrumentId"], taken),
                name=name,
                # NULL sorts last in the original (the code uses 999).
                display_order=999 if order is None or order < 0 else order,
                is_archived=bool(row["isArchived"]),
                archived_at=_utc(row["archivedAt"]),
            )
            names[name.casefold()] = instrument.pk
            self.mark("Instrument", row["id"], instrument.pk, "instruments")

    def positions(self) -> None:
        taken = set(Position.objects.values_list("position_id", flat=True))
        existing = {
            (i, n.casefold()): pk
            for i, n, pk in Position.objects.values_list("instrument_id", "name", "pk")
        }
        for row in self.src.rows("Position"):
            if self.known("Position", row["id"], "positions"):
                continue
            instrument = self.target("Instrument", row["instrumentId"])
            if instrument is None:
                self.report.skip("position", row["positionId"], "its instrument was not imported")
                continue
            name = (row["name"] or "").strip()[:100]
            if (instrument, name.casefold()) in existing:
                self.maps.setdefault("Position", {})[row["id"]] = existing[
                    (instrument, name.casefold())
                ]
                self.report.skip("position", row["positionId"], "exists here; reused")
                continue
            position = Position.objects.create(
                position_id=self.readable_id("POS", row["positionId"], taken),
                instrument_id=instrument,
                name=name,
                hierarchy_level=max(row["hierarchyLevel"] or 1, 1),
            )
            existing[(instrument, name.casefold())] = position.pk
            self.mark("Position", row["id"], position.pk, "positions")

    def musicians(self) -> None:
        taken = set(Musician.objects.values_list("musician_id", flat=True))
        emails = {e.casefold(): pk for e, pk in Musician.objects.values_list("email", "pk")}
        phones = set(Musician.objects.exclude(phone="").values_list("phone", flat=True))
        self.test_musicians: set[int] = set()
        for row in self.src.rows("Musician"):
            if self.known("Musician", row["id"], "musicians"):
                continue
            source = row["musicianId"]
            email = (row["email"] or "").strip()
            if email.casefold().endswith(TEST_EMAIL_DOMAIN):
                self.test_musicians.add(row["id"])
                self.report.skip("musician", source, f"test data ({TEST_EMAIL_DOMAIN})")
                continue
            try:
                validate_email(email)
            except ValidationError:
                self.report.skip("musician", source, f"invalid e-mail {email!r}")
                continue
            if email.casefold() in emails:
                # Unique byte-for-byte there, case-insensitively here: one person, merged.
                self.maps.setdefault("Musician", {})[row["id"]] = emails[email.casefold()]
                self.report.skip("musician", source, f"e-mail {email} differs only by case: merged")
                continue
            try:
                phone = normalize_phone(row["phone"] or "")
            except ValidationError:
                self.report.notes.append(
                    f"musician {source}: invalid phone {row['phone']!r} left out"
                )
                phone = ""
            if phone and phone in phones:
                self.report.notes.append(f"musician {source}: phone {phone} already used, left out")
                phone = ""
            if phone:
                phones.add(phone)
            if row["isArchived"]:
                status = Musician.Status.ARCHIVED
            elif not row["isActive"]:
                status = Musician.Status.INACTIVE
            else:
                status = Musician.Status.ACTIVE
            language = (
                row["preferredLanguage"] if row["preferredLanguage"] in ("sv", "en") else "sv"
            )
            musician = Musician.objects.create(
                musician_id=self.readable_id("MUS", source, taken),
                first_name=(row["firstName"] or "").strip()[:100],
                last_name=(row["lastName"] or "").strip()[:100],
                email=email,
                phone=phone,
                preferred_language=language,
                local_residence=bool(row["localResidence"]),
                notes=row["notes"] or "",
                status=status,
                archived_at=_utc(row["archivedAt"]),
                restored_at=_utc(row["restoredAt"]),
            )
            emails[email.casefold()] = musician.pk
            self.mark("Musician", row["id"], musician.pk, "musicians")

    def qualifications(self) -> None:
        existing = set(Qualification.objects.values_list("musician_id", "position_id"))
        new = []
        for row in self.src.rows("MusicianQualification", '"musicianId", "positionId"'):
            musician = self.target("Musician", row["musicianId"])
            position = self.target("Position", row["positionId"])
            if musician is None or position is None or (musician, position) in existing:
                continue
            existing.add((musician, position))
            new.append(Qualification(musician_id=musician, position_id=position))
        Qualification.objects.bulk_create(new)
        self.report.created["qualifications"] += len(new)

    def ranking_lists(self) -> None:
        taken = set(RankingList.objects.values_list("ranking_list_id", flat=True))
        existing = {
            (p, t): pk
            for p, t, pk in RankingList.objects.values_list("position_id", "list_type", "pk")
        }
        fresh: set[int] = set()
        for row in self.src.rows("RankingList"):
            if self.known("RankingList", row["id"], "ranking lists"):
                continue
            position = self.target("Position", row["positionId"])
            if position is None:
                self.report.skip(
                    "ranking list", row["rankingListId"], "its position was not imported"
                )
                continue
            if row["listType"] not in ("A", "B", "C"):
                self.report.skip(
                    "ranking list", row["rankingListId"], f"list type {row['listType']!r}"
                )
                continue
            if (position, row["listType"]) in existing:
                self.report.skip(
                    "ranking list", row["rankingListId"], "this list exists here already"
                )
                self.maps.setdefault("RankingList", {})[row["id"]] = existing[
                    (position, row["listType"])
                ]
                continue
            ranking_list = RankingList.objects.create(
                ranking_list_id=self.readable_id("RANK", row["rankingListId"], taken),
                position_id=position,
                list_type=row["listType"],
                description=(row["description"] or "")[:300],
            )
            existing[(position, row["listType"])] = ranking_list.pk
            fresh.add(ranking_list.pk)
            self.mark("RankingList", row["id"], ranking_list.pk, "ranking lists")
        entries = []
        placed: dict[int, set[int]] = {}
        for row in self.src.rows("Ranking", '"listId", "rank", "id"'):
            list_pk = self.target("RankingList", row["listId"])
            musician = self.target("Musician", row["musicianId"])
            if list_pk not in fresh or musician is None:
                continue
            on_list = placed.setdefault(list_pk, set())
            if musician in on_list:
                self.report.skip(
                    "ranking", str(row["id"]), "musician already on the list (merged e-mail)"
                )
                continue
            on_list.add(musician)
            # Renumbered 1..n in the source order: gaps and merged duplicates leave no holes.
            entries.append(
                RankingEntry(ranking_list_id=list_pk, musician_id=musician, rank=len(on_list))
            )
        RankingEntry.objects.bulk_create(entries)
        self.report.created["rankings"] += len(entries)

    def projects(self) -> None:
        taken = set(Project.objects.values_list("project_id", flat=True))
        self.test_projects: set[int] = set()
        for row in self.src.rows("Project"):
            if self.known("Project", row["id"], "projects"):
                continue
            source = row["projectId"] or ""
            if source.startswith(TEST_PROJECT_PREFIXES):
                self.test_projects.add(row["id"])
                self.report.skip("project", source, "test data")
                continue
            start = row["startDate"].date()
            if start.isocalendar().week != row["weekNumber"]:
                self.report.notes.append(
                    f"project {source}: week {row['weekNumber']} disagrees with its start date"
                    f" {start} (the date is kept)"
                )
            project = Project.objects.create(
                project_id=self.readable_id("PROJ", source, taken),
                name=(row["name"] or "").strip()[:200],
                start_date=start,
                end_date=start,  # the original has no end date
                rehearsal_schedule=row["rehearsalSchedule"] or "",
                concert_info=row["concertInfo"] or "",
                notes=row["notes"] or "",
            )
            self.mark("Project", row["id"], project.pk, "projects")

    def custom_lists(self, needed: dict[int, tuple[int, int]]) -> None:
        """The original's per-project lists that needs point at, as our project lists."""
        if not (self.src.has("CustomRankingList") and self.src.has("CustomRanking")):
            return
        taken = set(ProjectList.objects.values_list("list_id", flat=True))
        cols = self.src.columns["CustomRankingList"]
        name_col = next((c for c in ("name", "listName") if c in cols), None)
        id_col = "customListId" if "customListId" in cols else None
        for row in self.src.rows("CustomRankingList"):
            if row["id"] not in needed or self.known(
                "CustomRankingList", row["id"], "project lists"
            ):
                continue
            project, position = needed[row["id"]]
            if ProjectList.objects.filter(project_id=project, position_id=position).exists():
                self.report.skip(
                    "custom list", str(row["id"]), "the project has a list for this position"
                )
                continue
            project_list = ProjectList.objects.create(
                list_id=self.readable_id("CLIST", row.get(id_col) if id_col else None, taken),
                project_id=project,
                position_id=position,
                name=((row.get(name_col) if name_col else None) or f"List {row['id']}")[:200],
            )
            self.mark("CustomRankingList", row["id"], project_list.pk, "project lists")
            placed: set[int] = set()
            entries = []
            for entry in self.src.conn.execute(
                'SELECT "musicianId" FROM "CustomRanking" WHERE "customListId" = %s'
                ' ORDER BY "rank", "id"',
                [row["id"]],
            ).fetchall():
                musician = self.target("Musician", entry[0])
                if musician is None or musician in placed:
                    continue
                placed.add(musician)
                entries.append(
                    ProjectListEntry(
                        project_list=project_list, musician_id=musician, rank=len(placed)
                    )
                )
            ProjectListEntry.objects.bulk_create(entries)

    def needs(self) -> None:
        taken = set(Need.objects.values_list("need_id", flat=True))
        rows = self.src.rows("ProjectNeed")
        wanted_custom = {
            row["customRankingListId"]: (
                self.target("Project", row["projectId"]),
                self.target("Position", row["positionId"]),
            )
            for row in rows
            if row["customRankingListId"] is not None
            and self.target("Project", row["projectId"]) is not None
            and self.target("Position", row["positionId"]) is not None
        }
        self.custom_lists(wanted_custom)
        for row in rows:
            if self.known("ProjectNeed", row["id"], "needs"):
                continue
            source = row["projectNeedId"]
            if row["projectId"] in self.test_projects:
                continue  # reported with its project
            project = self.target("Project", row["projectId"])
            position = self.target("Position", row["positionId"])
            if project is None or position is None:
                self.report.skip("need", source, "its project or position was not imported")
                continue
            # The custom list wins when both are set, as in the original (§5.4).
            project_list = self.target("CustomRankingList", row["customRankingListId"])
            ranking_list = (
                None if project_list else self.target("RankingList", row["rankingListId"])
            )
            if project_list is None and ranking_list is None:
                self.report.skip("need", source, "no ranking list that was imported")
                continue
            if row["requestStrategy"] not in STRATEGIES:
                self.report.skip("need", source, f"unknown strategy {row['requestStrategy']!r}")
                continue
            if (row["quantity"] or 0) < 1:
                self.report.skip("need", source, f"quantity {row['quantity']!r}")
                continue
            hours = row["responseTimeHours"]
            if hours is None or hours < 1:
                self.report.notes.append(f"need {source}: response time {hours!r}, 48 hours used")
                hours = 48
            status = row["status"] if row["status"] in NEED_STATUSES else Need.Status.ACTIVE
            need = Need.objects.create(
                need_id=self.readable_id("NEED", source, taken),
                project_id=project,
                position_id=position,
                quantity=row["quantity"],
                ranking_list_id=ranking_list,
                project_list_id=project_list,
                strategy=row["requestStrategy"],
                max_recipients=row["maxRecipients"] or None,
                response_time_hours=hours,
                require_local_residence=bool(row["requireLocalResidence"]),
                status=status,
                archived_at=_utc(row["archivedAt"]),
            )
            self.need_hours[need.pk] = hours
            self.need_project[need.pk] = project
            self.mark("ProjectNeed", row["id"], need.pk, "needs")

    def requests(self) -> None:
        taken = set(Offer.objects.values_list("offer_id", flat=True))
        live = set(
            Offer.objects.filter(status__in=engine.BLOCKING).values_list(
                "project_id", "musician_id"
            )
        )
        events, offers = [], []
        for row in self.src.rows("Request"):
            if self.known("Request", row["id"], "requests"):
                continue
            source = row["requestId"]
            need = self.target("ProjectNeed", row["projectNeedId"])
            musician = self.target("Musician", row["musicianId"])
            if need is None or musician is None:
                if row["musicianId"] not in self.test_musicians:
                    self.report.skip("request", source, "its need or musician was not imported")
                continue
            status = REQUEST_STATUS.get(row["status"])
            if status is None:
                self.report.skip("request", source, f"unknown status {row['status']!r}")
                continue
            project = self.need_project[need]
            if status in engine.BLOCKING:
                if (project, musician) in live:
                    self.report.skip(
                        "request", source, "a second request of the musician in the project"
                    )
                    continue
                live.add((project, musician))
            sent = _utc(row["sentAt"])
            answered = _utc(row["respondedAt"])
            offer = Offer(
                offer_id=self.readable_id("REQ", source, taken),
                need_id=need,
                project_id=project,
                musician_id=musician,
                status=status,
                sent_at=sent,
                expires_at=sent + datetime.timedelta(hours=self.need_hours[need]),
                answered_at=answered,
                reminder_sent_at=_utc(row["reminderSentAt"]),
            )
            offers.append((row["id"], offer))
            events.append(OfferEvent(offer=offer, kind=OfferEvent.Kind.SENT, at=sent))
            if offer.reminder_sent_at:
                events.append(
                    OfferEvent(
                        offer=offer, kind=OfferEvent.Kind.REMINDED, at=offer.reminder_sent_at
                    )
                )
            if status == engine.TIMED_OUT:
                events.append(
                    OfferEvent(offer=offer, kind=OfferEvent.Kind.TIMED_OUT, at=offer.expires_at)
                )
            elif status in ANSWER_EVENT and answered is not None:
                events.append(OfferEvent(offer=offer, kind=ANSWER_EVENT[status], at=answered))
        # In bulk: the largest table by far (one INSERT per row made a 20,000-request import slow).
        Offer.objects.bulk_create([offer for _, offer in offers], batch_size=1000)
        for source_pk, offer in offers:
            self.mark("Request", source_pk, offer.pk, "requests")
        OfferEvent.objects.bulk_create(events, batch_size=2000)

    def templates(self) -> None:
        """The original's edited texts, as our templates of the same kind and language (§4.1)."""
        if not self.src.has("EmailTemplate"):
            self.report.notes.append('table "EmailTemplate" missing: our default templates kept')
            return
        for row in self.src.rows("EmailTemplate"):
            if self.known("EmailTemplate", row["id"], "templates"):
                continue
            # Swedish is the bare type, English "<type>_en" (no other language was ever used).
            kind = row["type"].removesuffix("_en")
            language = "en" if row["type"].endswith("_en") else "sv"
            if not templates_admin.is_template(kind, language):
                self.report.skip("template", row["type"], "no such template here")
                continue
            subject, unknown_subject = translate_template(row["subject"] or "")
            body, unknown_body = translate_template(row["body"] or "")
            unknown = list(dict.fromkeys(unknown_subject + unknown_body))
            if unknown:
                self.report.skip(
                    "template",
                    row["type"],
                    "variables with no equivalent here: " + ", ".join(unknown) + " (default kept)",
                )
                continue
            try:
                change = templates_admin.save(kind, language, subject[:200], body, by="import")
            except ValidationError as error:
                self.report.skip(
                    "template", row["type"], "; ".join(error.messages) + " (default kept)"
                )
                continue
            template = MessageTemplate.objects.get(kind=kind, language=language)
            if change is None:
                self.report.notes.append(f"template {row['type']}: same as ours")
            self.mark("EmailTemplate", row["id"], template.pk, "templates")

    def files(self) -> None:
        """File links with their bytes: from "FileStorage" for /api/files/<id> URLs, from the
        --files folder for legacy /uploads/... ones; a file whose bytes are nowhere is reported."""
        if not self.src.has("ProjectFile"):
            return
        taken = set(ProjectFile.objects.values_list("file_id", flat=True))
        by_url: dict[str, StoredFile] = {}
        for row in self.src.rows("ProjectFile"):
            if self.known("ProjectFile", row["id"], "files"):
                continue
            source = row["projectFileId"]
            if row["projectId"] in self.test_projects:
                continue  # reported with its project
            project = self.target("Project", row["projectId"])
            if project is None:
                self.report.skip("file", source, "its project was not imported")
                continue
            need = self.target("ProjectNeed", row["projectNeedId"])
            if row["projectNeedId"] is not None and need is None:
                self.report.skip("file", source, "its need was not imported")
                continue
            url = row["fileUrl"] or ""
            stored = by_url.get(url)
            if stored is None:
                found = self.file_bytes(url)
                if isinstance(found, str):
                    self.report.skip("file", source, found)
                    continue
                content, stored_name = found
                name = row["originalFileName"] or stored_name or row["fileName"] or ""
                extension = Path(name).suffix.lower()
                if extension not in files.ALLOWED:
                    self.report.skip("file", source, f"type {extension or name!r} not allowed here")
                    continue
                stored = StoredFile.objects.create(
                    key=self.write_bytes(content),
                    original_name=Path(name).name[:255],
                    content_type=files.ALLOWED[extension],
                    size=len(content),
                    sha256=hashlib.sha256(content).hexdigest(),
                )
                by_url[url] = stored
            link = ProjectFile.objects.create(
                file_id=self.readable_id("FILE", source, taken),
                project_id=project,
                need_id=need,
                stored=stored,
                display_name=(row["fileName"] or stored.original_name)[:200],
                file_type=row["fileType"]
                if row["fileType"] in ProjectFile.FileType.values
                else ProjectFile.FileType.GENERAL,
                send_timing=row["sendTiming"]
                if row["sendTiming"] in ProjectFile.SendTiming.values
                else ProjectFile.SendTiming.ON_REQUEST,
            )
            self.mark("ProjectFile", row["id"], link.pk, "files")

    def file_bytes(self, url: str) -> tuple[bytes, str] | str:
        """(content, original name) for a file URL of the original, or why there are none."""
        if url.startswith("/api/files/"):
            if not self.src.has("FileStorage"):
                return 'table "FileStorage" missing: no bytes'
            found = self.src.conn.execute(
                'SELECT content, "originalName" FROM "FileStorage" WHERE id = %s',
                [url.removeprefix("/api/files/")],
            ).fetchone()
            if found is None or not found[0]:
                return f"no bytes in FileStorage for {url}"
            return bytes(found[0]), found[1]
        if self.files_dir is None:
            return f"bytes at {url} not in the database (give --files DIR)"
        base = self.files_dir.resolve()
        path = (base / url.lstrip("/")).resolve()
        if not path.is_relative_to(base) or not path.is_file():
            return f"{url} not found under {self.files_dir}"
        return path.read_bytes(), path.name

    def write_bytes(self, content: bytes) -> str:
        """Store bytes under a fresh key; nothing is written in a dry run (the rows roll back)."""
        key = secrets.token_hex(16)
        if not self.report.dry_run:
            target = files.files_dir() / key
            target.write_bytes(content)
            self.written.append(target)
        return key

    def source_sequences(self) -> None:
        """Report the original's IdSequence rows that are missing or behind its own ids (§7.6)."""
        if not self.src.has("IdSequence"):
            self.report.notes.append(
                'table "IdSequence" missing in the source; ids taken from the rows'
            )
            return
        counters = dict(
            self.src.conn.execute('SELECT "entityType", "lastNumber" FROM "IdSequence"').fetchall()
        )
        for prefix, number in self.kept_numbers.items():
            entity = SEQUENCE_ENTITY.get(prefix)
            if entity is None:
                continue
            if entity not in counters:
                self.report.notes.append(
                    f"source IdSequence has no {entity!r} row (highest id {prefix}{number:03d})"
                )
            elif counters[entity] < number:
                self.report.notes.append(
                    f"source IdSequence {entity!r} is behind: {counters[entity]} < {number}"
                )

    def run(self) -> None:
        self.need_hours: dict[int, int] = dict(
            Need.objects.values_list("pk", "response_time_hours")
        )
        self.need_project: dict[int, int] = dict(Need.objects.values_list("pk", "project_id"))
        self.test_musicians = set()
        self.test_projects = set()
        self.instruments()
        self.positions()
        self.musicians()
        self.qualifications()
        self.ranking_lists()
        self.projects()
        self.needs()
        self.requests()
        self.templates()
        self.files()
        self.source_sequences()
        for prefix in self.kept_numbers:
            self.advance(prefix)
        ImportedRow.objects.bulk_create(self.new_marks)


def import_reference(
    source_url: str, *, dry_run: bool = False, files_dir: Path | None = None
) -> Report:
    """Import the original's database at `source_url` into the bound orchestra.

    Raises NotReferenceSchema (nothing written) when the source is not the original's schema.
    """
    report = Report(dry_run=dry_run)
    with psycopg.connect(source_url) as conn:
        conn.read_only = True
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        source = _Source(conn, report)
        importer = _Importer(source, report, files_dir)
        try:
            with orchestra_atomic():
                importer.run()
                if dry_run:
                    transaction.set_rollback(True, using=current_binding().alias)
        except BaseException:
            for path in importer.written:  # the rows are gone: their bytes go too
                path.unlink(missing_ok=True)
            raise
    return report
