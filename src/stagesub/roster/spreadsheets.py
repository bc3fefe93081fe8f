"""Import and export of the roster as CSV or Excel (.xlsx).

Import is two steps: `preview_import` parses and validates every row against the current roster
and says what each row would do (create, update, or reject and why) without writing anything;
`apply_import` re-validates (the roster may have changed since the preview) and writes all
accepted rows in one transaction.

Columns (Swedish or English headers, any order, case-insensitive):
  first name / förnamn, last name / efternamn, email / e-post, phone / telefon,
  language / språk (sv/en), local / lokalt boende (ja/nej, yes/no, 1/0), notes / anteckningar,
  positions / tjänster ("Violin: Tutti violin 1; Viola: Tutti").
Rows are matched to existing musicians by e-mail (case-insensitive): a match is an update.
An update changes only what the row fills in: a blank cell (or a column the file lacks) keeps
the musician's value, so a sheet with some cells empty never wipes a phone or a name. Clearing
a value is done on the musician's own page. The preview lists each update's changes field by
field (old → new).
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from stagesub.roster import services
from stagesub.roster.models import Musician, Position
from stagesub.roster.phones import normalize_phone
from stagesub.roster.services import MusicianData
from stagesub.tenancy.context import orchestra_atomic

MAX_IMPORT_BYTES = 5 * 1024 * 1024
MAX_IMPORT_ROWS = 5000

HEADERS = {
    "first_name": ("first name", "firstname", "first_name", "förnamn", "fornamn"),
    "last_name": ("last name", "lastname", "last_name", "efternamn"),
    "email": ("email", "e-mail", "e-post", "epost", "mail"),
    "phone": ("phone", "telephone", "mobile", "telefon", "mobil"),
    "preferred_language": ("language", "språk", "sprak"),
    "local_residence": ("local", "local resident", "local residence", "lokalt boende", "lokal"),
    "notes": ("notes", "anteckningar", "notering"),
    "positions": ("positions", "qualifications", "tjänster", "tjanster", "kvalifikationer"),
}
EXPORT_HEADERS = [
    "Förnamn",
    "Efternamn",
    "E-post",
    "Telefon",
    "Språk",
    "Lokalt boende",
    "Anteckningar",
    "Tjänster",
    "Status",
    "Musiker-ID",
]
TRUE_WORDS = {"ja", "yes", "y", "j", "1", "true", "x", "sant"}
FALSE_WORDS = {"nej", "no", "n", "0", "false", "", "falskt"}


class ImportFileError(Exception):
    """The file as a whole cannot be read (wrong type, too large, no header row)."""


@dataclass
class ImportRow:
    line: int
    values: dict[str, str]
    action: str = "create"  # create | update | reject
    errors: list[str] = field(default_factory=list)
    data: MusicianData | None = None
    existing: Musician | None = None
    changes: list[Change] = field(default_factory=list)  # for an update: what it changes


@dataclass
class Change:
    label: str
    old: str
    new: str


@dataclass
class ImportPreview:
    rows: list[ImportRow]

    @property
    def creates(self) -> list[ImportRow]:
        return [r for r in self.rows if r.action == "create"]

    @property
    def updates(self) -> list[ImportRow]:
        return [r for r in self.rows if r.action == "update"]

    @property
    def rejects(self) -> list[ImportRow]:
        return [r for r in self.rows if r.action == "reject"]


def read_table(filename: str, content: bytes) -> list[list[str]]:
    if len(content) > MAX_IMPORT_BYTES:
        raise ImportFileError(_("The file is larger than 5 MB."))
    name = filename.lower()
    if name.endswith(".xlsx"):
        return _read_xlsx(content)
    if name.endswith((".csv", ".txt")):
        return _read_csv(content)
    raise ImportFileError(_("Upload a .csv or .xlsx file."))


def _read_csv(content: bytes) -> list[list[str]]:
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            text = content.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:  # pragma: no cover - cp1252 decodes nearly everything
        raise ImportFileError(_("The file is not readable text."))
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    return [[cell.strip() for cell in row] for row in csv.reader(io.StringIO(text), dialect)]


def _read_xlsx(content: bytes) -> list[list[str]]:
    from openpyxl import load_workbook

    try:
        sheet = load_workbook(io.BytesIO(content), read_only=True, data_only=True).worksheets[0]
    except Exception as exc:
        raise ImportFileError(_("The Excel file cannot be read.")) from exc
    return [
        ["" if c is None else str(c).strip() for c in row]
        for row in sheet.iter_rows(values_only=True)
    ]


def _columns(header: list[str]) -> dict[str, int]:
    lookup = {alias: key for key, aliases in HEADERS.items() for alias in aliases}
    columns = {}
    for index, title in enumerate(header):
        key = lookup.get(title.strip().lower())
        if key and key not in columns:
            columns[key] = index
    missing = [k for k in ("first_name", "last_name", "email") if k not in columns]
    if missing:
        raise ImportFileError(
            _("The first row must name the columns; missing: %(cols)s.")
            % {"cols": ", ".join(HEADERS[k][0] for k in missing)}
        )
    return columns


def _position_lookup() -> dict[str, Position]:
    lookup = {}
    for position in Position.objects.select_related("instrument"):
        lookup[f"{position.instrument.name}: {position.name}".lower()] = position
        lookup[f"{position.instrument.name} - {position.name}".lower()] = position
        lookup[f"{position.instrument.name} – {position.name}".lower()] = position
    return lookup


def preview_import(table: list[list[str]]) -> ImportPreview:
    rows_in = [r for r in table if any(cell for cell in r)]
    if not rows_in:
        raise ImportFileError(_("The file is empty."))
    if len(rows_in) - 1 > MAX_IMPORT_ROWS:
        raise ImportFileError(_("At most %(n)s rows per import.") % {"n": MAX_IMPORT_ROWS})
    columns = _columns(rows_in[0])
    positions = _position_lookup()
    labels = {p.pk: f"{p.instrument.name}: {p.name}" for p in positions.values()}
    by_email = {m.email.lower(): m for m in Musician.objects.all()}
    by_phone = {m.phone: m for m in Musician.objects.exclude(phone="")}
    seen_emails: dict[str, int] = {}
    seen_phones: dict[str, int] = {}
    rows = []
    for line, raw in enumerate(rows_in[1:], start=2):
        values = {k: (raw[i] if i < len(raw) else "") for k, i in columns.items()}
        row = ImportRow(line=line, values=values)
        rows.append(row)
        email = values["email"].strip()
        row.existing = by_email.get(email.lower())
        row.action = "update" if row.existing else "create"
        language = (values.get("preferred_language") or "sv").strip().lower()[:2] or "sv"
        local_word = (values.get("local_residence") or "").strip().lower()
        if local_word not in TRUE_WORDS | FALSE_WORDS:
            row.errors.append(_("Local residence must be yes or no (ja/nej)."))
        position_ids = []
        for label in filter(None, (p.strip() for p in (values.get("positions") or "").split(";"))):
            position = positions.get(label.lower())
            if position is None:
                row.errors.append(
                    _("Unknown position “%(label)s” (write Instrument: Position).")
                    % {"label": label}
                )
            else:
                position_ids.append(position.pk)
        data = MusicianData(
            first_name=values["first_name"],
            last_name=values["last_name"],
            email=email,
            phone=values.get("phone", ""),
            preferred_language=language,
            local_residence=local_word in TRUE_WORDS,
            notes=values.get("notes", ""),
            position_ids=position_ids,
        )
        if row.existing:
            data = _kept_where_blank(data, values, row.existing)
        try:
            data = services._clean(data)
        except ValidationError as exc:
            row.errors.extend(m for msgs in exc.message_dict.values() for m in msgs)
        row.data = data
        if row.existing and not row.errors:
            row.changes = _changes(row.existing, data, labels)
        key = email.lower()
        if key in seen_emails:
            row.errors.append(_("Same e-mail as row %(line)s.") % {"line": seen_emails[key]})
        seen_emails.setdefault(key, line)
        if data.phone and not row.errors:
            holder = by_phone.get(normalize_phone(data.phone))
            if holder is not None and holder != row.existing:
                row.errors.append(
                    _("Phone number already used by %(name)s (%(id)s).")
                    % {"name": holder.full_name, "id": holder.musician_id}
                )
            if data.phone in seen_phones:
                row.errors.append(
                    _("Same phone number as row %(line)s.") % {"line": seen_phones[data.phone]}
                )
            seen_phones.setdefault(data.phone, line)
        if row.errors:
            row.action = "reject"
    return ImportPreview(rows)


def _kept_where_blank(data: MusicianData, values: dict[str, str], musician: Musician):
    """The row's data with every blank cell (or missing column) replaced by the musician's
    current value: an update never clears anything."""

    def blank(key: str) -> bool:
        return not (values.get(key) or "").strip()

    return MusicianData(
        first_name=musician.first_name if blank("first_name") else data.first_name,
        last_name=musician.last_name if blank("last_name") else data.last_name,
        email=musician.email,  # the match key (case-insensitive): not changed by its spelling
        phone=musician.phone if blank("phone") else data.phone,
        preferred_language=(
            musician.preferred_language if blank("preferred_language") else data.preferred_language
        ),
        local_residence=(
            musician.local_residence if blank("local_residence") else data.local_residence
        ),
        notes=musician.notes if blank("notes") else data.notes,
        position_ids=(
            list(musician.qualification_links.values_list("position_id", flat=True))
            if blank("positions")
            else data.position_ids
        ),
    )


def _changes(musician: Musician, data: MusicianData, labels: dict[int, str]) -> list[Change]:
    """What applying `data` changes on the musician, field by field."""
    yes_no = {True: _("yes"), False: _("no")}
    current_positions = set(musician.qualification_links.values_list("position_id", flat=True))

    def positions(ids) -> str:
        return "; ".join(sorted(labels.get(pk, str(pk)) for pk in ids))

    pairs = [
        (_("First name"), musician.first_name, data.first_name),
        (_("Last name"), musician.last_name, data.last_name),
        (_("E-mail"), musician.email, data.email),
        (_("Phone"), musician.phone, data.phone),
        (_("Language"), musician.preferred_language, data.preferred_language),
        (_("Local resident"), yes_no[musician.local_residence], yes_no[data.local_residence]),
        (_("Notes"), musician.notes, data.notes),
        (_("Positions"), positions(current_positions), positions(set(data.position_ids))),
    ]
    return [Change(str(label), old, new) for label, old, new in pairs if old != new]


def apply_import(table: list[list[str]], *, max_musicians: int) -> ImportPreview:
    """Write every accepted row in one transaction; a failure writes nothing."""
    preview = preview_import(table)
    with orchestra_atomic():
        for row in preview.creates:
            services.create_musician(row.data, max_musicians=max_musicians)
        for row in preview.updates:
            services.update_musician(row.existing, row.data)
    return preview


def export_rows() -> list[list[str]]:
    rows = [EXPORT_HEADERS]
    musicians = Musician.objects.prefetch_related("qualifications__instrument").order_by(
        "last_name", "first_name"
    )
    for m in musicians:
        quals = "; ".join(
            f"{p.instrument.name}: {p.name}"
            for p in sorted(
                m.qualifications.all(),
                key=lambda p: (p.instrument.display_order, p.hierarchy_level),
            )
        )
        rows.append(
            [
                m.first_name,
                m.last_name,
                m.email,
                m.phone,
                m.preferred_language,
                "ja" if m.local_residence else "nej",
                m.notes,
                quals,
                m.get_status_display(),
                m.musician_id,
            ]
        )
    return rows


def export_csv() -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";")
    for row in export_rows():
        writer.writerow([_neutralise_formula(c) for c in row])
    return buffer.getvalue().encode("utf-8-sig")


def export_xlsx() -> bytes:
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Musiker"
    for row in export_rows():
        sheet.append([_neutralise_formula(c) for c in row])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _neutralise_formula(value: str) -> str:
    # A cell starting with = + - @ is run as a formula by spreadsheet programs (CSV injection).
    text = str(value)
    if text[:1] in ("=", "+", "-", "@") and not re.fullmatch(r"\+\d+", text):
        return "'" + text
    return text
