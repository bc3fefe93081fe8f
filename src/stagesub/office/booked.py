"""A project's booked musicians (accepted offers) with contact details, for the page,
the print view and the CSV/XLSX exports."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass

from django.utils.translation import gettext as _

from stagesub.offers import engine
from stagesub.offers.models import Offer
from stagesub.projects.models import Project
from stagesub.roster.models import Musician


@dataclass
class Group:
    instrument: str
    position: str
    musicians: list[Musician]


def booked(project: Project) -> list[Group]:
    """Accepted musicians by instrument and position (the orchestra's display order), each
    group by last name; one query."""
    offers = (
        Offer.objects.filter(project=project, status=engine.ACCEPTED)
        .select_related("musician", "need__position__instrument")
        .order_by(
            "need__position__instrument__display_order",
            "need__position__instrument__name",
            "need__position__hierarchy_level",
            "need__position__name",
            "musician__last_name",
            "musician__first_name",
            "pk",
        )
    )
    groups: list[Group] = []
    for offer in offers:
        position = offer.need.position
        if not groups or (groups[-1].instrument, groups[-1].position) != (
            position.instrument.name,
            position.name,
        ):
            groups.append(Group(position.instrument.name, position.name, []))
        groups[-1].musicians.append(offer.musician)
    return groups


def table(groups: list[Group]) -> list[list[str]]:
    """Header and one row per booked musician, as both exports write them."""
    rows = [
        [
            _("Instrument"),
            _("Position"),
            _("Last name"),
            _("First name"),
            _("E-mail"),
            _("Phone"),
            _("Musician id"),
        ]
    ]
    for group in groups:
        for m in group.musicians:
            rows.append(
                [
                    group.instrument,
                    group.position,
                    m.last_name,
                    m.first_name,
                    m.email,
                    m.phone,
                    m.musician_id,
                ]
            )
    return rows


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: str) -> str:
    """A spreadsheet program runs a cell starting with = + - @ (or a tab or CR before one) as a
    formula (CSV injection); such a cell is written as text by a leading apostrophe. A phone
    number in E.164 (+46701234567) is left as it is."""
    text = str(value)
    if text.startswith(_FORMULA_START) and not re.fullmatch(r"\+\d+", text):
        return "'" + text
    return text


def as_csv(groups: list[Group]) -> bytes:
    buffer = io.StringIO()
    # Semicolons and a byte-order mark: what Excel opens directly in a Swedish locale.
    writer = csv.writer(buffer, delimiter=";")
    for row in table(groups):
        writer.writerow([safe_cell(c) for c in row])
    return buffer.getvalue().encode("utf-8-sig")


def as_xlsx(groups: list[Group], title: str) -> bytes:
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    # Sheet titles: at most 31 characters, none of []:*?/\
    sheet.title = re.sub(r"[\[\]:*?/\\]", " ", title)[:31] or "Sheet"
    for row in table(groups):
        # openpyxl stores a string starting with "=" as a live formula: safe_cell first.
        sheet.append([safe_cell(c) for c in row])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
