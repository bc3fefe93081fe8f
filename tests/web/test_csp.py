"""Content-Security-Policy: scripts and styles only from our own static files, and no template
that would need more (inline script, on*= handler, javascript: URL, inline style)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import stagesub
from tests.conftest import host_client

TEMPLATES = sorted(Path(stagesub.__file__).parent.rglob("templates/**/*.html"))

FORBIDDEN = {
    "inline script": re.compile(r"<script(?![^>]*\ssrc=)[^>]*>", re.I),
    "on*= handler": re.compile(r"<[^>]*\son[a-z]+\s*=", re.I | re.S),
    "javascript: URL": re.compile(r"javascript:", re.I),
    "style element": re.compile(r"<style[\s>]", re.I),
    "style attribute": re.compile(r"<[^>]*\sstyle\s*=", re.I | re.S),
    "eval in htmx": re.compile(r"hx-(vars|on)|js:", re.I),
}


def _directives(header: str) -> dict[str, list[str]]:
    parts = (d.strip().split() for d in header.split(";") if d.strip())
    return {p[0]: p[1:] for p in parts}


def test_templates_are_found():
    assert len(TEMPLATES) > 30


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_template_needs_no_inline_script_or_style(template):
    text = template.read_text()
    found = {what: m.group(0)[:80] for what, rx in FORBIDDEN.items() if (m := rx.search(text))}
    assert not found, f"{template}: {found}"


@pytest.mark.parametrize("path", ["/login/", "/no-such-page/"])
def test_orchestra_pages_carry_the_policy(goteborg, path):
    response = host_client(goteborg).get(path)
    directives = _directives(response["Content-Security-Policy"])
    assert directives["script-src"] == ["'self'"]
    assert directives["style-src"] == ["'self'"]
    assert directives["default-src"] == ["'self'"]
    assert directives["frame-ancestors"] == ["'none'"]
    assert directives["form-action"] == ["'self'"]
    assert directives["base-uri"] == ["'self'"]
    assert "'unsafe-inline'" not in response["Content-Security-Policy"]
    assert "'unsafe-eval'" not in response["Content-Security-Policy"]


def test_platform_pages_carry_the_policy(db):
    response = host_client().get("/login/")
    assert _directives(response["Content-Security-Policy"])["script-src"] == ["'self'"]


def test_htmx_is_told_not_to_eval_or_inject_styles(goteborg):
    body = host_client(goteborg).get("/login/").content.decode()
    assert '"allowEval": false' in body
    assert '"includeIndicatorStyles": false' in body
