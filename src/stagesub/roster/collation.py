"""Swedish alphabetical order (… x y z å ä ö), the same on SQLite and PostgreSQL."""

from __future__ import annotations

import unicodedata

from django.db.models import CharField, F, Func, Value
from django.db.models.functions import Lower, Replace

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


# The same order in the database, for list pages that sort before they paginate: the letters
# after z and the accented letters Swedish names carry are replaced as swedish_key does, both
# cases (SQLite's lower() folds ASCII only), then compared byte by byte ("C": PostgreSQL's
# database collation would otherwise ignore the punctuation that stands in for å, ä, ö).
_DB_FOLDS = {
    **{c: "{" for c in "åÅ"},
    **{c: "|" for c in "äÄæÆ"},
    **{c: "}" for c in "öÖøØ"},
    **{c: "y" for c in "üÜ"},
    **{c: "a" for c in "áàâãÁÀÂÃ"},
    **{c: "e" for c in "éèêëÉÈÊË"},
    **{c: "i" for c in "íìîïÍÌÎÏ"},
    **{c: "o" for c in "óòôõÓÒÔÕ"},
    **{c: "u" for c in "úùûÚÙÛ"},
    **{c: "c" for c in "çÇ"},
    **{c: "n" for c in "ñÑ"},
    **{c: "y" for c in "ýÝ"},
}


class _Bytewise(Func):
    template = "%(expressions)s"
    output_field = CharField()

    def as_postgresql(self, compiler, connection, **extra):
        return self.as_sql(compiler, connection, template='(%(expressions)s) COLLATE "C"', **extra)


def swedish_order(field: str) -> Func:
    """An expression to order_by that sorts `field` as swedish_key does."""
    expression = F(field)
    for char, replacement in _DB_FOLDS.items():
        expression = Replace(expression, Value(char), Value(replacement))
    return _Bytewise(Lower(expression))
