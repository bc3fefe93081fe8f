"""Swedish alphabetical order (… x y z å ä ö), the same on SQLite and PostgreSQL."""

from __future__ import annotations

import unicodedata

_AFTER_Z = {"å": "{", "ä": "|", "ö": "}", "æ": "|", "ø": "}"}


def swedish_key(text: str) -> str:
    out = []
    for char in text.casefold():
        if char in _AFTER_Z:
            out.append(_AFTER_Z[char])
            continue
        # é → e, ü → y is how Swedish dictionaries file them; strip other accents.
        if char == "ü":
            out.append("y")
            continue
        decomposed = unicodedata.normalize("NFD", char)
        out.append(decomposed[0])
    return "".join(out)
