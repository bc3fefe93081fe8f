"""URL converters for the orchestra's pages.

`<readable:...>` is Django's `str` without control characters or spaces: a readable id
(PROJ001, MUS012, ...) never has them, and PostgreSQL refuses a NUL byte in a query (a 500).
With it, such a URL is a 404 before any view or database sees it.
"""

from django.urls import register_converter
from django.urls.converters import StringConverter


class ReadableIdConverter(StringConverter):
    regex = r"[^/\x00-\x20\x7f-\x9f]+"


register_converter(ReadableIdConverter, "readable")
