"""Swedish alphabetical order (… x y z å ä ö), the same on SQLite and PostgreSQL."""

from __future__ import annotations

import unicodedata

from django.db.models import CharField, F, Func

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


# The same order in the database, for list pages that sort before they paginate. SQLite calls
# swedish_key itself (registered on the connection as the query is compiled); PostgreSQL maps
# the same letters with translate() and compares byte by byte ("C": the database's collation
# would otherwise ignore the punctuation that stands in for å, ä, ö).
_DB_FOLDS = {
    **dict.fromkeys("åÅ", "{"),
    **dict.fromkeys("äÄæÆ", "|"),
    **dict.fromkeys("öÖøØ", "}"),
    **dict.fromkeys("üÜýÝ", "y"),
    **dict.fromkeys("áàâãÁÀÂÃ", "a"),
    **dict.fromkeys("éèêëÉÈÊË", "e"),
    **dict.fromkeys("íìîïÍÌÎÏ", "i"),
    **dict.fromkeys("óòôõÓÒÔÕ", "o"),
    **dict.fromkeys("úùûÚÙÛ", "u"),
    **dict.fromkeys("çÇ", "c"),
    **dict.fromkeys("ñÑ", "n"),
}
_SQLITE_FUNCTION = "stagesub_swedish_key"


class SwedishOrder(Func):
    """An expression to order_by that sorts a text field as swedish_key does."""

    output_field = CharField()

    def as_sqlite(self, compiler, connection, **extra):
        connection.ensure_connection()
        connection.connection.create_function(_SQLITE_FUNCTION, 1, swedish_key, deterministic=True)
        return self.as_sql(compiler, connection, function=_SQLITE_FUNCTION, **extra)

    def as_postgresql(self, compiler, connection, **extra):
        template = 'lower(translate(%(expressions)s, %%s, %%s)) COLLATE "C"'
        sql, params = self.as_sql(compiler, connection, template=template, **extra)
        return sql, (*params, "".join(_DB_FOLDS), "".join(_DB_FOLDS.values()))


def swedish_order(field: str) -> SwedishOrder:
    return SwedishOrder(F(field))
