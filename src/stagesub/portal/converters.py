"""URL converters of the personal page: a malformed id is a 404 at routing, before the musician
session is looked at (so no bad id ever reaches a query, and none gets a sign-in redirect)."""

from django.urls import register_converter

from stagesub.validation import parse_id


class RowIdConverter:
    regex = r"[0-9]{1,19}"

    def to_python(self, value: str) -> int:
        number = parse_id(value)
        if number is None:
            raise ValueError(value)  # beyond the column: no match, a 404
        return number

    def to_url(self, value) -> str:
        return str(value)


class OfferIdConverter:
    regex = r"[A-Za-z]{1,10}[0-9]{1,10}"

    def to_python(self, value: str) -> str:
        return value.upper()

    def to_url(self, value: str) -> str:
        return value


register_converter(RowIdConverter, "portal_row")
register_converter(OfferIdConverter, "portal_offer")
