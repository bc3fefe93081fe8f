"""Dates on pages and in mail follow the active language's formats, never a format written out."""

from __future__ import annotations

import datetime
import re
from pathlib import Path

from django.template import Context, Template
from django.utils import translation

import stagesub

NAMED = {"DATE_FORMAT", "SHORT_DATE_FORMAT", "DATETIME_FORMAT", "SHORT_DATETIME_FORMAT"}
FILTER = re.compile(r"\|(date|time):\"([^\"]*)\"")
SOURCE = Path(stagesub.__file__).parent


def test_templates_format_dates_only_with_the_languages_named_formats():
    written_out = []
    for template in SOURCE.rglob("*.html"):
        for kind, fmt in FILTER.findall(template.read_text()):
            if fmt not in (NAMED | {"TIME_FORMAT"} if kind == "time" else NAMED):
                written_out.append(f'{template.relative_to(SOURCE)}: |{kind}:"{fmt}"')
    assert not written_out, written_out


def test_python_formats_display_dates_by_name():
    calls = re.compile(r"date_format\([^,]+,\s*\"([^\"]+)\"")
    for module in SOURCE.rglob("*.py"):
        for fmt in calls.findall(module.read_text()):
            assert fmt in NAMED, f"{module.relative_to(SOURCE)}: date_format(..., {fmt!r})"


def test_swedish_and_english_dates_read_as_each_language_writes_them():
    day = datetime.date(2026, 12, 7)
    page = Template('{{ d|date:"DATE_FORMAT" }} {{ d|date:"SHORT_DATE_FORMAT" }}')
    with translation.override("sv"):
        assert page.render(Context({"d": day})) == "7 december 2026 2026-12-07"
    with translation.override("en"):
        assert page.render(Context({"d": day})) == "Dec. 7, 2026 12/07/2026"
